"""Consensus messages: `aurigraph.v1` consensus protobufs <-> `aurigraph.consensus` dataclasses.

The dataclasses mirror the wire messages field for field (a test checks the field lists), so each
conversion is a 1:1 copy. Replicas exchange `ConsensusMessageBatch` bytes; decoding is strict:
bytes that do not parse or carry an unknown enum value raise `InvalidConsensusMessage`.
"""

from __future__ import annotations

from google.protobuf.message import DecodeError

from aurigraph.consensus import (
    BatchKnobs,
    ConfChange,
    ConfChangeType,
    ConfState,
    ConsensusStatus,
    Entry,
    EntryType,
    HardState,
    Message,
    MessageType,
    ReplicaProgress,
    Snapshot,
    SnapshotMetadata,
)
from aurigraph.v1 import consensus_pb2 as pb


class InvalidConsensusMessage(ValueError):
    """Bytes from a peer that are not a valid consensus message."""


def _enum(kind, value: int, what: str):
    try:
        return kind(value)
    except ValueError:
        raise InvalidConsensusMessage(f"unknown {what} {value}") from None


def entry_to_proto(e: Entry) -> pb.Entry:
    return pb.Entry(term=e.term, index=e.index, type=int(e.type), data=e.data)


def entry_from_proto(m: pb.Entry) -> Entry:
    return Entry(m.term, m.index, _enum(EntryType, m.type, "entry type"), m.data)


def hard_state_to_proto(h: HardState) -> pb.HardState:
    return pb.HardState(term=h.term, vote=h.vote, commit=h.commit)


def hard_state_from_proto(m: pb.HardState) -> HardState:
    return HardState(m.term, m.vote, m.commit)


def conf_state_to_proto(c: ConfState) -> pb.ConfState:
    return pb.ConfState(voters=c.voters, learners=c.learners, voters_outgoing=c.voters_outgoing, stakes=dict(c.stakes))


def conf_state_from_proto(m: pb.ConfState) -> ConfState:
    return ConfState(tuple(m.voters), tuple(m.learners), tuple(m.voters_outgoing), dict(m.stakes))


def snapshot_to_proto(s: Snapshot) -> pb.Snapshot:
    meta = s.metadata
    return pb.Snapshot(data=s.data, metadata=pb.SnapshotMetadata(
        conf_state=conf_state_to_proto(meta.conf_state), index=meta.index, term=meta.term))


def snapshot_from_proto(m: pb.Snapshot) -> Snapshot:
    meta = m.metadata
    return Snapshot(m.data, SnapshotMetadata(conf_state_from_proto(meta.conf_state), meta.index, meta.term))


def message_to_proto(msg: Message) -> pb.ConsensusMessage:
    m = pb.ConsensusMessage(
        type=int(msg.type), to=msg.to, term=msg.term, log_term=msg.log_term, index=msg.index,
        entries=[entry_to_proto(e) for e in msg.entries], commit=msg.commit, reject=msg.reject,
        reject_hint=msg.reject_hint, context=msg.context,
    )
    setattr(m, "from", msg.from_)
    if msg.snapshot is not None:
        m.snapshot.CopyFrom(snapshot_to_proto(msg.snapshot))
    return m


def message_from_proto(m: pb.ConsensusMessage) -> Message:
    return Message(
        type=_enum(MessageType, m.type, "message type"), to=m.to, from_=getattr(m, "from"), term=m.term,
        log_term=m.log_term, index=m.index, entries=tuple(entry_from_proto(e) for e in m.entries),
        commit=m.commit, snapshot=snapshot_from_proto(m.snapshot) if m.HasField("snapshot") else None,
        reject=m.reject, reject_hint=m.reject_hint, context=m.context,
    )


def encode_message_batch(messages: list[Message] | tuple[Message, ...]) -> bytes:
    return pb.ConsensusMessageBatch(messages=[message_to_proto(m) for m in messages]).SerializeToString()


def decode_message_batch(data: bytes) -> list[Message]:
    batch = pb.ConsensusMessageBatch()
    try:
        batch.ParseFromString(data)
    except DecodeError as e:
        raise InvalidConsensusMessage(f"consensus batch is not valid protobuf: {e}") from None
    return [message_from_proto(m) for m in batch.messages]


def conf_change_to_proto(c: ConfChange) -> pb.ConfChange:
    return pb.ConfChange(type=int(c.type), node_id=c.node_id, stake=c.stake, context=c.context)


def conf_change_from_proto(m: pb.ConfChange) -> ConfChange:
    return ConfChange(_enum(ConfChangeType, m.type, "conf change type"), m.node_id, m.stake, m.context)


def knobs_to_proto(k: BatchKnobs) -> pb.BatchKnobs:
    return pb.BatchKnobs(max_batch_txs=k.max_batch_txs, batch_wait_ms=k.batch_wait_ms,
                         max_inflight_appends=k.max_inflight_appends, election_ticks=k.election_ticks,
                         heartbeat_ticks=k.heartbeat_ticks)


def knobs_from_proto(m: pb.BatchKnobs) -> BatchKnobs:
    """Field values are not range-checked here: `RawNode.set_knobs` validates them."""
    return BatchKnobs(m.max_batch_txs, m.batch_wait_ms, m.max_inflight_appends, m.election_ticks, m.heartbeat_ticks)


def encode_knobs(k: BatchKnobs) -> bytes:
    return knobs_to_proto(k).SerializeToString()


def decode_knobs(data: bytes) -> BatchKnobs:
    return knobs_from_proto(pb.BatchKnobs.FromString(data))


def replica_progress_to_proto(p: ReplicaProgress) -> pb.ReplicaProgress:
    return pb.ReplicaProgress(node_id=p.node_id, match_index=p.match_index, next_index=p.next_index, lag=p.lag,
                              recent_active=p.recent_active, learner=p.learner)


def replica_progress_from_proto(m: pb.ReplicaProgress) -> ReplicaProgress:
    return ReplicaProgress(m.node_id, m.match_index, m.next_index, m.lag, m.recent_active, m.learner)


def status_to_proto(s: ConsensusStatus) -> pb.ConsensusStatus:
    return pb.ConsensusStatus(
        term=s.term, leader_id=s.leader_id, commit_index=s.commit_index, applied_index=s.applied_index,
        replicas=[replica_progress_to_proto(p) for p in s.replicas], knobs=knobs_to_proto(s.knobs), height=s.height,
    )


def status_from_proto(m: pb.ConsensusStatus) -> ConsensusStatus:
    return ConsensusStatus(m.term, m.leader_id, m.commit_index, m.applied_index,
                           tuple(replica_progress_from_proto(p) for p in m.replicas), knobs_from_proto(m.knobs),
                           m.height)


def decode_status(data: bytes) -> ConsensusStatus:
    """`ConsensusStatus` bytes (as `ConsensusReplica.status` answers) to the core's dataclass."""
    return status_from_proto(pb.ConsensusStatus.FromString(data))
