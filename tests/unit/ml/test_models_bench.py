"""A tiny run of the models benchmark: every key is there and the quality metrics are proportions.
Timings are reported, never asserted."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from aurigraph.bench import models
from aurigraph.ml.anomaly import AnomalyScorer
from aurigraph.ml.forward import DenseNet
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
        # The baseline computes the same function, or its timings would mean nothing. Bit-equal flags
        # are not that: a row within float32 rounding of the threshold may go either way on some CPU.
        keras = result["keras"]
        assert keras["flag_disagreements"] == 0 and keras["max_abs_diff"] < 1e-3, keras
        assert result["latency"]["load_decision"]["numpy_over_keras_p99"] > 0
    json.dumps(result)  # written as the JSON result
    table = models.format_result(result)
    assert "model" in table and "rules" in table and "load decision" in table


def test_flags_disagree_only_away_from_the_threshold():
    # A logistic net on one feature: the score is sigmoid(x), the threshold 0.5.
    net = DenseNet([(np.ones((1, 1)), np.zeros(1), "sigmoid")], np.zeros(1), np.ones(1),
                   params={"kind": "anomaly", "scoring": "probability", "threshold": 0.5})
    scorer = AnomalyScorer(net)
    rows = np.array([[-1.0], [2e-4], [1.0]], dtype=np.float32)  # scores 0.269, 0.50005, 0.731
    assert models._flag_agreement(scorer, rows, net(rows)) == {
        "same_flags": True, "flag_disagreements": 0, "near_threshold_rows": 1, "flag_tolerance": 1e-4}
    # Row 1 scores just under 0.5 there, within the tolerance: excused. Row 2 is flagged differently
    # far from the threshold: a disagreement.
    other = np.array([[0.2689], [0.49995], [0.2]], dtype=np.float32)
    assert models._flag_agreement(scorer, rows, other) == {
        "same_flags": False, "flag_disagreements": 1, "near_threshold_rows": 1, "flag_tolerance": 1e-4}


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
