"""Micro-batching: many concurrent single-item calls become one batched call.

One-transaction submits arrive as separate HTTP/gRPC requests, but every hop behind the gateway
(ingress, validators, leader) costs an actor call; a `MicroBatcher` gathers the items that arrive
within `max_wait_s` (or until `max_items`) and makes one call for all of them. A lone request
waits at most `max_wait_s` more; under load the node sees batches instead of single items.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence


class MicroBatcher:
    def __init__(self, flush: Callable[[list], Awaitable[Sequence]], max_items: int = 1000,
                 max_wait_s: float = 0.002) -> None:
        self._flush = flush
        self._max_items, self._max_wait_s = max_items, max_wait_s
        self._items: list = []
        self._futures: list[asyncio.Future] = []
        self._timer: asyncio.TimerHandle | None = None
        self._flushing: set[asyncio.Task] = set()  # referenced until done (asyncio keeps weak refs)

    async def submit(self, item):
        """`item`'s result from one batched `flush` call (its exception, if the call failed)."""
        future = asyncio.get_running_loop().create_future()
        self._items.append(item)
        self._futures.append(future)
        if len(self._items) >= self._max_items:
            self._start_flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._max_wait_s, self._start_flush)
        return await future

    def _start_flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        items, futures = self._items, self._futures
        self._items, self._futures = [], []
        if items:
            task = asyncio.get_running_loop().create_task(self._run(items, futures))
            self._flushing.add(task)
            task.add_done_callback(self._flushing.discard)

    async def _run(self, items: list, futures: list[asyncio.Future]) -> None:
        try:
            results = await self._flush(items)
        except BaseException as e:  # noqa: BLE001 - every caller of this batch sees the failure, cancellation too
            for f in futures:
                if not f.done():
                    f.set_exception(e)
            return
        if len(results) != len(futures):
            error = RuntimeError(f"batched call answered {len(results)} results for {len(futures)} items")
            for f in futures:
                if not f.done():
                    f.set_exception(error)
            return
        for f, r in zip(futures, results):
            if not f.done():
                f.set_result(r)
