"""Adaptive batching benchmark (`aurigraph bench optimizer`): one variable load trace — idle, ramp,
burst, idle — replayed through a real node once with the optimizer setting the knobs, once per
fixed setting (the optimizer running too, so only the controller differs), and once with the
node's defaults and no optimizer (the optimizer's own cost), in the same run, on a fresh node each
time; the best fixed setting is the baseline.

The trace is open loop: every `TICK_S` a batch of what the trace asks for that instant is sent to
the ingress without waiting for earlier ones (a ray call per batch, awaited concurrently), so a
node that falls behind builds a queue, as it would with real clients. A transaction's finality is
from its batch's first send to the answer that says COMMITTED; one answered PENDING (the ingress
was busy, or the wait ran out) is sent again, keeping its first send time. Throughput = committed
transactions / (first send → last commit). Per-phase p99 finality shows where the settings differ.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aurigraph.ml.synthetic import load_trace
from aurigraph.node.config import usable_cpus

TICK_S = 0.1
SENDERS = 512
SUBMIT_WAIT_MS = 120_000
PHASES = (("idle", 8), ("ramp", 12), ("burst", 8), ("idle", 8))


@dataclass(frozen=True)
class Setting:
    """One node configuration. `adaptive`: the optimizer sets the knobs; otherwise they stay at
    `max_batch_txs` / `batch_wait_ms` (and the configured ticks), with the optimizer running anyway
    (scoring, features) when `optimizer`, so the comparison isolates the controller."""

    label: str
    optimizer: bool
    adaptive: bool
    max_batch_txs: int = 10_000
    batch_wait_ms: int = 5

    @classmethod
    def parse_fixed(cls, text: str) -> Setting:
        """`MAX_BATCH/WAIT_MS`, e.g. `2000/5`."""
        try:
            batch, wait = (int(p) for p in text.split("/"))
        except ValueError:
            raise ValueError(f"fixed setting {text!r}: use MAX_BATCH_TXS/BATCH_WAIT_MS, e.g. 2000/5") from None
        return cls(f"fixed {batch}/{wait}", True, False, batch, wait)


ADAPTIVE = Setting("adaptive", True, True)
NO_OPTIMIZER = Setting("default, no optimizer", False, False)


def ticks(rates: np.ndarray) -> list[tuple[int, str]]:
    """(transactions, phase name) per tick for per-second `rates`, carrying fractions over."""
    names = [name for name, n in PHASES for _ in range(n)]
    out, carry = [], 0.0
    per_window = round(1 / TICK_S)
    for rate, phase in zip(rates, names):
        for _ in range(per_window):
            carry += float(rate) * TICK_S
            count = int(carry)
            carry -= count
            out.append((count, phase))
    return out


async def _replay(ingress, batches: list[tuple[list[bytes], str]], progress: Callable[[str], None]) -> dict:
    from aurigraph.codec.node import encode_batch, response_statuses
    from aurigraph.node.replica import TxStatus

    loop = asyncio.get_running_loop()
    finality: dict[str, list[float]] = {}
    rejected = [0]
    last_commit = [0.0]

    async def send(batch: list[bytes], phase: str, sent: float) -> None:
        todo = batch
        while todo:
            reply = await ingress.submit.remote(encode_batch(todo), True, SUBMIT_WAIT_MS)
            now = loop.time()
            again, retry_ms = [], 0
            for raw, r in zip(todo, response_statuses(reply)):
                if r.status == TxStatus.COMMITTED:
                    finality.setdefault(phase, []).append((now - sent) * 1000)
                    last_commit[0] = max(last_commit[0], now)
                elif r.status == TxStatus.REJECTED:
                    rejected[0] += 1
                else:
                    again.append(raw)
                    retry_ms = max(retry_ms, r.retry_after_ms)
            todo = again
            if todo:
                await asyncio.sleep(max(retry_ms, 20) / 1000)

    start = loop.time()
    tasks = []
    for k, (batch, phase) in enumerate(batches):
        await asyncio.sleep(max(0.0, start + k * TICK_S - loop.time()))
        if batch:
            tasks.append(loop.create_task(send(batch, phase, loop.time())))
        if k % 10 == 0:
            done = sum(len(v) for v in finality.values())
            progress(f"  t={k * TICK_S:5.1f} s  {phase:<5}  committed {done}")
    await asyncio.gather(*tasks)
    committed = sum(len(v) for v in finality.values())
    seconds = last_commit[0] - start
    everything = [x for v in finality.values() for x in v]
    return {"committed": committed, "rejected": rejected[0], "seconds": round(seconds, 3),
            "committed_tps": round(committed / seconds, 1) if seconds > 0 else 0.0,
            "finality_ms": _quantiles(everything),
            "by_phase": {phase: _quantiles(v) for phase, v in finality.items()}}


def _quantiles(values: list[float]) -> dict:
    if len(values) < 2:
        return {"p50": round(values[0], 1) if values else 0.0, "p99": round(values[0], 1) if values else 0.0}
    q = statistics.quantiles(values, n=100)
    return {"p50": round(q[49], 1), "p99": round(q[98], 1)}


def run_setting(setting: Setting, rates: np.ndarray, replicas: int, progress: Callable[[str], None]) -> dict:
    """Start a fresh node with `setting`, replay the trace, stop it."""
    import ray

    from actors.client import NodeClient
    from actors.launcher import start_node
    from actors.supervisor import NAMESPACE, OPTIMIZER_NAME, replica_name
    from aurigraph.codec import encode_signed, sign_transaction
    from aurigraph.codec.consensus import decode_status
    from aurigraph.crypto import generate_keypair
    from aurigraph.keystore import load_keypair
    from aurigraph.ledger import Transfer, TxBody
    from aurigraph.node.config import NodeSettings
    from aurigraph.node.datadir import DataDir, prepare

    def replica(node_id: int):
        return ray.get_actor(replica_name(node_id), namespace=NAMESPACE)

    with tempfile.TemporaryDirectory(prefix="aurigraph-bench-") as tmp:
        data = DataDir(Path(tmp))
        settings = NodeSettings(data_dir=data.root, replicas=replicas, max_batch_txs=setting.max_batch_txs,
                                batch_wait_ms=setting.batch_wait_ms, optimizer=setting.optimizer,
                                adapt_batching=setting.adaptive, adapt_ticks=setting.adaptive,
                                submit_timeout_ms=SUBMIT_WAIT_MS)
        genesis = prepare(data, settings.chain_id, settings.replicas, log=lambda *_: None)
        progress(f"{setting.label}: starting a node …")
        node = start_node(settings)
        try:
            client = NodeClient(node.ingress, genesis.chain_id, load_keypair(data.faucet_key, data.passphrase()))
            client.fund_senders(SENDERS)
            first_term = decode_status(ray.get(replica(node.leader).status.remote())).term
            plan = ticks(rates)
            progress(f"{setting.label}: signing {sum(n for n, _ in plan)} transactions …")
            recipient = generate_keypair().address
            nonces = [0] * SENDERS
            now_ms = time.time_ns() // 1_000_000
            batches, turn = [], 0
            for count, phase in plan:
                batch = []
                for _ in range(count):
                    s = turn % SENDERS
                    turn += 1
                    sender = client.senders[s]
                    body = TxBody(genesis.chain_id, sender.address, nonces[s], 1, now_ms, Transfer(recipient, 1))
                    nonces[s] += 1
                    batch.append(encode_signed(sign_transaction(body, sender)))
                batches.append((batch, phase))
            result = asyncio.run(_replay(node.ingress, batches, progress))
            # New terms during the trace: elections (a timeout too short for the replicas' stalls
            # shows here) and stake-weighted leader hand-overs.
            status = decode_status(ray.get(replica(node.leader).status.remote()))
            result["new_terms"] = status.term - first_term
            if setting.optimizer:
                result["optimizer_status"] = ray.get(
                    ray.get_actor(OPTIMIZER_NAME, namespace=NAMESPACE).status.remote())
        finally:
            node.stop()
    result.update(label=setting.label, optimizer=setting.optimizer, adaptive=setting.adaptive,
                  max_batch_txs=setting.max_batch_txs, batch_wait_ms=setting.batch_wait_ms)
    return result


def _median_run(runs: list[dict]) -> dict:
    """One setting over several rounds: medians of TPS and finality, and every round's p99."""
    med = statistics.median
    first = runs[0]
    phases = sorted({p for r in runs for p in r["by_phase"]})
    return {**{k: first[k] for k in ("label", "optimizer", "adaptive", "max_batch_txs", "batch_wait_ms")},
            "committed_tps": round(med(r["committed_tps"] for r in runs), 1),
            "finality_ms": {q: round(med(r["finality_ms"][q] for r in runs), 1) for q in ("p50", "p99")},
            "by_phase": {p: {"p99": round(med(r["by_phase"][p]["p99"] for r in runs if p in r["by_phase"]), 1)}
                         for p in phases},
            "new_terms": sum(r["new_terms"] for r in runs), "rejected": sum(r["rejected"] for r in runs),
            "p99_by_round": [r["finality_ms"]["p99"] for r in runs], "rounds": runs}


