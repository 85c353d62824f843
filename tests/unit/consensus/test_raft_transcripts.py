"""Transcript tests: each `testdata/*.txt` file is a scenario written as commands and the exact
Readies, messages and states they produce (see `transcript.py` for the format and commands).

Run with `AURIGRAPH_REWRITE=1` to regenerate the files after an intended behaviour change, then
read the diff: it is the behaviour change.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

from tests.unit.consensus.transcript import run_transcript

TESTDATA = Path(__file__).parent / "testdata"
SCENARIOS = sorted(TESTDATA.glob("*.txt"))


def test_every_scenario_of_the_issue_has_a_transcript() -> None:
    names = {p.stem for p in SCENARIOS}
    assert {"election", "lagging_follower", "leader_crash", "prevote_partition", "leader_transfer_stake",
            "membership", "snapshot_install", "read_index"} <= names


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_transcript(path: Path) -> None:
    expected = path.read_text()
    actual = run_transcript(expected)
    if os.environ.get("AURIGRAPH_REWRITE") == "1":
        path.write_text(actual)
        return
    if actual != expected:
        diff = difflib.unified_diff(expected.splitlines(), actual.splitlines(), "expected", "actual", lineterm="")
        pytest.fail(f"{path.name} differs (AURIGRAPH_REWRITE=1 to accept):\n" + "\n".join(diff))
