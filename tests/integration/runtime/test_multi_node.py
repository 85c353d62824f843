"""Several Ray nodes on one machine (`ray.cluster_utils.Cluster`): replicas are spread over
different Ray nodes, and the ledger keeps committing when one Ray node is removed."""

from __future__ import annotations

import ray
from ray.cluster_utils import Cluster

from actors.client import NodeClient
from actors.launcher import start_node
from aurigraph.keystore import load_keypair
from aurigraph.node.config import NodeSettings
from aurigraph.node.datadir import DataDir, prepare
from tests.integration.runtime.conftest import replica, wait_until


def test_replicas_spread_over_ray_nodes_and_survive_losing_one(tmp_path):
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    workers = [cluster.add_node(num_cpus=1) for _ in range(2)]
    cluster.wait_for_nodes()
    node = None
    try:
        data = DataDir(tmp_path)
        settings = NodeSettings(data_dir=tmp_path, replicas=3, validators=1, shards=1, tick_ms=20)
        genesis = prepare(data, settings.chain_id, settings.replicas, log=lambda *_: None)
        ray.init(address=cluster.address, namespace="aurigraph")
        node = start_node(settings)
        placement = {i: ray.get(replica(i).health.remote())["ray_node"] for i in (1, 2, 3)}
        assert len(set(placement.values())) == 3, f"replicas share Ray nodes: {placement}"
        # Everything is owned by the supervisor, so it must live on the node that cannot go away alone.
        assert ray.get(node.supervisor.topology.remote())["ray_node"] == cluster.head_node.node_id

        client = NodeClient(node.ingress, genesis.chain_id, load_keypair(data.faucet_key, data.passphrase()))
        client.fund_senders(2)
        worker_ids = {w.node_id: w for w in workers}
        leader = ray.get(node.ingress.leader.remote())
        shard_node = ray.get(ray.get_actor("aurigraph-shard-0", namespace="aurigraph").ray_node.remote())
        candidates = [i for i, ray_node in placement.items() if ray_node in worker_ids and i != leader]
        # Prefer taking the shard down too: the leader must keep committing while a shard is away.
        victim = next((i for i in candidates if placement[i] == shard_node), candidates[0])
        cluster.remove_node(worker_ids[placement[victim]])
        try:
            client.submit_until_final([client.make(s, client.senders[0].address) for s in client.senders
                                       for _ in range(20)])
        except TimeoutError as e:
            raise AssertionError(f"{e}; placement {placement}, removed replica {victim} (leader was {leader}, "
                                 f"shard on {shard_node}); health {_health_report(node)}") from None
        assert len(client.acknowledged) == 42
        # The lost replica is restarted by Ray on a surviving node and catches up from its disk + the leader.
        wait_until(lambda: ray.get(replica(victim).health.remote())["height"]
                   == ray.get(replica(leader).health.remote())["height"], timeout_s=120, what="the moved replica")
    finally:
        if node is not None:
            node.stop()
        ray.shutdown()
        cluster.shutdown()


def _health_report(node) -> dict:
    """What each actor looks like now, for a failure message."""
    report = {}
    try:
        report["supervisor"] = ray.get(node.supervisor.topology.remote(), timeout=10)
    except (ray.exceptions.RayError, TimeoutError) as e:
        report["supervisor"] = type(e).__name__
    for i in (1, 2, 3):
        try:
            report[f"replica-{i}"] = ray.get(replica(i).health.remote(), timeout=3)
        except (ray.exceptions.RayError, TimeoutError) as e:
            report[f"replica-{i}"] = type(e).__name__
    return report
