"""The optimizer on a real node (local Ray, RocksDB, real models): it tunes the replicas, scores
commits, swaps models under load without losing a transaction, and retrains on the node's own
data as a Ray task. (A corrupt model file: test_optimizer_fallback.py.)"""

from __future__ import annotations

import threading
import time

import pytest
import ray

from actors.client import NodeClient
from actors.launcher import start_node
from actors.supervisor import NAMESPACE, OPTIMIZER_NAME
from aurigraph.codec.consensus import decode_status
from aurigraph.codec.models import decode_json
from aurigraph.crypto import generate_keypair
from aurigraph.keystore import load_keypair
from aurigraph.node.config import NodeSettings
from aurigraph.node.datadir import DataDir, prepare
from aurigraph.node.replica import TxStatus
from tests.integration.runtime.conftest import replica, wait_until

WINDOW_MS = 100  # 300 windows (the load model's minimum to retrain) in 30 s


def knobs_of(node_id: int):
    return decode_status(ray.get(replica(node_id).status.remote())).knobs


def launch(root, **overrides):
    data = DataDir(root)
    settings = NodeSettings(data_dir=data.root, replicas=3, validators=2, shards=2, tick_ms=20, optimizer=True,
                            optimizer_window_ms=WINDOW_MS, **overrides)
    genesis = prepare(data, settings.chain_id, settings.replicas, log=lambda *_: None)
    node = start_node(settings)
    client = NodeClient(node.ingress, genesis.chain_id, load_keypair(data.faucet_key, data.passphrase()))
    return node, client, settings, ray.get_actor(OPTIMIZER_NAME, namespace=NAMESPACE)


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    node, client, settings, optimizer = launch(tmp_path_factory.mktemp("optimized"))
    yield client, settings, optimizer
    node.stop()


def test_it_serves_the_shipped_models_and_tunes_every_replica(tuned):
    client, settings, optimizer = tuned
    client.fund_senders(4)
    status = ray.get(optimizer.status.remote())
    assert status["serving"] == {"load": 1, "anomaly": 1} and status["fallback"] == {}
    defaults = settings.consensus_config(1).knobs
    # At this low load the controller proposes at once in small blocks, on every replica.
    wait_until(lambda: all(knobs_of(i).batch_wait_ms == 0 and knobs_of(i).max_batch_txs < defaults.max_batch_txs
                           for i in (1, 2, 3)), 30, "the optimizer's knobs on every replica")
    assert knobs_of(1).election_ticks * settings.tick_ms >= settings.election_floor_ms
    wait_until(lambda: ray.get(optimizer.status.remote())["scored"] >= 4, 30, "the funding transfers scored")
    assert ray.get(optimizer.status.remote())["features"]["windows"] > 0


def test_models_swap_and_retrain_under_load_without_losing_a_transaction(tuned):
    client, _, optimizer = tuned
    client.fund_senders(8)
    results: list = []
    stop = threading.Event()

    def load() -> None:
        to = generate_keypair().address
        while not stop.is_set():
            batch = [client.make(s, to) for s in client.senders for _ in range(25)]  # 200 a batch
            results.extend(zip(batch, client.submit(batch, wait=True)))

    worker = threading.Thread(target=load)
    worker.start()
    try:
        wait_until(lambda: ray.get(optimizer.status.remote())["features"]["txs"] >= 2_500, 120,
                   "enough transaction rows to train the anomaly model on")
        retrained = decode_json("retrain", ray.get(optimizer.retrain.remote("anomaly", 0, True), timeout=600))
        assert retrained["promoted"] and retrained["candidate"]["version"] == 2
        assert "f1" in retrained["candidate_metrics"]
        for _ in range(3):
            ray.get(optimizer.rollback.remote("anomaly"))
            ray.get(optimizer.promote.remote("anomaly", 2))
        try:
            wait_until(lambda: ray.get(optimizer.status.remote())["features"]["windows"] >= 320, 240,
                       "300 windows of load history")
        except AssertionError as e:
            raise AssertionError(f"{e}; optimizer status: {ray.get(optimizer.status.remote())}") from None
        load_result = decode_json("retrain", ray.get(optimizer.retrain.remote("load", 0, True), timeout=600))
        assert load_result["promoted"] and "mae_tps" in load_result["candidate_metrics"]
        ray.get(optimizer.rollback.remote("load"))
        time.sleep(1)
    finally:
        stop.set()
        worker.join()
    status = ray.get(optimizer.status.remote())
    assert status["serving"] == {"load": 1, "anomaly": 2}
    assert status["fallback"] == {}
    # Nothing lost: every transaction committed (the ones still PENDING when their wait ran out
    # were being committed: they are final now), none dropped or refused.
    assert len(results) >= 2_500
    refused = [r for _, r in results if r.status in (TxStatus.REJECTED, TxStatus.DROPPED)]
    assert not refused, refused[:3]
    late = [raw for raw, r in results if r.status != TxStatus.COMMITTED]
    client.submit_until_final(late)
    listed = decode_json("versions", ray.get(optimizer.models.remote("")))["versions"]
    assert [(v["name"], v["version"], v["serving"]) for v in listed] == [
        ("load", 1, True), ("load", 2, False), ("anomaly", 1, False), ("anomaly", 2, True)]


def test_the_python_api_for_data_scientists(tuned, tmp_path):
    """`aurigraph.ml` from a session already connected to the cluster (as a Ray client would be)."""
    import numpy as np

    from aurigraph import ml

    assert {(v["name"], v["serving"]) for v in ml.list_models()} >= {("load", True), ("anomaly", True)}
    data = ml.dataset()
    assert data["tx_X"].shape[1] == len(data["tx_features"]) and len(data["window_values"]) > 0
    counts = ml.export_dataset(tmp_path / "features.npz")
    with np.load(tmp_path / "features.npz") as saved:
        assert len(saved["tx_at_ms"]) == counts["txs"] >= len(data["tx_at_ms"])
    assert ml.status()["serving"]["anomaly"] is not None
    assert int(ml.anomalies(1, 5)["next_sequence"]) >= 1  # uint64: a string in the JSON mapping
    with pytest.raises(ValueError, match="unknown model"):
        ml.retrain("weather")
