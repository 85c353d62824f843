"""Consensus messages: `aurigraph.v1` consensus protobufs <-> `aurigraph.consensus` value types (1:1).

Replicas exchange `ConsensusMessageBatch` bytes: `encode_message_batch` / `decode_message_batch`.
"""

from __future__ import annotations

from collections.abc import Sequence

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
    Snapshot,
    SnapshotMetadata,
)
from aurigraph.v1 import consensus_pb2 as pb


def entry_to_proto(e: Entry) -> pb.Entry:
    return pb.Entry(term=e.term, index=e.index, type=int(e.type), data=e.data)


def entry_from_proto(m: pb.Entry) -> Entry:
    return Entry(m.term, m.index, EntryType(m.type), m.data)


def conf_state_to_proto(c: ConfState) -> pb.ConfState:
    return pb.ConfState(voters=c.voters, learners=c.learners, voters_outgoing=c.voters_outgoing, stakes=dict(c.stakes))


def conf_state_from_proto(m: pb.ConfState) -> ConfState:
    return ConfState(tuple(m.voters), tuple(m.learners), tuple(m.voters_outgoing), dict(m.stakes))


def snapshot_to_proto(s: Snapshot) -> pb.Snapshot:
    meta = pb.SnapshotMetadata(conf_state=conf_state_to_proto(s.metadata.conf_state), index=s.metadata.index,
                               term=s.metadata.term)
    return pb.Snapshot(data=s.data, metadata=meta)


def snapshot_from_proto(m: pb.Snapshot) -> Snapshot:
    meta = SnapshotMetadata(conf_state_from_proto(m.metadata.conf_state), m.metadata.index, m.metadata.term)
    return Snapshot(m.data, meta)


def hard_state_to_proto(h: HardState) -> pb.HardState:
    return pb.HardState(term=h.term, vote=h.vote, commit=h.commit)


def hard_state_from_proto(m: pb.HardState) -> HardState:
    return HardState(m.term, m.vote, m.commit)


def conf_change_to_proto(c: ConfChange) -> pb.ConfChange:
    return pb.ConfChange(type=int(c.type), node_id=c.node_id, stake=c.stake, context=c.context)


def conf_change_from_proto(m: pb.ConfChange) -> ConfChange:
    return ConfChange(ConfChangeType(m.type), m.node_id, m.stake, m.context)


def message_to_proto(msg: Message) -> pb.ConsensusMessage:
    m = pb.ConsensusMessage(
        type=int(msg.type), to=msg.to, term=msg.term, log_term=msg.log_term, index=msg.index,
        entries=[entry_to_proto(e) for e in msg.entries], commit=msg.commit, reject=msg.reject,
        reject_hint=msg.reject_hint, context=msg.context,
    )
    setattr(m, "from", msg.from_)  # `from` is a Python keyword
    if msg.snapshot is not None:
        m.snapshot.CopyFrom(snapshot_to_proto(msg.snapshot))
    return m


def message_from_proto(m: pb.ConsensusMessage) -> Message:
    return Message(
        type=MessageType(m.type), to=m.to, from_=getattr(m, "from"), term=m.term, log_term=m.log_term,
        index=m.index, entries=tuple(entry_from_proto(e) for e in m.entries), commit=m.commit,
        snapshot=snapshot_from_proto(m.snapshot) if m.HasField("snapshot") else None,
        reject=m.reject, reject_hint=m.reject_hint, context=m.context,
    )


def encode_message_batch(messages: Sequence[Message]) -> bytes:
    return pb.ConsensusMessageBatch(messages=[message_to_proto(m) for m in messages]).SerializeToString()


def decode_message_batch(data: bytes) -> list[Message]:
    return [message_from_proto(m) for m in pb.ConsensusMessageBatch.FromString(data).messages]


def knobs_to_proto(k: BatchKnobs) -> pb.BatchKnobs:
    return pb.BatchKnobs(max_batch_txs=k.max_batch_txs, batch_wait_ms=k.batch_wait_ms,
                         max_inflight_appends=k.max_inflight_appends, election_ticks=k.election_ticks,
                         heartbeat_ticks=k.heartbeat_ticks)


def status_to_proto(s: ConsensusStatus, height: int | None = None) -> pb.ConsensusStatus:
    """`height`: the driver's latest applied block height (the core does not know blocks)."""
    return pb.ConsensusStatus(
        term=s.term, leader_id=s.leader_id, commit_index=s.commit_index, applied_index=s.applied_index,
        replicas=[pb.ReplicaProgress(node_id=r.node_id, match_index=r.match_index, next_index=r.next_index, lag=r.lag,
                                     recent_active=r.recent_active, learner=r.learner) for r in s.replicas],
        knobs=knobs_to_proto(s.knobs), height=s.height if height is None else height,
    )
