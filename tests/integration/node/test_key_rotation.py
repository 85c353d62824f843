"""Validator key rotation on a live three-replica cluster (drivers on real RocksDB): the rotation
block is signed with the old key, every later block with the new one, every replica follows, a
restarted replica picks its current key from its keystore, and a leader whose new key is not on
its machine hands leadership over instead of stalling the chain."""

from __future__ import annotations

import pytest

from aurigraph.codec import sign_transaction
from aurigraph.crypto import Scheme, generate_keypair
from aurigraph.ledger import (
    ChainParams,
    Genesis,
    RotateKey,
    Transfer,
    TxBody,
    Validator,
    block_hash,
    rotation_message,
)
from aurigraph.node.replica import TxStatus
from tests.conftest import CHAIN_ID, NOW_MS
from tests.integration.node.test_replica_driver import Cluster


@pytest.fixture
def cluster(tmp_path):
    keys = {i: generate_keypair(Scheme.HYBRID) for i in (1, 2, 3)}
    admin = generate_keypair()
    senders = [generate_keypair() for _ in range(3)]
    genesis = Genesis(CHAIN_ID, NOW_MS - 1000, tuple((s.address, 10**9) for s in [admin, *senders]),
                      tuple(Validator(i, k.scheme, k.public_key, 10 * i) for i, k in keys.items()), ChainParams(),
                      admins=(admin.address,))
    c = Cluster(tmp_path, genesis, keys, senders)
    c.admin, c.nonces = admin, {}
    for i in keys:
        c.start(i)
    c.wait_for_leader()
    c.step(100)  # let stake-weighted leadership settle (it moves to the highest stake)
    yield c
    for i in list(c.drivers):
        c.crash(i)


def signed(cluster, key, kind):
    nonce = cluster.nonces.get(key.address, 0)
    cluster.nonces[key.address] = nonce + 1
    return sign_transaction(TxBody(CHAIN_ID, key.address, nonce, 1, NOW_MS, kind), key)


def commit(cluster, txs, steps=20):
    leader = cluster.wait_for_leader()
    leader.submit(txs)
    cluster.step(steps)
    statuses = [cluster.outcomes[t.tx_id].status for t in txs]
    assert statuses == [TxStatus.COMMITTED] * len(txs), [cluster.outcomes[t.tx_id] for t in txs]
    heads = cluster.heads()
    assert len({block_hash(h) for h in heads.values()}) == 1, "replicas disagree"
    return cluster.acknowledged[txs[-1].tx_id].receipt.height


def rotate(cluster, validator_id, new_key):
    proof = new_key.sign(rotation_message(CHAIN_ID, validator_id, new_key.public_key))
    return signed(cluster, cluster.admin, RotateKey(validator_id, new_key.scheme, new_key.public_key, proof))


def proposer_of(cluster, height):
    block = next(iter(cluster.drivers.values())).ledger.block(height)
    return block.block.header.proposer if hasattr(block, "block") else block.header.proposer


def transfer(cluster, i=0):
    return signed(cluster, cluster.senders[i], Transfer(cluster.senders[(i + 1) % 3].address, 1))


def test_rotating_the_leaders_key_without_stopping_the_chain(cluster):
    leader = cluster.wait_for_leader()
    lid = leader.node_id
    new = generate_keypair(Scheme.HYBRID)
    cluster.held[lid] = [new]  # the operator created the new key in the leader's keystore first
    height = commit(cluster, [rotate(cluster, lid, new)])
    assert proposer_of(cluster, height) == cluster.keys[lid].address, "the rotation block is signed with the old key"
    for d in cluster.drivers.values():
        assert d._keys[lid].public_key == new.public_key
    assert leader.node_key.public_key == new.public_key
    height = commit(cluster, [transfer(cluster)])
    assert cluster.leader() is leader and proposer_of(cluster, height) == new.address

    # A restart offers the genesis key; the replica finds its current key in the keystore.
    cluster.crash(lid)
    restarted = cluster.start(lid)
    assert restarted.node_key.public_key == new.public_key
    commit(cluster, [transfer(cluster, 1)], steps=60)


