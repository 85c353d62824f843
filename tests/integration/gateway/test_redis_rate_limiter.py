"""The gateway's rate limiter against the real Redis on 127.0.0.1:6379: buckets shared between
limiter instances (as between gateway replicas), and the in-process fallback while Redis is away."""

from __future__ import annotations

import asyncio
import uuid

import redis

from serve_apps.ratelimit import RateLimiter
from serve_apps.redis_link import RedisLink

REDIS_URL = "redis://127.0.0.1:6379/0"


def test_two_limiters_share_one_bucket_in_redis():
    client = f"test-{uuid.uuid4().hex}"

    async def scenario():
        a, b = RateLimiter(1, burst=4, link=RedisLink(REDIS_URL)), RateLimiter(1, burst=4, link=RedisLink(REDIS_URL))
        try:
            waits = [await (a if i % 2 else b).take(client) for i in range(6)]
        finally:
            await a._link.close()
            await b._link.close()
        return waits

    waits = asyncio.run(scenario())
    assert waits[:4] == [0, 0, 0, 0] and all(w > 0 for w in waits[4:]), waits
    stored = redis.Redis.from_url(REDIS_URL).hgetall(f"aurigraph:ratelimit:{client}")
    assert set(stored) == {b"t", b"at"}, "the bucket lives in Redis, with an expiry"
    assert redis.Redis.from_url(REDIS_URL).pttl(f"aurigraph:ratelimit:{client}") > 0


def test_when_redis_is_unreachable_it_limits_in_process_and_says_so():
    degraded = []

    async def scenario():
        link = RedisLink("redis://127.0.0.1:1/0", on_error=lambda: degraded.append(1))
        limiter = RateLimiter(1, burst=2, link=link)
        try:
            return [await limiter.take("c") for _ in range(3)]
        finally:
            await link.close()

    waits = asyncio.run(scenario())
    assert waits[:2] == [0, 0] and waits[2] > 0
    assert degraded == [1], "one failure, then no Redis retries until RedisLink.RETRY_S passed"
