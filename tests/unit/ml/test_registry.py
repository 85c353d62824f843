"""The model registry: versions, promotion, rollback, and refusing corrupt artifacts."""

from __future__ import annotations

import json

import numpy as np
import pytest

from aurigraph.ml.forward import DenseNet
from aurigraph.ml.registry import ModelRegistry, ModelUnavailable, UnknownVersion


def net(bias: float = 0.0) -> bytes:
    """A tiny, valid load-model artifact whose output differs by `bias`."""
    layers = [(np.eye(8, 3, dtype=np.float32), np.full(3, bias, np.float32), "linear")]
    return DenseNet(layers, np.zeros(8), np.ones(8),
                    params={"kind": "load", "lookback": 8, "horizon": 3, "space": "log1p"}).to_bytes()


@pytest.fixture
def registry(tmp_path) -> ModelRegistry:
    return ModelRegistry(tmp_path / "models")


def artifact_path(registry: ModelRegistry, version: int):
    return registry.root / "load" / "versions" / f"{version:06d}" / "model.npz"


def test_versions_are_numbered_and_kept_with_their_metadata(registry):
    v1 = registry.register("load", net(0), metrics={"mae_tps": 50.0}, data_window={"rows": 100}, source="shipped")
    v2 = registry.register("load", net(1), metrics={"mae_tps": 40.0}, data_window={"rows": 200}, source="retrain")
    assert (v1.version, v2.version) == (1, 2)
    assert [v.metrics["mae_tps"] for v in registry.versions("load")] == [50.0, 40.0]
    assert registry.versions("anomaly") == []
    assert registry.serving("load") is None  # registered is not serving
    meta = json.loads((artifact_path(registry, 2).parent / "meta.json").read_text())
    assert meta["checksum"] == v2.checksum and meta["data_window"] == {"rows": 200} and meta["code_version"]


def test_promote_and_rollback_walk_the_serving_history(registry):
    for bias in (0, 1, 2):
        registry.register("load", net(bias), metrics={}, data_window={}, source="retrain")
    registry.promote("load", 1)
    registry.promote("load", 3)
    assert registry.serving("load").version == 3
    assert registry.load("load")[1].layers[0][1][0] == 2.0  # v3's weights
    assert registry.rollback("load").version == 1
    assert registry.serving("load").version == 1
    with pytest.raises(ValueError, match="nothing to roll back to"):
        registry.rollback("load")
    registry.promote("load", 1)  # already serving: no duplicate history entry
    with pytest.raises(ValueError, match="nothing to roll back to"):
        registry.rollback("load")


def test_unknown_models_and_versions_are_refused(registry):
    with pytest.raises(ValueError, match="unknown model"):
        registry.versions("weather")
    with pytest.raises(UnknownVersion):
        registry.promote("load", 7)
    with pytest.raises(ModelUnavailable, match="no serving version"):
        registry.load("load")


def test_an_undecodable_artifact_is_never_registered(registry):
    with pytest.raises(ValueError):
        registry.register("load", b"not a model", metrics={}, data_window={}, source="retrain")
    assert registry.versions("load") == []


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete"])
def test_a_corrupt_or_missing_artifact_is_detected_on_load(registry, damage):
    registry.promote("load", registry.register("load", net(), metrics={}, data_window={}, source="x").version)
    path = artifact_path(registry, 1)
    data = path.read_bytes()
    if damage == "flip":
        path.write_bytes(data[:100] + bytes([data[100] ^ 1]) + data[101:])
    elif damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    else:
        path.unlink()
    with pytest.raises(ModelUnavailable, match=r"corrupt|cannot read"):
        registry.load("load")


def test_promoting_a_corrupt_version_keeps_the_serving_one(registry):
    registry.promote("load", registry.register("load", net(0), metrics={}, data_window={}, source="x").version)
    registry.register("load", net(1), metrics={}, data_window={}, source="x")
    artifact_path(registry, 2).write_bytes(b"garbage")
    with pytest.raises(ModelUnavailable):
        registry.promote("load", 2)
    assert registry.serving("load").version == 1


def test_an_interrupted_registration_leaves_no_version(registry):
    registry.register("load", net(), metrics={}, data_window={}, source="x")
    staging = registry.root / "load" / "versions" / ".staging-crashed"
    staging.mkdir()
    (staging / "model.npz").write_bytes(net(5))  # a crash before the rename
    assert [v.version for v in registry.versions("load")] == [1]
    assert registry.register("load", net(1), metrics={}, data_window={}, source="x").version == 2


def test_seeding_from_shipped_artifacts_happens_once(registry, tmp_path):
    shipped = tmp_path / "shipped" / "load"
    shipped.mkdir(parents=True)
    (shipped / "model.npz").write_bytes(net())
    (shipped / "meta.json").write_text(json.dumps({"metrics": {"mae_tps": 9.0}, "data_window": {"rows": 5}}))
    added = registry.seed_from(tmp_path / "shipped")
    assert [(v.name, v.version, v.source) for v in added] == [("load", 1, "shipped")]
    assert registry.serving("load").metrics == {"mae_tps": 9.0}
    assert registry.seed_from(tmp_path / "shipped") == []  # a registry with versions is left alone
