"""`GatewayService`: the gateway's behaviour, shared by the REST routes and the gRPC methods —
admission (API key, rate limit), submission with its limits and metrics, and the stream hub.

Handlers in `serve_apps/rest` and `serve_apps/grpc_ingress.py` only translate their protocol to
these calls and map `ApiFailure` to their status codes.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aurigraph.codec.names import reason_name, status_name
from aurigraph.v1 import block_pb2, transaction_pb2
from serve_apps.allowlist import SubmitAllowlist, client_address
from serve_apps.auth import OPEN, SUBMISSION_ROUTES, ApiKeys, Principal, current_principal, required_role
from serve_apps.batching import MicroBatcher
from serve_apps.cache import ReadCache
from serve_apps.errors import ApiFailure
from serve_apps.events import EventHub
from serve_apps.fanout import Fanout
from serve_apps.metrics import GatewayMetrics
from serve_apps.models import ModelsService
from serve_apps.node_api import NodeApi
from serve_apps.queries import QueryService
from serve_apps.ratelimit import RateLimiter, Takes
from serve_apps.redis_link import RedisLink
from serve_apps.settings import GatewaySettings

log = logging.getLogger("aurigraph.gateway")


class GatewayService:
    def __init__(self, settings: GatewaySettings, api: NodeApi) -> None:
        self.settings = settings
        self.api = api
        self.metrics = GatewayMetrics()
        self.keys = ApiKeys.load(settings.api_keys_file)
        self.allowlist = SubmitAllowlist(settings.submit_allowlist)
        self.redis = RedisLink(settings.redis_url, on_state=self._redis_state,
                               on_error=self.metrics.redis_errors.inc) if settings.redis_url else None
        self.limiter = RateLimiter(settings.rate_limit_per_s, settings.rate_limit_burst, self.redis)
        self.cache = ReadCache(self.redis, api.genesis_hash, self.metrics)
        self._cache_checked = self.redis is None
        self.models = ModelsService(api.namespace)
        self.hub = EventHub(api, settings.stream_queue_events, anomalies=self.models.anomalies)
        if self.redis is not None:
            self.hub.fanout = Fanout(self.redis, api.genesis_hash, self.hub.publish)
        self.queries = QueryService(settings, api)
        self.metrics.stream_subscribers.set_function(lambda: len(self.hub.subscribers))
        self._batcher = MicroBatcher(self._submit_unwaited, settings.max_batch_txs)
        self._waited_batcher = MicroBatcher(self._submit_waited, settings.max_batch_txs)

    def client_address(self, peer_host: str, forwarded_for: str | None) -> str:
        """Who a request comes from: the socket peer, or whom a trusted proxy says it forwards."""
        return client_address(peer_host, forwarded_for, self.settings.trusted_proxies)

    async def admit(self, route: str, presented_key: str | None, peer: str, charge: bool = True) -> Principal:
        """Admit one request to `route` (a key of `serve_apps.auth`) from the client address `peer`:
        the API key and its role (`ROUTE_ROLES`), the submission allowlist, the rate limit (unless
        not `charge`: a stream of submits is charged per transaction, see `charge`); in that order,
        so a request without a key learns nothing else. Open routes are admitted as they are.
        Raises `ApiFailure`."""
        needs = required_role(route)
        if needs is None:
            return OPEN
        try:
            principal = self.keys.authenticate(presented_key, needs)
        except ApiFailure:
            # Refused requests cost the peer a token too, so guessing keys is rate limited.
            if (await self.limiter.take(f"peer:{peer}"))[1]:
                self.metrics.rate_limited.inc()
                raise ApiFailure("RATE_LIMITED", "too many refused requests from this address",
                                 retry_after_ms=1000) from None
            raise
        if route in SUBMISSION_ROUTES:
            self.allowlist.check(peer)
        if charge:
            await self.charge(principal, peer)
        current_principal.set(principal)
        return principal

    def _bucket(self, principal: Principal, peer: str) -> str:
        return principal.name if self.keys.enabled else peer

    def takes(self, principal: Principal, peer: str) -> Takes:
        """The admitted `principal`'s rate limit for many concurrent `charge`s (a submit stream's)."""
        return Takes(self.limiter, self._bucket(principal, peer))

    async def charge(self, principal: Principal, peer: str, takes: Takes | None = None) -> None:
        """Take one token of the rate limit of the admitted `principal` (by key name; without keys,
        by client address), through `takes` if given. Raises `ApiFailure` RATE_LIMITED with the wait."""
        wait_ms = await takes.take() if takes else (await self.limiter.take(self._bucket(principal, peer)))[1]
        if wait_ms:
            self.metrics.rate_limited.inc()
            raise ApiFailure("RATE_LIMITED", f"rate limit of {self.settings.rate_limit_per_s:g} requests/s exceeded",
                             retry_after_ms=wait_ms)

    def wait_ms(self, requested_ms: int | None) -> int:
        if requested_ms is None or requested_ms <= 0:
            return self.settings.default_wait_ms
        return min(requested_ms, self.settings.max_wait_ms)

    async def submit(self, wire: list[bytes], wait: bool, timeout_ms: int | None = None
                     ) -> transaction_pb2.BatchSubmitResponse:
        """Raw `SignedTransaction` bytes in, one `SubmitResponse` each. Everything a validator can
        see wrong comes back REJECTED with its reason; nothing rejected reaches consensus."""
        if not wire:
            raise ApiFailure("BAD_REQUEST", "no transactions in the request")
        if len(wire) > self.settings.max_batch_txs:
            raise ApiFailure("BATCH_TOO_LARGE", f"{len(wire)} transactions, at most {self.settings.max_batch_txs} "
                                                "per request")
        started = time.perf_counter()
        response = await self.api.submit(wire, wait, self.wait_ms(timeout_ms))
        elapsed_s = time.perf_counter() - started
        committed = 0
        for r in response.results:
            self.metrics.submitted.labels(status_name(r.status)).inc()
            if r.status == transaction_pb2.TRANSACTION_STATUS_REJECTED:
                self.metrics.rejected.labels(reason_name(r.reason).upper()).inc()
            elif r.status == transaction_pb2.TRANSACTION_STATUS_COMMITTED:
                committed += 1
        if wait and committed:
            self.metrics.finality.observe(elapsed_s)
        self.hub.publish_rejections(wire, response.results)
        return response

    async def transaction(self, tx_id: bytes) -> transaction_pb2.TransactionRecord:
        await self._check_cache()
        return await self.cache.transaction(tx_id, lambda: self.api.transaction(tx_id))

    async def block(self, height: int | None) -> block_pb2.BlockRecord:
        """The block at `height` (None: the latest, whose height is always asked of the node)."""
        await self._check_cache()
        if height is None:
            height = await self.api.head_height()
        return await self.cache.block(height, lambda: self.api.block(height))

    async def close(self) -> None:
        """Release PostgreSQL and Redis connections (the replica is stopping)."""
        await self.queries.close()
        if self.redis is not None:
            if self.hub.fanout is not None:
                await self.hub.fanout.close()
            await self.redis.close()

    async def _check_cache(self) -> None:
        """Before the first cached read, and again after Redis was away: a cache left above a
        rewound chain is dropped. Until Redis answers the check, it stays to do."""
        if self._cache_checked:
            return
        dropped = await self.cache.drop_if_rewound(await self.api.head_height())
        if dropped:
            log.warning("the read cache held blocks above the node's head (a restored chain?): dropped it")
        self._cache_checked = dropped is not None

    def _redis_state(self, up: bool) -> None:
        self.metrics.redis_state(up)
        if up:
            self._cache_checked = False  # whatever happened while it was away, check again

    async def submit_batch(self, wire: list[bytes], wait: bool, timeout_ms: int | None = None
                           ) -> transaction_pb2.BatchSubmitResponse:
        """A client's batch: as `submit`, but a batch refused whole (back-pressure everywhere) is an
        `ApiFailure` (503 / UNAVAILABLE with the retry hint) rather than a list of refusals."""
        _check_size(sum(map(len, wire)), self.settings.max_batch_body_bytes)
        response = await self.submit(wire, wait, timeout_ms)
        if all(r.retry_after_ms for r in response.results):
            first = response.results[0]
            raise ApiFailure("UNAVAILABLE", first.detail or "pipeline full", retry_after_ms=first.retry_after_ms)
        return response

    async def _submit_unwaited(self, wire: list[bytes]) -> list:
        return list((await self.submit(wire, False)).results)

    async def _submit_waited(self, items: list[tuple[bytes, int]]) -> list:
        """(raw, wait ms) items: one waited batch per distinct wait, side by side."""
        by_wait: dict[int, list[int]] = {}
        for i, (_, wait_ms) in enumerate(items):
            by_wait.setdefault(wait_ms, []).append(i)
        results: list = [None] * len(items)

        async def one(wait_ms: int, indices: list[int]) -> None:
            response = await self.submit([items[i][0] for i in indices], True, wait_ms)
            for i, r in zip(indices, response.results):
                results[i] = r
        await asyncio.gather(*(one(w, ix) for w, ix in by_wait.items()))
        return results

    async def submit_one(self, raw: bytes, wait: bool, timeout_ms: int | None = None) -> transaction_pb2.SubmitResponse:
        """One transaction; a rejection or a full pipeline is an `ApiFailure` (422 / 503). It is
        batched with the other single transactions arriving now (one call through the ingress, the
        validators and the leader for all of them), waited ones with those of the same wait. A
        waited batch is answered when each of its transactions is final or the leader holds it for
        a missing earlier nonce (answered PENDING if still held after 1 s), so one such transaction never holds up
        the others for long (docs/gateway.md)."""
        _check_size(len(raw), self.settings.max_body_bytes)
        if wait:
            result = await self._waited_batcher.submit((raw, self.wait_ms(timeout_ms)))
        else:
            result = await self._batcher.submit(raw)
        if result.status == transaction_pb2.TRANSACTION_STATUS_REJECTED:
            raise RejectedFailure(result)
        if result.retry_after_ms:
            raise ApiFailure("UNAVAILABLE", result.detail or "pipeline full", retry_after_ms=result.retry_after_ms)
        return result


def _check_size(size: int, limit: int) -> None:
    """REST refuses a larger body before reading it; gRPC (whose own message limit is far higher)
    gets the same limits here, so an oversize request never travels on to the node's actors."""
    if size > limit:
        raise ApiFailure("PAYLOAD_TOO_LARGE", f"{size} bytes of transactions, limit {limit}")


class RejectedFailure(ApiFailure):
    """A rejected transaction: the REST layer answers 422 with the `SubmitResponse` itself."""

    def __init__(self, result: transaction_pb2.SubmitResponse) -> None:
        super().__init__("REJECTED", f"{reason_name(result.reason).upper()}: {result.detail}", reason=result.reason)
        self.result = result
