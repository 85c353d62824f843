"""Event fan-out across gateway replicas through Redis pub/sub.

Block, leader and node-status events come from the node and each replica's `EventHub` follows
them itself (ordered by height, replayable). Events that start at one gateway replica — the
transactions it rejected before ordering — would otherwise reach only that replica's subscribers:
`Fanout` publishes them on one channel per chain, and every replica hands what the others
published to its own subscribers. Pub/sub is at-most-once: while Redis is away each replica's
subscribers see only that replica's rejections (committed and in-block rejected transactions are
never affected: they come from the node).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable

from google.protobuf.message import DecodeError

from aurigraph.v1 import events_pb2
from serve_apps.redis_link import RETRY_S, RedisLink

log = logging.getLogger("aurigraph.gateway")
Item = tuple[int, tuple[bytes, ...], events_pb2.Event]


class Fanout:
    def __init__(self, link: RedisLink, genesis_hash: bytes, deliver: Callable[[list[Item]], None]) -> None:
        self.link = link
        self.channel = f"aurigraph:events:{genesis_hash.hex()[:32]}"
        self.origin = uuid.uuid4().hex
        self._deliver = deliver
        self._task: asyncio.Task | None = None
        self._sending: set[asyncio.Task] = set()

    def start(self) -> None:
        """Start receiving (idempotent; call from the event loop)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._receive_forever())

    def publish_soon(self, items: list[Item]) -> None:
        """Publish in the background: a request never waits on Redis for this."""
        task = asyncio.get_running_loop().create_task(self.publish(items))
        self._sending.add(task)  # the loop holds tasks weakly
        task.add_done_callback(self._sending.discard)

    async def publish(self, items: list[Item]) -> None:
        messages = [events_pb2.FanoutEvent(origin=self.origin, kind=kind, accounts=accounts, event=event
                                           ).SerializeToString() for kind, accounts, event in items]

        async def send(r) -> None:
            async with r.pipeline(transaction=False) as pipe:
                for m in messages:
                    pipe.publish(self.channel, m)
                await pipe.execute()
        await self.link.run(send, "event fan-out")

    async def _receive_forever(self) -> None:
        while True:
            if not self.link.usable:
                await asyncio.sleep(RETRY_S / 4)
                continue
            pubsub = self.link.client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self.link.succeeded()
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None:
                        self._handle(message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - Redis went away (any client error): degrade, subscribe again
                self.link.failed(e, "event fan-out")
            finally:
                with contextlib.suppress(Exception):  # closing a dead connection may fail too
                    await pubsub.aclose()

    def _handle(self, data: bytes) -> None:
        try:
            m = events_pb2.FanoutEvent.FromString(data)
        except DecodeError:
            log.warning("event fan-out: ignoring a message that is not a FanoutEvent")
            return
        if m.origin != self.origin:
            self._deliver([(m.kind, tuple(m.accounts), m.event)])

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
