"""A private `redis-server` for tests that kill and restart Redis (the shared one on 6379 must stay
up for everyone else). It listens on a Unix socket in a folder of its own, not on a TCP port: a
restart comes back at the same address, and no port is picked in advance that something else
could take meanwhile (the gateway reaches it by `unix://` URL, as redis-py allows)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


class PrivateRedis:
    def __init__(self, folder: Path) -> None:
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            raise RuntimeError("redis-server is not installed")
        self.folder = folder
        # A socket path must stay under ~107 bytes: a short folder of its own, not a test's tmp_path.
        self.socket_path = Path(tempfile.mkdtemp(prefix="redis-")) / "redis.sock"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}?db=0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", "0", "--unixsocket", str(self.socket_path), "--unixsocketperm", "700",
             "--save", "", "--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.socket(socket.AF_UNIX) as s:
                    s.settimeout(0.2)
                    s.connect(str(self.socket_path))
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not listen on {self.socket_path}")

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def close(self) -> None:
        """Kill it for good and remove its socket's folder."""
        self.kill()
        shutil.rmtree(self.socket_path.parent, ignore_errors=True)
