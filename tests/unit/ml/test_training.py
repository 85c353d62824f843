"""Tiny, seeded training runs converge and their metrics agree with evaluating the exported net.

Each model is trained once per module (a few seconds on two cores) and shared by the tests.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from aurigraph.ml.anomaly import AnomalyScorer, precision_recall
from aurigraph.ml.predictor import predict_rates
from models import anomaly_model, load_model

FEATURES = 10


def _rates(seed: int = 0, windows: int = 600) -> np.ndarray:
    """A daily-like cycle (period 48 windows) around 1000 tx/s with noise: learnable, not trivial."""
    rng = np.random.default_rng(seed)
    t = np.arange(windows)
    return np.maximum(1000 + 600 * np.sin(2 * np.pi * t / 48) + rng.normal(0, 60, windows), 0.0)


def _normals(rng: np.random.Generator, rows: int) -> np.ndarray:
    """Gaussian rows from 3 latent factors plus small noise: correlated columns, as real features are."""
    loadings = np.random.default_rng(42).normal(size=(3, FEATURES))
    return (rng.normal(size=(rows, 3)) @ loadings + 0.1 * rng.normal(size=(rows, FEATURES))).astype(np.float32)


@pytest.fixture(scope="module")
def load_trained():
    return load_model.train(_rates(), lookback=8, horizon=3, epochs=40, seed=0)


def _shifted(rows: np.ndarray, columns: slice, by: np.ndarray) -> np.ndarray:
    out = rows.copy()
    out[:, columns] += by[columns]
    return out


@pytest.fixture(scope="module")
def anomaly_trained():
    """Normal rows, and anomalies that sit 6 stds off in the first two columns."""
    rng = np.random.default_rng(0)
    x_normal = _normals(rng, 2000)
    x_anomalous = _shifted(_normals(rng, 100), slice(0, 2), 6 * x_normal.std(axis=0))
    names = [f"f{i}" for i in range(FEATURES)]
    return x_normal, anomaly_model.train(x_normal, x_anomalous, epochs=20, seed=0, false_positive_rate=0.005,
                                         features=names)


def test_supervised_windows_are_log1p_and_aligned():
    x, y = load_model.supervised(np.arange(10.0), lookback=3, horizon=2)
    assert x.shape == (6, 3) and y.shape == (6, 2)
    # float32 log1p values back through NumPy's float32 expm1, whose SIMD kernel differs by CPU: a few
    # ulps (<= 3e-7 relative measured over 1..2000), where a misaligned window is off by 20% or more.
    np.testing.assert_allclose(np.expm1(x[1]), [1, 2, 3], rtol=1e-5)
    np.testing.assert_allclose(np.expm1(y[1]), [4, 5], rtol=1e-5)
    with pytest.raises(ValueError, match="need at least 5 rates"):
        load_model.supervised(np.arange(4.0), lookback=3, horizon=2)


def test_load_model_beats_the_naive_predictor(load_trained):
    metrics = load_trained.metrics
    assert metrics["mae_tps"] < metrics["naive_mae_tps"]
    assert metrics["loss_last"] < metrics["loss_first"]
    assert metrics["samples"] == 600 - 8 - 3 + 1 and metrics["holdout_samples"] == 118


def test_load_evaluate_agrees_with_training_metrics(load_trained):
    again = load_model.evaluate(load_trained.net, _rates())
    for name in ("mae_tps", "naive_mae_tps", "samples", "holdout_samples"):
        assert again[name] == pytest.approx(load_trained.metrics[name])
    assert load_trained.net.params == {"kind": "load", "lookback": 8, "horizon": 3, "space": "log1p"}


def test_load_forecast_is_plausible_tps(load_trained):
    rates = _rates()
    forecast = predict_rates(load_trained.net, rates[:-3])
    assert forecast.shape == (3,)
    assert np.all(np.abs(forecast - rates[-3:]) < 300)


def test_same_seed_same_model():
    short = _rates(windows=120)
    first = load_model.train(short, epochs=3, seed=7).net.to_bytes()
    assert load_model.train(short, epochs=3, seed=7).net.to_bytes() == first


def test_classifier_flags_rows_like_the_anomalies_and_spares_normal_ones(anomaly_trained):
    x_normal, trained = anomaly_trained
    scorer = AnomalyScorer(trained.net)
    rng = np.random.default_rng(1)
    assert scorer.flags(_shifted(_normals(rng, 500), slice(0, 2), 6 * x_normal.std(axis=0))).mean() >= 0.9
    assert scorer.flags(_normals(rng, 1000)).mean() <= 0.02
    assert trained.metrics["loss_last"] < trained.metrics["loss_first"]


def test_exposure_rows_teach_it_to_flag_a_column_no_anomaly_touched(anomaly_trained):
    x_normal, trained = anomaly_trained
    far_off = _shifted(_normals(np.random.default_rng(2), 500), slice(7, 8), 8 * x_normal.std(axis=0))
    assert AnomalyScorer(trained.net).flags(far_off).mean() >= 0.8


def test_classifier_threshold_is_the_calibration_quantile(anomaly_trained):
    x_normal, trained = anomaly_trained
    scorer = AnomalyScorer(trained.net)
    assert scorer.scoring == "probability" and trained.net.output_dim == 1
    assert scorer.threshold == trained.metrics["threshold"]
    assert trained.metrics["calibration_score_p50"] <= trained.metrics["calibration_score_p99"] <= scorer.threshold
    assert scorer.flags(x_normal).mean() <= 0.01
    assert trained.net.params == {"kind": "anomaly", "scoring": "probability", "threshold": scorer.threshold,
                                  "false_positive_rate": 0.005, "features": [f"f{i}" for i in range(FEATURES)]}
    assert (trained.metrics["samples"], trained.metrics["anomalous_samples"],
            trained.metrics["exposure_samples"]) == (2000, 100, 50)


def test_classifier_evaluate_is_consistent(anomaly_trained):
    x_normal, trained = anomaly_trained
    rng = np.random.default_rng(2)
    rows = _normals(rng, 400)
    labels = np.zeros(400, dtype=bool)
    labels[:40] = True
    rows[:40] = _shifted(rows[:40], slice(0, 2), 6 * x_normal.std(axis=0))
    metrics = anomaly_model.evaluate(trained.net, rows, labels)
    precision, recall = precision_recall(AnomalyScorer(trained.net).flags(rows), labels)
    assert (metrics["precision"], metrics["recall"]) == (precision, recall)
    assert metrics["f1"] == pytest.approx(2 * precision * recall / (precision + recall))
    assert recall >= 0.8 and precision >= 0.8


def test_exposure_rows_move_one_column_far_off():
    x_normal = _normals(np.random.default_rng(3), 500)
    std = x_normal.std(axis=0)
    rows = anomaly_model.exposure_rows(x_normal, 200, np.random.default_rng(4))
    # Each row is a normal row with exactly one column moved 4 to 8 stds from the column mean.
    z = np.abs(rows - x_normal.mean(axis=0)) / std
    moved = np.stack([~np.isin(rows[:, j], x_normal[:, j]) for j in range(FEATURES)], axis=1)
    assert np.all(moved.sum(axis=1) == 1)
    assert np.all((z[moved] >= 4 - 1e-3) & (z[moved] <= 8 + 1e-3))


def test_classifier_training_refuses_bad_inputs():
    normal = _normals(np.random.default_rng(5), 50)
    with pytest.raises(ValueError, match="anomalous rows"):
        anomaly_model.train(normal, normal[:, :3])
    with pytest.raises(ValueError, match="normal rows"):
        anomaly_model.train(normal[:5], normal)
    with pytest.raises(ValueError, match="false_positive_rate"):
        anomaly_model.train(normal, normal, false_positive_rate=0.0)
