"""The stack `aurigraph up` runs — node, gateway, REST, WebSocket and gRPC — started as a user
starts it (a subprocess on free ports), and what the tests need to act as its clients."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pytest

from aurigraph.crypto import KeyPair
from aurigraph.keystore import load_keypair
from aurigraph.node.datadir import DataDir

EXE = str(Path(sys.executable).with_name("aurigraph"))
ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 180


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Stack:
    process: subprocess.Popen
    data: DataDir
    http_port: int
    grpc_port: int
    output: list[str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @cached_property
    def faucet(self) -> KeyPair:  # decrypting a key file costs about a second (Argon2id): once
        return load_keypair(self.data.faucet_key, self.data.passphrase())

    @property
    def chain_id(self) -> str:
        return self.data.load_genesis().chain_id

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=90)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_stack(data_dir: Path, *extra: str) -> Stack:
    http_port, grpc_port = free_port(), free_port()
    args = [EXE, "up", "--data-dir", str(data_dir), "--validators", "1", "--shards", "2",
            "--http-port", str(http_port), "--grpc-port", str(grpc_port), *extra]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    output: list[str] = []
    deadline = time.monotonic() + START_TIMEOUT_S
    while not any(line.startswith("Ray ") for line in output):
        line = process.stdout.readline()
        if not line or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("aurigraph up did not come up:\n" + "".join(output[-80:]))
        output.append(line)
    stack = Stack(process, DataDir(data_dir), http_port, grpc_port, output)
    # Keep draining its output so the node never blocks on a full pipe.
    threading.Thread(target=lambda: [output.append(x) for x in process.stdout], daemon=True).start()
    assert re.search(rf"REST\s+http://127.0.0.1:{http_port}/v11", "".join(output))
    return stack


@pytest.fixture(scope="package")
def stack(tmp_path_factory):
    """One open node + gateway (no API keys, no rate limit) shared by the e2e tests; stopped when
    they are done, before the other tiers run."""
    s = start_stack(tmp_path_factory.mktemp("e2e-node"), "--rate-limit", "0")
    yield s
    s.stop()
