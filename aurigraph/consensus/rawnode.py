"""`RawNode`: the API a driver (the ConsensusReplica actor, the simulator, the benchmark) uses.

The driving loop, single-threaded:

    node = RawNode(config, storage, random.Random(seed))
    loop:
        node.tick()                         # every tick of the driver's clock
        node.step(message)                  # every message received from a peer
        index = node.propose(block_bytes)   # on the leader; raises NotLeader elsewhere
        if node.has_ready():
            rd = node.ready()
            storage.apply_snapshot(rd.snapshot)       # 1. persist (fsync) the snapshot,
            storage.append(rd.entries)                 #    the entries
            storage.set_hard_state(rd.hard_state)      #    and the hard state,
            send(rd.messages)                          # 2. only then send the messages,
            apply(rd.committed_entries)                # 3. apply (conf changes: apply_conf_change)
            node.advance(rd)                           # 4. and acknowledge the Ready.

Snapshots: when the application wants to bound the log, it records its state at its applied
index with `storage.create_snapshot(applied, node.conf_state, state_bytes)` and then
`storage.compact(index)` (any index up to the snapshot's). A replica that needs compacted entries
then receives that snapshot (in `Ready.snapshot`: persist it, restore the application from its
data) followed by the tail. The transport reports whether a snapshot reached its target with
`report_snapshot`, so the leader knows when to resume normal replication.

`ready()` may not be called again before `advance()`. Persisting before sending is what makes an
acknowledgement mean "durably stored": a vote or an append response is only ever sent for state
that survives a crash.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from aurigraph.consensus.confchange import encode_conf_change
from aurigraph.consensus.config import Config
from aurigraph.consensus.errors import ConsensusError, NotLeader
from aurigraph.consensus.raft import Raft, StateRole
from aurigraph.consensus.read_only import ReadState
from aurigraph.consensus.storage import Storage
from aurigraph.consensus.types import (
    BatchKnobs,
    ConfChange,
    ConfState,
    ConsensusStatus,
    Entry,
    EntryType,
    HardState,
    Message,
    ReplicaProgress,
    Snapshot,
)


@dataclass(frozen=True, slots=True)
class SoftState:
    """Volatile state, reported when it changes; never persisted."""

    lead: int
    role: StateRole


@dataclass(frozen=True, slots=True)
class Ready:
    """Work handed to the driver, to be done in this order (see the module docstring):

    1. persist `snapshot` (if any), `entries`, and `hard_state` (if changed) durably (a hard state
       whose term and vote are unchanged, only its commit index, need not be synced: the commit
       index can be learned again, and nothing is acknowledged by it);
    2. send `messages`;
    3. apply `snapshot`, then `committed_entries` in order (a CONF_CHANGE entry through
       `RawNode.apply_conf_change`), and serve reads whose `read_states` index is applied;
    4. call `RawNode.advance(ready)`.
    """

    soft_state: SoftState | None
    hard_state: HardState | None
    entries: tuple[Entry, ...]
    snapshot: Snapshot | None
    committed_entries: tuple[Entry, ...]
    messages: tuple[Message, ...]
    read_states: tuple[ReadState, ...]


class RawNode:
    def __init__(self, config: Config, storage: Storage, rng: random.Random) -> None:
        self.raft = Raft(config, storage, rng)
        self._prev_soft = self.soft_state()
        self._prev_hard = self.raft.hard_state()
        self._outstanding: Ready | None = None

    # --- inputs ------------------------------------------------------------------------------
    def tick(self) -> None:
        self.raft.tick()

    def ticks_until_due(self) -> int:
        """Ticks until one does more than count (see `Raft.ticks_until_due`), at least 1."""
        return self.raft.ticks_until_due()

    def campaign(self) -> None:
        """Start an election now (tests and bootstrapping; normally ticks do this)."""
        self.raft.campaign(transfer=False)

    def step(self, message: Message) -> None:
        if message.to != self.raft.id:
            raise ConsensusError(f"message to {message.to} stepped into node {self.raft.id}")
        self.raft.step(message)

    def propose(self, data: bytes) -> int:
        """Append a batch (opaque bytes, e.g. a serialized block) on the leader; returns its index.

        Raises `NotLeader` (with the known leader) on other replicas and `ProposalDropped` during
        a leader transfer. The entry may still be lost if leadership changes before it commits:
        the driver watches committed entries and re-proposes after a timeout.
        """
        return self.raft.propose(EntryType.NORMAL, data)

    def propose_conf_change(self, cc: ConfChange) -> int:
        """Propose one membership change; raises `ConfChangeRejected` if one is still pending."""
        return self.raft.propose(EntryType.CONF_CHANGE, encode_conf_change(cc))

    def apply_conf_change(self, cc: ConfChange) -> ConfState:
        """Called by the driver when it applies a committed CONF_CHANGE entry; returns the new
        membership, which the driver stores with its next snapshot."""
        return self.raft.apply_conf_change(cc)

    def transfer_leader(self, transferee: int) -> None:
        self.raft.transfer_leader(transferee)

    def set_can_lead(self, can_lead: bool) -> None:
        """A voter that must not lead (e.g. it does not hold its signing key) still votes and
        replicates, but never campaigns, not even when a leader hands over to it."""
        self.raft.can_lead = can_lead

    def step_down(self) -> None:
        """A leader that must not lead becomes a follower of no one in its term and goes silent, so
        the voters that can lead elect one of themselves when their election timeout runs out."""
        if self.raft.state is StateRole.LEADER:
            self.raft.become_follower(self.raft.term, 0)

    def read_index(self, request_ctx: bytes) -> None:
        """Ask for a linearizable read; the answer is a `ReadState` with this context in a later
        Ready. `request_ctx` must be unique among pending reads."""
        self.raft.read_index(request_ctx)

    def report_snapshot(self, to: int, ok: bool) -> None:
        """The transport tells the leader whether a snapshot to `to` was delivered."""
        self.raft.report_snapshot(to, ok)

    def set_knobs(self, knobs: BatchKnobs) -> None:
        """Change the adaptive knobs at runtime (validated; raises `ConfigError`). All take effect
        at once: a new election timeout draws a new randomized timeout (the ticks already elapsed
        count), so a raised timeout protects a replica from its next tick on; window sizes apply to
        the next append."""
        config = self.raft.config.with_knobs(knobs)
        election_changed = config.election_ticks != self.raft.config.election_ticks
        self.raft.config = config
        self.raft.tracker.set_inflight_capacity(config.max_inflight_appends)
        if election_changed:
            self.raft.reset_randomized_election_timeout()

    # --- Ready / advance ---------------------------------------------------------------------
    def soft_state(self) -> SoftState:
        return SoftState(self.raft.lead, self.raft.state)

    def has_ready(self) -> bool:
        r = self.raft
        return bool(
            r.entries_to_send or r.commit_to_announce or self.soft_state() != self._prev_soft or r.hard_state() != self._prev_hard or r.msgs
            or r.log.unstable.entries or r.log.unstable.snapshot is not None or r.read_states
            or r.log.has_next_committed_entries()
        )

    def ready(self) -> Ready:
        if self._outstanding is not None:
            raise ConsensusError("ready() called again before advance()")
        r = self.raft
        if r.entries_to_send or r.commit_to_announce:
            r.flush_appends()
        soft, hard = self.soft_state(), r.hard_state()
        rd = Ready(
            soft_state=soft if soft != self._prev_soft else None,
            hard_state=hard if hard != self._prev_hard else None,
            entries=tuple(r.log.unstable_entries()),
            snapshot=r.log.unstable.snapshot,
            committed_entries=tuple(r.log.next_committed_entries()),
            messages=tuple(r.msgs),
            read_states=tuple(r.read_states),
        )
        r.msgs, r.read_states = [], []
        self._prev_soft, self._prev_hard = soft, hard
        self._outstanding = rd
        return rd

    def advance(self, rd: Ready) -> None:
        """The driver persisted, sent and applied everything in `rd`."""
        if rd is not self._outstanding:
            raise ConsensusError("advance() with a Ready that is not the outstanding one")
        self._outstanding = None
        log = self.raft.log
        if rd.snapshot is not None:
            log.stable_snap_to(rd.snapshot.metadata.index)
            log.applied_to(max(log.applied, rd.snapshot.metadata.index))
        if rd.entries:
            last = rd.entries[-1]
            log.stable_to(last.index, last.term)
            self.raft.self_ack(last.index)
        if rd.committed_entries:
            log.applied_to(rd.committed_entries[-1].index)

    # --- observation -------------------------------------------------------------------------
    @property
    def id(self) -> int:
        return self.raft.id

    @property
    def conf_state(self) -> ConfState:
        return self.raft.conf_state

    @property
    def leader_id(self) -> int:
        """The leader this replica knows of; 0 if none."""
        return self.raft.lead

    def status(self) -> ConsensusStatus:
        r = self.raft
        replicas: tuple[ReplicaProgress, ...] = ()
        if r.state == StateRole.LEADER:
            last = r.log.last_index()
            replicas = tuple(
                ReplicaProgress(node_id, pr.match, pr.next, last - pr.match,
                                pr.recent_active or node_id == r.id, pr.is_learner)
                for node_id, pr in sorted(r.tracker.progress.items())
            )
        return ConsensusStatus(r.term, r.lead, r.log.committed, r.log.applied, replicas, r.config.knobs)

    def finality(self, index: int) -> tuple[int, int]:
        """(voters that durably hold entry `index`, number of voters), as the leader knows it.

        Followers acknowledge only persisted entries, and the leader counts itself once its own
        Ready is advanced, so this is a lower bound on the true count. Raises `NotLeader`.
        """
        r = self.raft
        if r.state != StateRole.LEADER:
            raise NotLeader(r.id, r.lead)
        if index <= 0 or index > r.log.last_index():
            return 0, len(r.tracker.voters)
        return r.tracker.acked_count(index), len(r.tracker.voters)

    def finality_confidence(self, index: int) -> float:
        """`acked_replicas / voters` for entry `index` on the leader (see `finality`)."""
        acked, voters = self.finality(index)
        return acked / voters if voters else 0.0
