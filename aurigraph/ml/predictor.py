"""Load forecasting at serving time: the next few windows' ingress rate from the last few, NumPy only.

The load model (`models/load_model.py`) is trained in log1p space on sliding windows of per-window
ingress rates (tx/s); its `DenseNet` carries `{"kind": "load", "lookback": L, "horizon": H,
"space": "log1p"}`. The node keeps its recent window rates and asks

    forecast_tps = predict_rates(net, recent_rates_tps)     # [horizon] tx/s, oldest-first input

`to_model_space`/`from_model_space` are the one definition of that transform, shared with training so
the two cannot drift apart.
"""

from __future__ import annotations

import numpy as np

from aurigraph.ml.forward import DenseNet

SPACE = "log1p"


def to_model_space(rates_tps: np.ndarray) -> np.ndarray:
    """Rates (tx/s, >= 0) to the model's log1p space, float32."""
    rates_tps = np.asarray(rates_tps, dtype=np.float64)
    if not np.all(np.isfinite(rates_tps)) or np.any(rates_tps < 0):
        raise ValueError("rates must be finite and non-negative")
    return np.log1p(rates_tps).astype(np.float32)


def from_model_space(values: np.ndarray) -> np.ndarray:
    """The model's log1p outputs back to tx/s; negative forecasts are clipped to 0."""
    return np.maximum(np.expm1(np.asarray(values, dtype=np.float64)), 0.0)


def predict_rates(net: DenseNet, recent_rates_tps: np.ndarray) -> np.ndarray:
    """The next `horizon` windows' rates (tx/s) from at least `lookback` recent ones (oldest first).

    Only the last `lookback` rates are used. ValueError when the net is not a load model or there is
    not enough history yet (the caller keeps its current knobs until there is).
    """
    if net.params.get("kind") != "load" or net.params.get("space") != SPACE:
        raise ValueError(f"not a {SPACE} load model: params {net.params}")
    lookback = int(net.params["lookback"])
    recent_rates_tps = np.asarray(recent_rates_tps).reshape(-1)
    if recent_rates_tps.shape[0] < lookback:
        raise ValueError(f"need {lookback} recent rates, got {recent_rates_tps.shape[0]}")
    return from_model_space(net(to_model_space(recent_rates_tps[-lookback:]))[0])
