"""The single-transaction benchmark's pieces that need no node: etcd's Put encoding and the ratios."""

from __future__ import annotations

from aurigraph.bench.etcd import latency_summary, put_request
from aurigraph.bench.single import add_ratios, format_result


def test_put_request_is_etcds_wire_format():
    # PutRequest{key: "k", value: "v"}: field 1 and field 2, length-delimited.
    assert put_request(b"k", b"v") == b"\x0a\x01k\x12\x01v"
    # A 300-byte value: its length is the two-byte varint 0xac 0x02.
    assert put_request(b"key", b"x" * 300)[5:8] == b"\x12\xac\x02"


def test_ratios_are_ours_over_etcds_of_the_same_run():
    result = {
        "clients": 64,
        "etcd": {"concurrent": {"puts_per_s": 2000.0, "latency_ms": {"p50": 30.0, "p99": 80.0}},
                 "lone": {"latency_ms": {"p50": 2.5, "p99": 9.0}}},
        "grpc": {"concurrent": {"committed_tps": 500.0, "latency_ms": {"p50": 120.0, "p99": 240.0}},
                 "lone": {"latency_ms": {"p50": 25.0, "p99": 60.0}}},
    }
    add_ratios(result)
    assert result["grpc"]["ratios"] == {"tps_over_etcd": 0.25, "p99_over_etcd": 3.0, "lone_p50_over_etcd": 10.0}
    assert "rest" not in result
    assert "÷ etcd: tx/s 0.250" in format_result(result)


def test_latency_summary_of_few_samples():
    assert latency_summary([]) == {"p50": None, "p99": None}
    assert latency_summary([4.0]) == {"p50": 4.0, "p99": None}
    assert latency_summary([1.0, 2.0, 3.0])["p50"] == 2.0


def test_idle_measure_counts_a_process_tree_and_sees_a_busy_child():
    """The idle benchmark's measurement: the root and its children, each share of one core; a child
    spinning for the whole window shows up near 100%, an idle root near 0."""
    import subprocess
    import sys

    from aurigraph.bench.idle import format_result, measure

    spinner = subprocess.Popen([sys.executable, "-c", "import time\nend = time.time() + 30\nwhile time.time() < end: pass"])
    parent = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        # Measure the spinner as if it were a node's root process (no children), then the idle one.
        busy = measure(spinner.pid, 1.0)
        quiet = measure(parent.pid, 1.0)
    finally:
        spinner.kill()
        parent.kill()
        spinner.wait()
        parent.wait()
    assert busy["total_percent"] > 30, busy  # a spinning process on a shared 2-core machine
    assert quiet["total_percent"] < 20, quiet
    assert [p["pid"] for p in busy["processes"]] == [spinner.pid]
    assert "idle node:" in format_result(busy)


def test_cpu_meter_charges_each_process_of_the_tree_per_transaction():
    """A node whose child spins while the load runs: the child's CPU, divided by the transactions,
    shows up under its own label; the idle root's is near zero; the machine's is at least the child's."""
    import subprocess
    import sys
    import time

    import psutil

    from aurigraph.bench.cpu import CpuMeter, format_budget

    root = subprocess.Popen([sys.executable, "-c", (
        "import subprocess, sys, time\n"
        "subprocess.Popen([sys.executable, '-c', 'import time\\nend = time.time() + 30\\nwhile time.time() < end: pass'])\n"
        "time.sleep(30)")])
    try:
        deadline = time.monotonic() + 10
        while not psutil.Process(root.pid).children() and time.monotonic() < deadline:
            time.sleep(0.05)
        child = psutil.Process(root.pid).children()[0].pid
        meter = CpuMeter(root.pid, {child: "spinner"})
        meter.start()
        time.sleep(1.0)
        budget = meter.stop(transactions=1000)
    finally:
        for p in psutil.Process(root.pid).children():
            p.kill()
        root.kill()
        root.wait()
    rows = {r["process"]: r["us_per_tx"] for r in budget["processes"]}
    assert len(rows) == 2 and "spinner" in rows, rows  # the root and its child, nothing else
    # 1 s of a spinning process on a shared 2-core machine: well above 300 µs per transaction of 1,000.
    assert rows["spinner"] > 300, budget
    assert min(rows.values()) < 100, budget  # the sleeping root
    assert budget["machine_us_per_tx"] >= rows["spinner"] * 0.9, budget
    assert budget["node_us_per_tx"] == round(sum(rows.values()), 1)
    assert "spinner" in format_budget(budget)
