"""`Supervisor.resync_replica` on a real local Ray instance: a replica's folder is wiped, it is
readmitted (removed, re-added as a learner, promoted once caught up), and it ends with the same
chain as the others and keeps following it — a follower first, then the leader itself. The log is
compacted after a few entries, so the wiped replica catches up by the leader's snapshot sent
through Ray (it holds no blocks below it), then the log tail."""

from __future__ import annotations

import ray

from actors.client import NodeClient
from actors.launcher import start_node
from aurigraph.codec.blocks import index_block_record
from aurigraph.keystore import load_keypair
from aurigraph.ledger import AdminNote
from aurigraph.node.config import NodeSettings
from aurigraph.node.datadir import DataDir, prepare
from tests.integration.runtime.conftest import chain_of, replica, wait_until


def head_of(node_id: int) -> tuple[int, bytes] | None:
    """A replica's applied height and the hash of its block there (None while it lacks it)."""
    r = replica(node_id)
    height = ray.get(r.health.remote())["height"]
    record = ray.get(r.get_block.remote(height))
    return None if record is None else (height, index_block_record(record).hash)


def converged() -> bool:
    heads = [head_of(i) for i in (1, 2, 3)]
    return None not in heads and len(set(heads)) == 1


def test_a_wiped_replica_is_resynced_by_snapshot_and_follows_the_chain_again(tmp_path):
    data = DataDir(tmp_path)
    settings = NodeSettings(data_dir=tmp_path, replicas=3, validators=1, shards=1, max_batch_txs=10,
                            snapshot_every_entries=4, keep_log_entries=1)
    genesis = prepare(data, settings.chain_id, settings.replicas, log=lambda *_: None)
    node = start_node(settings)
    try:
        client = NodeClient(node.ingress, genesis.chain_id, load_keypair(data.faucet_key, data.passphrase()))
        client.fund_senders(3)
        client.submit_until_final([client.make(s, client.senders[0].address) for s in client.senders for _ in range(30)])
        # Asked of the replicas now: right after a burst one may be slow to answer (no leader known
        # for a moment), so wait until one is.
        seen = [None]
        wait_until(lambda: seen.append(ray.get(node.ingress.leader.remote())) or seen[-1] is not None,
                   timeout_s=60, what="a known leader")
        leader = seen[-1]
        victims = (next(i for i in (1, 2, 3) if i != leader), leader)
        for victim in victims:
            sentinel = data.replica(victim) / "ledger" / "written-before-the-resync"
            sentinel.write_text("")
            result = ray.get(node.supervisor.resync_replica.remote(victim, 240), timeout=300)
            assert result["node_id"] == victim and not sentinel.exists(), "the folder was not wiped"
            view = ray.get(replica(victim).membership.remote())
            assert view["voters"] == [1, 2, 3] and view["learners"] == [] and not view["resyncing"]
            client.submit_until_final([client.make(s, client.senders[1].address) for s in client.senders])
            wait_until(converged, timeout_s=90, what=f"replica {victim} to follow the chain")
            assert ray.get(replica(victim).get_block.remote(1)) is None, "caught up by snapshot, not by replay"
        keeper = next(i for i in (1, 2, 3) if i not in victims)  # the same head as the resynced ones, and
        chain = chain_of(keeper)  # every block from height 1
        ids = {t.tx_id for b in chain for t in b.transactions}
        assert client.acknowledged <= ids, "nothing acknowledged is missing"
        # Each resync was recorded on chain first, signed by the chain's admin key (audit trail).
        notes = [t for b in chain for t in b.transactions if isinstance(t.body.kind, AdminNote)]
        assert [(n.body.kind.kind, n.body.sender) for n in notes] == [("membership", genesis.admins[0])] * 2
        assert [f"resync replica {v}:" in n.body.kind.detail for n, v in zip(notes, victims)] == [True, True]
    finally:
        node.stop()
