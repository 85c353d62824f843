"""Consensus messages survive the protobuf round trip exactly (property-based)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from aurigraph.codec.consensus import (
    conf_change_from_proto,
    conf_change_to_proto,
    decode_message_batch,
    encode_message_batch,
    hard_state_from_proto,
    hard_state_to_proto,
    status_to_proto,
)
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

u64 = st.integers(0, 2**64 - 1)
ids = st.integers(1, 2**64 - 1)
entries = st.builds(Entry, u64, u64, st.sampled_from(list(EntryType)), st.binary(max_size=64))
conf_states = st.builds(ConfState, st.lists(ids, max_size=5, unique=True).map(tuple),
                        st.lists(ids, max_size=3, unique=True).map(tuple), st.just(()),
                        st.dictionaries(ids, u64, max_size=5))
snapshots = st.builds(Snapshot, st.binary(max_size=64), st.builds(SnapshotMetadata, conf_states, u64, u64))
messages = st.builds(
    Message, st.sampled_from(list(MessageType)), ids, ids, u64, u64, u64, st.lists(entries, max_size=4).map(tuple),
    u64, st.one_of(st.none(), snapshots), st.booleans(), u64, st.binary(max_size=16),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(messages, max_size=6))
def test_message_batches_round_trip(batch):
    assert decode_message_batch(encode_message_batch(batch)) == batch


@given(st.builds(HardState, u64, u64, u64), st.builds(ConfChange, st.sampled_from(list(ConfChangeType)), ids, u64,
                                                       st.binary(max_size=8)))
def test_hard_state_and_conf_change_round_trip(hard, change):
    assert hard_state_from_proto(hard_state_to_proto(hard)) == hard
    assert conf_change_from_proto(conf_change_to_proto(change)) == change


def test_status_carries_the_block_height():
    status = ConsensusStatus(3, 1, 10, 9, (ReplicaProgress(2, 9, 10, 1, True, False),), BatchKnobs(100, 5, 8, 10, 1))
    m = status_to_proto(status, height=7)
    assert (m.term, m.leader_id, m.height, m.replicas[0].lag, m.knobs.max_batch_txs) == (3, 1, 7, 1, 100)
