"""A replica whose disk is wiped rejoins the group (three ReplicaDrivers on real RocksDB): it is
removed, re-added as a learner, catches up from the leader's snapshot plus the log tail, and is
promoted back to voter — the steps the supervisor's `resync_replica` takes on Ray."""

from __future__ import annotations

import shutil

import pytest

from aurigraph.codec.blocks import decode_ledger_snapshot
from aurigraph.consensus import ConfChange, ConfChangeRejected, ConfChangeType, ConsensusError
from aurigraph.ledger import block_hash
from aurigraph.node.replica import DriverSettings
from tests.integration.node import test_replica_driver as harness

cluster = harness.cluster  # the three-driver harness (a pytest fixture)
make_txs = harness.make_txs


def step_until(cluster, predicate, what: str, limit: int = 300) -> None:
    for _ in range(limit):
        if predicate():
            return
        cluster.step()
    raise AssertionError(f"gave up waiting for {what}")


def change_membership(cluster, change: ConfChange) -> None:
    """Propose on the leader and step until the leader has applied the change."""
    leader = cluster.wait_for_leader()
    index = leader.propose_membership(change)
    step_until(cluster, lambda: cluster.wait_for_leader().node.status().applied_index >= index, f"{change} to apply")


def commit_blocks(cluster, chain, sender: int, first_nonce: int, blocks: int, per_block: int) -> int:
    for b in range(blocks):
        cluster.wait_for_leader().submit(make_txs(cluster, chain, sender, first_nonce + b * per_block, per_block))
        cluster.step(3)
    return first_nonce + blocks * per_block


def agree(cluster) -> bool:
    heads = cluster.heads()
    return len({block_hash(h) for h in heads.values()}) == 1 and len({h.state_digest for h in heads.values()}) == 1


@pytest.fixture
def compacting(cluster):
    """Snapshots by transaction count only: every 40 transactions, keeping 10 behind."""
    cluster.settings = DriverSettings(snapshot_every_entries=1024, snapshot_every_txs=40, keep_log_txs=10)
    for i in list(cluster.drivers):
        cluster.crash(i)
        cluster.start(i)
    cluster.wait_for_leader()
    cluster.step(60)  # let the stake rule hand leadership to the top-stake replica
    return cluster


def test_a_wiped_replica_catches_up_by_snapshot_and_log_tail(compacting, chain):
    cluster = compacting
    leader = cluster.wait_for_leader()
    victim = min(i for i in cluster.drivers if i != leader.node_id)
    stake = next(v.stake for v in cluster.genesis.validators if v.id == victim)
    nonce = commit_blocks(cluster, chain, 0, 0, blocks=6, per_block=15)  # the victim holds these too
    assert agree(cluster) and cluster.drivers[victim].ledger.head.height == 6

    cluster.crash(victim)
    change_membership(cluster, ConfChange(ConfChangeType.REMOVE_NODE, victim))
    shutil.rmtree(cluster.tmp / f"n{victim}")  # the whole data folder: raft log and ledger
    change_membership(cluster, ConfChange(ConfChangeType.ADD_LEARNER, victim, stake))
    nonce = commit_blocks(cluster, chain, 0, nonce, blocks=7, per_block=15)
    leader = cluster.wait_for_leader()
    snapshot = leader.raft_log.snapshot()
    assert leader.raft_log.first_index() > 2, "the leader kept its whole log"
    assert snapshot.metadata.index < 1024, "the snapshot was not triggered by the transaction count"
    assert leader.raft_log.last_index() > snapshot.metadata.index, "no log tail behind the snapshot"

    fresh = cluster.start(victim)  # bootstrapped from nothing, as a replica of the genesis
    assert fresh.ledger.head.height == 0 and fresh.raft_log.last_index() == 1
    step_until(cluster, lambda: agree(cluster), "the wiped replica to catch up")

    # It caught up through the leader's snapshot, then replayed only the tail.
    assert fresh.raft_log.snapshot().metadata == snapshot.metadata
    snapshot_height = decode_ledger_snapshot(snapshot.data).head.height
    assert 0 < snapshot_height < fresh.ledger.head.height == 13
    assert fresh.ledger.block(1) is None and fresh.ledger.block(snapshot_height) is None
    assert all(fresh.ledger.block(h) is not None for h in range(snapshot_height + 1, 14))
    for sender in cluster.senders:
        assert fresh.ledger.account(sender.address) == leader.ledger.account(sender.address)
    assert victim in fresh.node.conf_state.learners

    change_membership(cluster, ConfChange(ConfChangeType.ADD_VOTER, victim, stake))
    commit_blocks(cluster, chain, 1, 0, blocks=2, per_block=15)  # and it keeps applying, as a voter
    step_until(cluster, lambda: agree(cluster), "all replicas to agree")
    assert cluster.heads()[victim].height == 15
    assert all(victim in d.node.conf_state.voters for d in cluster.drivers.values())


def test_a_learner_is_promoted_only_once_caught_up(compacting, chain):
    cluster = compacting
    leader = cluster.wait_for_leader()
    victim = min(i for i in cluster.drivers if i != leader.node_id)
    cluster.crash(victim)
    change_membership(cluster, ConfChange(ConfChangeType.REMOVE_NODE, victim))
    change_membership(cluster, ConfChange(ConfChangeType.ADD_LEARNER, victim, 1))
    commit_blocks(cluster, chain, 0, 0, blocks=2, per_block=15)
    with pytest.raises(ConfChangeRejected, match="has not caught up"):
        cluster.wait_for_leader().propose_membership(ConfChange(ConfChangeType.ADD_VOTER, victim, 1))


def test_a_wiped_voter_restarted_as_it_was_stops_loudly(compacting, chain):
    """Without the readmission its lost acknowledgements could un-commit entries: it is refused."""
    cluster = compacting
    victim = min(i for i in cluster.drivers if i != cluster.wait_for_leader().node_id)
    commit_blocks(cluster, chain, 0, 0, blocks=2, per_block=15)
    cluster.crash(victim)
    shutil.rmtree(cluster.tmp / f"n{victim}")
    cluster.start(victim)
    with pytest.raises(ConsensusError, match="beyond the last index"):
        cluster.step(30)
