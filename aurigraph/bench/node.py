"""Node benchmark: committed TPS and finality latency through a running node, next to the bare
signature-verification rate of the same transactions on all cores, measured in the same run.

Transactions are generated and signed up front. `concurrency` clients each own a group of funded
senders and submit batches of `batch_size` with wait-for-commit, one after another (closed loop),
or paced to `rate_tps` overall (open loop). Finality of a transaction = its batch's submit ->
committed response time. The headline ratio is committed TPS / bare all-core verify rate.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from aurigraph.bench.cpu import format_budget
from aurigraph.codec import decode_signed, encode_signed, sign_transaction
from aurigraph.crypto import Scheme, generate_keypair, verify_batch
from aurigraph.ledger import Transfer, TxBody
from aurigraph.node.config import usable_cpus

SENDERS_PER_CLIENT = 16


@dataclass(frozen=True)
class Plan:
    txs: int
    batch_size: int
    concurrency: int
    scheme: Scheme
    rate_tps: float | None


def _verify_chunk(wire: list[bytes]) -> int:
    return sum(verify_batch([decode_signed(w).verify_item() for w in wire]))


def bare_verify_tps(wire: list[bytes]) -> float:
    """All-core verification rate of exactly these transactions (decode + verify, no node)."""
    workers = usable_cpus()
    chunks = [wire[i::workers] for i in range(workers)]
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_verify_chunk, [c[:10] for c in chunks]))  # warm the worker processes
        started = time.perf_counter()
        valid = sum(pool.map(_verify_chunk, chunks))
        elapsed = time.perf_counter() - started
    if valid != len(wire):
        raise RuntimeError("a generated transaction failed to verify")
    return len(wire) / elapsed


def generate(client, plan: Plan, progress: Callable[[str], None]) -> list[list[list[bytes]]]:
    """Fund `concurrency` × 16 senders, then sign every transaction: per client, a list of batches."""
    senders = [[generate_keypair(plan.scheme) for _ in range(SENDERS_PER_CLIENT)] for _ in range(plan.concurrency)]
    progress(f"funding {plan.concurrency * SENDERS_PER_CLIENT} senders …")
    client.submit_until_final([client.make(client.faucet, s.address, 10**12) for group in senders for s in group])
    recipient = generate_keypair().address
    per_client = plan.txs // plan.concurrency
    batches: list[list[list[bytes]]] = []
    now = time.time_ns() // 1_000_000
    for c, group in enumerate(senders):
        wire = []
        for i in range(per_client):
            sender = group[i % len(group)]
            body = TxBody(client.chain_id, sender.address, i // len(group), 1, now, Transfer(recipient, 1))
            wire.append(encode_signed(sign_transaction(body, sender)))
        batches.append([wire[i:i + plan.batch_size] for i in range(0, len(wire), plan.batch_size)])
        progress(f"signed {(c + 1) * per_client}/{per_client * plan.concurrency} {plan.scheme.label} transactions")
    return batches


def run_load(client, batches: list[list[list[bytes]]], plan: Plan, progress: Callable[[str], None]) -> dict:
    latencies_ms: list[float] = []
    committed = [0]
    lock = threading.Lock()
    total = sum(len(b) for group in batches for b in group)
    interval_s = None if plan.rate_tps is None else plan.batch_size * plan.concurrency / plan.rate_tps

    def worker(group: list[list[bytes]]) -> None:
        next_at = time.perf_counter()
        for batch in group:
            if interval_s is not None:
                time.sleep(max(0.0, next_at - time.perf_counter()))
                next_at += interval_s
            sent = time.perf_counter()
            client.submit_until_final(batch)
            elapsed_ms = (time.perf_counter() - sent) * 1000
            with lock:
                latencies_ms.extend([elapsed_ms] * len(batch))
                committed[0] += len(batch)

    threads = [threading.Thread(target=worker, args=(g,)) for g in batches]
    started = time.perf_counter()
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        time.sleep(0.5)
        elapsed = time.perf_counter() - started
        progress(f"committed {committed[0]}/{total}  ({committed[0] / elapsed:,.0f} tx/s)")
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    q = statistics.quantiles(latencies_ms, n=100)
    return {"committed": committed[0], "seconds": round(wall, 3), "committed_tps": round(committed[0] / wall, 1),
            "finality_ms": {"p50": round(q[49], 1), "p95": round(q[94], 1), "p99": round(q[98], 1)}}


def format_result(r: dict) -> str:
    f = r["finality_ms"]
    pacing = "closed loop" if r["rate_tps"] is None else f"paced at {r['rate_tps']:,.0f} tx/s"
    return (f"{r['txs']} {r['scheme']} txs, batches of {r['batch_size']}, {r['concurrency']} clients, "
            f"{r['replicas']} replicas, {pacing}\n"
            f"committed TPS        {r['committed_tps']:>10,.0f}\n"
            f"bare verify TPS      {r['bare_verify_tps']:>10,.0f}   (all {r['cpus']} cores, same transactions)\n"
            f"TPS / bare verify    {r['tps_over_bare_verify']:>10.3f}\n"
            f"finality ms          p50 {f['p50']:.1f}   p95 {f['p95']:.1f}   p99 {f['p99']:.1f}"
            + (f"\n{format_budget(r['cpu'])}" if r.get("cpu") else ""))
