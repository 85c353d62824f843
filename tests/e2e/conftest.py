"""The stack `aurigraph up` runs — node, gateway, REST, WebSocket and gRPC — started as a user
starts it (a subprocess on free ports, `aurigraph.bench.stack`), for tests that act as its clients."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx
import pytest

from aurigraph.bench.stack import EXE, Stack, spawn_up

ROOT = Path(__file__).resolve().parents[2]
__all__ = ["EXE", "ROOT", "Stack", "cli", "start_stack", "stream_subscribers", "until_stream_subscribers"]


def cli(*args, timeout: int = 180, text: bool = True) -> subprocess.CompletedProcess:
    """`aurigraph *args` as a user runs it (a subprocess from the repository root)."""
    return subprocess.run([EXE, *[str(a) for a in args]], cwd=ROOT, capture_output=True, text=text,
                          timeout=timeout, check=False)


def stream_subscribers(stack: Stack, api_key: str | None = None) -> float:
    """The node's open event-stream subscriptions (its `aurigraph_stream_subscribers` gauge; a
    reader's `api_key` where the node asks for keys)."""
    headers = {"x-api-key": api_key} if api_key else {}
    text = httpx.get(f"{stack.url}/v11/metrics", headers=headers, timeout=10).raise_for_status().text
    return float(next(line.split()[1] for line in text.splitlines() if line.startswith("aurigraph_stream_subscribers ")))


def until_stream_subscribers(stack: Stack, at_least: float, timeout_s: float = 30, api_key: str | None = None) -> float:
    """Poll the subscriber gauge until it reaches `at_least`: a subscription is live (it gets every
    event from then on) once the gateway has registered it, some time after its WebSocket opened."""
    deadline = time.monotonic() + timeout_s
    while (now := stream_subscribers(stack, api_key)) < at_least:
        assert time.monotonic() < deadline, f"{now:g} stream subscribers after {timeout_s} s, expected {at_least:g}"
        time.sleep(0.1)
    return now


def start_stack(data_dir: Path, *extra: str) -> Stack:
    return spawn_up(data_dir, "--validators", "1", "--shards", "2", *extra, cwd=ROOT)


@pytest.fixture(scope="package")
def stack(tmp_path_factory):
    """One open node + gateway (no API keys, no rate limit) shared by the e2e tests; stopped when
    they are done, before the other tiers run."""
    s = start_stack(tmp_path_factory.mktemp("e2e-node"), "--rate-limit", "0")
    yield s
    s.stop()
