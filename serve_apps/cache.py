"""Hot reads from Redis: committed transaction records and blocks, shared by the gateway replicas.

Only what can never change is cached: a COMMITTED transaction record and a block record whose
finality confidence is 1 (every voter stored it). PENDING, REJECTED (a rejected transaction may be
resubmitted and commit), DROPPED and UNKNOWN answers, and anything less than fully replicated,
always go to the node — so the cache cannot serve a status that a commit has since changed, and
entries need no invalidation on commit. Keys are namespaced by the chain's genesis hash, so two
chains never share entries; the one event that does invalidate is a chain rewound under the cache
(a restore from an older backup): the namespace records the highest height it cached, and a
gateway that finds the node's head below it drops the namespace at start.

Without Redis (or while it is away) every read goes to the node.
"""

from __future__ import annotations

from aurigraph.v1 import block_pb2, transaction_pb2
from serve_apps.redis_link import RedisLink

TTL_S = 3600
MAX_VALUE_BYTES = 4 * 1024 * 1024  # a bigger block is served from the node every time
# KEYS[1] entry, KEYS[2] high-water mark; ARGV: value, ttl s, height.
_PUT = """
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
local high = tonumber(redis.call('GET', KEYS[2]) or '-1')
if tonumber(ARGV[3]) > high then redis.call('SET', KEYS[2], ARGV[3]) end
return 1
"""


class ReadCache:
    def __init__(self, link: RedisLink | None, genesis_hash: bytes, metrics) -> None:
        self.link = link
        self.prefix = f"aurigraph:cache:{genesis_hash.hex()[:32]}:"
        self.metrics = metrics
        self._put = link.client.register_script(_PUT) if link is not None else None

    async def transaction(self, tx_id: bytes, read) -> transaction_pb2.TransactionRecord:
        """The record of `tx_id`: from the cache, else `await read()` (cached if final)."""
        key = self.prefix + "tx:" + tx_id.hex()
        cached = await self._get(key)
        if cached is not None:
            return transaction_pb2.TransactionRecord.FromString(cached)
        record = await read()
        if record.status == transaction_pb2.TRANSACTION_STATUS_COMMITTED and record.confidence >= 1.0:
            await self._store(key, record.SerializeToString(), record.receipt.height)
        return record

    async def block(self, height: int, read) -> block_pb2.BlockRecord:
        key = f"{self.prefix}block:{height}"
        cached = await self._get(key)
        if cached is not None:
            return block_pb2.BlockRecord.FromString(cached)
        record = await read()
        if record.confidence >= 1.0:
            await self._store(key, record.SerializeToString(), height)
        return record

    async def drop_if_rewound(self, head_height: int) -> bool | None:
        """Drop the namespace if it holds entries above the node's head: True if it did, False if
        there was nothing to drop, None if Redis did not answer (so the check is still to do)."""
        if self.link is None:
            return False
        ok, high = await self.link.run(lambda r: r.get(self.prefix + "high"), "the read cache")
        if not ok:
            return None
        if high is None or int(high) <= head_height:
            return False

        async def drop(r) -> None:
            async for key in r.scan_iter(match=self.prefix + "*", count=1000):
                await r.unlink(key)
        return True if (await self.link.run(drop, "the read cache"))[0] else None

    async def _get(self, key: str) -> bytes | None:
        if self.link is None:
            return None
        ok, value = await self.link.run(lambda r: r.get(key), "the read cache")
        if ok and value is not None:
            self.metrics.cache_hits.inc()
            return value
        self.metrics.cache_misses.inc()
        return None

    async def _store(self, key: str, value: bytes, height: int) -> None:
        if self.link is not None and len(value) <= MAX_VALUE_BYTES:
            await self.link.run(lambda r: self._put(keys=[key, self.prefix + "high"], args=[value, TTL_S, height],
                                                    client=r), "the read cache")
