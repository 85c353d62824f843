"""The model artifacts shipped in `models/artifacts` are what a node seeds its registry with: they
must decode, fit the features and windows the node feeds them, and survive the registry round trip."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from aurigraph.ml.anomaly import AnomalyScorer
from aurigraph.ml.features import TX_FEATURES
from aurigraph.ml.forward import DenseNet
from aurigraph.ml.predictor import predict_rates
from aurigraph.ml.registry import MODEL_NAMES, ModelRegistry

# Where the optimizer actor seeds from (actors.optimizer.SHIPPED_MODELS).
SHIPPED = Path(__file__).resolve().parents[3] / "models" / "artifacts"
MAX_ARTIFACT_BYTES = 64 * 1024  # checked into git: keep them small


def _net(name: str) -> DenseNet:
    return DenseNet.from_bytes((SHIPPED / name / "model.npz").read_bytes())


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_each_model_ships_a_small_artifact_and_its_metadata(name):
    assert (SHIPPED / name / "model.npz").stat().st_size < MAX_ARTIFACT_BYTES
    meta = json.loads((SHIPPED / name / "meta.json").read_text())
    metrics = meta["metrics"]
    assert metrics and all(isinstance(v, int | float) and math.isfinite(v) for v in metrics.values())
    assert meta["data_window"]["rows"] > 0 and {"since_ms", "until_ms"} <= meta["data_window"].keys()
    assert meta["source"].startswith("synthetic") and meta["trained_by"] == "python -m models.bootstrap"


def test_the_load_model_forecasts_from_a_lookback_window():
    net = _net("load")
    assert net.params == {"kind": "load", "lookback": 8, "horizon": 3, "space": "log1p"}
    assert net.input_dim == net.params["lookback"] and net.output_dim == net.params["horizon"]
    forecast = predict_rates(net, np.full(net.params["lookback"], 500.0))
    assert forecast.shape == (3,) and np.all(np.isfinite(forecast)) and np.all(forecast >= 0)


def test_the_anomaly_model_reads_tx_features_and_carries_a_threshold():
    net = _net("anomaly")
    assert net.params["kind"] == "anomaly" and net.params["features"] == list(TX_FEATURES)
    assert net.input_dim == net.output_dim == len(TX_FEATURES)
    scorer = AnomalyScorer(net)
    assert 0 < scorer.threshold == net.params["threshold"]
    assert scorer.flags(np.zeros((2, len(TX_FEATURES)), dtype=np.float32)).shape == (2,)


def test_a_registry_seeded_from_them_serves_them(tmp_path):
    registry = ModelRegistry(tmp_path / "models")
    added = registry.seed_from(SHIPPED)
    assert sorted(v.name for v in added) == sorted(MODEL_NAMES)
    for name in MODEL_NAMES:
        version, net = registry.load(name)
        assert version.source == "shipped" and version.version == 1
        assert version.metrics == json.loads((SHIPPED / name / "meta.json").read_text())["metrics"]
        assert net.to_bytes() == _net(name).to_bytes()
    assert registry.seed_from(SHIPPED) == []  # a registry that has versions is left alone
