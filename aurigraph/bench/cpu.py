"""Where a load's CPU went: the CPU time (user + system) that each process of the node used while
the load ran, per committed transaction, next to the whole machine's.

A throughput figure on a shared 2-core machine moves with whatever else runs there; the CPU each
actor spends per transaction moves much less, so it is what a change to the hot path is judged
by (docs/performance.md keeps the table). The processes are `root_pid` and its descendants: the
`aurigraph up` of a node (its actors, Ray's and Serve's processes), or a benchmark that started Ray
itself (then the benchmark's own process is the load generator, and is counted as such).
"""

from __future__ import annotations

import os

import psutil

from aurigraph.bench.idle import cpu_s, label, node_processes

SHOWN_PROCESSES = 10


def _machine_busy_s() -> float:
    t = psutil.cpu_times()
    return t.user + t.nice + t.system + t.irq + t.softirq + getattr(t, "steal", 0.0)


class CpuMeter:
    """`start()` before the load, `stop(transactions)` after it: the CPU per transaction of each
    process that lived through the whole load. `names` labels processes by pid (e.g. which replica
    leads); the others are labelled from their command line."""

    def __init__(self, root_pid: int, names: dict[int, str] | None = None) -> None:
        self._root_pid = root_pid
        self._names = dict(names or {})
        self._first: dict[int, tuple[psutil.Process, float]] = {}
        self._machine = 0.0

    def start(self) -> None:
        self._first = {p.pid: (p, s) for p in node_processes(self._root_pid) if (s := cpu_s(p)) is not None}
        self._machine = _machine_busy_s()

    def stop(self, transactions: int) -> dict:
        machine_s = _machine_busy_s() - self._machine
        per_tx = 1e6 / max(1, transactions)
        rows = []
        for pid, (p, before) in self._first.items():
            after = cpu_s(p)
            if after is None:
                continue
            name = self._names.get(pid) or ("load generator (this benchmark)" if pid == os.getpid() else label(p))
            rows.append({"process": name, "pid": pid, "us_per_tx": round((after - before) * per_tx, 1)})
        rows.sort(key=lambda r: -r["us_per_tx"])
        return {"machine_us_per_tx": round(machine_s * per_tx, 1),
                "node_us_per_tx": round(sum(r["us_per_tx"] for r in rows if r["pid"] != os.getpid()), 1),
                "processes": rows}


def format_budget(r: dict) -> str:
    head = (f"CPU per committed transaction: {r['machine_us_per_tx']:,.0f} µs on the whole machine, "
            f"{r['node_us_per_tx']:,.0f} µs in the node's processes")
    lines = [head]
    lines += [f"  {p['us_per_tx']:>8,.1f} µs  {p['process'][:40]}" for p in r["processes"][:SHOWN_PROCESSES]]
    return "\n".join(lines)
