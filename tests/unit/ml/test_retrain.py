"""A retrain trains a candidate, judges it against the serving model on the same data, and says why.

Each retrain is trained once per module (a few seconds on two cores) and shared by the tests.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from aurigraph.ml.anomaly import precision_recall
from aurigraph.ml.features import TX_FEATURES, TxFeatureExtractor
from aurigraph.ml.forward import DenseNet
from aurigraph.ml.synthetic import labelled_transactions, training_rates
from models import retrain as retrain_module
from models.retrain import retrain

WINDOWS = 600


def _rates() -> np.ndarray:
    return training_rates(seed=1, windows=WINDOWS).astype(np.float64)


def _always_idle_load_net() -> DenseNet:
    """A well-formed load model that forecasts about 1 tx/s whatever it sees: deliberately bad."""
    params = {"kind": "load", "lookback": 8, "horizon": 3, "space": "log1p"}
    return DenseNet([(np.zeros((8, 3)), np.zeros(3), "linear")], np.zeros(8), np.ones(8),
                    np.full(3, np.log1p(1.0)), np.ones(3), params)


@pytest.fixture(scope="module")
def load_against_bad():
    return retrain("load", {"rates": _rates()}, _always_idle_load_net().to_bytes(), seed=0)


@pytest.fixture(scope="module")
def load_alone():
    return retrain("load", {"rates": _rates()}, None, seed=0)


@pytest.fixture(scope="module")
def anomaly_against_shipped():
    labelled = labelled_transactions(seed=1, n=3000)
    x = TxFeatureExtractor().extract(labelled.txs, labelled.at_ms)[~labelled.labels]
    from aurigraph.bench.models import SHIPPED_MODELS

    serving = (SHIPPED_MODELS / "anomaly" / "model.npz").read_bytes()
    return retrain("anomaly", {"X": x}, serving, seed=0)


def test_load_candidate_beats_a_bad_serving_model_on_the_same_holdout(load_against_bad):
    result = load_against_bad
    assert result["better"] is True
    assert result["candidate"]["mae_tps"] < result["serving"]["mae_tps"]
    # Same rates, same lookback and horizon: the two were scored on exactly the same samples.
    assert result["candidate"]["holdout_samples"] == result["serving"]["holdout_samples"]
    assert "vs serving" in result["reason"] and result["reason"].endswith(": better")
    net = DenseNet.from_bytes(result["artifact"])
    assert net.params == {"kind": "load", "lookback": 8, "horizon": 3, "space": "log1p"}


def test_load_without_a_serving_model_is_better_and_says_so(load_alone):
    assert load_alone["better"] is True and load_alone["serving"] == {}
    assert "no serving model" in load_alone["reason"]
    assert all(isinstance(v, int | float) for v in load_alone["candidate"].values())


def test_same_seed_same_candidate(load_alone, load_against_bad):
    assert load_alone["artifact"] == load_against_bad["artifact"]


def test_an_undecodable_serving_artifact_counts_as_none(monkeypatch):
    # The verdict is what is under test, not the fit: keep training to its floor of epochs.
    monkeypatch.setattr(retrain_module, "LOAD_STEP_BUDGET", 1)
    result = retrain("load", {"rates": _rates()[:400]}, b"not a model", seed=0)
    assert result["better"] is True and result["serving"] == {}
    assert "does not decode" in result["reason"] and "treated as absent" in result["reason"]


def test_a_serving_model_of_the_wrong_kind_counts_as_none(monkeypatch):
    monkeypatch.setattr(retrain_module, "LOAD_STEP_BUDGET", 1)
    not_load = _always_idle_load_net().with_params({"kind": "anomaly"}).to_bytes()
    result = retrain("load", {"rates": _rates()[:400]}, not_load, seed=0)
    assert result["better"] is True and result["serving"] == {}
    assert "cannot forecast" in result["reason"]


def test_too_little_data_or_an_unknown_model_is_refused():
    with pytest.raises(ValueError, match="not enough data: 10 windows, need at least 300"):
        retrain("load", {"rates": np.ones(10)}, None)
    with pytest.raises(ValueError, match="not enough data: 5 rows, need at least 2000"):
        retrain("anomaly", {"X": np.zeros((5, len(TX_FEATURES)), dtype=np.float32)}, None)
    with pytest.raises(ValueError, match="TX_FEATURES"):
        retrain("anomaly", {"X": np.zeros((3000, 4), dtype=np.float32)}, None)
    with pytest.raises(ValueError, match="unknown model"):
        retrain("weather", {}, None)


def _autoencoder() -> DenseNet:
    """A well-formed serving autoencoder of the kind shipped before the classifier: it reconstructs
    every row as the mean row, so its score is a row's squared distance from the mean."""
    f = len(TX_FEATURES)
    params = {"kind": "anomaly", "threshold": 5.0, "features": list(TX_FEATURES)}
    return DenseNet([(np.zeros((f, f)), np.zeros(f), "linear")], np.zeros(f), np.ones(f), np.zeros(f),
                    np.ones(f), params)


