"""A tiny run of the models benchmark: every key is there and the quality metrics are proportions.
Timings are reported, never asserted."""

from __future__ import annotations

import json
import sys

import pytest

from aurigraph.bench import models
from aurigraph.ml.synthetic import PATTERNS

TIMED = ("load_decision", "block_scoring", "feature_extraction")


def _tiny(**kwargs) -> dict:
    return models.run(3, 2000, lambda _: None, decision_reps=20, block_reps=5, extract_reps=2, **kwargs)


@pytest.fixture(scope="module")
def result():
    return _tiny()


def test_detection_metrics_are_proportions_for_model_and_rules(result):
    assert result["txs"] == 2000 and result["anomalies"] == 100 and result["block_txs"] == 1000
    for side in ("model", "rules"):
        quality = result["detection"][side]
        values = [quality[k] for k in ("precision", "recall", "f1", "normal_flagged")]
        values += [quality["recall_by_pattern"][p] for p in PATTERNS]
        assert all(0.0 <= v <= 1.0 for v in values), quality


def test_latencies_and_the_baseline_are_reported(result):
    for name in TIMED:
        entry = result["latency"][name]
        assert entry["numpy"]["p50_us"] > 0 and entry["numpy"]["p99_us"] >= entry["numpy"]["p50_us"]
    assert result["latency"]["block_scoring"]["numpy"]["p50_per_tx_us"] > 0
    assert result["latency"]["feature_extraction"]["keras"] is None  # no model there, no baseline
    assert result["meets_target"].keys() == {"load_decision", "block_scoring"}
    if result["keras"]["available"]:
        # The baseline computes the same function, or its timings would mean nothing.
        assert result["keras"]["same_flags"] and result["keras"]["max_abs_diff"] < 1e-3
        assert result["latency"]["load_decision"]["numpy_over_keras_p99"] > 0
    json.dumps(result)  # written as the JSON result
    table = models.format_result(result)
    assert "model" in table and "rules" in table and "load decision" in table


def test_without_the_keras_baseline_it_is_reported_unavailable():
    result = _tiny(with_keras=False)
    assert result["keras"] == {"available": False, "method": "predict_on_batch", "reason": "not asked for"}
    assert all(result["latency"][name]["keras"] is None for name in TIMED)
    assert "unavailable" in models.format_result(result)


def test_without_tensorflow_the_baseline_is_unavailable_not_an_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "keras", None)  # `import keras` now raises ImportError
    result = _tiny()
    assert not result["keras"]["available"] and "keras" in result["keras"]["reason"]
    assert result["latency"]["load_decision"]["keras"] is None
