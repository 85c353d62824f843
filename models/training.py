"""What the optimizer's training code shares: seeding, the MLP recipe, and export to the serving form.

TensorFlow is imported here and in the model modules beside this one, never in `aurigraph/ml` (the
node's hot path runs the exported `DenseNet` with NumPy only). A training function builds and fits a
Keras MLP on standardised data, then folds the standardisation into the exported net:

    set_seed(seed)
    in_mean, in_std = fit_standardiser(x)
    model = build_mlp(x.shape[1], (32, 32), y.shape[1])
    losses = fit(model, standardise(x, in_mean, in_std), ..., epochs=40, batch_size=32)
    net = to_dense_net(model, in_mean, in_std, out_mean, out_std, params)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from aurigraph.ml.forward import ACTIVATIONS, STD_FLOOR, DenseNet


@dataclass(frozen=True)
class TrainedModel:
    """A trained model in its serving form, with the metrics of its training run (JSON-able floats/ints)."""

    net: DenseNet
    metrics: dict


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow, and make TF ops deterministic, so a run can be replayed."""
    keras.utils.set_random_seed(seed)
    # Process-wide, but training runs offline in its own process; without it thread scheduling in
    # reductions makes two runs with one seed differ in the last bits.
    tf.config.experimental.enable_op_determinism()


def fit_standardiser(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column (mean, std) of `x` [n, d], std floored at `STD_FLOOR` exactly as `DenseNet` does."""
    x = np.asarray(x, dtype=np.float32)
    return x.mean(axis=0), np.maximum(x.std(axis=0), STD_FLOOR)


def standardise(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    return ((np.asarray(x, dtype=np.float32) - mean) / std).astype(np.float32)


def build_mlp(input_dim: int, hidden: Sequence[int], output_dim: int) -> keras.Sequential:
    """Dense relu layers of the given widths and a linear output: only what `DenseNet` can serve."""
    layers = [keras.Input((input_dim,))]
    layers += [keras.layers.Dense(width, activation="relu") for width in hidden]
    layers.append(keras.layers.Dense(output_dim))
    return keras.Sequential(layers)


def fit(model: keras.Model, x: np.ndarray, y: np.ndarray, *, epochs: int, batch_size: int,
        learning_rate: float = 3e-3) -> list[float]:
    """Adam on mean squared error; returns the training loss per epoch."""
    # XLA compilation costs seconds and buys nothing for nets this small.
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mse", jit_compile=False)
    history = model.fit(x, y, epochs=epochs, batch_size=batch_size, shuffle=True, verbose=0)
    return [float(v) for v in history.history["loss"]]


def to_dense_net(keras_model: keras.Model, in_mean: np.ndarray, in_std: np.ndarray,
                 out_mean: np.ndarray | None, out_std: np.ndarray | None, params: dict) -> DenseNet:
    """The serving form of a chain of Dense layers trained on standardised inputs (and targets).

    `in_mean`/`in_std` (and `out_mean`/`out_std` when the targets were standardised) must be the ones
    used in training; they travel inside the net so the node feeds raw features. ValueError on a
    layer `DenseNet` cannot serve (anything but Dense, or an activation outside `ACTIVATIONS`).
    """
    layers = []
    for layer in keras_model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if not isinstance(layer, keras.layers.Dense):
            # One error type for everything the export cannot serve, layer or activation.
            raise ValueError(f"cannot export layer {layer.name!r} of type {type(layer).__name__}")  # noqa: TRY004
        activation = keras.activations.serialize(layer.activation)
        if activation not in ACTIVATIONS:
            raise ValueError(f"cannot export activation {activation!r} of layer {layer.name!r}")
        weights = layer.get_weights()
        kernel = weights[0]
        bias = weights[1] if layer.use_bias else np.zeros(kernel.shape[1], dtype=np.float32)
        layers.append((kernel, bias, activation))
    return DenseNet(layers, in_mean, in_std, out_mean, out_std, params)
