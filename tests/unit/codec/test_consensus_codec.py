"""The consensus codec: every dataclass mirrors its wire message field for field, and converts
1:1 in both directions; the core's hand-written ConfChange encoding is the protobuf encoding."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aurigraph.codec import consensus as codec
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
    encode_conf_change,
    types,
)
from aurigraph.v1 import consensus_pb2 as pb

MIRRORS = [
    (types.Entry, pb.Entry), (types.HardState, pb.HardState), (types.ConfState, pb.ConfState),
    (types.SnapshotMetadata, pb.SnapshotMetadata), (types.Snapshot, pb.Snapshot),
    (types.Message, pb.ConsensusMessage), (types.ConfChange, pb.ConfChange), (types.BatchKnobs, pb.BatchKnobs),
    (types.ReplicaProgress, pb.ReplicaProgress), (types.ConsensusStatus, pb.ConsensusStatus),
]
ENUMS = [(types.EntryType, pb.EntryType), (types.MessageType, pb.MessageType),
         (types.ConfChangeType, pb.ConfChangeType)]


@pytest.mark.parametrize(("ours", "wire"), MIRRORS, ids=lambda c: c.__name__)
def test_dataclass_mirrors_wire_message_field_for_field(ours, wire) -> None:
    names = [f.name.rstrip("_") for f in dataclasses.fields(ours)]
    assert names == [f.name for f in wire.DESCRIPTOR.fields]


@pytest.mark.parametrize(("ours", "wire"), ENUMS, ids=lambda c: getattr(c, "__name__", "enum"))
def test_enum_numbers_match_the_proto(ours, wire) -> None:
    assert sorted(int(v) for v in ours) == sorted(wire.values())
    for member in ours:
        assert wire.Name(int(member)).endswith(member.name)


u64 = st.integers(0, 2**64 - 1)
entries = st.builds(Entry, u64, u64, st.sampled_from(EntryType), st.binary(max_size=64))
conf_states = st.builds(ConfState, st.lists(u64, max_size=5).map(tuple), st.lists(u64, max_size=3).map(tuple),
                        st.just(()), st.dictionaries(u64, u64, max_size=4))
snapshots = st.builds(Snapshot, st.binary(max_size=64), st.builds(SnapshotMetadata, conf_states, u64, u64))
messages = st.builds(
    Message, st.sampled_from(MessageType), u64, u64, u64, u64, u64, st.lists(entries, max_size=4).map(tuple),
    u64, st.none() | snapshots, st.booleans(), u64, st.binary(max_size=16),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(messages, max_size=4))
def test_message_batch_round_trips(batch) -> None:
    assert codec.decode_message_batch(codec.encode_message_batch(batch)) == batch


@settings(max_examples=100, deadline=None)
@given(st.builds(ConfChange, st.sampled_from(ConfChangeType), u64, u64, st.binary(max_size=32)))
def test_conf_change_core_encoding_is_the_protobuf_encoding(cc) -> None:
    wire = codec.conf_change_to_proto(cc).SerializeToString(deterministic=True)
    assert encode_conf_change(cc) == wire
    assert codec.conf_change_from_proto(pb.ConfChange.FromString(wire)) == cc


def test_status_and_hard_state_round_trip() -> None:
    status = ConsensusStatus(3, 1, 10, 9, (ReplicaProgress(2, 9, 10, 1, True, False),),
                             BatchKnobs(10_000, 5, 256, 10, 1), height=7)
    assert codec.status_from_proto(codec.status_to_proto(status)) == status
    assert codec.hard_state_from_proto(codec.hard_state_to_proto(HardState(4, 2, 9))) == HardState(4, 2, 9)


@pytest.mark.parametrize("data", [b"\xff\xff\xff", pb.ConsensusMessageBatch(
    messages=[pb.ConsensusMessage(type=99)]).SerializeToString()])
def test_garbage_or_unknown_enum_is_rejected(data) -> None:
    with pytest.raises(codec.InvalidConsensusMessage):
        codec.decode_message_batch(data)
