"""`Supervisor.resync_replica` on a real local Ray instance: a replica's folder is wiped, it is
readmitted (removed, re-added as a learner, promoted once caught up), and it ends with the same
chain as the others and keeps following it — a follower first, then the leader itself."""

from __future__ import annotations

import ray

from actors.client import NodeClient
from actors.launcher import start_node
from aurigraph.keystore import load_keypair
from aurigraph.ledger import block_hash
from aurigraph.node.config import NodeSettings
from aurigraph.node.datadir import DataDir, prepare
from tests.integration.runtime.conftest import chain_of, replica, wait_until


def converged() -> bool:
    heads = [chain_of(i)[-1].header for i in (1, 2, 3)]
    return len({block_hash(h) for h in heads}) == 1 and len({h.state_digest for h in heads}) == 1


def test_a_wiped_replica_is_resynced_and_follows_the_chain_again(tmp_path):
    data = DataDir(tmp_path)
    settings = NodeSettings(data_dir=tmp_path, replicas=3, validators=1, shards=1)
    genesis = prepare(data, settings.chain_id, settings.replicas, log=lambda *_: None)
    node = start_node(settings)
    try:
        client = NodeClient(node.ingress, genesis.chain_id, load_keypair(data.faucet_key, data.passphrase()))
        client.fund_senders(3)
        client.submit_until_final([client.make(s, client.senders[0].address) for s in client.senders for _ in range(30)])
        leader = ray.get(node.ingress.leader.remote())
        for victim in (next(i for i in (1, 2, 3) if i != leader), leader):
            sentinel = data.replica(victim) / "ledger" / "written-before-the-resync"
            sentinel.write_text("")
            result = ray.get(node.supervisor.resync_replica.remote(victim, 240), timeout=300)
            assert result["node_id"] == victim and not sentinel.exists(), "the folder was not wiped"
            view = ray.get(replica(victim).membership.remote())
            assert view["voters"] == [1, 2, 3] and view["learners"] == [] and not view["resyncing"]
            client.submit_until_final([client.make(s, client.senders[1].address) for s in client.senders])
            wait_until(converged, timeout_s=90, what=f"replica {victim} to follow the chain")
        for node_id in (1, 2, 3):  # nothing acknowledged is missing on the resynced replicas
            ids = {t.tx_id for b in chain_of(node_id) for t in b.transactions}
            assert client.acknowledged <= ids
    finally:
        node.stop()
