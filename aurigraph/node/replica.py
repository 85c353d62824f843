"""`ReplicaDriver`: one ledger replica — a HyperRAFT++ `RawNode`, its durable log, its ledger, and
(on the leader) block building from the pending pool — with no Ray in it.

The owner (the ConsensusReplica actor, or a test) calls, from one thread:
    submit(txs)            leader only: queue validated transactions (NotLeader elsewhere)
    receive(messages)      messages from peers
    tick()                 every tick of the owner's clock
    run()                  do all pending work; returns `Output` (messages to send, tx outcomes)

`run()` follows the Ready contract: (1) persist the log and hard state (one fsync), (2) hand the
messages out, (3) apply committed entries — verify the block, replay it, and commit state + block in
one atomic batch, not fsync'd: the log holds the block durably, and after a crash of the machine the
replica re-applies from it what the ledger lost (`LedgerStore`; the ledger is synced before the log
is compacted) — and (4) advance. A transaction's COMMITTED outcome is emitted only from step 3: its
block was committed by a quorum that had each fsync'd it, and is now applied here.

Block building (leader): one block in flight at a time, built on the applied state once the whole
log is applied — so the parent is always the applied head, even right after a leader change. A
block takes up to `max_batch_txs` pending transactions, when that many are waiting or the oldest
has waited `batch_wait_ms`. Senders go in order of first arrival and each sender's transactions in
nonce order; a nonce gap may be filled by a later arrival, so such a transaction stays pending for
`gap_retention_ms` before it is rejected (`run` reports it PENDING once, when it is first held, so
a caller waiting on it is answered instead of waiting out the retention). A proposal the core refuses for now (a leader transfer is
under way) leaves its transactions pending.

Snapshots and catch-up: after `snapshot_every_entries` applied entries or `snapshot_every_txs`
applied transactions since the last snapshot (whichever comes first; one entry is a block of up to
10,000 transactions, so on a busy chain the transaction count decides), the driver records the
ledger state as a Raft snapshot and compacts the log, keeping behind it at most `keep_log_entries`
entries holding at most `keep_log_txs` transactions. A replica that needs compacted entries (one
far behind, or one that starts from nothing) receives that snapshot and then the log tail, so its
catch-up costs the state's size plus at most about `snapshot_every_txs` replayed transactions.
Such a replica holds no blocks below its snapshot: the storage shards have them.

Validator keys: a committed `RotateKey` action replaces a validator's key from the next block on. The
driver follows the rotations (for checking proposers) and, when its own key is rotated, signs with
the new key, which it looks up with `key_source` (the node's keystore: the operator creates the new
key there before the rotation commits). A leader that does not hold its current key proposes
nothing and steps down (it never campaigns while it lacks the key, but still votes and replicates).

A replica whose disk was lost must not rejoin as the voter it was (its votes and the entries it
acknowledged are gone): it is removed, re-added as a learner, catches up, and is promoted with
`propose_membership` (the supervisor's `resync_replica` does this; see docs/runtime.md).
"""

from __future__ import annotations

import enum
import logging
import random
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from aurigraph.codec import decode_block, encode_block
from aurigraph.consensus import (
    ConfChange,
    Config,
    EntryType,
    Message,
    NotLeader,
    ProposalDropped,
    RawNode,
    Ready,
    StateRole,
    decode_conf_change,
)
from aurigraph.crypto import Signer
from aurigraph.ledger import (
    Block,
    BuiltBlock,
    Genesis,
    Receipt,
    Rejection,
    RotateKey,
    SignedTx,
    build_block,
    by_address,
    current_validator_keys,
    replay_block,
    verify_block,
)
from aurigraph.storage.ledger_store import LedgerStore
from aurigraph.storage.raft_log import RocksRaftStorage

log = logging.getLogger("aurigraph.replica")


class TxStatus(enum.IntEnum):
    """Numbers match `aurigraph.v1.TransactionStatus`."""

    PENDING = 1
    COMMITTED = 2
    REJECTED = 3
    DROPPED = 4


@dataclass(frozen=True)
class TxOutcome:
    """What became of a transaction. COMMITTED carries the receipt; REJECTED the reason."""

    tx_id: bytes
    status: TxStatus
    receipt: Receipt | None = None
    reason: Rejection | None = None
    detail: str = ""
    retry_after_ms: int = 0


@dataclass
class Output:
    messages: list[Message] = field(default_factory=list)
    outcomes: list[TxOutcome] = field(default_factory=list)
    leader_changed: bool = False


