"""Per-client rate limiting: a token bucket per client (API key name, else the peer address).

In-process by default (each gateway replica limits on its own). With Redis the buckets live in
Redis, shared by every gateway replica, updated atomically by one Lua script. While Redis is away
(see `RedisLink`) the limiter uses its in-process buckets, and goes back to Redis when it answers.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict
from collections.abc import Callable

from serve_apps.redis_link import RedisLink

MAX_LOCAL_CLIENTS = 100_000

# KEYS[1] bucket; ARGV: rate per s, burst, wanted. Takes up to `wanted` whole tokens and returns
# {taken, ms until the next token (0 if all were taken)}.
# The clock is Redis's own, never a gateway replica's: replicas' clocks differ (other hosts), and
# calls sent concurrently arrive out of the order their senders read the time. A bucket fed by
# the callers' times moved `at` back and forth and refilled the same interval again each time.
# `at` never goes back, should the server's clock step back.
_LUA = """
local rate, burst, wanted = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 't', 'at')
local tokens, at = tonumber(state[1]), tonumber(state[2])
if tokens == nil then tokens, at = burst, now end
if now < at then now = at end
tokens = math.min(burst, tokens + (now - at) * rate / 1000)
local taken = math.min(wanted, math.floor(tokens))
tokens = tokens - taken
local wait = 0
if taken < wanted then wait = math.ceil((1 - tokens) * 1000 / rate) end
redis.call('HSET', KEYS[1], 't', tokens, 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return {taken, wait}
"""


class LocalBuckets:
    def __init__(self, rate_per_s: float, burst: int, now_s: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.now_s = rate_per_s, burst, now_s
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (tokens, at)

    def take(self, client: str, wanted: int = 1) -> tuple[int, int]:
        """Up to `wanted` tokens: (taken, milliseconds until the next one, 0 if all were taken)."""
        now = self.now_s()
        tokens, at = self._buckets.pop(client, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        taken = min(wanted, math.floor(tokens))
        tokens -= taken
        wait_ms = math.ceil((1 - tokens) * 1000 / self.rate) if taken < wanted else 0
        self._buckets[client] = (tokens, now)
        if len(self._buckets) > MAX_LOCAL_CLIENTS:
            self._buckets.popitem(last=False)
        return taken, wait_ms


class RateLimiter:
    def __init__(self, rate_per_s: float, burst: int, link: RedisLink | None = None) -> None:
        self.enabled = rate_per_s > 0
        self._local = LocalBuckets(rate_per_s, burst) if self.enabled else None
        self._rate, self._burst = rate_per_s, burst
        self._link = link if self.enabled else None
        self._script = link.client.register_script(_LUA) if self._link is not None else None

    async def take(self, client: str, wanted: int = 1) -> tuple[int, int]:
        """Up to `wanted` of `client`'s tokens: (taken, milliseconds until the next one, 0 if all
        were taken). One call to Redis however many are wanted."""
        if not self.enabled:
            return wanted, 0
        if self._link is not None:
            ok, answer = await self._link.run(lambda r: self._script(
                keys=[f"aurigraph:ratelimit:{client}"],
                args=[self._rate, self._burst, wanted], client=r), "the rate limiter")
            if ok:
                return int(answer[0]), int(answer[1])
        return self._local.take(client, wanted)


class Takes:
    """One client's takes of one token each, from concurrent tasks (the transactions of one
    submit stream), sent to the limiter together: those that arrive while a call is out go in the
    next one, so a stream costs a Redis call per round instead of one per transaction, and never
    opens a connection per transaction (on a loaded machine, hundreds of those took longer than
    `RedisLink.TIMEOUT_S` and the limiter fell back to its in-process buckets). Tokens go in
    arrival order."""

    def __init__(self, limiter: RateLimiter, client: str) -> None:
        self.limiter, self.client = limiter, client
        self._waiting: list[asyncio.Future] = []
        self._round: asyncio.Task | None = None

    async def take(self) -> int:
        """0 if this one may go ahead, else the milliseconds to wait."""
        if not self.limiter.enabled:
            return 0
        waiter = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        if self._round is None:
            self._round = asyncio.create_task(self._rounds())
        return await waiter

    async def _rounds(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                try:
                    taken, wait_ms = await self.limiter.take(self.client, len(batch))
                except BaseException as e:  # every waiter learns it; a cancellation cancels them
                    for waiter in batch + self._waiting:
                        if not waiter.done():
                            waiter.cancel() if isinstance(e, asyncio.CancelledError) else waiter.set_exception(e)
                    self._waiting = []
                    if isinstance(e, asyncio.CancelledError):
                        raise
                    return
                for i, waiter in enumerate(batch):
                    if not waiter.done():  # its task was cancelled meanwhile: its token is spent
                        waiter.set_result(0 if i < taken else wait_ms)
        finally:
            self._round = None
