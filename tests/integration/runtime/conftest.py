"""A real node on a real local Ray instance, and a client that drives it like a user would."""

from __future__ import annotations

import time

import pytest
import ray

from actors.client import NodeClient
from actors.launcher import start_node
from actors.supervisor import NAMESPACE, replica_name
from aurigraph.codec.blocks import decode_block_record
from aurigraph.keystore import load_keypair
from aurigraph.node.config import NodeSettings
from aurigraph.node.datadir import DataDir, prepare


def replica(node_id: int):
    return ray.get_actor(replica_name(node_id), namespace=NAMESPACE)


def chain_of(node_id: int) -> list:
    """All blocks of a replica, from height 1 up."""
    r = replica(node_id)
    height = ray.get(r.health.remote())["height"]
    return [decode_block_record(ray.get(r.get_block.remote(h)))[0] for h in range(1, height + 1)]


def wait_until(predicate, timeout_s: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except ray.exceptions.RayError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def running_node(tmp_path_factory):
    data = DataDir(tmp_path_factory.mktemp("node"))
    settings = NodeSettings(data_dir=data.root, replicas=3, validators=2, shards=2, tick_ms=20)
    genesis = prepare(data, settings.chain_id, settings.replicas, log=lambda *_: None)
    node = start_node(settings)
    client = NodeClient(node.ingress, genesis.chain_id, load_keypair(data.faucet_key, data.passphrase()))
    yield node, client, settings
    node.stop()