@dataclass(frozen=True)
class DriverSettings:
    max_pending_txs: int = 200_000  # back-pressure: a full pool answers "retry after"
    retry_after_ms: int = 200
    gap_retention_ms: int = 10_000
    # Snapshot the ledger and compact the log after this many applied entries or transactions since
    # the last snapshot, whichever comes first: the transactions bound what a joining replica replays.
    snapshot_every_entries: int = 1024
    snapshot_every_txs: int = 100_000
    # Kept behind a snapshot, for followers slightly behind: at most this many entries and transactions.
    keep_log_entries: int = 256
    keep_log_txs: int = 50_000
    recent_outcomes: int = 100_000  # REJECTED / DROPPED outcomes remembered for status queries


class StorageMismatch(RuntimeError):
    """The replica's key or data does not belong to this chain or this validator id."""


@dataclass
class _InFlight:
    """The leader's proposed block. Built on the applied head with nothing applied since, so when
    the same bytes commit at `index` its computed result is exactly what a replay would give."""

    index: int
    data: bytes
    built: BuiltBlock
    tx_ids: frozenset[bytes] = field(init=False)

    def __post_init__(self) -> None:
        self.tx_ids = frozenset(tx.tx_id for tx in self.built.block.transactions)


class ReplicaDriver:
    def __init__(
        self,
        node_id: int,
        node_key: Signer | None,
        genesis: Genesis,
        raft_log: RocksRaftStorage,
        ledger: LedgerStore,
        config: Config,
        rng: random.Random,
        now_ms: Callable[[], int],
        settings: DriverSettings = DriverSettings(),
        key_source: Callable[[], Iterable[Signer]] | None = None,
    ) -> None:
        if all(v.id != node_id for v in genesis.validators):
            raise StorageMismatch(f"validator {node_id} is not in this genesis")
        self.node_id = node_id
        self.genesis = genesis
        self._governance = genesis.governance
        self._key_source = key_source or (lambda: ())
        self._offered_key = node_key
        self.raft_log = raft_log
        self.ledger = ledger
        self.node = RawNode(config, raft_log, rng)
        self.now_ms = now_ms
        self.settings = settings
        self._pending: dict[bytes, SignedTx] = {}
        self._gap_since_ms: dict[bytes, int] = {}
        self._oldest_pending_ms: int | None = None
        self._in_flight: _InFlight | None = None
        self._index_of_height: dict[int, int] = {}
        self._role = StateRole.FOLLOWER
        self._recent: OrderedDict[bytes, TxOutcome] = OrderedDict()  # REJECTED / DROPPED, newest last
        # A crash between persisting a received snapshot and installing it leaves the ledger behind
        # the log's start; finish the install before replaying anything.
        stored = raft_log.snapshot()
        if stored.data:
            ledger.install_snapshot(stored.data)
        self._snapshot_index = stored.metadata.index
        self.node_key: Signer | None = None
        self._follow_keys(current_validator_keys(self._governance, ledger))
        # (index, transactions) of the applied entries still in the log, oldest first, and the
        # transactions applied since the snapshot: the snapshot and compaction policy counts them.
        # Entries applied before a restart and already behind the snapshot are not listed.
        self._applied_txs: deque[tuple[int, int]] = deque()
        self._txs_since_snapshot = 0

    def _follow_keys(self, keys) -> None:
        """Use `keys` (validator id -> key, as the ledger state has them) to check proposers, and sign
        with our current key if this replica holds it. Never raises: a replica without its key (not
        made here, or the keystore failing) keeps voting and replicating, but does not lead."""
        mine = keys[self.node_id].public_key
        unchanged = getattr(self, "_keys", {}).get(self.node_id) == keys[self.node_id]
        self._keys = keys
        self._validators = by_address(keys)
        if unchanged and self.node_key is not None:
            return
        try:
            held = [self._offered_key, *self._key_source()] if self._offered_key else list(self._key_source())
            key = next((k for k in held if k.public_key == mine), None)
            # A keystore key is decrypted / logged in on first use: do it now, so a bad one fails here.
            key = key.unlock() if hasattr(key, "unlock") else key
        except Exception as e:  # noqa: BLE001 - any keystore failure (HSM away, bad file): not leading, said loudly
            log.error("validator %d: cannot load its current key (%s); it will not lead", self.node_id, e)
            key = None
        if key is None:
            log.warning("validator %d does not hold its current key %s…: it votes and replicates, but does not lead",
                        self.node_id, keys[self.node_id].address.hex()[:12])
        self.node_key = key
        self.node.set_can_lead(key is not None)

    @property
    def holds_current_key(self) -> bool:
        return self.node_key is not None

    # --- inputs ---------------------------------------------------------------------------------

    @property
    def is_leader(self) -> bool:
        return self.node.soft_state().role is StateRole.LEADER

    def submit(self, txs: Iterable[SignedTx]) -> list[TxOutcome]:
        """Queue validated transactions on the leader; idempotent by transaction id."""
        if not self.is_leader:
            raise NotLeader(self.node_id, self.node.leader_id)
        in_flight = self._in_flight.tx_ids if self._in_flight else frozenset()
        results = []
        for tx in txs:
            tx_id = tx.tx_id
            if tx_id in self._pending or tx_id in in_flight:
                results.append(TxOutcome(tx_id, TxStatus.PENDING))
                continue
            archived = self.ledger.transaction(tx_id)
            if archived is not None:
                results.append(TxOutcome(tx_id, TxStatus.COMMITTED, archived.receipt))
                continue
            if len(self._pending) >= self.settings.max_pending_txs:
                results.append(TxOutcome(tx_id, TxStatus.PENDING, detail="pipeline full",
                                         retry_after_ms=self.settings.retry_after_ms))
                continue
            self._pending[tx_id] = tx
            if self._oldest_pending_ms is None:
                self._oldest_pending_ms = self.now_ms()
            results.append(TxOutcome(tx_id, TxStatus.PENDING))
        return results

    def receive(self, messages: Iterable[Message]) -> None:
        for m in messages:
            self.node.step(m)

    def tick(self) -> None:
        self.node.tick()

    def ticks_until_due(self) -> int:
        """Ticks until one does more than count: the owner may sleep through the ones before."""
        return self.node.ticks_until_due()

    def propose_membership(self, change: ConfChange) -> int:
        """Leader only: propose one membership change; returns its log index (it takes effect when
        applied). Raises `NotLeader`, or `ConfChangeRejected` (one change at a time; a voter joins
        as a learner and is promoted only once it holds the committed log)."""
        if not self.is_leader:
            raise NotLeader(self.node_id, self.node.leader_id)
        return self.node.propose_conf_change(change)

    def report_snapshot(self, to: int, delivered: bool) -> None:
        """The transport tells the leader whether a snapshot message reached `to`, so a lost one is
        sent again instead of pausing replication to `to` for good."""
        self.node.report_snapshot(to, delivered)

    # --- the work loop --------------------------------------------------------------------------

    def run(self) -> Output:
        out = Output()
        self._maybe_propose(out)
        while self.node.has_ready():
            rd = self.node.ready()
            self._persist(rd)
            out.messages.extend(rd.messages)
            self._apply(rd, out)
            self.node.advance(rd)
            self._after_role_change(out)
            self._maybe_compact()
            self._maybe_propose(out)
        self._remember(out.outcomes)
        return out

    def _remember(self, outcomes: Iterable[TxOutcome]) -> None:
        for o in outcomes:
            if o.status in (TxStatus.REJECTED, TxStatus.DROPPED):
                self._recent[o.tx_id] = o
                self._recent.move_to_end(o.tx_id)
        while len(self._recent) > self.settings.recent_outcomes:
            self._recent.popitem(last=False)

    def _persist(self, rd: Ready) -> None:
        if rd.snapshot is not None and not rd.snapshot.is_empty:
            self.raft_log.apply_snapshot(rd.snapshot)
            self._snapshot_index = rd.snapshot.metadata.index
            self._applied_txs.clear()
            self._txs_since_snapshot = 0
        self.raft_log.persist(rd.entries, rd.hard_state)

    def _apply(self, rd: Ready, out: Output) -> None:
        installed = rd.snapshot is not None and rd.snapshot.data and self.ledger.install_snapshot(rd.snapshot.data)
        if installed:
            self._follow_keys(current_validator_keys(self._governance, self.ledger))
        if installed and self._in_flight is not None:
            self._drop_in_flight(out)
        for entry in rd.committed_entries:
            txs = 0
            if entry.type is EntryType.CONF_CHANGE:
                self.node.apply_conf_change(decode_conf_change(entry.data))
            elif self._in_flight is not None and entry.index == self._in_flight.index and entry.data == self._in_flight.data:
                built = self._in_flight.built
                self._in_flight = None
                self._commit(entry.index, built.block, entry.data, built.result.receipts, built.result.delta, out)
                txs = len(built.block.transactions)
            elif entry.data:
                txs = self._apply_block(entry.index, entry.data, out)
            if self._in_flight is not None and entry.index >= self._in_flight.index:
                self._drop_in_flight(out)  # its index was taken by another entry
            if entry.index > self._snapshot_index:
                self._applied_txs.append((entry.index, txs))
                self._txs_since_snapshot += txs

    def _apply_block(self, index: int, data: bytes, out: Output) -> int:
        """Verify, replay and commit the block in `data`; returns its number of transactions."""
        block = decode_block(data)
        head = self.ledger.head
        if block.header.height <= head.height:
            return len(block.transactions)  # applied before a restart: the ledger is ahead of the log
        verify_block(block, head, self._validators)
        result = replay_block(block, self.ledger, prev_state_digest=head.state_digest,
                              min_fee=self.genesis.params.min_fee, governance=self._governance)
        self._commit(index, block, data, result.receipts, result.delta, out)
        return len(block.transactions)

    def _commit(self, index: int, block: Block, data: bytes, receipts, delta, out: Output) -> None:
        self.ledger.apply(block, data, receipts, delta)
        self._index_of_height[block.header.height] = index
        if any(isinstance(tx.body.kind, RotateKey) for tx in block.transactions):
            self._follow_keys(current_validator_keys(self._governance, self.ledger))  # the state decides
        out.outcomes.extend(TxOutcome(r.tx_id, TxStatus.COMMITTED, r) for r in receipts)

    def _drop_in_flight(self, out: Output) -> None:
        out.outcomes.extend(TxOutcome(tx.tx_id, TxStatus.DROPPED, detail="leader changed before commit")
                            for tx in self._in_flight.built.block.transactions)
        self._in_flight = None

    def _after_role_change(self, out: Output) -> None:
        role = self.node.soft_state().role
        if role is self._role:
            return
        out.leader_changed = True
        if self._role is StateRole.LEADER and self._pending:
            out.outcomes.extend(TxOutcome(t, TxStatus.DROPPED, detail="replica stopped being the leader")
                                for t in self._pending)
            self._pending.clear()
            self._gap_since_ms.clear()
            self._oldest_pending_ms = None
        self._role = role

    def _maybe_compact(self) -> None:
        """After `snapshot_every_entries` entries or `snapshot_every_txs` transactions applied since
        the last snapshot: snapshot the ledger and drop the log behind it but a short tail."""
        applied = self.node.status().applied_index
        s = self.settings
        if applied <= self._snapshot_index or (applied - self._snapshot_index < s.snapshot_every_entries
                                               and self._txs_since_snapshot < s.snapshot_every_txs):
            return
        self.ledger.sync()  # the log is the durable record of what the ledger applied unsynced: until now
        self.raft_log.create_snapshot(applied, self.node.conf_state, self.ledger.export_snapshot())
        self._snapshot_index = applied
        self._txs_since_snapshot = 0
        compact_to = self._compaction_point(applied)
        if compact_to >= self.raft_log.first_index():
            self.raft_log.compact(compact_to)
        while self._applied_txs and self._applied_txs[0][0] <= compact_to:
            self._applied_txs.popleft()

    def _compaction_point(self, snapshot_index: int) -> int:
        """The last index to drop: keep the newest entries up to the snapshot while they fit in
        `keep_log_entries` and `keep_log_txs` (entries of unknown size, applied before a restart,
        are not kept)."""
        kept_entries = kept_txs = 0
        point = snapshot_index
        for index, txs in reversed(self._applied_txs):
            if index > snapshot_index:
                continue
            if kept_entries >= self.settings.keep_log_entries or kept_txs + txs > self.settings.keep_log_txs:
                break
            kept_entries += 1
            kept_txs += txs
            point = index - 1
        return point

    # --- block building (leader) ----------------------------------------------------------------

    def _maybe_propose(self, out: Output) -> None:
        if self.node_key is None and self.is_leader:
            self.node.step_down()  # our key was rotated to one this replica does not hold: let others lead
            return
        if not self._pending or self._in_flight is not None or not self.is_leader:
            return
        status = self.node.status()
        if not status.applied_index == status.commit_index == self.node.raft.log.last_index():
            return  # build only on a fully applied log, so the parent is the applied head
        knobs = status.knobs
        now = self.now_ms()
        if len(self._pending) < knobs.max_batch_txs and now - self._oldest_pending_ms < knobs.batch_wait_ms:
            return
        by_sender: dict[bytes, list[SignedTx]] = {}  # senders in order of first arrival: FIFO, no starvation
        for tx in self._pending.values():
            by_sender.setdefault(tx.body.sender, []).append(tx)
        candidates = [tx for txs in by_sender.values() for tx in sorted(txs, key=lambda t: t.body.nonce)]
        built = build_block(self.ledger.head, self.ledger, candidates, proposer=self.node_key, timestamp_ms=now,
                            min_fee=self.genesis.params.min_fee, max_txs=knobs.max_batch_txs,
                            governance=self._governance)
        for tx, reason, detail in built.rejected:
            if reason is Rejection.NONCE_GAP:  # an earlier nonce may still arrive
                since = self._gap_since_ms.setdefault(tx.tx_id, now)
                if since == now:  # held from now on: said once, so whoever waits on it is answered
                    out.outcomes.append(TxOutcome(tx.tx_id, TxStatus.PENDING, detail=(
                        f"held for up to {self.settings.gap_retention_ms // 1000} s: {detail}")))
                if now - since < self.settings.gap_retention_ms:
                    continue
            del self._pending[tx.tx_id]
            self._gap_since_ms.pop(tx.tx_id, None)
            out.outcomes.append(TxOutcome(tx.tx_id, TxStatus.REJECTED, reason=reason, detail=detail))
        if built.block.transactions:
            data = encode_block(built.block)
            try:
                index = self.node.propose(data)
            except (ProposalDropped, NotLeader):
                return  # e.g. a leader transfer is under way: keep the transactions pending, retry later
            self._in_flight = _InFlight(index, data, built)
            for tx in built.block.transactions:
                del self._pending[tx.tx_id]
                self._gap_since_ms.pop(tx.tx_id, None)
        self._oldest_pending_ms = now if self._pending else None

    # --- queries --------------------------------------------------------------------------------

    def confidence(self, height: int) -> float:
        """Share of voters known (by the leader) to have stored the block at `height`; 0 if unknown."""
        index = self._index_of_height.get(height)
        return 0.0 if index is None or not self.is_leader else self.node.finality_confidence(index)

    def status_of(self, tx_id: bytes) -> TxOutcome | None:
        """What this replica knows of a transaction: COMMITTED (with its receipt) if applied here,
        PENDING if queued or in flight on this leader, a recent REJECTED / DROPPED outcome, else None.
        Rejections and drops are kept in memory only (the last `recent_outcomes`)."""
        archived = self.ledger.transaction(tx_id)
        if archived is not None:
            return TxOutcome(tx_id, TxStatus.COMMITTED, archived.receipt)
        if tx_id in self._pending or (self._in_flight is not None and tx_id in self._in_flight.tx_ids):
            return TxOutcome(tx_id, TxStatus.PENDING)
        return self._recent.get(tx_id)

    def proposal_due_ms(self) -> int | None:
        """When (on `now_ms`'s clock) the oldest pending transaction's batch wait runs out, so the
        owner can run the driver then instead of at its next tick; None when nothing waits."""
        if not self._pending or self._in_flight is not None or self._oldest_pending_ms is None:
            return None
        return self._oldest_pending_ms + self.node.raft.config.knobs.batch_wait_ms

    @property
    def pending_count(self) -> int:
        return len(self._pending)


def ticks_owed(now: float, next_tick: float, slept_from: float, tick_s: float, due_ticks: int) -> tuple[int, float]:
    """For an owner that sleeps through the ticks that only count (`ReplicaDriver.ticks_until_due`
    was `due_ticks` when it went to sleep at `slept_from`): how many ticks to give the driver on
    waking at `now`, and the time of the next one. Every tick time that passed while it slept
    counts, up to the due one (the core would have acted there); the ones that passed while it was
    busy before sleeping count as one, so a replica deaf for a long block does not start an
    election before reading the heartbeats that came meanwhile."""
    if now < next_tick:
        return 0, next_tick
    passed = 1 + int((now - next_tick) / tick_s)
    busy = 1 + int((slept_from - next_tick) / tick_s) if next_tick < slept_from else 0
    return min(due_ticks, passed - busy + (1 if busy else 0)), next_tick + passed * tick_s


def messages_by_peer(messages: Sequence[Message]) -> dict[int, list[Message]]:
    grouped: dict[int, list[Message]] = {}
    for m in messages:
        grouped.setdefault(m.to, []).append(m)
    return grouped
