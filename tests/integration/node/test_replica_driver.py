"""Three ReplicaDrivers in one process on real RocksDB: blocks commit, replicas agree, a crashed
leader loses nothing acknowledged, a restarted replica catches up from its disk plus the leader."""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass, field, replace

import pytest
from rocksdict import Checkpoint

from aurigraph.codec.blocks import decode_ledger_snapshot
from aurigraph.consensus import Config, ConfState, NotLeader
from aurigraph.crypto import Scheme, generate_keypair
from aurigraph.ledger import ChainParams, Genesis, Validator, block_hash
from aurigraph.node.replica import DriverSettings, ReplicaDriver, TxStatus
from aurigraph.storage.ledger_store import LedgerStore
from aurigraph.storage.raft_log import RocksRaftStorage
from aurigraph.storage.rocks import open_db
from tests.conftest import CHAIN_ID, NOW_MS


@dataclass
class Cluster:
    tmp: object
    genesis: Genesis
    keys: dict[int, object]
    senders: list
    drivers: dict[int, ReplicaDriver] = field(default_factory=dict)
    dbs: dict[int, list] = field(default_factory=dict)
    clock: list = field(default_factory=lambda: [NOW_MS])
    acknowledged: dict[bytes, object] = field(default_factory=dict)
    outcomes: dict[bytes, object] = field(default_factory=dict)
    inbox: list = field(default_factory=list)
    held: dict[int, list] = field(default_factory=dict)  # keys a replica's keystore holds besides its own

    settings: DriverSettings = field(default_factory=DriverSettings)

    def start(self, node_id: int) -> ReplicaDriver:
        log_db, ledger_db = open_db(self.tmp / f"n{node_id}" / "log"), open_db(self.tmp / f"n{node_id}" / "ledger")
        self.dbs[node_id] = [log_db, ledger_db]
        conf = ConfState(voters=tuple(self.keys), stakes={v.id: v.stake for v in self.genesis.validators})
        raft_log = RocksRaftStorage.bootstrap(log_db, conf)
        config = Config(node_id=node_id, election_ticks=10, heartbeat_ticks=1, batch_wait_ms=0, max_batch_txs=50)
        driver = ReplicaDriver(node_id, self.keys[node_id], self.genesis, raft_log, LedgerStore(ledger_db, self.genesis),
                               config, random.Random(node_id), lambda: self.clock[0], self.settings,
                               key_source=lambda: self.held.get(node_id, []))
        self.drivers[node_id] = driver
        return driver

    def crash(self, node_id: int) -> None:
        del self.drivers[node_id]
        for db in self.dbs.pop(node_id):
            db.close()
        self.inbox = [m for m in self.inbox if m.to != node_id]

    def step(self, ticks: int = 1) -> None:
        for _ in range(ticks):
            self.clock[0] += 10
            for d in self.drivers.values():
                d.tick()
            for _ in range(5):  # deliver until quiet
                inbox, self.inbox = self.inbox, []
                for m in inbox:
                    if m.to in self.drivers:
                        self.drivers[m.to].receive([m])
                for d in self.drivers.values():
                    out = d.run()
                    self.inbox += out.messages
                    for o in out.outcomes:
                        self.outcomes[o.tx_id] = o
                        if o.status is TxStatus.COMMITTED:
                            self.acknowledged[o.tx_id] = o

    def leader(self) -> ReplicaDriver | None:
        leaders = [d for d in self.drivers.values() if d.is_leader]
        return leaders[0] if len(leaders) == 1 else None

    def wait_for_leader(self, limit: int = 300) -> ReplicaDriver:
        for _ in range(limit):
            self.step()
            if self.leader() is not None:
                return self.leader()
        raise AssertionError("no leader elected")

    def heads(self):
        return {i: d.ledger.head for i, d in self.drivers.items()}


@pytest.fixture
def cluster(tmp_path, chain):
    keys = {i: generate_keypair(Scheme.ED25519) for i in (1, 2, 3)}
    senders = [generate_keypair() for _ in range(3)]
    genesis = Genesis(CHAIN_ID, NOW_MS - 1000, tuple((s.address, 10**9) for s in senders),
                      tuple(Validator(i, k.scheme, k.public_key, 10 * i) for i, k in keys.items()), ChainParams())
    c = Cluster(tmp_path, genesis, keys, senders)
    for i in keys:
        c.start(i)
    yield c
    for i in list(c.drivers):
        c.crash(i)


def make_txs(cluster, chain, sender_index, first_nonce, count):
    sender = cluster.senders[sender_index]
    return [chain.tx(sender, n, to=cluster.senders[(sender_index + 1) % 3].address, amount=1) for n in
            range(first_nonce, first_nonce + count)]


