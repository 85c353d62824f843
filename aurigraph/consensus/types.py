"""Value types of the consensus core: frozen dataclasses mirroring `aurigraph/v1/consensus.proto`.

Each class here has the fields of the wire message of the same name, in the same order and with the
same meaning, so `aurigraph.codec.consensus` converts 1:1; enum numbers equal the proto numbers.
Only `Message.from_` differs in spelling (`from` is a Python keyword). Types that never travel
(`ReadState`, `SoftState`) live in the modules that produce them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


class EntryType(enum.IntEnum):
    NORMAL = 0  # data: opaque application bytes (a serialized block); empty for a leader's no-op
    CONF_CHANGE = 1  # data: an encoded `ConfChange` (see `encode_conf_change`)


class MessageType(enum.IntEnum):
    UNSPECIFIED = 0
    APPEND = 1
    APPEND_RESPONSE = 2
    VOTE = 3
    VOTE_RESPONSE = 4
    PRE_VOTE = 5
    PRE_VOTE_RESPONSE = 6
    HEARTBEAT = 7
    HEARTBEAT_RESPONSE = 8
    SNAPSHOT = 9
    TIMEOUT_NOW = 10
    READ_INDEX = 11
    READ_INDEX_RESPONSE = 12
    TRANSFER_LEADER = 13


class ConfChangeType(enum.IntEnum):
    ADD_VOTER = 0
    REMOVE_NODE = 1
    ADD_LEARNER = 2


@dataclass(frozen=True, slots=True)
class Entry:
    """One log entry. `data` of a NORMAL entry is opaque to the core: one batch (block) of txs."""

    term: int
    index: int
    type: EntryType = EntryType.NORMAL
    data: bytes = b""


@dataclass(frozen=True, slots=True)
class HardState:
    """What a replica must persist (fsync) before sending the messages of the same `Ready`.

    `vote` is the candidate voted for in `term` (0: none); `commit` is the commit index.
    """

    term: int = 0
    vote: int = 0
    commit: int = 0


def _frozen_map(values: Mapping[int, int]) -> Mapping[int, int]:
    return MappingProxyType(dict(sorted(values.items())))


@dataclass(frozen=True, slots=True)
class ConfState:
    """The membership: voters, learners (replicated to, never counted) and each node's stake.

    `voters_outgoing` mirrors the proto's joint-consensus field; this core changes membership one
    node at a time, so it is always empty here. A node missing from `stakes` has stake 1.
    """

    voters: tuple[int, ...] = ()
    learners: tuple[int, ...] = ()
    voters_outgoing: tuple[int, ...] = ()
    stakes: Mapping[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "voters", tuple(sorted(self.voters)))
        object.__setattr__(self, "learners", tuple(sorted(self.learners)))
        object.__setattr__(self, "voters_outgoing", tuple(sorted(self.voters_outgoing)))
        object.__setattr__(self, "stakes", _frozen_map(self.stakes))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ConfState):
            return NotImplemented
        return (self.voters, self.learners, self.voters_outgoing, dict(self.stakes)) == (
            other.voters, other.learners, other.voters_outgoing, dict(other.stakes))

    def __hash__(self) -> int:
        return hash((self.voters, self.learners, self.voters_outgoing, tuple(self.stakes.items())))

    def stake_of(self, node_id: int) -> int:
        return self.stakes.get(node_id, 1)

    def is_member(self, node_id: int) -> bool:
        return node_id in self.voters or node_id in self.learners


@dataclass(frozen=True, slots=True)
class SnapshotMetadata:
    conf_state: ConfState = field(default_factory=ConfState)
    index: int = 0
    term: int = 0


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The application's state at `metadata.index`; the log holds nothing at or below that index."""

    data: bytes = b""
    metadata: SnapshotMetadata = field(default_factory=SnapshotMetadata)

    @property
    def is_empty(self) -> bool:
        """True for the zero snapshot (index 0): nothing to persist or restore."""
        return self.metadata.index == 0


@dataclass(frozen=True, slots=True)
class Message:
    """A message between replicas. Unused fields keep their zero values, as on the wire."""

    type: MessageType
    to: int
    from_: int
    term: int = 0
    log_term: int = 0
    index: int = 0
    entries: tuple[Entry, ...] = ()
    commit: int = 0
    snapshot: Snapshot | None = None
    reject: bool = False
    reject_hint: int = 0
    context: bytes = b""


@dataclass(frozen=True, slots=True)
class ConfChange:
    """One membership change, proposed as a CONF_CHANGE entry and applied when committed."""

    type: ConfChangeType
    node_id: int
    stake: int = 0
    context: bytes = b""


@dataclass(frozen=True, slots=True)
class BatchKnobs:
    """The runtime-settable knobs (an optimizer sets these through `RawNode.set_knobs`).

    `max_batch_txs` and `batch_wait_ms` steer the driver that builds entries; the core validates
    and reports them. The other three steer the core itself.
    """

    max_batch_txs: int
    batch_wait_ms: int
    max_inflight_appends: int
    election_ticks: int
    heartbeat_ticks: int


@dataclass(frozen=True, slots=True)
class ReplicaProgress:
    node_id: int
    match_index: int
    next_index: int
    lag: int
    recent_active: bool
    learner: bool


@dataclass(frozen=True, slots=True)
class ConsensusStatus:
    """A snapshot of one replica's view, for clients. `height` is filled by the driver (0 here)."""

    term: int
    leader_id: int
    commit_index: int
    applied_index: int
    replicas: tuple[ReplicaProgress, ...]
    knobs: BatchKnobs
    height: int = 0
