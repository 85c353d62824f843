"""The public API around the algorithm: config validation, runtime knobs, ReadIndex, finality
confidence, the Ready/advance contract, storage and log compaction, conf-change encoding."""

from __future__ import annotations

import dataclasses

import pytest

from aurigraph.consensus import (
    BatchKnobs,
    Compacted,
    ConfChange,
    ConfChangeType,
    Config,
    ConfigError,
    ConfState,
    ConsensusError,
    Entry,
    MemoryStorage,
    Message,
    NotLeader,
    SnapshotOutOfDate,
    StateRole,
    Unavailable,
    decode_conf_change,
    encode_conf_change,
)
from aurigraph.consensus import (
    MessageType as MT,
)
from aurigraph.consensus.confchange import apply_to_conf_state, check_conf_change
from aurigraph.consensus.errors import ConfChangeRejected
from tests.unit.consensus.test_raft_paper import ack, drain, elect, make_node

# --- config --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("field", "value"), [
    ("node_id", 0), ("election_ticks", 0), ("heartbeat_ticks", 0), ("max_inflight_appends", 0),
    ("max_entries_per_append", -1), ("max_append_bytes", 0), ("max_batch_txs", 0), ("batch_wait_ms", -1),
    ("stake_transfer_cooldown_ticks", -5), ("applied_index", -1), ("pre_vote", 1), ("check_quorum", "yes"),
    ("election_ticks", 2.5),
])
def test_config_rejects_out_of_range_values_naming_the_field(field, value) -> None:
    with pytest.raises(ConfigError) as info:
        Config(node_id=1, **{field: value}) if field != "node_id" else Config(node_id=value)
    assert info.value.field == field


def test_config_election_must_exceed_heartbeat() -> None:
    with pytest.raises(ConfigError, match="must exceed heartbeat_ticks"):
        Config(node_id=1, election_ticks=3, heartbeat_ticks=3)


def test_config_defaults_are_valid_and_batch_default_is_ten_thousand() -> None:
    assert Config(node_id=1).max_batch_txs == 10_000


def test_knobs_are_settable_at_runtime_and_validated() -> None:
    node = make_node(max_inflight_appends=2)
    elect(node)
    knobs = dataclasses.replace(node.status().knobs, max_inflight_appends=64, max_batch_txs=500)
    node.set_knobs(knobs)
    assert node.status().knobs == knobs
    assert node.raft.tracker.progress[2].inflights.capacity == 64
    with pytest.raises(ConfigError):
        node.set_knobs(dataclasses.replace(knobs, heartbeat_ticks=50))
    assert node.status().knobs == knobs  # a refused change leaves the old knobs in force


def test_knobs_new_election_ticks_apply_at_once() -> None:
    """An optimizer raises the timeout before it allows bigger blocks: a follower must not keep
    its old, shorter randomized timeout until its next role change."""
    node = make_node()
    for _ in range(5):
        node.tick()
    node.set_knobs(BatchKnobs(100, 5, 8, 400, 4))
    assert 400 <= node.raft.randomized_election_ticks < 800
    assert node.raft.election_elapsed_ticks == 5  # time already waited still counts
    node.set_knobs(BatchKnobs(200, 5, 8, 400, 4))  # same timeout: no new draw
    drawn = node.raft.randomized_election_ticks
    node.set_knobs(BatchKnobs(300, 5, 8, 400, 4))
    assert node.raft.randomized_election_ticks == drawn


# --- ReadIndex -----------------------------------------------------------------------------------


def test_read_index_waits_for_a_heartbeat_quorum() -> None:
    leader = make_node()
    elect(leader)
    ack(leader, 2, 2)
    leader.read_index(b"r1")
    beats = drain(leader)
    assert {(m.type, m.context) for m in beats} == {(MT.HEARTBEAT, b"r1")}
    rd = leader.ready()
    assert not rd.read_states  # only the leader's own ack so far
    leader.advance(rd)
    leader.step(Message(MT.HEARTBEAT_RESPONSE, 1, 3, leader.raft.term, context=b"r1"))
    rd = leader.ready()
    assert [(rs.index, rs.request_ctx) for rs in rd.read_states] == [(2, b"r1")]


def test_read_index_is_held_until_the_leader_commits_in_its_term() -> None:
    leader = make_node()
    elect(leader)  # the no-op is not committed yet: the commit index may be stale
    leader.read_index(b"early")
    assert not [m for m in drain(leader) if m.context == b"early"]
    released = ack(leader, 2, 2)  # the no-op commits: the held read goes out
    assert any(m.type == MT.HEARTBEAT and m.context == b"early" for m in released)


def test_read_index_without_known_leader_raises() -> None:
    with pytest.raises(NotLeader):
        make_node().read_index(b"r")


def test_read_index_on_follower_is_forwarded_and_answered() -> None:
    follower = make_node(2)
    follower.step(Message(MT.HEARTBEAT, 2, 1, term=1))
    drain(follower)
    follower.read_index(b"f1")
    [forwarded] = drain(follower)
    assert (forwarded.type, forwarded.to) == (MT.READ_INDEX, 1)
    follower.step(Message(MT.READ_INDEX_RESPONSE, 2, 1, 1, index=7, context=b"f1"))
    assert [(rs.index, rs.request_ctx) for rs in follower.ready().read_states] == [(7, b"f1")]


