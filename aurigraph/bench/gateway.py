"""Gateway benchmark: what a client gets through the gateway (REST or gRPC), next to a bare
endpoint on the same protocol, measured with the same SDK client in the same run.

Two loads, each run against the gateway and against the bare endpoint (`aurigraph.bench.bare`):
- single: `concurrency` clients each submit their pre-signed transactions one request at a time
  (no wait) -> submits/s; the ratio to the bare endpoint's requests/s is the Serve + pipeline cost;
- batch: `concurrency` clients submit batches of `batch_size`, each waiting until committed
  (resubmitting what a leader change dropped) -> committed tx/s and finality p50/p95/p99; the bare
  endpoint answers the same batches at once.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from aurigraph.client import ApiError, AsyncClient
from aurigraph.codec import encode_signed, sign_transaction
from aurigraph.crypto import KeyPair, generate_keypair
from aurigraph.ledger import Transfer, TxBody

SENDERS_PER_CLIENT = 8
SENDER_FUNDS = 10**9  # plenty for any run (a benchmark transfer costs 2), so the faucet lasts many runs
COMMITTED = 2  # aurigraph.v1.TRANSACTION_STATUS_COMMITTED


@dataclass(frozen=True)
class Plan:
    single_txs: int
    batch_txs: int
    batch_size: int
    concurrency: int


def sign_load(chain_id: str, senders: list[list[KeyPair]], count: int, nonces: dict[bytes, int]) -> list[list[bytes]]:
    """`count` transfers spread over the clients (one group of senders each), taking each sender's
    next nonce from `nonces` (updated), so a client's transactions are in nonce order."""
    recipient, now = generate_keypair().address, time.time_ns() // 1_000_000
    out = []
    for group in senders:
        wire = []
        for i in range(count // len(senders)):
            s = group[i % len(group)]
            body = TxBody(chain_id, s.address, nonces.get(s.address, 0), 1, now, Transfer(recipient, 1))
            nonces[s.address] = body.nonce + 1
            wire.append(encode_signed(sign_transaction(body, s)))
        out.append(wire)
    return out


async def fund(url: str, faucet: KeyPair, concurrency: int, api_key: str | None) -> tuple[str, list[list[KeyPair]]]:
    senders = [[generate_keypair() for _ in range(SENDERS_PER_CLIENT)] for _ in range(concurrency)]
    async with AsyncClient(url, api_key=api_key) as node:
        nonce = await node.next_nonce(faucet.address)
        txs = [await node.sign(faucet, Transfer(s.address, SENDER_FUNDS), nonce=nonce + i)
               for i, s in enumerate(s for group in senders for s in group)]
        for r in await node.submit_batch(txs):
            await node.wait_committed(r.tx_id)
        return await node.chain_id(), senders


async def _submit_one(node: AsyncClient, raw: bytes) -> None:
    while True:
        try:
            await node.submit(raw)
            return
        except ApiError as e:
            if not e.retry_after_ms:
                raise
            await asyncio.sleep(e.retry_after_ms / 1000)


async def single_load(url: str, wires: list[list[bytes]], api_key: str | None) -> float:
    """Requests per second, one transaction per request, `len(wires)` clients in parallel."""
    async def client(wire: list[bytes]) -> None:
        async with AsyncClient(url, api_key=api_key) as node:
            for raw in wire:
                await _submit_one(node, raw)
    started = time.perf_counter()
    await asyncio.gather(*(client(w) for w in wires))
    return sum(map(len, wires)) / (time.perf_counter() - started)


async def batch_load(url: str, wires: list[list[bytes]], batch_size: int, api_key: str | None,
                     until_committed: bool) -> dict:
    """Transactions per second in batches of `batch_size`, `len(wires)` clients in parallel. With
    `until_committed` each batch waits for its commit (resubmitting what a leader change dropped),
    and its round trip is every one of its transactions' finality."""
    finality_ms: list[float] = []

    async def client(wire: list[bytes]) -> None:
        async with AsyncClient(url, api_key=api_key) as node:
            for i in range(0, len(wire), batch_size):
                chunk = wire[i:i + batch_size]
                sent = time.perf_counter()
                if until_committed:
                    results = await node.submit_until_final(chunk)
                    if any(r.status != COMMITTED for r in results):
                        raise RuntimeError("a benchmark transaction was rejected")
                else:
                    await node.submit_batch(chunk)
                finality_ms.extend([(time.perf_counter() - sent) * 1000] * len(chunk))

    started = time.perf_counter()
    await asyncio.gather(*(client(w) for w in wires))
    out = {"tps": round(sum(map(len, wires)) / (time.perf_counter() - started), 1)}
    if until_committed:
        q = statistics.quantiles(finality_ms, n=100)
        out["finality_ms"] = {"p50": round(q[49], 1), "p95": round(q[94], 1), "p99": round(q[98], 1)}
    return out


def run(url: str, bare_url: str, faucet: KeyPair, plan: Plan, api_key: str | None,
        progress: Callable[[str], None]) -> dict:
    progress(f"funding {plan.concurrency * SENDERS_PER_CLIENT} senders …")
    chain_id, senders = asyncio.run(fund(url, faucet, plan.concurrency, api_key))
    progress("signing transactions …")
    nonces: dict[bytes, int] = {}
    single = sign_load(chain_id, senders, plan.single_txs, nonces)
    batch = sign_load(chain_id, senders, plan.batch_txs, nonces)
    progress("bare endpoint: single requests …")
    bare_single = asyncio.run(single_load(bare_url, single, None))
    progress("gateway: single requests …")
    gw_single = asyncio.run(single_load(url, single, api_key))
    progress("bare endpoint: batches …")
    bare_batch = asyncio.run(batch_load(bare_url, batch, plan.batch_size, None, until_committed=False))
    progress("gateway: batches, each until committed …")
    gw_batch = asyncio.run(batch_load(url, batch, plan.batch_size, api_key, until_committed=True))
    return {
        "single": {"submits_per_s": round(gw_single, 1), "bare_requests_per_s": round(bare_single, 1),
                   "ratio": round(gw_single / bare_single, 3), "txs": sum(map(len, single))},
        "batch": {"committed_tps": gw_batch["tps"], "finality_ms": gw_batch["finality_ms"],
                  "bare_tps": bare_batch["tps"], "ratio": round(gw_batch["tps"] / bare_batch["tps"], 3),
                  "txs": sum(map(len, batch)), "batch_size": plan.batch_size},
        "concurrency": plan.concurrency,
    }


def format_result(r: dict) -> str:
    s, b = r["single"], r["batch"]
    return (f"gateway over {r['via']}, {r['concurrency']} clients\n"
            f"single submits/s     {s['submits_per_s']:>10,.0f}   bare endpoint {s['bare_requests_per_s']:>8,.0f} req/s"
            f"   ratio {s['ratio']:.3f}   ({s['txs']} txs)\n"
            f"batch committed tx/s {b['committed_tps']:>10,.0f}   bare endpoint {b['bare_tps']:>8,.0f} tx/s"
            f"   ratio {b['ratio']:.3f}   ({b['txs']} txs in batches of {b['batch_size']})\n"
            f"batch finality ms    p50 {b['finality_ms']['p50']:.1f}   p95 {b['finality_ms']['p95']:.1f}"
            f"   p99 {b['finality_ms']['p99']:.1f}")
