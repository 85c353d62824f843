"""The event stream behind `WS /v11/stream` and gRPC `StreamTransactions`.

One `EventHub` per gateway replica follows the node while anyone is subscribed: it polls the
leader every `poll_s` for new blocks (block and transaction events), leader changes, and the
supervisor's health probes (node status events). Transactions this gateway saw rejected before
ordering are published as they are answered (and, with Redis, to the other replicas' hubs: see
`fanout.py`). With the optimizer, its anomaly flags are polled with the health probes and
published as ANOMALY events (account filter: the flagged sender).

Each subscriber has a bounded queue (in events, at least one block). One that falls
`queue_events` behind is cut off with `SlowConsumer` instead of growing memory or slowing the
others; so is one whose replay takes so long that `queue_events` live events pile up meanwhile. A subscriber may resume from a
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

from google.protobuf.message import DecodeError

from aurigraph.codec import decode_body
from aurigraph.ledger import Transfer
from aurigraph.v1 import block_pb2, events_pb2, transaction_pb2
from serve_apps.errors import ApiFailure

log = logging.getLogger("aurigraph.gateway")
FETCH_BLOCKS = 64
FETCH_ANOMALIES = 1000
HEALTH_EVERY_S = 1.0
# A subscriber holds a connection and a task of the gateway replica for as long as it stays; past
# this many, new ones are refused (4503 / UNAVAILABLE) so that a flood of idle subscribers cannot
# crowd out REST and gRPC callers.
MAX_SUBSCRIBERS = 128


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


_ACCOUNT_KINDS = {events_pb2.EVENT_KIND_TRANSACTION_COMMITTED, events_pb2.EVENT_KIND_TRANSACTION_REJECTED,
                  events_pb2.EVENT_KIND_ANOMALY}


@dataclass(eq=False)
class Subscription:
    """One subscriber's filter and queue. The queue holds lists of events (one list per block or
    per node event) and is bounded by the number of events waiting, at least one block's worth:
    a block of any size is delivered, a reader that falls further behind is cut off."""

    filter: Filter
    live_from: int  # first height delivered live; earlier ones are replayed
    limit: int  # events that may wait in the queue
    replay_from: int = 0
    start_height: int = 0  # blocks below this are not delivered (a resume ahead of the hub)
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)
    waiting: int = 0
    overflowed: bool = False
    sequence: int = 0

    def offer(self, items: list[tuple[int, tuple[bytes, ...], events_pb2.Event]], height: int | None = None) -> None:
        if self.overflowed or (height is not None and height < self.start_height):
            return
        matched = [event for kind, accounts, event in items if self.filter.matches(kind, accounts)]
        if not matched:
            return
        if self.waiting and self.waiting + len(matched) > self.limit:
            self.overflowed = True  # nothing more is queued for it; its reader raises SlowConsumer
            return
        self.queue.put_nowait(matched)
        self.waiting += len(matched)


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
    _starting: asyncio.Lock = field(default_factory=asyncio.Lock)
    fanout: object = None  # `Fanout` across gateway replicas, with Redis
    anomalies: object = None  # `ModelsService.anomalies`: the optimizer's flags become ANOMALY events
    _next_anomaly: int | None = None
    max_subscribers: int = MAX_SUBSCRIBERS

    async def subscribe(self, flt: Filter, from_height: int | None) -> Subscription:
        if from_height is not None and from_height < 1:
            raise ApiFailure("BAD_REQUEST", "from_height must be at least 1 (height 0 is the genesis)")
        if self.fanout is not None:
            self.fanout.start()
        async with self._starting:  # one follower task, however many subscribe at once
            if self._task is None or self._task.done():
                self._next_height = await self.api.head_height() + 1
                self._next_anomaly = await self._anomaly_log_end()
                self._task = asyncio.get_running_loop().create_task(self._follow())
        # From here to `add`, no await: the follower cannot publish in between, so replay (below
        # `live_from`) and live delivery (from `live_from`) neither overlap nor leave a gap.
        if len(self.subscribers) >= self.max_subscribers:
            raise ApiFailure("UNAVAILABLE", f"{len(self.subscribers)} subscribers on this gateway replica, the most "
                                            "it serves", retry_after_ms=1000)
        live_from = self._next_height
        start = live_from if from_height is None else from_height
        sub = Subscription(flt, live_from, self.queue_events, replay_from=min(start, live_from), start_height=start)
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
                    raise SlowConsumer(f"more than {self.queue_events} live events piled up during the replay")
        while True:
            if sub.overflowed and sub.queue.empty():
                raise SlowConsumer(f"more than {self.queue_events} events behind")
            batch = await sub.queue.get()
            sub.waiting -= len(batch)
            for event in batch:
                yield self._stamp(sub, event)

    @staticmethod
    def _stamp(sub: Subscription, event: events_pb2.Event) -> events_pb2.Event:
        sub.sequence += 1
        stamped = events_pb2.Event()
        stamped.CopyFrom(event)
        stamped.sequence = sub.sequence
        return stamped

    def publish(self, items: list[tuple[int, tuple[bytes, ...], events_pb2.Event]], height: int | None = None) -> None:
        for sub in list(self.subscribers):
            sub.offer(items, height)

    def publish_rejections(self, wire: list[bytes], results) -> None:
        """Rejections this gateway answered (before ordering) as TRANSACTION_REJECTED events, to
        this replica's subscribers and (with Redis) to the other replicas'."""
        if not self.subscribers and self.fanout is None:
            return
        items = []
        for raw, r in zip(wire, results):
            # Only the sender's own rejections: a forgery reusing a body must not look like one.
            if r.status == transaction_pb2.TRANSACTION_STATUS_REJECTED and r.authenticated:
                try:
                    accounts = _accounts(transaction_pb2.SignedTransaction.FromString(raw))
                except DecodeError:  # undecodable input: no account to match, still an event
                    accounts = ()
                event = events_pb2.Event(timestamp_ms=_now_ms(), transaction_rejected=events_pb2.TransactionRejected(
                    tx_id=r.tx_id, reason=r.reason, detail=r.detail))
                items.append((events_pb2.EVENT_KIND_TRANSACTION_REJECTED, accounts, event))
        if items:
            self.publish(items)
            if self.fanout is not None:
                self.fanout.publish_soon(items)

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
            self.publish([(events_pb2.EVENT_KIND_LEADER_CHANGED, (), events_pb2.Event(
                timestamp_ms=_now_ms(), leader_changed=events_pb2.LeaderChanged(term=status.term, leader_id=status.leader_id)))])
        if status.leader_id:
            self._leader = leader
        while self._next_height <= status.height:
            records = await self.api.blocks_from(self._next_height, FETCH_BLOCKS)
            if not records:
                break
            for record in records:
                self.publish(block_events(record), self._next_height)
                self._next_height += 1
                await asyncio.sleep(0)  # let readers drain between blocks
        if time.monotonic() - self._health_at >= HEALTH_EVERY_S:
            self._health_at = time.monotonic()
            await self._poll_nodes()
            await self._poll_anomalies()

    async def _poll_nodes(self) -> None:
        nodes = await self.api.nodes()
        for info in nodes.nodes:
            state = (info.health, info.role)
            if self._health.get(info.validator.id, state) != state:
                self.publish([(events_pb2.EVENT_KIND_NODE_STATUS, (), events_pb2.Event(timestamp_ms=_now_ms(),
                                                                                      node_status=info))])
            self._health[info.validator.id] = state

    async def _anomaly_log_end(self) -> int | None:
        """One past the optimizer's last flag, read when the hub starts following: a subscriber
        gets every flag raised once `subscribe` has returned, however late the follower's first
        poll. None (found by that first poll instead): no optimizer, or it does not answer now."""
        if self.anomalies is None:
            return None
        try:
            return (await self.anomalies(1, 1)).last_sequence + 1
        except ApiFailure:
            return None

    async def _poll_anomalies(self) -> None:
        """New flags of the optimizer's audit log, from its end when this hub started following
        (`_anomaly_log_end`)."""
        if self.anomalies is None:
            return
        try:
            if self._next_anomaly is None:
                self._next_anomaly = (await self.anomalies(1, 1)).last_sequence + 1
            found = await self.anomalies(self._next_anomaly, FETCH_ANOMALIES)
        except ApiFailure as e:
            if e.code != "NOT_IMPLEMENTED":  # a node without the optimizer: nothing to follow
                raise
            return
        items = [(events_pb2.EVENT_KIND_ANOMALY, (flag.sender,), events_pb2.Event(timestamp_ms=flag.flagged_at_ms,
                                                                                   anomaly=flag))
                 for flag in found.anomalies]
        if items:
            self.publish(items)
        self._next_anomaly = found.next_sequence