def test_a_leader_without_its_new_key_steps_down_and_the_chain_goes_on(cluster):
    leader = cluster.wait_for_leader()
    lid = leader.node_id
    new = generate_keypair(Scheme.HYBRID)  # created somewhere else: not in this replica's keystore
    commit(cluster, [rotate(cluster, lid, new)])
    assert not leader.holds_current_key
    cluster.step(60)
    successor = cluster.wait_for_leader()
    assert successor.node_id != lid
    height = commit(cluster, [transfer(cluster)])
    assert proposer_of(cluster, height) == cluster.keys[successor.node_id].address
    # Its key arrives (restart with the key in its keystore): it can lead again.
    cluster.held[lid] = [new]
    cluster.crash(lid)
    assert cluster.start(lid).holds_current_key
    commit(cluster, [transfer(cluster, 2)], steps=60)


def test_a_follower_rotation_and_a_bad_rotation(cluster):
    leader = cluster.wait_for_leader()
    fid = next(i for i in cluster.drivers if i != leader.node_id)
    new = generate_keypair(Scheme.HYBRID)
    cluster.held[fid] = [new]
    commit(cluster, [rotate(cluster, fid, new)])
    assert cluster.drivers[fid].node_key.public_key == new.public_key
    # A rotation with a proof from another key is refused; the validator keeps its key.
    impostor = generate_keypair(Scheme.HYBRID)
    bad = signed(cluster, cluster.admin, RotateKey(fid, impostor.scheme, impostor.public_key,
                                                   new.sign(rotation_message(CHAIN_ID, fid, impostor.public_key))))
    cluster.wait_for_leader().submit([bad])
    cluster.step(20)
    assert cluster.outcomes[bad.tx_id].status is TxStatus.REJECTED
    assert cluster.drivers[fid].node_key.public_key == new.public_key


def test_a_keyless_leader_steps_down_even_when_the_next_in_stake_is_down(cluster):
    leader = cluster.wait_for_leader()
    lid = leader.node_id
    others = sorted(i for i in cluster.drivers if i != lid)
    cluster.crash(others[-1])  # the voter a hand-over would have picked
    commit(cluster, [rotate(cluster, lid, generate_keypair(Scheme.HYBRID))], steps=40)
    cluster.step(80)
    successor = cluster.wait_for_leader()
    assert successor.node_id == others[0], "the keyless leader must step down, not wait for a dead voter"
    commit(cluster, [transfer(cluster)], steps=60)


def test_a_replica_without_its_current_key_still_starts_votes_and_replicates(cluster):
    leader = cluster.wait_for_leader()
    fid = next(i for i in cluster.drivers if i != leader.node_id)
    commit(cluster, [rotate(cluster, fid, generate_keypair(Scheme.HYBRID))])  # the key is made elsewhere
    cluster.crash(fid)
    restarted = cluster.start(fid)  # its genesis key is offered, its current key is nowhere
    assert not restarted.holds_current_key
    height = commit(cluster, [transfer(cluster)], steps=60)
    assert restarted.ledger.head.height == height


class FailingKeystore:
    def __iter__(self):
        raise OSError("HSM session lost")


def test_a_failing_keystore_during_a_rotation_does_not_wedge_the_replica(cluster):
    leader = cluster.wait_for_leader()
    fid = next(i for i in cluster.drivers if i != leader.node_id)
    cluster.held[fid] = FailingKeystore()
    commit(cluster, [rotate(cluster, fid, generate_keypair(Scheme.HYBRID))])
    assert not cluster.drivers[fid].holds_current_key
    height = commit(cluster, [transfer(cluster), transfer(cluster, 1)], steps=40)
    assert cluster.drivers[fid].ledger.head.height == height, "it applies blocks as before"
