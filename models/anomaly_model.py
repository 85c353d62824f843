"""The anomaly autoencoder: learns to reconstruct normal transactions' feature rows.

Input rows are the F per-transaction features (float32), already log-scaled by the caller where
heavy-tailed. The net squeezes them through a narrow bottleneck (F -> 16 -> 4 -> 16 -> F), so what
normal traffic shares is reconstructed well and unusual rows are not. The threshold is a high
quantile of the training rows' scores, computed with `aurigraph.ml.anomaly.AnomalyScorer` on the
exported net, so the node flags exactly what training meant.

    trained = train(x_normal, quantile=0.995, features=names)
    AnomalyScorer(trained.net).flags(rows)
    evaluate(trained.net, x_labelled, labels)    # precision, recall, f1
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from aurigraph.ml.anomaly import AnomalyScorer, precision_recall
from aurigraph.ml.forward import DenseNet
from models.training import (
    TrainedModel,
    build_mlp,
    fit,
    fit_standardiser,
    set_seed,
    standardise,
    to_dense_net,
)

HIDDEN = (16, 4, 16)


def train(x_normal: np.ndarray, *, epochs: int = 30, seed: int = 0, quantile: float = 0.995,
          features: Sequence[str] | None = None) -> TrainedModel:
    """Fit the autoencoder on rows believed normal; `features` (column names, optional) go in the
    net's params so a consumer can check it feeds the same columns in the same order.

    Metrics: `threshold`, `train_score_p50`, `train_score_p99`, `samples`, `loss_first`, `loss_last`.
    """
    x_normal = np.asarray(x_normal, dtype=np.float32)
    if x_normal.ndim != 2 or x_normal.shape[0] < 2:
        raise ValueError(f"need [n >= 2, F] feature rows, got shape {x_normal.shape}")
    if not 0.0 < quantile < 1.0:
        raise ValueError(f"quantile must be in (0, 1), got {quantile}")
    if features is not None and len(features) != x_normal.shape[1]:
        raise ValueError(f"{len(features)} feature names for {x_normal.shape[1]} columns")
    set_seed(seed)
    mean, std = fit_standardiser(x_normal)
    z = standardise(x_normal, mean, std)
    model = build_mlp(z.shape[1], HIDDEN, z.shape[1])
    losses = fit(model, z, z, epochs=epochs, batch_size=64)
    params = {"kind": "anomaly", "threshold": 0.0, "quantile": quantile}
    if features is not None:
        params["features"] = list(features)
    # Reconstructions are de-standardised with the input's statistics, so the net maps raw rows to raw rows.
    scorer = AnomalyScorer(to_dense_net(model, mean, std, mean, std, params))
    scores = scorer.score(x_normal)
    scorer = scorer.with_threshold(float(np.quantile(scores, quantile)))
    metrics = {"threshold": scorer.threshold, "train_score_p50": float(np.quantile(scores, 0.5)),
               "train_score_p99": float(np.quantile(scores, 0.99)), "samples": int(x_normal.shape[0]),
               "loss_first": losses[0], "loss_last": losses[-1]}
    return TrainedModel(scorer.net, metrics)


def evaluate(net: DenseNet, x: np.ndarray, labels: np.ndarray) -> dict:
    """Precision, recall and F1 of the net's flags against `labels` (True = anomalous); 0.0 when undefined."""
    precision, recall = precision_recall(AnomalyScorer(net).flags(x), labels)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}