# --- finality confidence -------------------------------------------------------------------------


def test_finality_confidence_counts_voters_that_durably_hold_the_entry() -> None:
    leader = make_node()
    elect(leader)
    index = leader.propose(b"block")
    assert leader.finality_confidence(index) == 0.0  # not even the leader has persisted it yet
    drain(leader)
    assert leader.finality(index) == (1, 3)
    ack(leader, 2, index)
    assert leader.finality(index) == (2, 3)
    ack(leader, 3, index)
    assert leader.finality_confidence(index) == 1.0
    assert leader.finality(index + 5) == (0, 3)


def test_finality_is_only_known_to_the_leader() -> None:
    with pytest.raises(NotLeader):
        make_node().finality_confidence(1)


# --- Ready / advance ------------------------------------------------------------------------------


def test_ready_twice_without_advance_is_refused() -> None:
    node = make_node()
    node.campaign()
    node.ready()
    with pytest.raises(ConsensusError, match="before advance"):
        node.ready()


def test_step_refuses_a_message_for_another_node() -> None:
    with pytest.raises(ConsensusError):
        make_node().step(Message(MT.HEARTBEAT, 7, 2, term=1))


def test_status_reports_replicas_on_the_leader() -> None:
    leader = make_node()
    elect(leader)
    ack(leader, 2, 2)
    status = leader.status()
    assert (status.leader_id, status.commit_index) == (1, 2)
    assert [(p.node_id, p.match_index, p.lag) for p in status.replicas] == [(1, 2, 0), (2, 2, 0), (3, 0, 2)]
    assert leader.raft.state == StateRole.LEADER


# --- storage and log -----------------------------------------------------------------------------


def test_storage_compaction_and_snapshot_errors_are_typed() -> None:
    storage = MemoryStorage.bootstrap(ConfState((1,)))
    storage.append([Entry(1, i) for i in range(2, 10)])
    with pytest.raises(Unavailable):
        storage.create_snapshot(20, ConfState((1,)), b"")
    storage.create_snapshot(5, ConfState((1,)), b"state")
    with pytest.raises(ConsensusError, match="no snapshot covers"):
        storage.compact(7)
    storage.compact(5)
    with pytest.raises(Compacted):
        storage.entries(3, 6, 1 << 20)
    with pytest.raises(SnapshotOutOfDate):
        storage.create_snapshot(4, ConfState((1,)), b"")
    assert (storage.first_index(), storage.term(5), storage.last_index()) == (6, 1, 9)


def test_storage_entries_respect_the_byte_limit_but_return_at_least_one() -> None:
    storage = MemoryStorage()
    storage.append([Entry(1, i, data=b"x" * 100) for i in range(1, 6)])
    assert len(storage.entries(1, 6, 1)) == 1
    assert len(storage.entries(1, 6, 2 * 124)) == 2


def test_append_limits_entries_by_bytes_so_a_huge_batch_still_moves() -> None:
    leader = make_node(max_append_bytes=1000)
    elect(leader)
    ack(leader, 2, 2)
    for _ in range(3):
        leader.propose(b"t" * 5000)
    appends = [m for m in drain(leader) if m.to == 2 and m.entries]
    assert [len(m.entries) for m in appends] == [1, 1, 1]


# --- membership encoding and rules ----------------------------------------------------------------


def test_conf_change_encoding_round_trips() -> None:
    cc = ConfChange(ConfChangeType.ADD_LEARNER, 300, 2**40, b"node-info")
    assert decode_conf_change(encode_conf_change(cc)) == cc
    with pytest.raises(ConsensusError):
        decode_conf_change(b"\x08")


@pytest.mark.parametrize("cc", [
    ConfChange(ConfChangeType.ADD_VOTER, 1), ConfChange(ConfChangeType.REMOVE_NODE, 9),
    ConfChange(ConfChangeType.ADD_LEARNER, 2), ConfChange(ConfChangeType.ADD_LEARNER, 0),
])
def test_conf_change_no_ops_and_bad_ids_are_rejected(cc) -> None:
    with pytest.raises(ConfChangeRejected):
        check_conf_change(ConfState((1, 2)), cc)


def test_conf_change_promotion_moves_learner_to_voters_with_stake() -> None:
    conf = apply_to_conf_state(ConfState((1,), (4,)), ConfChange(ConfChangeType.ADD_VOTER, 4, 7))
    assert (conf.voters, conf.learners, conf.stake_of(4), conf.stake_of(1)) == ((1, 4), (), 7, 1)


def test_leader_id_and_empty_snapshot_for_drivers() -> None:
    node = make_node()
    assert node.leader_id == 0 and node.raft.log.snapshot().is_empty is False
    node.step(Message(MT.HEARTBEAT, 1, 3, term=1))
    assert node.leader_id == 3
    assert MemoryStorage().snapshot().is_empty
