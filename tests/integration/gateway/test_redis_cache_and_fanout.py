"""The gateway's Redis uses against a real, private redis-server that the tests kill and restart:
the read cache (only final answers cached, so never a stale status), the event fan-out between
two gateway replicas, and degradation and recovery of both."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
import redis.asyncio as aioredis

from aurigraph.v1 import block_pb2, events_pb2, transaction_pb2
from serve_apps import fanout, redis_link
from serve_apps.cache import ReadCache
from serve_apps.fanout import Fanout
from serve_apps.metrics import GatewayMetrics
from serve_apps.redis_link import RedisLink
from tests.redis_server import PrivateRedis

GENESIS = b"\x07" * 64
DEADLINE_S = 20.0  # for what the tests wait on: generous for a loaded machine, and only spent on a failure
PENDING, COMMITTED = transaction_pb2.TRANSACTION_STATUS_PENDING, transaction_pb2.TRANSACTION_STATUS_COMMITTED


@pytest.fixture
def redis_server(tmp_path):
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def quick_retry(monkeypatch):
    """A short retry pause (fanout.py imports RETRY_S by value: patched there too, for its receive
    loop's poll), and a command timeout (read when a RedisLink is built) long enough that a stall on
    a loaded machine is not taken for Redis being away; a killed redis-server refuses at once."""
    monkeypatch.setattr(redis_link, "RETRY_S", 0.3)
    monkeypatch.setattr(fanout, "RETRY_S", 0.3)
    monkeypatch.setattr(redis_link, "TIMEOUT_S", 5.0)


def _link(url, metrics):
    return RedisLink(url, on_state=metrics.redis_state, on_error=metrics.redis_errors.inc)


@contextlib.asynccontextmanager
async def _cache(url):
    """A gateway replica's read cache on Redis at `url`, with its metrics; the link closed after."""
    metrics = GatewayMetrics()
    link = _link(url, metrics)
    try:
        yield ReadCache(link, GENESIS, metrics), metrics
    finally:
        await link.close()


def _value(counter) -> float:
    return counter._value.get()


def test_only_final_answers_are_cached_so_a_commit_is_seen_at_once(redis_server):
    tx_id = b"\x01" * 64
    answers = [transaction_pb2.TransactionRecord(tx_id=tx_id, status=PENDING),
               transaction_pb2.TransactionRecord(tx_id=tx_id, status=COMMITTED, confidence=2 / 3,
                                                 receipt=transaction_pb2.Receipt(height=5)),
               transaction_pb2.TransactionRecord(tx_id=tx_id, status=COMMITTED, confidence=1.0,
                                                 receipt=transaction_pb2.Receipt(height=5))]
    reads = []

    async def node_read():
        reads.append(1)
        return answers[min(len(reads), len(answers)) - 1]

    async def scenario():
        async with _cache(redis_server.url) as (cache, metrics):
            seen = [(await cache.transaction(tx_id, node_read)) for _ in range(5)]
            block = await cache.block(5, _block_read(5, 1.0))
            assert (await cache.block(5, _fail)).SerializeToString() == block.SerializeToString()
            assert (await cache.block(6, _block_read(6, 0.5))).confidence == 0.5
            assert (await cache.block(6, _block_read(6, 1.0))).confidence == 1.0, "a partial block is not cached"
            return seen, metrics

    seen, metrics = asyncio.run(scenario())
    assert [r.status for r in seen] == [PENDING, COMMITTED, COMMITTED, COMMITTED, COMMITTED]
    assert [r.confidence for r in seen] == [0, 2 / 3, 1.0, 1.0, 1.0]
    assert len(reads) == 3, "pending and partly replicated answers went to the node; the final one was cached"
    assert _value(metrics.cache_hits) == 3


def _block_read(height, confidence):
    async def read():
        return block_pb2.BlockRecord(confidence=confidence, block=block_pb2.Block(
            header=block_pb2.BlockHeader(height=height)))
    return read


async def _fail():
    raise AssertionError("served from the cache, the node is not asked")


def test_a_cache_above_a_rewound_chain_is_dropped(redis_server):
    async def scenario():
        async with _cache(redis_server.url) as (cache, _metrics):
            await cache.block(9, _block_read(9, 1.0))
            assert not await cache.drop_if_rewound(9)
            assert (await cache.block(9, _fail)).block.header.height == 9  # cached
            assert await cache.drop_if_rewound(4)  # the node came back at height 4
            return await cache.block(9, _block_read(9, 0.5))
    assert asyncio.run(scenario()).confidence == 0.5, "after the drop, the node is asked again"


def test_the_rewind_check_is_not_counted_as_done_while_redis_is_away(redis_server):
    async def scenario():
        async with _cache(redis_server.url) as (cache, _metrics):
            await cache.block(9, _block_read(9, 1.0))
            redis_server.kill()
            while_away = await cache.drop_if_rewound(4)
            redis_server.start()
            await asyncio.sleep(0.4)
            return while_away, await cache.drop_if_rewound(4)
    while_away, back = asyncio.run(scenario())
    assert while_away is None and back is False  # a restarted redis-server is empty: nothing to drop


def test_redis_killed_and_restarted_degrades_then_recovers(redis_server):
    async def scenario():
        async with _cache(redis_server.url) as (cache, metrics):
            await cache.block(1, _block_read(1, 1.0))
            redis_server.kill()
            during = await cache.block(1, _block_read(1, 1.0))  # answered by the node, no error
            assert metrics.redis_up._value.get() == 0 and _value(metrics.redis_errors) >= 1
            redis_server.start()  # same port, empty
            await asyncio.sleep(0.4)
            await cache.block(2, _block_read(2, 1.0))
            after = await cache.block(2, _fail)
            assert metrics.redis_up._value.get() == 1
            return during, after
    during, after = asyncio.run(scenario())
    assert during.block.header.height == 1 and after.block.header.height == 2


def _rejection(n: int):
    event = events_pb2.Event(transaction_rejected=events_pb2.TransactionRejected(tx_id=bytes([n]) * 64))
    return (events_pb2.EVENT_KIND_TRANSACTION_REJECTED, (bytes([n]) * 32,), event)


def test_fanout_between_two_gateway_replicas_survives_a_redis_restart(redis_server):
    async def scenario():
        got_a, got_b = [], []
        ma, mb = GatewayMetrics(), GatewayMetrics()
        la, lb = _link(redis_server.url, ma), _link(redis_server.url, mb)
        a, b = Fanout(la, GENESIS, got_a.extend), Fanout(lb, GENESIS, got_b.extend)
        other_chain = Fanout(_link(redis_server.url, GatewayMetrics()), b"\x08" * 64, got_b.extend)
        try:
            for f in (a, b, other_chain):
                f.start()
            await _until_subscribed(redis_server.url, a.channel, 2)  # pub/sub is at-most-once: a and b
            await a.publish([_rejection(1)])
            await other_chain.publish([_rejection(9)])
            await _until(lambda: got_b)
            redis_server.kill()
            await a.publish([_rejection(2)])  # lost (at-most-once), and no error
            redis_server.start()
            await _until_subscribed(redis_server.url, a.channel, 2)  # both resubscribe after the retry pause
            await a.publish([_rejection(3)])
            await _until(lambda: len(got_b) >= 2)
            return got_a, got_b, ma
        finally:
            for f in (a, b, other_chain):
                await f.close()
            await la.close()
            await lb.close()
    got_a, got_b, ma = asyncio.run(scenario())
    assert got_a == [], "a replica does not deliver its own events twice"
    assert [e.transaction_rejected.tx_id[0] for _, _, e in got_b] == [1, 3]
    assert got_b[0][1] == (b"\x01" * 32,) and got_b[0][0] == events_pb2.EVENT_KIND_TRANSACTION_REJECTED
    assert _value(ma.redis_errors) >= 1


async def _until(condition, timeout_s: float = DEADLINE_S) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


async def _until_subscribed(url: str, channel: str, count: int, timeout_s: float = DEADLINE_S) -> None:
    """Wait until `count` clients subscribe to `channel` (PUBSUB NUMSUB, from a client of its own)."""
    client = aioredis.from_url(url)
    try:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while (subscribed := (await client.pubsub_numsub(channel))[0][1]) < count:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{subscribed} of {count} subscribed to {channel} after {timeout_s:g} s")
            await asyncio.sleep(0.05)
    finally:
        await client.aclose()
