"""Ingress: the ingest stage. A client batch is split across the validator pool, verified there in
parallel, and the transactions that pass go to the current leader as one batch; results come back
in the client's order. A batch that costs at most `INLINE_VERIFY_MAX_UNITS` to verify is verified
here instead (the same `VerifyStage` a validator runs): for a few dozen Ed25519 transactions, or a
handful signed with ML-DSA-87, the validators' round trips cost more than the work
(docs/performance.md). A full ingress answers "retry after" instead of queueing
without bound.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict

import ray
from ray.util.metrics import Counter, Gauge

from actors.replica import NotLeaderError
from actors.validator import VerifyStage
from aurigraph import telemetry
from aurigraph.codec.names import reason_name
from aurigraph.codec.node import (
    decode_batch,
    encode_batch,
    encode_validated,
    hold_verdicts,
    merge_results,
    response_statuses,
    retry_response,
)
from aurigraph.node.ingest import verify_cost_units
from aurigraph.node.replica import TxStatus

log = logging.getLogger("aurigraph.ingress")
LEADER_RETRIES = 20
LEADER_RETRY_S = 0.1
HEALTH_TIMEOUT_S = 2.0
RECENT_REJECTIONS = 100_000
ARRIVAL_BUCKET_MS = 100
ARRIVAL_BUCKETS = 6_000  # 10 minutes of busy buckets
# At most ~3 ms of this loop's time: 48 Ed25519 transactions or 8 signed with ML-DSA-87 (hybrid
# too). At 8 of either, the micro-batches of a single-transaction load (~15 each) all went to the
# validators: two more actor calls a batch, and ~290 µs a transaction in the validators' processes.
INLINE_VERIFY_MAX_UNITS = 48


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=0)
class Ingress:
    def __init__(self, validator_names: list[str], replica_names: dict[int, str], namespace: str,
                 genesis_json: str, max_inflight_batches: int = 64, retry_after_ms: int = 200) -> None:
        telemetry.configure("ingress")
        self._inline = VerifyStage(genesis_json)
        # Names, not handles: constructor arguments must survive this actor's restarts.
        self._validators = [ray.get_actor(n, namespace=namespace) for n in validator_names]
        self._replicas = {i: ray.get_actor(n, namespace=namespace) for i, n in replica_names.items()}
        self._max_inflight = max_inflight_batches
        self._retry_after_ms = retry_after_ms
        self._inflight = 0
        # Transactions offered by clients per ARRIVAL_BUCKET_MS of arrival time, the last
        # ARRIVAL_BUCKETS of them: the optimizer's ingress rate, exact whenever it asks.
        self._arrivals: OrderedDict[int, int] = OrderedDict()
        self._held: set[bytes] = set()  # senders the optimizer's hold policy refuses (`hold_senders`)
        self._leader: int | None = None
        self._next_validator = 0
        self._rejected: OrderedDict[bytes, bytes] = OrderedDict()  # tx id -> SubmitResponse bytes
        self._rejected_count = Counter("aurigraph_ingress_rejected_transactions",
                                       "transactions rejected by validation or ordering")
        self._inflight_gauge = Gauge("aurigraph_ingress_batches_in_flight", "client batches in the pipeline")

    async def submit(self, batch: bytes, wait: bool = False, timeout_ms: int | None = None,
                     ctx: dict | None = None) -> bytes:
        """`TransactionBatch` in; `BatchSubmitResponse` out (same order as the input). With `wait`,
        results are final unless `timeout_ms` (capped by the node's submit timeout) ran out. `ctx`
        is the request's telemetry context (request id, trace parent)."""
        wire = decode_batch(batch)
        self._count_arrivals(len(wire))
        with telemetry.span("ingress.submit", ctx or {}, txs=len(wire)) as ctx:
            if self._inflight >= self._max_inflight:
                log.warning("batch of %d refused: %d batches in flight", len(wire), self._inflight)
                return retry_response(len(wire), self._retry_after_ms,
                                      "ingress busy: too many batches in flight")
            self._inflight += 1
            self._inflight_gauge.set(self._inflight)
            try:
                verdicts = await self._verify(wire, ctx)
                if self._held:
                    hold_verdicts(verdicts, wire, self._held)
                passed = [(raw, v.tx_id) for raw, v in zip(wire, verdicts) if v.status == TxStatus.PENDING]
                ordered = await self._order(passed, wait, timeout_ms, ctx) if passed else []
                merged = merge_results(verdicts, ordered)
                self._remember_rejections(merged, len(wire))
                return merged
            finally:
                self._inflight -= 1
                self._inflight_gauge.set(self._inflight)

    def _remember_rejections(self, response: bytes, total: int) -> None:
        reasons: dict[int, int] = {}
        for r in response_statuses(response):
            if r.status == TxStatus.REJECTED and r.tx_id and r.authenticated:  # (see SubmitResponse.authenticated)
                self._rejected[r.tx_id] = r.SerializeToString()
                self._rejected.move_to_end(r.tx_id)
            if r.status == TxStatus.REJECTED:
                reasons[r.reason] = reasons.get(r.reason, 0) + 1
        while len(self._rejected) > RECENT_REJECTIONS:
            self._rejected.popitem(last=False)
        if reasons:
            self._rejected_count.inc(sum(reasons.values()))
            log.info("batch of %d: %d rejected (%s)", total, sum(reasons.values()),
                     ", ".join(f"{reason_name(k)}: {n}" for k, n in sorted(reasons.items())))

    async def rejection(self, tx_id: bytes) -> bytes | None:
        """The `SubmitResponse` of a recent rejection of `tx_id` seen here (validation failures never
        reach a replica, so only the ingress knows them), or None. Kept in memory, newest 100,000."""
        return self._rejected.get(tx_id)

    async def inflight(self) -> int:
        return self._inflight

    async def hold_senders(self, senders: list[bytes]) -> None:
        """Refuse further transactions from exactly these senders (HELD_FOR_REVIEW) until the next
        call: the optimizer owns the list and sends all of it each time."""
        self._held = set(senders)

    def _count_arrivals(self, count: int) -> None:
        now_ms = time.time_ns() // 1_000_000
        bucket = now_ms - now_ms % ARRIVAL_BUCKET_MS
        self._arrivals[bucket] = self._arrivals.get(bucket, 0) + count
        while len(self._arrivals) > ARRIVAL_BUCKETS:
            self._arrivals.popitem(last=False)

    async def arrivals(self, since_ms: int) -> list[tuple[int, int]]:
        """(bucket start ms, transactions offered by clients) for the complete buckets (each
        `ARRIVAL_BUCKET_MS` long) starting at or after `since_ms`, oldest first; buckets without
        arrivals are left out. Kept in memory for the last `ARRIVAL_BUCKETS` buckets with arrivals
        (a restart starts empty)."""
        now_ms = time.time_ns() // 1_000_000
        return [(start, n) for start, n in self._arrivals.items()
                if since_ms <= start and start + ARRIVAL_BUCKET_MS <= now_ms]

    async def _verify(self, wire: list[bytes], ctx: dict) -> list:
        if verify_cost_units(wire) <= INLINE_VERIFY_MAX_UNITS:
            return response_statuses(self._inline.check(wire))
        n = len(self._validators)
        size = max(1, -(-len(wire) // n))
        chunks = [wire[i:i + size] for i in range(0, len(wire), size)]
        start = self._next_validator
        self._next_validator = (start + len(chunks)) % n
        replies = await asyncio.gather(*(
            self._validators[(start + i) % n].validate.remote(encode_batch(chunk), ctx)
            for i, chunk in enumerate(chunks)
        ))
        return [r for reply in replies for r in response_statuses(reply)]

    async def _order(self, passed: list[tuple[bytes, bytes]], wait: bool, timeout_ms: int | None, ctx: dict) -> list:
        """Send (wire bytes, id) of validated transactions to the leader; transactions DROPPED by a
        leader change go to the new leader again (safe: submission is idempotent by id and nonces
        prevent a double apply)."""
        results = response_statuses(await self._to_leader(passed, wait, timeout_ms, ctx))
        for _ in range(LEADER_RETRIES):
            dropped = [i for i, r in enumerate(results) if r.status == TxStatus.DROPPED]
            if not dropped:
                break
            retried = response_statuses(
                await self._to_leader([passed[i] for i in dropped], wait, timeout_ms, ctx))
            for i, r in zip(dropped, retried):
                results[i] = r
        return results

    async def _to_leader(self, passed: list[tuple[bytes, bytes]], wait: bool, timeout_ms: int | None,
                         ctx: dict) -> bytes:
        batch = encode_validated([raw for raw, _ in passed], [tx_id for _, tx_id in passed])
        for _ in range(LEADER_RETRIES):
            leader = self._leader or await self._find_leader()
            if leader is not None:
                try:
                    return await self._replicas[leader].submit.remote(batch, wait, timeout_ms, ctx)
                except NotLeaderError as e:
                    self._leader = e.leader_id or None
                    continue
                except ray.exceptions.RayActorError:
                    self._leader = None
            await asyncio.sleep(LEADER_RETRY_S)
        log.warning("batch of %d refused: no leader available", len(passed))
        return retry_response(len(passed), self._retry_after_ms, "no leader available")

    async def _find_leader(self) -> int | None:
        async def health(i, h):
            try:
                return i, await asyncio.wait_for(h.health.remote(), HEALTH_TIMEOUT_S)
            except (TimeoutError, ray.exceptions.RayActorError):
                return i, None  # down or being restarted by Ray
        for i, state in await asyncio.gather(*(health(i, h) for i, h in self._replicas.items())):
            if state and state["leader"] and not state["halted"]:
                self._leader = i
                return i
        return None

    async def leader(self) -> int | None:
        """The current leader, asked of the replicas now (not the routing cache)."""
        return await self._find_leader()

