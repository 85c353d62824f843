"""Hot-path anomaly scoring: how badly an autoencoder reconstructs a transaction's feature row.

The autoencoder (`models/anomaly_model.py`) is trained on normal traffic and exported as a `DenseNet`
whose `params["threshold"]` was set at training time from the same `AnomalyScorer.score` used here,
so serving and training agree on what a score means.

    scorer = AnomalyScorer(DenseNet.from_bytes(blob))
    suspicious = scorer.flags(feature_rows)      # [n] bool, score > threshold

Scores are mean squared errors in the *standardised* input space (each feature divided by its
training std), so no single heavy-scaled column dominates and thresholds are comparable across
retrainings.
"""

from __future__ import annotations

import math

import numpy as np

from aurigraph.ml.forward import DenseNet


class AnomalyScorer:
    """Scores feature rows with an autoencoder `DenseNet` and flags those above its threshold.

    The net must map `F` features to `F` reconstructions and carry a finite, non-negative
    `params["threshold"]`; otherwise ValueError. Stateless after construction, so safe to share.
    """

    def __init__(self, net: DenseNet):
        if net.input_dim != net.output_dim:
            raise ValueError(f"an autoencoder maps F to F features, this net maps {net.input_dim} "
                             f"to {net.output_dim}")
        threshold = net.params.get("threshold")
        if isinstance(threshold, bool) or not isinstance(threshold, int | float):
            # A bad field in a model file is a bad value, like a missing one: one error type for callers.
            raise ValueError(f"net params need a numeric 'threshold', got {threshold!r}")  # noqa: TRY004
        if not math.isfinite(threshold) or threshold < 0:
            raise ValueError(f"threshold must be finite and >= 0, got {threshold}")
        self.net = net
        self.threshold = float(threshold)

    def score(self, x: np.ndarray) -> np.ndarray:
        """[n, F] (or [F]) feature rows -> [n] mean squared reconstruction error, standardised space."""
        z = self.net.standardise(x)
        error = self.net.standardise(self.net(x)) - z
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
