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


@pytest.fixture(scope="module")
def anomaly_trained():
    x_normal = _normals(np.random.default_rng(0), 2000)
    names = [f"f{i}" for i in range(FEATURES)]
    return x_normal, anomaly_model.train(x_normal, epochs=30, seed=0, quantile=0.995, features=names)


def test_supervised_windows_are_log1p_and_aligned():
    x, y = load_model.supervised(np.arange(10.0), lookback=3, horizon=2)
    assert x.shape == (6, 3) and y.shape == (6, 2)
    np.testing.assert_allclose(np.expm1(x[1]), [1, 2, 3], rtol=1e-6)
    np.testing.assert_allclose(np.expm1(y[1]), [4, 5], rtol=1e-6)
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


def test_autoencoder_flags_shifted_rows_and_spares_normal_ones(anomaly_trained):
    x_normal, trained = anomaly_trained
    scorer = AnomalyScorer(trained.net)
    rng = np.random.default_rng(1)
    shifted = _normals(rng, 500)
    shifted[:, :2] += 6 * x_normal.std(axis=0)[:2]
    assert scorer.flags(shifted).mean() >= 0.8
    assert scorer.flags(_normals(rng, 1000)).mean() <= 0.02
    assert trained.metrics["loss_last"] < trained.metrics["loss_first"]


def test_autoencoder_threshold_is_the_training_quantile(anomaly_trained):
    x_normal, trained = anomaly_trained
    scorer = AnomalyScorer(trained.net)
    assert scorer.threshold == trained.metrics["threshold"]
    assert trained.metrics["train_score_p50"] <= trained.metrics["train_score_p99"] <= scorer.threshold
    assert scorer.flags(x_normal).mean() <= 0.005
    assert trained.net.params["features"] == [f"f{i}" for i in range(FEATURES)]


def test_autoencoder_evaluate_is_consistent(anomaly_trained):
    x_normal, trained = anomaly_trained
    rng = np.random.default_rng(2)
    rows = _normals(rng, 400)
    labels = np.zeros(400, dtype=bool)
    labels[:40] = True
    rows[:40, 3:5] += 6 * x_normal.std(axis=0)[3:5]
    metrics = anomaly_model.evaluate(trained.net, rows, labels)
    precision, recall = precision_recall(AnomalyScorer(trained.net).flags(rows), labels)
    assert (metrics["precision"], metrics["recall"]) == (precision, recall)
    assert metrics["f1"] == pytest.approx(2 * precision * recall / (precision + recall))
    assert recall >= 0.8 and precision >= 0.8
