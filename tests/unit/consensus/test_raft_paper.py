"""Rules of the Raft paper (Ongaro & Ousterhout, 2014) and the dissertation's extensions, one test
per rule, each named after it. Nodes are driven directly with messages; no network."""

from __future__ import annotations

import random

import pytest

from aurigraph.consensus import (
    ConfChange,
    ConfChangeRejected,
    ConfChangeType,
    Config,
    ConfState,
    Entry,
    HardState,
    MemoryStorage,
    Message,
    NotLeader,
    ProposalDropped,
    RawNode,
    StateRole,
)
from aurigraph.consensus import (
    MessageType as MT,
)


def make_node(node_id: int = 1, voters=(1, 2, 3), entries=(), term: int = 1, stakes=None, **config) -> RawNode:
    storage = MemoryStorage.bootstrap(ConfState(voters, (), (), stakes or {}))
    storage.append(list(entries))
    storage.set_hard_state(HardState(term, 0, 1))
    return RawNode(Config(node_id=node_id, **config), storage, random.Random(node_id))


def drain(node: RawNode) -> list[Message]:
    """Handle one Ready as a driver would (persisting into the node's storage) and return its messages."""
    if not node.has_ready():
        return []
    rd = node.ready()
    storage = node.raft.log.storage
    if rd.snapshot is not None:
        storage.apply_snapshot(rd.snapshot)
    storage.append(rd.entries)
    if rd.hard_state is not None:
        storage.set_hard_state(rd.hard_state)
    node.advance(rd)
    return list(rd.messages)


def elect(node: RawNode) -> list[Message]:
    """Make `node` leader by granting it every vote; return the messages of its first Ready."""
    node.campaign()
    drain(node)
    r = node.raft
    for _ in range(2):  # pre-vote round (if enabled), then the vote
        vote_type = MT.PRE_VOTE_RESPONSE if r.state == StateRole.PRE_CANDIDATE else MT.VOTE_RESPONSE
        term = r.term + 1 if r.state == StateRole.PRE_CANDIDATE else r.term
        for peer in r.tracker.voters:
            if peer != r.id and r.state != StateRole.LEADER:
                node.step(Message(vote_type, r.id, peer, term))
    assert r.state == StateRole.LEADER
    return drain(node)


def ack(node: RawNode, peer: int, index: int) -> list[Message]:
    node.step(Message(MT.APPEND_RESPONSE, node.id, peer, node.raft.term, index=index))
    return drain(node)


def test_s5_1_higher_term_converts_to_follower_and_adopts_term() -> None:
    node = make_node()
    elect(node)
    node.step(Message(MT.APPEND, 1, 2, term=9, index=2, log_term=2))
    assert (node.raft.state, node.raft.term, node.raft.lead) == (StateRole.FOLLOWER, 9, 2)


def test_s5_1_stale_term_append_is_answered_with_current_term() -> None:
    node = make_node(term=5)
    node.step(Message(MT.APPEND, 1, 2, term=3, index=1, log_term=1))
    [reply] = drain(node)
    assert (reply.type, reply.term, node.raft.lead) == (MT.APPEND_RESPONSE, 5, 0)


def test_s5_2_candidate_increments_term_votes_for_itself_and_requests_votes() -> None:
    node = make_node(pre_vote=False)
    node.campaign()
    rd = node.ready()
    assert rd.hard_state == HardState(2, 1, 1)  # persisted with the requests (persist before send)
    assert sorted((m.type, m.to, m.term) for m in rd.messages) == [(MT.VOTE, 2, 2), (MT.VOTE, 3, 2)]


def test_s5_2_one_vote_per_term_first_come_first_served() -> None:
    node = make_node(check_quorum=False)
    node.step(Message(MT.VOTE, 1, 2, term=2, index=1, log_term=1))
    node.step(Message(MT.VOTE, 1, 3, term=2, index=1, log_term=1))
    replies = drain(node)
    assert [(m.to, m.reject) for m in replies] == [(2, False), (3, True)]
    assert node.raft.vote == 2


def test_s5_2_candidate_returns_to_follower_on_append_from_leader_of_same_term() -> None:
    node = make_node(pre_vote=False)
    node.campaign()
    node.step(Message(MT.APPEND, 1, 2, term=2, index=1, log_term=1))
    assert (node.raft.state, node.raft.lead) == (StateRole.FOLLOWER, 2)


def test_s5_2_candidate_with_majority_becomes_leader_and_minority_rejects_lose() -> None:
    node = make_node(voters=(1, 2, 3, 4, 5), pre_vote=False)
    node.campaign()
    for peer in (2, 3, 4):
        node.step(Message(MT.VOTE_RESPONSE, 1, peer, 2, reject=True))
    assert node.raft.state == StateRole.FOLLOWER
    winner = make_node(voters=(1, 2, 3, 4, 5), pre_vote=False)
    winner.campaign()
    for peer in (2, 3):
        winner.step(Message(MT.VOTE_RESPONSE, 1, peer, 2))
    assert winner.raft.state == StateRole.LEADER


