"""The node on a real local Ray instance: transactions flow into blocks all replicas agree on, and
killing the leader or a follower loses no committed transaction and duplicates none."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import ray

from aurigraph.ledger import Rejection, block_hash
from aurigraph.node.replica import TxStatus
from aurigraph.v1 import consensus_pb2
from tests.integration.runtime.conftest import chain_of, replica, wait_until


def heights():
    return {i: ray.get(replica(i).health.remote())["height"] for i in (1, 2, 3)}


def converged() -> bool:
    h = heights()
    return len(set(h.values())) == 1


def test_transactions_flow_into_blocks_every_replica_agrees_on(running_node):
    _node, client, settings = running_node
    client.fund_senders(4)
    wire = [client.make(s, client.senders[0].address) for s in client.senders for _ in range(50)]
    results = client.submit([*wire, b"\x0a\x03abc"])
    assert [r.status for r in results[:-1]] == [TxStatus.COMMITTED] * len(wire)
    assert results[-1].status == TxStatus.REJECTED and results[-1].reason == Rejection.MALFORMED
    client.acknowledged.update(r.tx_id for r in results[:-1])
    wait_until(converged, what="replicas to converge")
    chains = [chain_of(i) for i in (1, 2, 3)]
    assert [block_hash(b.header) for b in chains[0]] == [block_hash(b.header) for b in chains[1]] == \
           [block_hash(b.header) for b in chains[2]]
    assert len({c[-1].header.state_digest for c in chains}) == 1
    # The leader archived every block in its shard.
    shards = [ray.get_actor(f"aurigraph-shard-{i}", namespace="aurigraph") for i in range(settings.shards)]
    last = chains[0][-1].header.height
    wait_until(lambda: max(ray.get([s.latest_height.remote() for s in shards])) == last, what="archiving")
    tx = results[0].tx_id
    records = [ray.get(s.get_transaction.remote(tx)) for s in shards]
    assert sum(r is not None for r in records) == 1


def _assert_each_acknowledged_once(client) -> None:
    wait_until(converged, timeout_s=90, what="replicas to converge")
    for node_id in (1, 2, 3):
        ids = [t.tx_id for b in chain_of(node_id) for t in b.transactions]
        assert len(ids) == len(set(ids)), f"replica {node_id} holds a transaction twice"
        missing = client.acknowledged - set(ids)
        assert not missing, f"replica {node_id} lost {len(missing)} acknowledged transactions"


def _load(client, stop: threading.Event, errors: list) -> None:
    try:
        while not stop.is_set():
            wire = [client.make(s, client.senders[-1].address) for s in client.senders[:3] for _ in range(20)]
            client.submit_until_final(wire)
    except Exception as e:  # noqa: BLE001 - anything the load thread hits fails the test (`assert not errors`)
        errors.append(e)


def test_leader_killed_under_load_loses_and_duplicates_nothing(running_node):
    node, client, _ = running_node
    if not client.senders:
        client.fund_senders(4)
    stop, errors = threading.Event(), []
    loader = threading.Thread(target=_load, args=(client, stop, errors))
    loader.start()
    time.sleep(2)
    old_leader = ray.get(node.ingress.leader.remote())
    acknowledged_before = len(client.acknowledged)
    ray.kill(replica(old_leader), no_restart=False)  # Ray restarts it from its own disk
    wait_until(lambda: (ray.get(node.ingress.leader.remote()) or old_leader) != old_leader, what="a new leader")
    time.sleep(3)
    stop.set()
    loader.join(timeout=120)
    assert not errors, errors
    assert len(client.acknowledged) > acknowledged_before, "no progress after the leader was killed"
    _assert_each_acknowledged_once(client)


def test_follower_killed_and_restarted_catches_up(running_node):
    node, client, _ = running_node
    if not client.senders:
        client.fund_senders(4)
    leader = ray.get(node.ingress.leader.remote())
    follower = next(i for i in (1, 2, 3) if i != leader)
    ray.kill(replica(follower), no_restart=False)
    client.submit_until_final([client.make(s, client.senders[0].address) for s in client.senders for _ in range(30)])
    wait_until(lambda: ray.get(replica(follower).health.remote())["height"] == heights()[leader], timeout_s=90,
               what="the restarted follower to catch up")
    _assert_each_acknowledged_once(client)


def test_status_reports_leader_term_and_height(running_node):
    node, _client, _ = running_node
    leader = ray.get(node.ingress.leader.remote())
    status = consensus_pb2.ConsensusStatus.FromString(ray.get(replica(leader).status.remote()))
    assert status.leader_id == leader and status.term >= 1
    assert status.height == ray.get(replica(leader).health.remote())["height"]
    assert status.commit_index >= status.height and len(status.replicas) == 3
    assert status.knobs.max_batch_txs == 10_000


@ray.remote(num_cpus=0)
class UnresponsiveShard:
    """Stands in for a shard Ray is restarting: calls to it do not return."""

    async def latest_height(self) -> int:
        await asyncio.sleep(3600)
        return -1

    async def archive(self, record: bytes) -> int:
        await asyncio.sleep(3600)
        return -1


def test_an_unresponsive_shard_never_stalls_consensus(running_node):
    """Runs last in this module: it rewires the replicas to a shard that never answers."""
    node, client, _settings = running_node
    if not client.senders:
        client.fund_senders(4)
    stuck = UnresponsiveShard.remote()
    replicas = {i: replica(i) for i in (1, 2, 3)}
    ray.get([r.connect.remote(replicas, [stuck]) for r in replicas.values()])
    old_leader = ray.get(node.ingress.leader.remote())
    ray.kill(replica(old_leader), no_restart=False)  # the next leader must ask the shards where to resume
    client.submit_until_final([client.make(s, client.senders[0].address) for s in client.senders for _ in range(10)],
                              deadline_s=60)


def test_actors_export_their_metrics_to_rays_metrics_endpoint(running_node):
    """Ray's own Prometheus endpoint (what a cluster's Prometheus scrapes) carries the actors'
    metrics, next to the gateway's /v11/metrics (tested end to end)."""
    port = ray._private.worker.global_worker.node.metrics_export_port
    found: dict = {}

    def exported() -> bool:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        found.update({name: name in text for name in ("aurigraph_replica_height", "aurigraph_replica_leader",
                                                      "aurigraph_replica_pending_transactions", "aurigraph_actor_up",
                                                      "aurigraph_validator_transactions")})
        return all(found.values())
    wait_until(exported, 60, f"actor metrics on Ray's endpoint (:{port}): {found}")