def test_anomaly_retrain_returns_a_scorable_candidate_and_a_reason(anomaly_against_shipped):
    result = anomaly_against_shipped
    net = DenseNet.from_bytes(result["artifact"])
    assert net.params["kind"] == "anomaly" and net.params["scoring"] == "probability"
    assert net.params["features"] == list(TX_FEATURES)
    assert net.input_dim == len(TX_FEATURES) and net.output_dim == 1
    for side in ("candidate", "serving"):
        metrics = result[side]
        assert {"precision", "recall", "f1", "holdout_flag_rate"} <= metrics.keys()
        assert all(0.0 <= metrics[k] <= 1.0 for k in ("precision", "recall", "f1", "holdout_flag_rate"))
    # It learned the injected patterns from another seed and finds most of the evaluation set's.
    assert result["candidate"]["f1"] > 0.5 and result["candidate"]["anomalous_samples"] > 0
    assert "synthetic F1" in result["reason"] and "vs serving" in result["reason"]


def test_anomaly_verdict_follows_the_documented_rule(anomaly_against_shipped):
    candidate, serving = anomaly_against_shipped["candidate"], anomaly_against_shipped["serving"]
    limit = max(3 * retrain_module.ANOMALY_FALSE_POSITIVE_RATE, serving["holdout_flag_rate"])
    expected = candidate["f1"] >= serving["f1"] and candidate["holdout_flag_rate"] <= limit
    assert anomaly_against_shipped["better"] is expected


def test_the_injected_anomalies_come_from_a_seed_the_evaluation_never_uses():
    assert len({0, retrain_module.EVAL_SEED_OFFSET, retrain_module.INJECTED_SEED_OFFSET}) == 3


def test_a_serving_autoencoder_is_judged_at_its_own_threshold(monkeypatch):
    monkeypatch.setattr(retrain_module, "ANOMALY_STEP_BUDGET", 1)
    labelled = labelled_transactions(seed=2, n=2500)
    x = TxFeatureExtractor().extract(labelled.txs, labelled.at_ms)[~labelled.labels]
    result = retrain("anomaly", {"X": x}, _autoencoder().to_bytes(), seed=0)
    eval_x, eval_labels = retrain_module.labelled_rows(retrain_module.EVAL_SEED_OFFSET,
                                                       retrain_module.EVAL_TXS)
    distance = np.sum(eval_x * eval_x, axis=1) / len(TX_FEATURES)
    precision, recall = precision_recall(distance > 5.0, eval_labels)
    assert result["serving"]["precision"] == pytest.approx(precision)
    assert result["serving"]["recall"] == pytest.approx(recall)
    assert result["serving"]["threshold"] == 5.0 and "vs serving" in result["reason"]