def run(fixed: list[Setting], seed: int, peak_tps: float, replicas: int, rounds: int,
        progress: Callable[[str], None]) -> dict:
    """Each round runs the adaptive setting, each fixed setting (optimizer on, knobs fixed), and the
    node's default without the optimizer (its overhead), in that order, on fresh nodes; figures
    are medians over the rounds (the machine is shared and noisy). The best fixed setting has the
    highest median TPS, then the lowest median p99 finality."""
    rates = load_trace(seed, phases=PHASES, peak_tps=peak_tps)
    settings = [ADAPTIVE, *fixed, NO_OPTIMIZER]
    per_setting: list[list[dict]] = [[] for _ in settings]
    for round_no in range(rounds):
        for i, setting in enumerate(settings):
            progress(f"round {round_no + 1}/{rounds}: {setting.label}")
            per_setting[i].append(run_setting(setting, rates, replicas, progress))
    runs = [_median_run(r) for r in per_setting]
    adaptive, fixed_runs, bare = runs[0], runs[1:-1], runs[-1]
    best = max(fixed_runs, key=lambda r: (r["committed_tps"], -r["finality_ms"]["p99"]))
    return {"seed": seed, "peak_tps": peak_tps, "replicas": replicas, "cpus": usable_cpus(), "rounds": rounds,
            "trace_txs": int(sum(n for n, _ in ticks(rates))), "runs": runs, "best_fixed": best["label"],
            "adaptive_tps_over_best_fixed": round(adaptive["committed_tps"] / best["committed_tps"], 3),
            "adaptive_p99_over_best_fixed": round(adaptive["finality_ms"]["p99"] / best["finality_ms"]["p99"], 3),
            "optimizer_p99_overhead": round(best["finality_ms"]["p99"] / bare["finality_ms"]["p99"], 3)}


