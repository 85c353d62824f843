"""The gateway's rate limiter against the real Redis on 127.0.0.1:6379: buckets shared between
limiter instances (as between gateway replicas), and the in-process fallback while Redis is away."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
import redis

from serve_apps import redis_link
from serve_apps.ratelimit import RateLimiter
from serve_apps.redis_link import RedisLink

REDIS_URL = "redis://127.0.0.1:6379/0"
RATE = 0.001  # tokens per second: one in 1000 s, so no refill while a test runs, however slow the machine


@pytest.fixture(autouse=True)
def patient_link(monkeypatch):
    """A command timeout (read when a RedisLink is built) long enough that a stall on a loaded
    machine is not taken for Redis being away; an unreachable port refuses at once."""
    monkeypatch.setattr(redis_link, "TIMEOUT_S", 5.0)


def test_two_limiters_share_one_bucket_in_redis():
    client = f"test-{uuid.uuid4().hex}"
    key = f"aurigraph:ratelimit:{client}"
    errors = []

    async def scenario():
        a, b = (RateLimiter(RATE, burst=4, link=RedisLink(REDIS_URL, on_error=lambda: errors.append(1)))
                for _ in range(2))
        try:
            waits = [(await (a if i % 2 else b).take(client))[1] for i in range(6)]
        finally:
            await a._link.close()
            await b._link.close()
        return waits

    shared = redis.Redis.from_url(REDIS_URL)
    try:
        waits = asyncio.run(scenario())
        assert errors == [], "every take was answered by Redis, not by a limiter's own in-process bucket"
        # Each limiter took 3 of its own burst of 4: only one bucket for both makes the last two wait.
        assert waits[:4] == [0, 0, 0, 0] and all(w > 0 for w in waits[4:]), waits
        assert set(shared.hgetall(key)) == {b"t", b"at"}, "the bucket lives in Redis, with an expiry"
        assert shared.pttl(key) > 0
    finally:
        shared.delete(key)  # at this rate its expiry is weeks away
        shared.close()


def test_replicas_with_different_clocks_do_not_refill_the_bucket_twice(monkeypatch):
    """Gateway replicas on other hosts read other clocks, and concurrent calls reach Redis out of
    the order their senders read the time. Here every other call's clock is 10 s ahead: a bucket
    fed by the callers' times refilled 10 s at every swap (5 tokens at 0.5/s, so every call
    passed); the bucket runs on Redis's clock, so only its burst passes."""
    client = f"test-{uuid.uuid4().hex}"
    real_time_ns, calls = time.time_ns, [0]

    def skewed_time_ns() -> int:
        calls[0] += 1
        return real_time_ns() + (10_000_000_000 if calls[0] % 2 else 0)

    monkeypatch.setattr(time, "time_ns", skewed_time_ns)

    async def scenario():
        a, b = (RateLimiter(0.5, burst=2, link=RedisLink(REDIS_URL)) for _ in range(2))
        try:
            return [(await (a if i % 2 else b).take(client))[1] for i in range(8)]
        finally:
            await a._link.close()
            await b._link.close()

    try:
        waits = asyncio.run(scenario())
    finally:
        monkeypatch.undo()
        redis.Redis.from_url(REDIS_URL).delete(f"aurigraph:ratelimit:{client}")
    # 8 calls take far less than the 2 s one token takes to refill, however slow the machine.
    assert waits[:2] == [0, 0] and sum(w == 0 for w in waits) <= 3, waits


def test_when_redis_is_unreachable_it_limits_in_process_and_says_so(monkeypatch):
    monkeypatch.setattr(redis_link, "RETRY_S", 3600.0)  # no second try while the test runs, however slow
    degraded = []

    async def scenario():
        link = RedisLink("redis://127.0.0.1:1/0", on_error=lambda: degraded.append(1))
        limiter = RateLimiter(RATE, burst=2, link=link)
        try:
            return [(await limiter.take("c"))[1] for _ in range(3)]
        finally:
            await link.close()

    waits = asyncio.run(scenario())
    assert waits[:2] == [0, 0] and waits[2] > 0
    assert degraded == [1], "one failure, then no Redis retries until RedisLink.RETRY_S passed"
