"""Run `aurigraph up` in a subprocess on free ports and wait until it serves: the temporary node
of `aurigraph bench gateway`, and the stack the e2e tests talk to."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from aurigraph.crypto import KeyPair
from aurigraph.keystore import load_keypair
from aurigraph.node.datadir import DataDir

EXE = str(Path(sys.executable).with_name("aurigraph"))
START_TIMEOUT_S = 240


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
    output: deque = field(default_factory=lambda: deque(maxlen=2000))  # its latest output lines

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


def spawn_up(data_dir: Path, *extra: str, cwd: Path | None = None) -> Stack:
    """`aurigraph up --data-dir data_dir …` on free HTTP and gRPC ports; returns once it serves."""
    http_port, grpc_port = free_port(), free_port()
    args = [EXE, "up", "--data-dir", str(data_dir), "--http-port", str(http_port), "--grpc-port", str(grpc_port),
            *extra]
    process = subprocess.Popen(args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,  # nosec B603  # our own `aurigraph up`, argv list, no shell
                               env=dict(os.environ, PYTHONUNBUFFERED="1"))
    stack = Stack(process, DataDir(data_dir), http_port, grpc_port)
    # Read its output in a thread from the start (so the node never blocks on a full pipe, and a
    # silent, stuck start still times out here).
    threading.Thread(target=lambda: stack.output.extend(process.stdout), daemon=True).start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not any(line.startswith("Ray ") for line in list(stack.output)):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("aurigraph up did not come up:\n" + "".join(list(stack.output)[-80:]))
        time.sleep(0.1)
    return stack