@pytest.mark.parametrize(("their_index", "their_term", "granted"), [(3, 2, True), (2, 2, False), (9, 1, False)])
def test_s5_4_1_vote_only_for_candidate_with_up_to_date_log(their_index, their_term, granted) -> None:
    node = make_node(entries=[Entry(1, 2), Entry(2, 3)], term=2, check_quorum=False)
    node.step(Message(MT.VOTE, 1, 2, term=3, index=their_index, log_term=their_term))
    [reply] = drain(node)
    assert reply.reject is not granted


def test_s5_3_follower_rejects_append_when_previous_entry_does_not_match_and_hints() -> None:
    node = make_node(entries=[Entry(1, 2), Entry(1, 3)], term=2)
    node.step(Message(MT.APPEND, 1, 2, term=2, index=3, log_term=2, entries=(Entry(2, 4),)))
    [reply] = drain(node)
    # Fast back-off: the last index whose term is <= 2 is 3 (term 1): the leader skips term 1.
    assert (reply.reject, reply.index, reply.reject_hint, reply.log_term) == (True, 3, 3, 1)


def test_s5_3_conflicting_entries_are_truncated_and_replaced() -> None:
    node = make_node(entries=[Entry(1, 2), Entry(1, 3), Entry(1, 4)], term=2)
    node.step(Message(MT.APPEND, 1, 2, term=2, index=2, log_term=1, entries=(Entry(2, 3, data=b"x"),), commit=3))
    drain(node)
    log = node.raft.log
    assert (log.last_index(), log.term(3), log.committed) == (3, 2, 3)


def test_s5_3_delayed_duplicate_append_does_not_truncate_newer_entries() -> None:
    node = make_node(entries=[Entry(2, 2), Entry(2, 3)], term=2)
    node.step(Message(MT.APPEND, 1, 2, term=2, index=1, log_term=1, entries=(Entry(2, 2),)))
    [reply] = drain(node)
    assert (reply.index, node.raft.log.last_index()) == (2, 3)


def test_s5_3_leader_fast_backoff_skips_a_whole_conflicting_term() -> None:
    leader = make_node(entries=[Entry(1, 2), Entry(1, 3), Entry(3, 4), Entry(3, 5)], term=3)
    elect(leader)  # term 4; the no-op at 6 is sent after index 5 (term 3)
    leader.step(Message(MT.APPEND_RESPONSE, 1, 2, 4, index=5, reject=True, reject_hint=3, log_term=1))
    [retry] = [m for m in drain(leader) if m.to == 2]
    assert (retry.index, retry.log_term) == (3, 1)  # straight past term 3, not one index at a time


def test_s5_4_2_leader_never_commits_previous_term_entries_by_counting_replicas() -> None:
    """Figure 8: an entry of an earlier term is committed only via an entry of the current term."""
    leader = make_node(entries=[Entry(1, 2), Entry(2, 3)], term=2)
    elect(leader)  # term 3; its no-op lands at index 4
    ack(leader, 2, 3)  # a majority (1, 2) now stores index 3, written in term 2
    assert leader.raft.log.committed == 1
    ack(leader, 2, 4)  # the current-term no-op reaches a majority: everything up to it commits
    assert leader.raft.log.committed == 4


def test_s8_new_leader_appends_a_no_op_of_its_term() -> None:
    node = make_node()
    msgs = elect(node)
    assert {m.entries[-1] for m in msgs if m.type == MT.APPEND} == {Entry(2, 2)}


def test_s5_5_leader_counts_itself_only_once_its_own_entries_are_persisted() -> None:
    node = make_node(voters=(1,), pre_vote=False)
    node.campaign()
    rd = node.ready()
    assert rd.entries and not rd.committed_entries and node.raft.log.committed == 1
    node.raft.log.storage.append(rd.entries)
    node.advance(rd)
    assert node.raft.log.committed == 2


def test_leader_proposal_on_follower_raises_not_leader_naming_the_leader() -> None:
    node = make_node()
    node.step(Message(MT.HEARTBEAT, 1, 3, term=1))
    with pytest.raises(NotLeader) as info:
        node.propose(b"x")
    assert info.value.leader_id == 3


