"""`aurigraph up`'s endpoints.json is removed by the node that wrote it, or when that node is gone:
never under another node still serving the same data dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from aurigraph.cli.up import _remove_endpoints
from aurigraph.node.datadir import DataDir


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.mark.parametrize(("writer", "unless_alive", "removed"), [
    ("self", False, True), ("self", True, True),
    ("alive", False, False), ("alive", True, False),  # another node still serving: its file stays
    ("dead", False, False), ("dead", True, True),     # at start, a crashed node's file goes
])
def test_whose_endpoints_file_is_removed(tmp_path, writer, unless_alive, removed):
    data = DataDir(tmp_path)
    pid = {"self": os.getpid(), "alive": os.getppid(), "dead": _dead_pid()}[writer]
    data.endpoints.write_text(json.dumps({"pid": pid, "http_port": 1}))
    _remove_endpoints(data, unless_alive=unless_alive)
    assert data.endpoints.exists() is not removed


def test_an_unreadable_file_is_removed_and_an_absent_one_is_fine(tmp_path):
    data = DataDir(tmp_path)
    _remove_endpoints(data, unless_alive=True)
    data.endpoints.write_text("{not json")
    _remove_endpoints(data, unless_alive=True)
    assert not data.endpoints.exists()
