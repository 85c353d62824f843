"""The etcd baseline: a 3-member etcd (Debian's `etcd-server`) on 127.0.0.1, loaded by the same kind
of Python asyncio client as our own benchmarks, so the two figures differ by the servers only.

`EtcdCluster` starts the members in a temporary folder on ports the kernel picked (a port taken
between the pick and etcd's bind makes the start fail; it is retried with new ports) and stops
them. `put_load` runs `clients` coroutines, each doing one fixed-size `Put` at a time (a put is
acknowledged once a quorum has fsync'd it, as our COMMITTED), spread over the members as etcd's
own `benchmark put` tool does, and returns puts/s and latency percentiles.

The `Put` request is encoded by hand (`key` = field 1, `value` = field 2 of etcd's
`PutRequest`): the bytes of two length-delimited fields, no generated code needed for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import grpc

PUT_METHOD = "/etcdserverpb.KV/Put"
START_TIMEOUT_S = 30.0
START_ATTEMPTS = 3


class EtcdUnavailable(RuntimeError):
    """No `etcd` binary, or the members did not form a cluster."""


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def put_request(key: bytes, value: bytes) -> bytes:
    """An etcd `PutRequest` with `key` and `value` (protobuf wire format)."""
    return b"\x0a" + _varint(len(key)) + key + b"\x12" + _varint(len(value)) + value


class EtcdCluster:
    """Three etcd members on 127.0.0.1, each with its own data folder (fsync on, etcd's defaults)."""

    def __init__(self, members: int = 3) -> None:
        self.members = members
        self.client_targets: list[str] = []
        self._procs: list[subprocess.Popen] = []
        self._root: Path | None = None

    def __enter__(self) -> EtcdCluster:
        exe = shutil.which("etcd")
        if exe is None:
            raise EtcdUnavailable("no etcd binary on the PATH (make bench-deps installs Debian's etcd-server)")
        last = ""
        for _ in range(START_ATTEMPTS):
            try:
                self._start(exe)
                return self
            except EtcdUnavailable as e:
                last = str(e)
                self._stop()
        raise EtcdUnavailable(last)

    def __exit__(self, *exc) -> None:
        self._stop()

    def _start(self, exe: str) -> None:
        self._root = Path(tempfile.mkdtemp(prefix="aurigraph-etcd-"))
        ports = _free_ports(2 * self.members)
        peers = [f"http://127.0.0.1:{ports[2 * i + 1]}" for i in range(self.members)]
        cluster = ",".join(f"m{i}={p}" for i, p in enumerate(peers))
        self.client_targets = [f"127.0.0.1:{ports[2 * i]}" for i in range(self.members)]
        for i in range(self.members):
            log = (self._root / f"m{i}.log").open("wb")
            self._procs.append(subprocess.Popen(  # nosec B603  # the etcd binary found on PATH, argv list, no shell
                [exe, "--name", f"m{i}", "--data-dir", str(self._root / f"m{i}"),
                 "--listen-client-urls", f"http://{self.client_targets[i]}",
                 "--advertise-client-urls", f"http://{self.client_targets[i]}",
                 "--listen-peer-urls", peers[i], "--initial-advertise-peer-urls", peers[i],
                 "--initial-cluster", cluster, "--initial-cluster-state", "new",
                 "--initial-cluster-token", "aurigraph-bench", "--log-level", "error"],
                stdout=log, stderr=subprocess.STDOUT))
        try:
            asyncio.run(self._until_serving())
        except TimeoutError:
            tail = (self._root / "m0.log").read_text(errors="replace")[-2000:]
            raise EtcdUnavailable(f"etcd did not accept a put within {START_TIMEOUT_S:g} s: {tail}") from None

    async def _until_serving(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        async with grpc.aio.insecure_channel(self.client_targets[0]) as channel:
            put = channel.unary_unary(PUT_METHOD)
            while True:
                if any(p.poll() is not None for p in self._procs):
                    raise TimeoutError
                try:
                    await put(put_request(b"ready", b"1"), timeout=2)
                    return
                except grpc.aio.AioRpcError:
                    if time.monotonic() > deadline:
                        raise TimeoutError from None
                    await asyncio.sleep(0.2)

    def _stop(self) -> None:
        for p in self._procs:
            with contextlib.suppress(ProcessLookupError):
                p.terminate()
        for p in self._procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self._procs = []
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None


def latency_summary(latencies_ms: list[float]) -> dict:
    if len(latencies_ms) < 2:
        return {"p50": round(latencies_ms[0], 2) if latencies_ms else None, "p99": None}
    q = statistics.quantiles(latencies_ms, n=100)
    return {"p50": round(q[49], 2), "p99": round(q[98], 2)}


async def _put_load(targets: list[str], clients: int, puts_per_client: int, value_bytes: int) -> dict:
    channels = [grpc.aio.insecure_channel(t) for t in targets]
    value = b"x" * value_bytes
    latencies: list[float] = []

    async def client(c: int) -> None:
        put = channels[c % len(channels)].unary_unary(PUT_METHOD)
        for i in range(puts_per_client):
            sent = time.perf_counter()
            await put(put_request(b"k%d-%d" % (c, i), value), timeout=30)
            latencies.append((time.perf_counter() - sent) * 1000)

    try:
        started = time.perf_counter()
        await asyncio.gather(*(client(c) for c in range(clients)))
        elapsed = time.perf_counter() - started
    finally:
        for ch in channels:
            await ch.close()
    return {"puts_per_s": round(clients * puts_per_client / elapsed, 1), "latency_ms": latency_summary(latencies),
            "clients": clients, "puts": clients * puts_per_client, "value_bytes": value_bytes}


def put_load(cluster: EtcdCluster, clients: int, puts_per_client: int, value_bytes: int = 256) -> dict:
    """`clients` concurrent clients, each `puts_per_client` puts one at a time: puts/s, p50/p99 ms."""
    return asyncio.run(_put_load(cluster.client_targets, clients, puts_per_client, value_bytes))
