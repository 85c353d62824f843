"""Hot-path anomaly scoring: one number per transaction's feature row, flagged above the model's threshold.

An anomaly model is a `DenseNet` whose params say `"kind": "anomaly"`, how its output becomes a
score (`"scoring"`), and the `"threshold"` set at training time from this same `AnomalyScorer`, so
serving and training agree on what a score means:

- `"probability"` (`models/anomaly_model.py`): a classifier `F -> 1` with a sigmoid output; the
  score is that output, the probability that the row is anomalous, in [0, 1].
- `"reconstruction"` (the autoencoders shipped before the classifier; a net without `"scoring"` is
  one): an autoencoder `F -> F`; the score is the mean squared reconstruction error in the
  *standardised* input space (each feature divided by its training std), so no single heavy-scaled
  column dominates.

    scorer = AnomalyScorer(DenseNet.from_bytes(blob))
    suspicious = scorer.flags(feature_rows)      # [n] bool, score > threshold
"""

from __future__ import annotations

import math

import numpy as np

from aurigraph.ml.forward import DenseNet

PROBABILITY = "probability"
RECONSTRUCTION = "reconstruction"
SCORINGS = (PROBABILITY, RECONSTRUCTION)


class AnomalyScorer:
    """Scores feature rows with an anomaly `DenseNet` and flags those above its threshold.

    The net's shape must fit its `params["scoring"]` (default "reconstruction"): `F -> 1` with a
    sigmoid last layer for "probability", `F -> F` for "reconstruction". It must carry a finite
    `params["threshold"]`, >= 0, and <= 1 for a probability. Otherwise ValueError. Stateless after
    construction, so safe to share.
    """

    def __init__(self, net: DenseNet):
        scoring = net.params.get("scoring", RECONSTRUCTION)
        if scoring not in SCORINGS:
            raise ValueError(f"unknown scoring {scoring!r}; known: {SCORINGS}")
        if scoring == RECONSTRUCTION and net.input_dim != net.output_dim:
            raise ValueError(f"an autoencoder maps F to F features, this net maps {net.input_dim} "
                             f"to {net.output_dim}")
        if scoring == PROBABILITY and (net.output_dim != 1 or net.layers[-1][2] != "sigmoid"):
            raise ValueError(f"a probability comes from one sigmoid output, this net has {net.output_dim} "
                             f"{net.layers[-1][2]} outputs")
        threshold = net.params.get("threshold")
        if isinstance(threshold, bool) or not isinstance(threshold, int | float):
            # A bad field in a model file is a bad value, like a missing one: one error type for callers.
            raise ValueError(f"net params need a numeric 'threshold', got {threshold!r}")  # noqa: TRY004
        if not math.isfinite(threshold) or threshold < 0:
            raise ValueError(f"threshold must be finite and >= 0, got {threshold}")
        if scoring == PROBABILITY and threshold > 1:
            # A probability never exceeds 1: such a threshold silently flags nothing.
            raise ValueError(f"a probability threshold must be <= 1, got {threshold}")
        self.net = net
        self.scoring = scoring
        self.threshold = float(threshold)

    def score(self, x: np.ndarray) -> np.ndarray:
        """[n, F] (or [F]) feature rows -> [n] scores, as the module docstring defines per scoring."""
        return self.score_output(x, self.net(x))

    def score_output(self, x: np.ndarray, output: np.ndarray) -> np.ndarray:
        """[n] scores of rows `x` given the net's `output` for them, for a caller that ran the same
        function elsewhere (a Keras twin, say) and must score it exactly as `score` does."""
        output = np.asarray(output, dtype=np.float32)
        if self.scoring == PROBABILITY:
            return output[:, 0]
        error = self.net.standardise(output) - self.net.standardise(x)
        return np.mean(error * error, axis=1)

    def flags(self, x: np.ndarray) -> np.ndarray:
        """[n] bool: rows whose score exceeds the threshold."""
        return self.score(x) > self.threshold

    def with_threshold(self, threshold: float) -> AnomalyScorer:
        """A scorer over the same weights with another threshold (kept in its net's params, so a
        saved `scorer.net` carries it)."""
        return AnomalyScorer(self.net.with_params({**self.net.params, "threshold": float(threshold)}))


def precision_recall(flags: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(precision, recall) of boolean `flags` against boolean `labels` (True = anomalous).

    Each is 0.0 when undefined (nothing flagged, or nothing anomalous), so a metric never turns NaN.
    """
    flags, labels = np.asarray(flags, dtype=bool).reshape(-1), np.asarray(labels, dtype=bool).reshape(-1)
    if flags.shape != labels.shape:
        raise ValueError(f"flags and labels differ in length: {flags.shape[0]} vs {labels.shape[0]}")
    true_positives = int(np.sum(flags & labels))
    flagged, anomalous = int(np.sum(flags)), int(np.sum(labels))
    return (true_positives / flagged if flagged else 0.0, true_positives / anomalous if anomalous else 0.0)
