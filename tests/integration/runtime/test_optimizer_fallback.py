"""A node whose model files are damaged still runs: the optimizer keeps the fixed batching
settings, does not score, and says why; a good version promoted later is served."""

from __future__ import annotations

import ray

from actors.optimizer import SHIPPED_MODELS as SHIPPED
from aurigraph.ml.registry import ModelRegistry
from aurigraph.node.datadir import DataDir
from tests.integration.runtime.conftest import wait_until
from tests.integration.runtime.test_optimizer import knobs_of, launch


def test_a_corrupt_model_file_falls_back_to_the_fixed_settings(tmp_path):
    registry = ModelRegistry(DataDir(tmp_path).models)
    registry.seed_from(SHIPPED)
    for name in ("load", "anomaly"):
        path = registry.root / name / "versions" / "000001" / "model.npz"
        path.write_bytes(path.read_bytes()[:200])  # a torn write
    node, client, settings, optimizer = launch(tmp_path)
    try:
        status = ray.get(optimizer.status.remote())
        assert status["serving"] == {"load": None, "anomaly": None}
        assert "corrupt" in status["fallback"]["load"] and "corrupt" in status["fallback"]["anomaly"]
        client.fund_senders(2)  # the node commits as ever
        defaults = settings.consensus_config(1).knobs
        wait_until(lambda: ray.get(optimizer.status.remote())["features"]["windows"] > 5, 30, "a few rounds")
        knobs = knobs_of(1)
        assert (knobs.max_batch_txs, knobs.batch_wait_ms, knobs.max_inflight_appends) == (
            defaults.max_batch_txs, defaults.batch_wait_ms, defaults.max_inflight_appends)
        assert ray.get(optimizer.status.remote())["scored"] == 0
        # An operator registers a good artifact again and promotes it: served without a restart.
        good = (SHIPPED / "load" / "model.npz").read_bytes()
        version = registry.register("load", good, metrics={}, data_window={}, source="manual")
        ray.get(optimizer.promote.remote("load", version.version))
        assert ray.get(optimizer.status.remote())["serving"]["load"] == version.version
    finally:
        node.stop()
