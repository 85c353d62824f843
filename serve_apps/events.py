"""The event stream behind `WS /v11/stream` and gRPC `StreamTransactions`.

One `EventHub` per gateway replica follows the node while anyone is subscribed: it polls the
leader every `poll_s` for new blocks (block and transaction events), leader changes, and the
supervisor's health probes (node status events). Transactions this gateway saw rejected before
ordering are published as they are answered.

Each subscriber has a bounded queue. One that falls `queue_events` behind is cut off with
`SlowConsumer` instead of growing memory or slowing the others. A subscriber may resume from a
block height: blocks before the hub's live position are replayed from the node (and shards), then
it continues live, without gaps or repeats (registration and the hub's position change only
between awaits, in one event loop).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field

from aurigraph.codec import decode_body
from aurigraph.ledger import Transfer
from aurigraph.v1 import block_pb2, events_pb2, transaction_pb2
from serve_apps.errors import ApiFailure

log = logging.getLogger("aurigraph.gateway")
FETCH_BLOCKS = 64
HEALTH_EVERY_S = 1.0


class SlowConsumer(Exception):
    """The subscriber fell too far behind and was disconnected."""


@dataclass(frozen=True)
class Filter:
    kinds: frozenset[int] = frozenset()  # EventKind numbers; empty: all
    account: bytes = b""  # only events about this sender / recipient

    def matches(self, kind: int, accounts: Iterable[bytes]) -> bool:
        if self.kinds and kind not in self.kinds:
            return False
        return not self.account or kind not in _ACCOUNT_KINDS or self.account in accounts


_ACCOUNT_KINDS = {events_pb2.EVENT_KIND_TRANSACTION_COMMITTED, events_pb2.EVENT_KIND_TRANSACTION_REJECTED}


@dataclass(eq=False)
class Subscription:
    filter: Filter
    live_from: int  # first height delivered live; earlier ones are replayed
    queue: asyncio.Queue
    replay_from: int = 0
    overflowed: bool = False
    sequence: int = 0

    def offer(self, kind: int, accounts: Iterable[bytes], event: events_pb2.Event) -> None:
        if self.overflowed or not self.filter.matches(kind, accounts):
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True  # nothing more is queued for it; its reader raises SlowConsumer


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _accounts(tx: transaction_pb2.SignedTransaction) -> tuple[bytes, ...]:
    body = decode_body(tx.body)
    if isinstance(body.kind, Transfer):
        return body.sender, body.kind.recipient
    return (body.sender,)


def block_events(record: bytes) -> list[tuple[int, tuple[bytes, ...], events_pb2.Event]]:
    """(kind, accounts, event) for one `BlockRecord`: each transaction's outcome, then the block."""
    m = block_pb2.BlockRecord.FromString(record)
    out = []
    for tx, receipt in zip(m.block.transactions, m.receipts):
        accounts = _accounts(tx)
        if receipt.status == transaction_pb2.TRANSACTION_STATUS_COMMITTED:
            event = events_pb2.Event(timestamp_ms=m.block.header.timestamp_ms)
            event.transaction_committed.transaction.CopyFrom(tx)
            event.transaction_committed.receipt.CopyFrom(receipt)
            out.append((events_pb2.EVENT_KIND_TRANSACTION_COMMITTED, accounts, event))
        else:
            event = events_pb2.Event(timestamp_ms=m.block.header.timestamp_ms)
            event.transaction_rejected.CopyFrom(events_pb2.TransactionRejected(tx_id=receipt.tx_id, reason=receipt.reason))
            out.append((events_pb2.EVENT_KIND_TRANSACTION_REJECTED, accounts, event))
    h = m.block.header
    event = events_pb2.Event(timestamp_ms=h.timestamp_ms, block_committed=events_pb2.BlockCommitted(
        height=h.height, hash=m.hash, tx_count=h.tx_count, state_digest=h.state_digest))
    out.append((events_pb2.EVENT_KIND_BLOCK_COMMITTED, (), event))
    return out


