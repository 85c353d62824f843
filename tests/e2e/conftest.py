"""The stack `aurigraph up` runs — node, gateway, REST, WebSocket and gRPC — started as a user
starts it (a subprocess on free ports, `aurigraph.bench.stack`), for tests that act as its clients."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from aurigraph.bench.stack import EXE, Stack, spawn_up

ROOT = Path(__file__).resolve().parents[2]
__all__ = ["EXE", "ROOT", "Stack", "cli", "start_stack"]


def cli(*args, timeout: int = 180, text: bool = True) -> subprocess.CompletedProcess:
    """`aurigraph *args` as a user runs it (a subprocess from the repository root)."""
    return subprocess.run([EXE, *[str(a) for a in args]], cwd=ROOT, capture_output=True, text=text,
                          timeout=timeout, check=False)


def start_stack(data_dir: Path, *extra: str) -> Stack:
    return spawn_up(data_dir, "--validators", "1", "--shards", "2", *extra, cwd=ROOT)


@pytest.fixture(scope="package")
def stack(tmp_path_factory):
    """One open node + gateway (no API keys, no rate limit) shared by the e2e tests; stopped when
    they are done, before the other tiers run."""
    s = start_stack(tmp_path_factory.mktemp("e2e-node"), "--rate-limit", "0")
    yield s
    s.stop()