def test_transactions_commit_and_all_replicas_agree(cluster, chain):
    leader = cluster.wait_for_leader()
    follower = next(d for d in cluster.drivers.values() if d is not leader)
    with pytest.raises(NotLeader):
        follower.submit(make_txs(cluster, chain, 0, 0, 1))
    txs = make_txs(cluster, chain, 0, 0, 120) + make_txs(cluster, chain, 1, 0, 30)
    results = leader.submit(txs)
    assert {r.status for r in results} == {TxStatus.PENDING}
    assert {r.status for r in leader.submit(txs[:5])} == {TxStatus.PENDING}  # idempotent
    cluster.step(30)
    assert set(cluster.acknowledged) >= {t.tx_id for t in txs}
    heads = cluster.heads()
    assert len({block_hash(h) for h in heads.values()}) == 1 and heads[1].height >= 3  # 50 txs per block max
    assert len({h.state_digest for h in heads.values()}) == 1
    assert leader.submit(txs[:1])[0].status is TxStatus.COMMITTED  # already in a block: its receipt
    assert leader.confidence(1) == 1.0


def test_bad_nonces_are_rejected_and_gaps_wait(cluster, chain):
    leader = cluster.wait_for_leader()
    first = make_txs(cluster, chain, 0, 0, 1)
    later = make_txs(cluster, chain, 0, 2, 1)  # gap until nonce 1 arrives
    leader.submit(first + later)
    cluster.step(5)
    assert first[0].tx_id in cluster.acknowledged
    held = cluster.outcomes[later[0].tx_id]  # said once, so a caller waiting on it is answered
    assert held.status is TxStatus.PENDING and held.detail.startswith("held for up to 10 s: "), held
    leader.submit(make_txs(cluster, chain, 0, 1, 1) + make_txs(cluster, chain, 0, 0, 1) + [chain.tx(cluster.senders[0], 3, amount=10**12)])
    cluster.step(10)
    assert later[0].tx_id in cluster.acknowledged
    rejected = [o for o in cluster.outcomes.values() if o.status is TxStatus.REJECTED]
    assert [o.reason.label for o in rejected] == ["insufficient_balance"]


def test_leader_crash_loses_nothing_acknowledged_and_restart_catches_up(cluster, chain):
    leader = cluster.wait_for_leader()
    leader.submit(make_txs(cluster, chain, 0, 0, 60))
    cluster.step(2)
    old = leader.node_id
    cluster.crash(old)
    acknowledged_before = dict(cluster.acknowledged)
    new_leader = cluster.wait_for_leader()
    assert new_leader.node_id != old
    new_leader.submit(make_txs(cluster, chain, 1, 0, 40))
    cluster.step(20)
    restarted = cluster.start(old)
    cluster.step(40)
    heads = cluster.heads()
    assert len({block_hash(h) for h in heads.values()}) == 1, heads
    for tx_id in list(acknowledged_before) + list(cluster.acknowledged):
        found = [d.ledger.transaction(tx_id) for d in cluster.drivers.values()]
        assert all(f is not None for f in found), "an acknowledged transaction is missing on a replica"
    # Every block's transactions appear exactly once across the chain.
    seen = []
    for h in range(1, heads[old].height + 1):
        seen += [t.tx_id for t in restarted.ledger.block(h).block.transactions]
    assert len(seen) == len(set(seen))
    dropped = {t for t, o in cluster.outcomes.items() if o.status is TxStatus.DROPPED}
    assert not dropped & set(cluster.acknowledged)


def test_full_pool_answers_retry_after_instead_of_growing(cluster, chain):
    leader = cluster.wait_for_leader()
    leader.settings = replace(leader.settings, max_pending_txs=5)
    results = leader.submit(make_txs(cluster, chain, 0, 0, 8))
    assert [r.retry_after_ms > 0 for r in results] == [False] * 5 + [True] * 3
    assert leader.pending_count == 5 and all(r.status is TxStatus.PENDING for r in results)


def test_leader_transfer_mid_submission_loses_no_transaction(cluster, chain):
    leader = cluster.wait_for_leader()
    target = next(i for i in cluster.drivers if i != leader.node_id)
    leader.node.transfer_leader(target)
    txs = make_txs(cluster, chain, 0, 0, 20)
    leader.submit(txs)  # the core refuses proposals while the transfer runs: they must stay pending
    cluster.step(60)
    outcomes = {t.tx_id: cluster.outcomes.get(t.tx_id) for t in txs}
    assert all(o is not None and o.status in (TxStatus.COMMITTED, TxStatus.DROPPED) for o in outcomes.values())
    new_leader = cluster.leader()
    assert new_leader is not None
    dropped = [t for t in txs if outcomes[t.tx_id].status is TxStatus.DROPPED]
    new_leader.submit(dropped)  # what the ingress does with DROPPED transactions
    cluster.step(20)
    assert {t.tx_id for t in txs} <= set(cluster.acknowledged)


