"""Run `aurigraph up` in a subprocess on ports the kernel picks and wait until it serves: the temporary node
of `aurigraph bench gateway`, and the stack the e2e tests talk to."""

from __future__ import annotations

import json
import os
import signal
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


@dataclass
class Stack:
    process: subprocess.Popen
    data: DataDir
    http_port: int
    grpc_port: int | None  # None: started with --no-grpc
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
    """`aurigraph up --data-dir data_dir …` on ports the kernel picks (`--http-port 0 --grpc-port 0`:
    nothing can take them between the pick and the bind, serve_apps/ports.py); returns once it
    serves, with the ports it reported in `<data-dir>/endpoints.json`."""
    data = DataDir(data_dir if cwd is None else Path(cwd, data_dir))
    args = [EXE, "up", "--data-dir", str(data_dir), "--http-port", "0", "--grpc-port", "0", *extra]
    process = subprocess.Popen(args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,  # nosec B603  # our own `aurigraph up`, argv list, no shell
                               env=dict(os.environ, PYTHONUNBUFFERED="1"))
    output: deque = deque(maxlen=2000)
    # Read its output in a thread from the start (so the node never blocks on a full pipe, and a
    # silent, stuck start still times out here).
    threading.Thread(target=lambda: output.extend(process.stdout), daemon=True).start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while (endpoints := endpoints_of(data, process.pid)) is None:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("aurigraph up did not come up:\n" + "".join(list(output)[-80:]))
        time.sleep(0.1)
    return Stack(process, data, endpoints["http_port"], endpoints["grpc_port"], output)


def endpoints_of(data: DataDir, pid: int) -> dict | None:
    """The endpoints file written by the `aurigraph up` with this pid, once it is there."""
    try:
        endpoints = json.loads(data.endpoints.read_text())
    except (FileNotFoundError, ValueError):  # not yet, or (never with replace_file) half written
        return None
    return endpoints if endpoints.get("pid") == pid else None