@dataclass
class EventHub:
    api: object  # NodeApi
    queue_events: int = 4096
    poll_s: float = 0.05
    subscribers: set = field(default_factory=set)
    _next_height: int | None = None
    _leader: tuple[int, int] | None = None
    _health: dict = field(default_factory=dict)
    _health_at: float = 0.0
    _task: asyncio.Task | None = None

    async def subscribe(self, flt: Filter, from_height: int | None) -> Subscription:
        if from_height is not None and from_height < 1:
            raise ApiFailure("BAD_REQUEST", "from_height must be at least 1 (height 0 is the genesis)")
        if self._task is None or self._task.done():
            self._next_height = await self.api.head_height() + 1
            self._task = asyncio.get_running_loop().create_task(self._follow())
        live_from = self._next_height
        replay_from = live_from if from_height is None else min(from_height, live_from)
        sub = Subscription(flt, live_from, asyncio.Queue(self.queue_events), replay_from)
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self.subscribers.discard(sub)

    async def events(self, sub: Subscription) -> AsyncIterator[events_pb2.Event]:
        """Replayed events (from `from_height`), then live ones; raises `SlowConsumer`."""
        height = sub.replay_from
        while height < sub.live_from:
            records = await self.api.blocks_from(height, min(FETCH_BLOCKS, sub.live_from - height))
            if not records:
                raise ApiFailure("UNAVAILABLE", f"block {height} is not available for replay", retry_after_ms=1000)
            for record in records:
                for kind, accounts, event in block_events(record):
                    if sub.filter.matches(kind, accounts):
                        yield self._stamp(sub, event)
                height += 1
                if sub.overflowed:
                    raise SlowConsumer(f"more than {self.queue_events} events behind")
        while True:
            if sub.overflowed and sub.queue.empty():
                raise SlowConsumer(f"more than {self.queue_events} events behind")
            event = await sub.queue.get()
            yield self._stamp(sub, event)

    @staticmethod
    def _stamp(sub: Subscription, event: events_pb2.Event) -> events_pb2.Event:
        sub.sequence += 1
        stamped = events_pb2.Event()
        stamped.CopyFrom(event)
        stamped.sequence = sub.sequence
        return stamped

    def publish(self, kind: int, accounts: tuple[bytes, ...], event: events_pb2.Event) -> None:
        for sub in list(self.subscribers):
            sub.offer(kind, accounts, event)

    def publish_rejections(self, wire: list[bytes], results) -> None:
        """Rejections this gateway answered (before ordering) as TRANSACTION_REJECTED events."""
        if not self.subscribers:
            return
        for raw, r in zip(wire, results):
            if r.status == transaction_pb2.TRANSACTION_STATUS_REJECTED:
                try:
                    accounts = _accounts(transaction_pb2.SignedTransaction.FromString(raw))
                except Exception:  # undecodable input: no account to match, still an event
                    accounts = ()
                event = events_pb2.Event(timestamp_ms=_now_ms(), transaction_rejected=events_pb2.TransactionRejected(
                    tx_id=r.tx_id, reason=r.reason, detail=r.detail))
                self.publish(events_pb2.EVENT_KIND_TRANSACTION_REJECTED, accounts, event)

    # --- following the node -----------------------------------------------------------------------

    async def _follow(self) -> None:
        while self.subscribers:
            try:
                await self._poll()
            except ApiFailure as e:
                log.warning("event stream: %s", e)
            except Exception:
                log.exception("event stream poll failed")
            await asyncio.sleep(self.poll_s)
        self._task = None

    async def _poll(self) -> None:
        status = await self.api.consensus_status()
        leader = (status.term, status.leader_id)
        if self._leader is not None and leader != self._leader and status.leader_id:
            self.publish(events_pb2.EVENT_KIND_LEADER_CHANGED, (), events_pb2.Event(
                timestamp_ms=_now_ms(), leader_changed=events_pb2.LeaderChanged(term=status.term, leader_id=status.leader_id)))
        if status.leader_id:
            self._leader = leader
        while self._next_height <= status.height:
            records = await self.api.blocks_from(self._next_height, FETCH_BLOCKS)
            if not records:
                break
            for record in records:
                for kind, accounts, event in block_events(record):
                    self.publish(kind, accounts, event)
                self._next_height += 1
        if time.monotonic() - self._health_at >= HEALTH_EVERY_S:
            self._health_at = time.monotonic()
            await self._poll_nodes()

    async def _poll_nodes(self) -> None:
        nodes = await self.api.nodes()
        for info in nodes.nodes:
            state = (info.health, info.role)
            if self._health.get(info.validator.id, state) != state:
                self.publish(events_pb2.EVENT_KIND_NODE_STATUS, (), events_pb2.Event(timestamp_ms=_now_ms(), node_status=info))
            self._health[info.validator.id] = state
