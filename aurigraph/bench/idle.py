"""Idle benchmark: the CPU a node costs when nobody uses it.

The node is `aurigraph up` and every process under it: its actors, Serve's controller and the
gateway replicas, and Ray's own processes (GCS, raylet, dashboard and its agent) when it started Ray
itself. After `settle_s` (startup work done), the CPU time (user + system) of each of them is taken
twice, `seconds` apart; each share is of one core. A running node can be measured too, by the pid
of its `aurigraph up` (in `<data-dir>/endpoints.json`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import psutil

SHOWN_PROCESSES = 12


def node_processes(root_pid: int) -> list[psutil.Process]:
    """`root_pid` and every process under it."""
    root = psutil.Process(root_pid)
    return [root, *root.children(recursive=True)]


def cpu_s(p: psutil.Process) -> float | None:
    """CPU time (user + system) a process used so far; None if it is gone."""
    try:
        t = p.cpu_times()
        return t.user + t.system
    except psutil.Error:  # gone meanwhile
        return None


def label(p: psutil.Process) -> str:
    try:
        cmd = p.cmdline()
    except psutil.Error:
        return "?"
    if cmd and cmd[0].startswith("ray::"):
        return cmd[0].split(".")[0]  # ray::ConsensusReplica (without the method it runs now)
    return " ".join(Path(c).name if i == 0 or "/" in c else c for i, c in enumerate(cmd[:3]))[:60]


def measure(root_pid: int, seconds: float) -> dict:
    """CPU shares (percent of one core) of `root_pid` and its descendants over `seconds`."""
    first = {p.pid: (p, cpu_s(p)) for p in node_processes(root_pid)}
    time.sleep(seconds)
    rows = []
    for pid, (p, before) in first.items():
        after = cpu_s(p)
        if before is not None and after is not None:
            rows.append({"pid": pid, "process": label(p), "percent": round((after - before) / seconds * 100, 2)})
    rows.sort(key=lambda r: -r["percent"])
    return {"seconds": seconds, "total_percent": round(sum(r["percent"] for r in rows), 1), "processes": rows}


def run(seconds: float, settle_s: float, progress: Callable[[str], None]) -> dict:
    """Start a temporary node (`aurigraph up` on free ports), let it settle, measure it idle."""
    import tempfile

    from aurigraph.bench.stack import spawn_up

    with tempfile.TemporaryDirectory(prefix="aurigraph-bench-") as tmp:
        progress("starting a temporary node and gateway (aurigraph up) …")
        stack = spawn_up(Path(tmp))
        try:
            progress(f"letting it settle for {settle_s:g} s …")
            time.sleep(settle_s)
            progress(f"measuring {seconds:g} s of an idle node …")
            return measure(stack.process.pid, seconds)
        finally:
            stack.stop()


def format_result(r: dict) -> str:
    head = f"idle node: {r['total_percent']:.1f}% of one core over {r['seconds']:g} s ({len(r['processes'])} processes)"
    lines = [head]
    lines += [f"{p['percent']:6.1f}%  {p['process']}" for p in r["processes"][:SHOWN_PROCESSES]]
    return "\n".join(lines)
