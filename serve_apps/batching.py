"""Micro-batching: many concurrent single-item calls become one batched call.

One-transaction submits arrive as separate HTTP/gRPC requests, but every hop behind the gateway
(ingress, validators, leader) costs an actor call. A `MicroBatcher` keeps at most `max_in_flight`
batched calls running: an item that finds a call slot free goes at once (alone, when it is alone:
a quiet node never makes a request wait), and items that arrive while every slot is busy gather
until one frees, then go together (up to `max_items` a call). So batches grow with the load by
themselves, with no timer, as a group commit does: at R calls a second per slot, a gateway makes at
most `max_in_flight` × R calls whatever its request rate.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence


class MicroBatcher:
    def __init__(self, flush: Callable[[list], Awaitable[Sequence]], max_items: int = 1000,
                 max_in_flight: int = 4) -> None:
        self._flush = flush
        self._max_items, self._max_in_flight = max_items, max_in_flight
        self._items: list = []
        self._futures: list[asyncio.Future] = []
        self._flushing: set[asyncio.Task] = set()  # referenced until done (asyncio keeps weak refs)

    async def submit(self, item):
        """`item`'s result from one batched `flush` call (its exception, if the call failed)."""
        future = asyncio.get_running_loop().create_future()
        self._items.append(item)
        self._futures.append(future)
        self._start_flushes()
        return await future

    def _start_flushes(self) -> None:
        """Start a call for the gathered items in each free slot, up to `max_items` a call."""
        while self._items and len(self._flushing) < self._max_in_flight:
            items, futures = self._items[:self._max_items], self._futures[:self._max_items]
            del self._items[:self._max_items], self._futures[:self._max_items]
            task = asyncio.get_running_loop().create_task(self._run(items, futures))
            self._flushing.add(task)
            task.add_done_callback(self._flushed)

    def _flushed(self, task: asyncio.Task) -> None:
        self._flushing.discard(task)
        self._start_flushes()  # what gathered while every slot was busy goes now, together

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
