"""`python benchmarks/ray_call_bench.py [--calls N]`: the CPU one Ray actor call costs at each end.

Two async actors on a private local Ray instance (`ray.init` picks free ports); the caller sends
`--calls` calls to the callee, fire-and-forget and then awaited one at a time, with 100-byte and
5 KB arguments, and then as many frames on a replica link (`actors/peer_link.py`) between the same
two processes; the CPU time (user + system, psutil) of each actor's process is divided by the
calls. This is the figure behind the replicas' direct links (`docs/performance.md`, "Direct links
between the replicas"): what each consensus message cost as a Ray call, and costs now.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

import psutil
import ray

from actors.peer_link import LinkServer, PeerLink

KEY = b"k" * 32


@ray.remote(num_cpus=0)
class Callee:
    def __init__(self) -> None:
        self.calls = 0
        self.server = None

    async def receive(self, data: bytes) -> None:
        self.calls += 1

    async def listen(self) -> tuple[str, int]:
        self.server = LinkServer(KEY, lambda sender, frame: self.receive_frame())
        return await self.server.start("127.0.0.1")

    def receive_frame(self) -> None:
        self.calls += 1

    async def count(self) -> int:
        return self.calls

    async def pid(self) -> int:
        return os.getpid()


@ray.remote(num_cpus=0)
class Caller:
    async def pid(self) -> int:
        return os.getpid()

    async def fire(self, callee, calls: int, size: int) -> None:
        data = b"x" * size
        for i in range(calls):
            callee.receive.remote(data)
            if i % 10 == 0:
                await asyncio.sleep(0.001)  # let the sends go out, as a replica's loop does between steps

    async def round_trips(self, callee, calls: int, size: int) -> None:
        data = b"x" * size
        for _ in range(calls):
            await callee.receive.remote(data)

    async def link(self, callee, calls: int, size: int) -> None:
        if not hasattr(self, "_link"):
            self._link = PeerLink(2, KEY, 1, callee.listen.remote)
        data = b"x" * size
        for i in range(calls):
            self._link.send(data)
            if i % 10 == 0:
                await asyncio.sleep(0.001)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    calls = parser.parse_args().calls
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
    try:
        callee, caller = Callee.remote(), Caller.remote()
        processes = [psutil.Process(ray.get(actor.pid.remote())) for actor in (caller, callee)]

        def cpu_s() -> list[float]:
            return [sum(p.cpu_times()[:2]) for p in processes]

        expected = 0
        for mode in ("fire", "round_trips", "link"):
            for size in (100, 5000):
                before, started = cpu_s(), time.monotonic()
                ray.get(getattr(caller, mode).remote(callee, calls, size))
                expected += calls
                while ray.get(callee.count.remote()) < expected:
                    time.sleep(0.01)
                after, wall_s = cpu_s(), time.monotonic() - started
                caller_us, callee_us = ((b - a) / calls * 1e6 for a, b in zip(before, after, strict=True))
                print(f"{mode:<11} {size:>5} B: {wall_s / calls * 1e6:6.0f} µs wall a call, "
                      f"CPU {caller_us:4.0f} µs in the caller, {callee_us:4.0f} µs in the callee")
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
