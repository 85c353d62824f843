"""The load predictor: forecasts the next `horizon` windows' ingress rate (tx/s) from the last `lookback`.

Trained offline on a node's history of per-window rates; the exported `DenseNet` is served by
`aurigraph.ml.predictor.predict_rates`. Rates are heavy-tailed (idle vs. bursts), so the model works
in log1p space (the transform lives in `aurigraph.ml.predictor`, shared with serving).

    trained = train(rates_tps, lookback=8, horizon=3)
    trained.metrics["mae_tps"] < trained.metrics["naive_mae_tps"]    # else keep the serving model
    evaluate(serving_net, rates_tps)                                  # same holdout, same metrics

The holdout is the last 20% of the sliding-window samples (time order kept: no peeking at the future).
"""

from __future__ import annotations

import numpy as np

from aurigraph.ml.forward import DenseNet
from aurigraph.ml.predictor import SPACE, from_model_space, to_model_space
from models.training import (
    TrainedModel,
    build_mlp,
    fit,
    fit_standardiser,
    set_seed,
    standardise,
    to_dense_net,
)

HOLDOUT_FRACTION = 0.2


def supervised(rates: np.ndarray, lookback: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Sliding windows over `rates` (tx/s, oldest first) in log1p space: X [n, lookback], Y [n, horizon].

    Sample i sees rates[i : i+lookback] and targets rates[i+lookback : i+lookback+horizon].
    """
    if lookback < 1 or horizon < 1:
        raise ValueError(f"lookback and horizon must be >= 1, got {lookback}, {horizon}")
    values = to_model_space(np.asarray(rates).reshape(-1))
    if values.shape[0] < lookback + horizon:
        raise ValueError(f"need at least {lookback + horizon} rates, got {values.shape[0]}")
    windows = np.lib.stride_tricks.sliding_window_view(values, lookback + horizon)
    return windows[:, :lookback].copy(), windows[:, lookback:].copy()


def _holdout_start(samples: int) -> int:
    return samples - max(1, round(HOLDOUT_FRACTION * samples))


def train(rates: np.ndarray, *, lookback: int = 8, horizon: int = 3, epochs: int = 40,
          seed: int = 0) -> TrainedModel:
    """Fit a 32-32 relu MLP on all but the holdout; metrics are `evaluate`'s plus the loss curve ends.

    Inputs and targets are standardised with the training part's statistics, which the exported net
    carries, so `predict_rates` feeds it raw rates.
    """
    x, y = supervised(rates, lookback, horizon)
    start = _holdout_start(x.shape[0])
    if start < 2:
        raise ValueError(f"{x.shape[0]} samples are too few to train and hold out")
    set_seed(seed)
    in_mean, in_std = fit_standardiser(x[:start])
    out_mean, out_std = fit_standardiser(y[:start])
    model = build_mlp(lookback, (32, 32), horizon)
    losses = fit(model, standardise(x[:start], in_mean, in_std), standardise(y[:start], out_mean, out_std),
                 epochs=epochs, batch_size=32)
    params = {"kind": "load", "lookback": lookback, "horizon": horizon, "space": SPACE}
    net = to_dense_net(model, in_mean, in_std, out_mean, out_std, params)
    metrics = {**evaluate(net, rates), "train_samples": start, "loss_first": losses[0], "loss_last": losses[-1]}
    return TrainedModel(net, metrics)


def evaluate(net: DenseNet, rates: np.ndarray) -> dict:
    """Holdout metrics of any load net on `rates`: `mae_tps` (all horizons, tx/s), `naive_mae_tps`
    (repeating the last seen rate), `samples` (all windows) and `holdout_samples`."""
    x, y = supervised(rates, int(net.params["lookback"]), int(net.params["horizon"]))
    start = _holdout_start(x.shape[0])
    actual_tps = from_model_space(y[start:])
    predicted_tps = from_model_space(net(x[start:]))
    naive_tps = from_model_space(x[start:, -1:])
    return {"mae_tps": float(np.mean(np.abs(predicted_tps - actual_tps))),
            "naive_mae_tps": float(np.mean(np.abs(naive_tps - actual_tps))),
            "samples": int(x.shape[0]), "holdout_samples": int(x.shape[0] - start)}
