"""Single-transaction benchmark: clients that send one transaction per request and wait for its
commit (the way API clients, SDK users and wallets work), next to a 3-member etcd on the same machine
loaded by the same kind of client in the same run (`aurigraph.bench.etcd`).

Two loads per protocol (REST; gRPC unary `SubmitTransaction`, one call per transaction; gRPC
stream, the SDK's default: each client's submits on one `SubmitTransactionStream` call):
- concurrent: `clients` SDK clients, each submitting its pre-signed transfers one at a time with
  `wait=True` -> committed tx/s and latency p50/p99 (etcd: `clients` clients putting 256 bytes);
- lone: one client, one transaction at a time -> latency p50/p99 (etcd: one client).
Ratios: our committed tx/s ÷ etcd's puts/s, our p99 ÷ etcd's p99, our lone p50 ÷ etcd's lone p50.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from aurigraph.bench.cpu import CpuMeter, format_budget
from aurigraph.bench.etcd import latency_summary
from aurigraph.bench.gateway import COMMITTED, fund, sign_load
from aurigraph.client import ApiError, AsyncClient
from aurigraph.crypto import KeyPair

VIAS = ("rest", "grpc", "grpc_stream")


@dataclass(frozen=True)
class Plan:
    clients: int
    txs_per_client: int
    lone_txs: int


async def _commit_one(node: AsyncClient, raw: bytes) -> None:
    """Submit and wait; what is not final at once (back-pressure, a leader change) is resubmitted."""
    try:
        result = await node.submit(raw, wait=True)
        if result.status == COMMITTED:
            return
    except ApiError as e:
        if not e.retry_after_ms:
            raise
    results = await node.submit_until_final([raw])
    if results[0].status != COMMITTED:
        raise RuntimeError(f"a benchmark transaction was not committed: {results[0]}")


async def waited_load(url: str, wires: list[list[bytes]], api_key: str | None, stream_submits: bool = True) -> dict:
    """`len(wires)` clients in parallel, each committing its transactions one request at a time."""
    latencies: list[float] = []

    async def client(wire: list[bytes]) -> None:
        async with AsyncClient(url, api_key=api_key, stream_submits=stream_submits) as node:
            await node.chain_id()  # the connection is open before the clock starts
            await barrier.wait()
            for raw in wire:
                sent = time.perf_counter()
                await _commit_one(node, raw)
                latencies.append((time.perf_counter() - sent) * 1000)

    barrier = asyncio.Barrier(len(wires) + 1)
    tasks = [asyncio.create_task(client(w)) for w in wires]
    await barrier.wait()
    started = time.perf_counter()
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    return {"committed_tps": round(len(latencies) / elapsed, 1), "latency_ms": latency_summary(latencies),
            "clients": len(wires), "txs": len(latencies)}


def run(urls: dict[str, str], faucet: KeyPair, plan: Plan, api_key: str | None,
        progress: Callable[[str], None], node_pid: int | None = None) -> dict:
    """`urls`: "rest" and/or "grpc" -> the gateway's URL (http://…, grpc://…); a gRPC URL is
    loaded twice, with unary calls ("grpc") and with streams ("grpc_stream"). One funded sender
    per client. `node_pid`: the node's `aurigraph up`, if it runs here: the CPU its processes
    spend per transaction of each concurrent load is measured too."""
    progress(f"funding {plan.clients} × 8 senders …")
    chain_id, senders = asyncio.run(fund(next(iter(urls.values())), faucet, plan.clients, api_key))
    nonces: dict[bytes, int] = {}
    out: dict = {}
    loads = [(via, url, via == "grpc_stream") for via in VIAS
             if (url := urls.get("grpc" if via == "grpc_stream" else via))]
    for via, url, streams in loads:
        progress(f"signing for {via} …")
        lone = sign_load(chain_id, senders[:1], plan.lone_txs, nonces)
        many = sign_load(chain_id, senders, plan.clients * plan.txs_per_client, nonces)
        progress(f"{via}: one client, one transaction at a time …")
        lone_result = asyncio.run(waited_load(url, lone, api_key, streams))
        progress(f"{via}: {plan.clients} clients, one transaction per request, each waiting for its commit …")
        meter = CpuMeter(node_pid) if node_pid is not None else None
        if meter is not None:
            meter.start()
        concurrent = asyncio.run(waited_load(url, many, api_key, streams))
        concurrent["cpu"] = meter.stop(concurrent["txs"]) if meter is not None else None
        out[via] = {"concurrent": concurrent, "lone": lone_result}
    return out


def add_ratios(result: dict) -> None:
    """Put each protocol's ratios to the same run's etcd figures into `result` (when etcd ran)."""
    etcd = result.get("etcd")
    if not etcd:
        return
    for via in VIAS:
        r = result.get(via)
        if not r:
            continue
        c, e = r["concurrent"], etcd["concurrent"]
        r["ratios"] = {
            "tps_over_etcd": round(c["committed_tps"] / e["puts_per_s"], 3),
            "p99_over_etcd": _ratio(c["latency_ms"]["p99"], e["latency_ms"]["p99"]),
            "lone_p50_over_etcd": _ratio(r["lone"]["latency_ms"]["p50"], etcd["lone"]["latency_ms"]["p50"]),
        }


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


def format_result(r: dict) -> str:
    lines = [f"single-transaction clients, {r['clients']} concurrent, each waiting for its commit"]
    etcd = r.get("etcd")
    if etcd:
        c, lone = etcd["concurrent"], etcd["lone"]
        lines.append(f"etcd (3 members)  {c['puts_per_s']:>8,.0f} puts/s   p50 {c['latency_ms']['p50']:.1f} ms"
                     f"   p99 {c['latency_ms']['p99']:.1f} ms   lone p50 {lone['latency_ms']['p50']:.2f} ms"
                     f"   p99 {lone['latency_ms']['p99']:.2f} ms")
    for via in VIAS:
        x = r.get(via)
        if not x:
            continue
        c, lone = x["concurrent"], x["lone"]
        line = (f"{via:<17} {c['committed_tps']:>8,.0f} tx/s     p50 {c['latency_ms']['p50']:.1f} ms"
                f"   p99 {c['latency_ms']['p99']:.1f} ms   lone p50 {lone['latency_ms']['p50']:.2f} ms"
                f"   p99 {lone['latency_ms']['p99']:.2f} ms")
        if "ratios" in x:
            q = x["ratios"]
            line += (f"\n      ÷ etcd: tx/s {q['tps_over_etcd']:.3f}   p99 {q['p99_over_etcd']}×"
                     f"   lone p50 {q['lone_p50_over_etcd']}×")
        if c.get("cpu"):
            line += "\n" + "\n".join("      " + x for x in format_budget(c["cpu"]).splitlines())
        lines.append(line)
    return "\n".join(lines)
