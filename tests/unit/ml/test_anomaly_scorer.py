"""Anomaly scores per scoring kind (a classifier's probability, an autoencoder's reconstruction error in
standardised space), on hand-built nets with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from aurigraph.ml.anomaly import AnomalyScorer, precision_recall
from aurigraph.ml.forward import DenseNet

MEAN = np.array([10.0, -3.0, 0.0, 100.0])
STD = np.array([2.0, 0.5, 1.0, 40.0])


def _shifted_identity(shift: np.ndarray, threshold: float | None = 0.5) -> DenseNet:
    """Reconstructs each standardised feature plus `shift`: every row scores mean(shift**2)."""
    params = {} if threshold is None else {"threshold": threshold, "features": ["a", "b", "c", "d"]}
    return DenseNet([(np.eye(4), shift, "linear")], MEAN, STD, MEAN, STD, params)


def _logistic(weights: np.ndarray, bias: float, threshold: float = 0.5) -> DenseNet:
    """A one-layer classifier: probability sigmoid(weights . standardised row + bias)."""
    params = {"kind": "anomaly", "scoring": "probability", "threshold": threshold}
    return DenseNet([(weights.reshape(4, 1), np.array([bias]), "sigmoid")], MEAN, STD, params=params)


def test_probability_scoring_is_the_sigmoid_output():
    scorer = AnomalyScorer(_logistic(np.array([1.0, 0.0, 0.0, 0.0]), 0.0))
    # Standardised first features -1, 0 and 2: sigmoid of each.
    rows = np.array([MEAN, MEAN, MEAN]) + np.array([[-2.0], [0.0], [4.0]]) * np.array([1.0, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(scorer.score(rows), 1 / (1 + np.exp([1.0, 0.0, -2.0])), rtol=1e-5)
    np.testing.assert_array_equal(scorer.flags(rows), [False, False, True])
    assert scorer.scoring == "probability" and scorer.score(rows[0]).shape == (1,)


def test_probability_scoring_needs_one_sigmoid_output_and_a_threshold_up_to_one():
    with pytest.raises(ValueError, match="a probability threshold must be <= 1"):
        AnomalyScorer(_logistic(np.ones(4), 0.0, threshold=1.5))
    assert AnomalyScorer(_logistic(np.ones(4), 0.0)).with_threshold(1.0).threshold == 1.0
    linear = DenseNet([(np.ones((4, 1)), np.zeros(1), "linear")], MEAN, STD,
                      params={"scoring": "probability", "threshold": 0.5})
    with pytest.raises(ValueError, match="one sigmoid output, this net has 1 linear"):
        AnomalyScorer(linear)
    with pytest.raises(ValueError, match="one sigmoid output, this net has 4"):
        AnomalyScorer(_shifted_identity(np.zeros(4)).with_params({"scoring": "probability", "threshold": 0.5}))
    with pytest.raises(ValueError, match="unknown scoring 'vibes'"):
        AnomalyScorer(_logistic(np.ones(4), 0.0).with_params({"scoring": "vibes", "threshold": 0.5}))


@pytest.mark.parametrize("net", [_logistic(np.array([1.0, -1.0, 0.5, 0.0]), 0.2),
                                 _shifted_identity(np.array([1.0, 0.0, 0.0, 1.0]))])
def test_score_output_scores_an_outside_output_as_score_does(net):
    rows = np.random.default_rng(3).normal(MEAN, STD, size=(5, 4))
    scorer = AnomalyScorer(net)
    np.testing.assert_array_equal(scorer.score_output(rows, net(rows)), scorer.score(rows))


def test_a_net_without_scoring_is_an_autoencoder():
    scorer = AnomalyScorer(_shifted_identity(np.zeros(4)))
    assert "scoring" not in scorer.net.params and scorer.scoring == "reconstruction"


def test_perfect_reconstruction_scores_zero():
    rows = np.random.default_rng(0).normal(MEAN, STD, size=(6, 4))
    scorer = AnomalyScorer(_shifted_identity(np.zeros(4)))
    np.testing.assert_allclose(scorer.score(rows), np.zeros(6), atol=1e-10)
    assert not scorer.flags(rows).any()


def test_score_is_mean_squared_error_in_standardised_space():
    rows = np.random.default_rng(1).normal(MEAN, STD, size=(6, 4))
    scorer = AnomalyScorer(_shifted_identity(np.array([1.0, 0.0, 0.0, 1.0])))
    # Raw errors are 2.0 and 40.0 (one std of their columns); standardised both are 1: (1 + 0 + 0 + 1) / 4.
    np.testing.assert_allclose(scorer.score(rows), np.full(6, 0.5), rtol=1e-5)
    assert scorer.score(rows[0]).shape == (1,)


def test_flags_compare_with_the_threshold_and_with_threshold_keeps_params():
    rows = np.zeros((3, 4)) + MEAN
    scorer = AnomalyScorer(_shifted_identity(np.array([2.0, 0.0, 0.0, 0.0]), threshold=0.9))
    assert scorer.flags(rows).all()  # score 1.0
    relaxed = scorer.with_threshold(1.5)
    assert not relaxed.flags(rows).any()
    assert relaxed.threshold == 1.5 and scorer.threshold == 0.9
    reloaded = AnomalyScorer(DenseNet.from_bytes(relaxed.net.to_bytes()))
    assert reloaded.threshold == 1.5 and reloaded.net.params["features"] == ["a", "b", "c", "d"]


def test_threshold_must_be_present_and_sane():
    with pytest.raises(ValueError, match="need a numeric 'threshold', got None"):
        AnomalyScorer(_shifted_identity(np.zeros(4), threshold=None))
    with pytest.raises(ValueError, match="need a numeric 'threshold'"):
        AnomalyScorer(_shifted_identity(np.zeros(4)).with_params({"threshold": "high"}))
    with pytest.raises(ValueError, match="finite and >= 0"):
        AnomalyScorer(_shifted_identity(np.zeros(4), threshold=-1.0))


def test_scorer_needs_an_autoencoder_shape():
    net = DenseNet([(np.ones((4, 2)), np.zeros(2), "linear")], MEAN, STD, params={"threshold": 1.0})
    with pytest.raises(ValueError, match="maps 4 to 2"):
        AnomalyScorer(net)


def test_precision_recall_on_known_inputs():
    flags = np.array([True, True, False, False, True])
    labels = np.array([True, False, True, False, True])
    assert precision_recall(flags, labels) == pytest.approx((2 / 3, 2 / 3))
    assert precision_recall(np.array([True, False]), np.array([True, True])) == (1.0, 0.5)


def test_precision_recall_is_zero_when_undefined():
    assert precision_recall(np.zeros(3, bool), np.array([True, False, True])) == (0.0, 0.0)
    assert precision_recall(np.array([True, False, False]), np.zeros(3, bool)) == (0.0, 0.0)
    with pytest.raises(ValueError, match="differ in length"):
        precision_recall(np.zeros(3, bool), np.zeros(4, bool))