def test_pipelining_sends_up_to_the_window_then_pauses_only_that_follower() -> None:
    leader = make_node(max_inflight_appends=2, max_entries_per_append=1)
    elect(leader)
    ack(leader, 2, 2)
    ack(leader, 3, 2)
    for i in range(4):
        leader.propose(b"p%d" % i)
    sent = [m for m in drain(leader) if m.type == MT.APPEND and m.entries]
    assert sorted(m.to for m in sent) == [2, 2, 3, 3]  # two in flight each, the rest held back
    ack(leader, 2, 4)  # follower 3 is slow: follower 2 alone completes a majority
    assert leader.raft.log.committed == 4


def test_dissertation_9_6_pre_vote_does_not_increase_term() -> None:
    node = make_node()
    node.campaign()
    assert (node.raft.state, node.raft.term) == (StateRole.PRE_CANDIDATE, 1)
    assert {m.term for m in drain(node)} == {2}


def test_dissertation_6_2_check_quorum_leader_steps_down_without_quorum() -> None:
    leader = make_node()
    elect(leader)
    for _ in range(2 * leader.raft.config.election_ticks):
        leader.tick()
    assert leader.raft.state == StateRole.FOLLOWER


def test_dissertation_4_2_3_lease_ignores_disruptive_vote_requests() -> None:
    node = make_node()
    node.step(Message(MT.HEARTBEAT, 1, 2, term=1))
    node.step(Message(MT.VOTE, 1, 3, term=5, index=9, log_term=9))
    assert (node.raft.term, drain(node)[-1].type) == (1, MT.HEARTBEAT_RESPONSE)


def test_dissertation_3_10_leader_transfer_sends_timeout_now_and_refuses_proposals() -> None:
    leader = make_node(stake_leader_transfer=False)
    elect(leader)
    leader.transfer_leader(3)
    with pytest.raises(ProposalDropped):
        leader.propose(b"x")
    assert MT.TIMEOUT_NOW in [m.type for m in ack(leader, 3, 2) if m.to == 3]


def test_stake_higher_stake_draws_from_an_earlier_timeout_range() -> None:
    stakes = {1: 10, 2: 1, 3: 5}
    ranges = {}
    for node_id in (1, 2, 3):
        node = make_node(node_id, stakes=stakes, election_ticks=10)
        draws = set()
        for _ in range(300):
            node.raft.reset_randomized_election_timeout()
            draws.add(node.raft.randomized_election_ticks)
        ranges[node_id] = (min(draws), max(draws))
    assert ranges == {1: (10, 19), 3: (15, 24), 2: (19, 28)}


def test_stake_leader_hands_over_to_caught_up_higher_stake_voter_and_not_back() -> None:
    leader = make_node(stakes={1: 1, 2: 3, 3: 9}, stake_transfer_cooldown_ticks=0)
    elect(leader)
    ack(leader, 2, 2)
    leader.tick()  # heartbeat interval: 3 (stake 9) is not caught up, so the best ready voter is 2
    assert leader.raft.lead_transferee == 2
    top = make_node(3, stakes={1: 1, 2: 3, 3: 9}, stake_transfer_cooldown_ticks=0)
    elect(top)
    ack(top, 1, 2)
    ack(top, 2, 2)
    top.tick()
    assert top.raft.lead_transferee == 0


def test_membership_one_change_at_a_time() -> None:
    leader = make_node()
    elect(leader)
    with pytest.raises(ConfChangeRejected):  # the new term's no-op is not applied yet
        leader.propose_conf_change(ConfChange(ConfChangeType.ADD_LEARNER, 4))
    ack(leader, 2, 2)
    rd = leader.ready()
    leader.advance(rd)  # apply the no-op
    leader.propose_conf_change(ConfChange(ConfChangeType.ADD_LEARNER, 4))
    with pytest.raises(ConfChangeRejected):
        leader.propose_conf_change(ConfChange(ConfChangeType.ADD_VOTER, 4))


def test_removed_leader_steps_down() -> None:
    leader = make_node()
    elect(leader)
    leader.apply_conf_change(ConfChange(ConfChangeType.REMOVE_NODE, 1))
    assert leader.raft.state == StateRole.FOLLOWER and not leader.raft.promotable()


def test_membership_voters_join_as_learners_and_are_promoted_only_when_caught_up() -> None:
    leader = make_node()
    elect(leader)
    ack(leader, 2, 2)
    with pytest.raises(ConfChangeRejected, match="must join as a learner"):
        leader.propose_conf_change(ConfChange(ConfChangeType.ADD_VOTER, 4))
    leader.apply_conf_change(ConfChange(ConfChangeType.ADD_LEARNER, 4))
    with pytest.raises(ConfChangeRejected, match="has not caught up"):
        leader.propose_conf_change(ConfChange(ConfChangeType.ADD_VOTER, 4))
    ack(leader, 4, 2)
    leader.propose_conf_change(ConfChange(ConfChangeType.ADD_VOTER, 4))