def test_compaction_and_snapshot_catch_up_of_a_far_behind_replica(cluster, chain):
    cluster.settings = DriverSettings(snapshot_every_entries=4, keep_log_entries=1)
    for i in list(cluster.drivers):  # restart everyone with the compacting settings
        cluster.crash(i)
        cluster.start(i)
    cluster.wait_for_leader()
    cluster.step(60)  # let the stake rule hand leadership to the top-stake replica
    lagging = next(i for i in cluster.drivers if i != cluster.wait_for_leader().node_id)
    cluster.crash(lagging)
    for n in range(12):  # twelve blocks while the follower is away: the leader compacts past it
        cluster.wait_for_leader().submit(make_txs(cluster, chain, 0, n, 1))
        cluster.step(3)
    leader = cluster.wait_for_leader()
    assert leader.raft_log.first_index() > 5, "the leader did not compact its log"
    follower = cluster.start(lagging)
    cluster.step(40)
    heads = cluster.heads()
    assert len({block_hash(h) for h in heads.values()}) == 1 and heads[lagging].height == 12
    assert follower.ledger.account(cluster.senders[0].address) == leader.ledger.account(cluster.senders[0].address)
    assert follower.raft_log.snapshot().metadata.index > 0
    # Catching up by snapshot skips blocks: those are read from the storage shards.
    assert follower.ledger.block(1) is None and follower.ledger.block(12) is not None
    leader.submit(make_txs(cluster, chain, 0, 12, 1))  # and it keeps following
    cluster.step(10)
    assert len({block_hash(h) for h in cluster.heads().values()}) == 1


def test_a_ledger_that_lost_its_unsynced_tail_is_reapplied_from_the_log(cluster, chain):
    """The ledger's batches are not fsync'd (the log's are): a machine crash may take the newest
    applied blocks from the ledger, and the restarted replica re-applies them from its own log."""
    cluster.wait_for_leader()
    cluster.step(60)
    victim = next(i for i in cluster.drivers if i != cluster.wait_for_leader().node_id)
    cluster.wait_for_leader().submit(make_txs(cluster, chain, 0, 0, 3))
    cluster.step(5)
    early = cluster.tmp / "ledger-early"
    Checkpoint(cluster.dbs[victim][1]).create_checkpoint(str(early))  # the ledger as the disk last had it
    for n in range(3, 9):
        cluster.wait_for_leader().submit(make_txs(cluster, chain, 0, n, 1))
        cluster.step(3)
    lost_from = cluster.drivers[victim].ledger.head.height
    cluster.crash(victim)
    shutil.rmtree(cluster.tmp / f"n{victim}" / "ledger")
    shutil.copytree(early, cluster.tmp / f"n{victim}" / "ledger")
    restarted = cluster.start(victim)
    assert restarted.ledger.head.height < lost_from
    restarted.run()  # from its own log alone: no peer has spoken to it yet
    assert restarted.ledger.head == cluster.drivers[cluster.wait_for_leader().node_id].ledger.head
    assert restarted.ledger.account(cluster.senders[0].address).nonce == 9
    assert all(restarted.ledger.block(h) is not None for h in range(1, lost_from + 1))


def test_restart_finishes_a_snapshot_install_interrupted_by_a_crash(cluster, chain):
    cluster.settings = DriverSettings(snapshot_every_entries=2, keep_log_entries=0)
    for i in list(cluster.drivers):
        cluster.crash(i)
        cluster.start(i)
    cluster.wait_for_leader()
    cluster.step(60)
    for n in range(4):
        cluster.wait_for_leader().submit(make_txs(cluster, chain, 0, n, 1))
        cluster.step(3)
    leader = cluster.wait_for_leader()
    snapshot = leader.raft_log.snapshot()
    assert snapshot.data
    victim = next(i for i in cluster.drivers if i != leader.node_id)
    cluster.crash(victim)
    # The crash hit after the snapshot reached the raft log but before the ledger installed it.
    shutil.rmtree(cluster.tmp / f"n{victim}" / "ledger")
    log_db = open_db(cluster.tmp / f"n{victim}" / "log")
    RocksRaftStorage(log_db).apply_snapshot(snapshot)
    log_db.close()
    restarted = cluster.start(victim)
    assert restarted.ledger.head.height == decode_ledger_snapshot(snapshot.data).head.height
    cluster.step(20)
    assert len({block_hash(h) for h in cluster.heads().values()}) == 1
