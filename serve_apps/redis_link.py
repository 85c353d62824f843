"""One Redis connection per gateway replica, shared by the rate limiter, the read cache and the
event fan-out, and one rule for when Redis is away: every use degrades (the caller falls back to
its in-process way), the first failure is logged and counted, Redis is not tried again for
`RETRY_S`, and the first success after that is logged as the recovery. `aurigraph_redis_up` says
which state the gateway is in.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

log = logging.getLogger("aurigraph.gateway")
RETRY_S = 2.0
TIMEOUT_S = 0.5
T = TypeVar("T")


class RedisLink:
    def __init__(self, url: str, on_state: Callable[[bool], None] = lambda up: None,
                 on_error: Callable[[], None] = lambda: None) -> None:
        import redis.asyncio as aioredis

        self.url = url
        self.client = aioredis.from_url(url, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S)
        self.up = True
        self._retry_at = 0.0
        self._on_state, self._on_error = on_state, on_error
        on_state(True)

    @property
    def usable(self) -> bool:
        return self.up or time.monotonic() >= self._retry_at

    async def run(self, call: Callable[[object], Awaitable[T]], what: str) -> tuple[bool, T | None]:
        """(True, result) if Redis answered `call(client)`; (False, None) if it is away — now, or
        still within the retry pause after a failure."""
        if not self.usable:
            return False, None
        if not self.up:  # one probe at a time while it is away: the others degrade until it answers
            self._retry_at = time.monotonic() + RETRY_S
        try:
            result = await call(self.client)
        except Exception as e:  # noqa: BLE001 - any Redis failure: degrade, retry after the pause
            self.failed(e, what)
            return False, None
        self.succeeded()
        return True, result

    def failed(self, error: Exception, what: str) -> None:
        self._on_error()
        self._retry_at = time.monotonic() + RETRY_S
        if self.up:
            self.up = False
            self._on_state(False)
            log.warning("Redis at %s unavailable (%s: %s); %s degrades to in-process until it is back",
                        self.url, type(error).__name__, error, what)

    def succeeded(self) -> None:
        if not self.up:
            self.up = True
            self._on_state(True)
            log.warning("Redis at %s is back", self.url)

    async def close(self) -> None:
        await self.client.aclose()