def format_result(r: dict) -> str:
    lines = [(f"trace: idle → ramp → burst ({r['peak_tps']:,.0f} tx/s) → idle, {r['trace_txs']:,} txs, seed "
              f"{r['seed']}, {r['replicas']} replicas, {r['cpus']} cores; medians of {r['rounds']} rounds"),
             (f"{'setting':<24}{'TPS':>8}{'p50 ms':>9}{'p99 ms':>9}{'new terms':>10}   p99 by phase (ms); "
              "p99 per round")]
    for run in r["runs"]:
        phases = "  ".join(f"{k} {v['p99']:.0f}" for k, v in run["by_phase"].items())
        rounds = " ".join(f"{p:.0f}" for p in run["p99_by_round"])
        lines.append(f"{run['label']:<24}{run['committed_tps']:>8,.0f}{run['finality_ms']['p50']:>9.1f}"
                     f"{run['finality_ms']['p99']:>9.1f}{run['new_terms']:>10}   {phases}; {rounds}")
    lines.append(f"best fixed: {r['best_fixed']};  adaptive / best fixed: TPS {r['adaptive_tps_over_best_fixed']:.3f}"
                 f", p99 finality {r['adaptive_p99_over_best_fixed']:.3f}")
    lines.append(f"optimizer's own cost (best fixed with it / default without it), p99 finality: "
                 f"{r['optimizer_p99_overhead']:.3f}")
    return "\n".join(lines)
