"""Per-client rate limiting: a token bucket per client (API key name, else the peer address).

In-process by default (each gateway replica limits on its own). With Redis the buckets live in
Redis, shared by every gateway replica, updated atomically by one Lua script. While Redis is away
(see `RedisLink`) the limiter uses its in-process buckets, and goes back to Redis when it answers.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable

from serve_apps.redis_link import RedisLink

MAX_LOCAL_CLIENTS = 100_000

# KEYS[1] bucket; ARGV: rate per s, burst, now ms, cost. Returns ms to wait (0: allowed).
_LUA = """
local rate, burst, now, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 't', 'at')
local tokens, at = tonumber(state[1]), tonumber(state[2])
if tokens == nil then tokens, at = burst, now end
tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
local wait = 0
if tokens >= cost then tokens = tokens - cost else wait = math.ceil((cost - tokens) * 1000 / rate) end
redis.call('HSET', KEYS[1], 't', tokens, 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return wait
"""


class LocalBuckets:
    def __init__(self, rate_per_s: float, burst: int, now_s: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.now_s = rate_per_s, burst, now_s
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (tokens, at)

    def take(self, client: str, cost: int = 1) -> int:
        """0 if allowed, else the milliseconds until `cost` tokens are there."""
        now = self.now_s()
        tokens, at = self._buckets.pop(client, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        wait_ms = 0
        if tokens >= cost:
            tokens -= cost
        else:
            wait_ms = math.ceil((cost - tokens) * 1000 / self.rate)
        self._buckets[client] = (tokens, now)
        if len(self._buckets) > MAX_LOCAL_CLIENTS:
            self._buckets.popitem(last=False)
        return wait_ms


class RateLimiter:
    def __init__(self, rate_per_s: float, burst: int, link: RedisLink | None = None) -> None:
        self.enabled = rate_per_s > 0
        self._local = LocalBuckets(rate_per_s, burst) if self.enabled else None
        self._rate, self._burst = rate_per_s, burst
        self._link = link if self.enabled else None
        self._script = link.client.register_script(_LUA) if self._link is not None else None

    async def take(self, client: str, cost: int = 1) -> int:
        """0 if the request may go ahead, else the milliseconds the client should wait."""
        if not self.enabled:
            return 0
        if self._link is not None:
            ok, wait_ms = await self._link.run(lambda r: self._script(
                keys=[f"aurigraph:ratelimit:{client}"],
                args=[self._rate, self._burst, time.time_ns() // 1_000_000, cost], client=r), "the rate limiter")
            if ok:
                return int(wait_ms)
        return self._local.take(client, cost)
