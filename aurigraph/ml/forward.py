"""The serving form of the optimizer's Keras models: a stack of dense layers evaluated with NumPy.

The node's hot path scores transactions and forecasts load without TensorFlow (an optional extra that only
the training code in `models/` needs). Training exports a fitted Keras model with
`models.training.to_dense_net`; the artifact travels as `DenseNet.to_bytes()` (one `.npz`) and is
loaded with `DenseNet.from_bytes()`, which validates everything before returning, so a corrupt or
hostile model file is refused whole, never half-loaded, and never unpickled.

    net = DenseNet.from_bytes(blob)
    y = net(x)                # x [n, input_dim] or [input_dim] -> [n, output_dim] float32
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Sequence

import numpy as np

# A constant input column has std 0; flooring keeps standardisation finite (the column maps to ~0).
STD_FLOOR = 1e-6
ACTIVATIONS = ("relu", "linear", "tanh", "sigmoid")
_NPZ_MAGIC = b"PK\x03\x04"


def _relu(h: np.ndarray) -> np.ndarray:
    return np.maximum(h, 0.0, out=h)


def _tanh(h: np.ndarray) -> np.ndarray:
    return np.tanh(h, out=h)


def _sigmoid(h: np.ndarray) -> np.ndarray:
    # The tanh form does not overflow in exp() for large negative inputs.
    return 0.5 * (1.0 + np.tanh(0.5 * h))


_APPLY = {"relu": _relu, "linear": lambda h: h, "tanh": _tanh, "sigmoid": _sigmoid}


def _frozen(array: np.ndarray, name: str, ndim: int) -> np.ndarray:
    out = np.array(array, dtype=np.float32, copy=True)
    if out.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {out.shape}")
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{name} has non-finite values")
    out.flags.writeable = False
    return out


class DenseNet:
    """A stack of dense layers evaluated with NumPy.

    `layers` is a sequence of `(kernel [in, out], bias [out], activation)` with activation one of
    `ACTIVATIONS`. A call standardises its input with `in_mean`/`in_std` (std floored at `STD_FLOOR`),
    runs the layers, and de-standardises with `out_mean`/`out_std` when given (both or neither).
    `params` is a free JSON-able dict describing the model (kind, window sizes, threshold, feature names).

    The constructor validates everything (shapes chain, values finite, activations known, params JSON)
    and raises ValueError otherwise. Arrays are copied to read-only float32 so one instance can be
    shared between threads; `params` is a private copy.
    """

    def __init__(self, layers: Sequence[tuple[np.ndarray, np.ndarray, str]], in_mean: np.ndarray,
                 in_std: np.ndarray, out_mean: np.ndarray | None = None, out_std: np.ndarray | None = None,
                 params: dict | None = None):
        if not layers:
            raise ValueError("a DenseNet needs at least one layer")
        checked = []
        width = None
        for i, (kernel, bias, activation) in enumerate(layers):
            kernel, bias = _frozen(kernel, f"kernel {i}", 2), _frozen(bias, f"bias {i}", 1)
            if width is not None and kernel.shape[0] != width:
                raise ValueError(f"layer {i} kernel expects {kernel.shape[0]} inputs but layer {i - 1} "
                                 f"gives {width}")
            if bias.shape[0] != kernel.shape[1]:
                raise ValueError(f"layer {i} bias has {bias.shape[0]} values for {kernel.shape[1]} outputs")
            if activation not in ACTIVATIONS:
                raise ValueError(f"layer {i} has unknown activation {activation!r}; known: {ACTIVATIONS}")
            checked.append((kernel, bias, str(activation)))
            width = kernel.shape[1]
        self._layers = tuple(checked)
        self._in_mean, self._in_std = self._normaliser(in_mean, in_std, "in", self.input_dim)
        if (out_mean is None) != (out_std is None):
            raise ValueError("out_mean and out_std must be given together")
        self._out_mean = self._out_std = None
        if out_mean is not None:
            self._out_mean, self._out_std = self._normaliser(out_mean, out_std, "out", self.output_dim)
        self._in_scale = np.maximum(self._in_std, STD_FLOOR)
        try:
            # The round trip both checks the params are JSON (NaN refused) and detaches them from the caller.
            self._params = json.loads(json.dumps({} if params is None else params, allow_nan=False))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"params are not JSON-able: {exc}") from exc
        if not isinstance(self._params, dict):
            raise ValueError("params must be a dict")  # noqa: TRY004 - malformed model data, as in from_bytes

    @staticmethod
    def _normaliser(mean, std, side: str, dim: int) -> tuple[np.ndarray, np.ndarray]:
        mean, std = _frozen(mean, f"{side}_mean", 1), _frozen(std, f"{side}_std", 1)
        if mean.shape != (dim,) or std.shape != (dim,):
            raise ValueError(f"{side}_mean/{side}_std have shapes {mean.shape}/{std.shape}, expected ({dim},)")
        if np.any(std < 0):
            raise ValueError(f"{side}_std has negative values")
        return mean, std

    @property
    def layers(self) -> tuple[tuple[np.ndarray, np.ndarray, str], ...]:
        return self._layers

    @property
    def in_mean(self) -> np.ndarray:
        return self._in_mean

    @property
    def in_std(self) -> np.ndarray:
        return self._in_std

    @property
    def out_mean(self) -> np.ndarray | None:
        return self._out_mean

    @property
    def out_std(self) -> np.ndarray | None:
        return self._out_std

    @property
    def params(self) -> dict:
        return self._params

    @property
    def input_dim(self) -> int:
        return self._layers[0][0].shape[0]

    @property
    def output_dim(self) -> int:
        return self._layers[-1][0].shape[1]

    def with_params(self, params: dict) -> DenseNet:
        """The same weights with other params (e.g. a retuned threshold); arrays are shared, not copied."""
        return DenseNet(self._layers, self._in_mean, self._in_std, self._out_mean, self._out_std, params)

    def standardise(self, x: np.ndarray) -> np.ndarray:
        """`x` [n, input_dim] or [input_dim] in the input's standardised space, as the first layer sees it."""
        x = np.asarray(x, dtype=np.float32)
        if x.ndim == 1:
            x = x.reshape(1, -1)
        if x.ndim != 2 or x.shape[1] != self.input_dim:
            raise ValueError(f"expected input of shape [n, {self.input_dim}], got {x.shape}")
        return (x - self._in_mean) / self._in_scale

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Forward pass: [n, input_dim] or [input_dim] -> [n, output_dim] float32."""
        h = self.standardise(x)
        for kernel, bias, activation in self._layers:
            h = _APPLY[activation](h @ kernel + bias)
        if self._out_mean is not None:
            h = h * self._out_std + self._out_mean
        return h.astype(np.float32, copy=False)

    def to_bytes(self) -> bytes:
        """One `.npz`: `kernel_<i>`, `bias_<i>`, `activations`, `in_mean`, `in_std`, optional
        `out_mean`/`out_std`, and `params` as a one-element string array holding JSON."""
        arrays = {"activations": np.array([a for _, _, a in self._layers]),
                  "in_mean": self._in_mean, "in_std": self._in_std,
                  "params": np.array([json.dumps(self._params, sort_keys=True)])}
        for i, (kernel, bias, _) in enumerate(self._layers):
            arrays[f"kernel_{i}"], arrays[f"bias_{i}"] = kernel, bias
        if self._out_mean is not None:
            arrays["out_mean"], arrays["out_std"] = self._out_mean, self._out_std
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> DenseNet:
        """Load what `to_bytes` wrote; ValueError with the reason on anything malformed."""
        if not isinstance(data, bytes | bytearray | memoryview) or bytes(data[:4]) != _NPZ_MAGIC:
            raise ValueError("model file is not an npz archive")
        try:
            with np.load(io.BytesIO(bytes(data)), allow_pickle=False) as archive:
                # Read every member now: npz loads lazily, and truncation may only show on access.
                arrays = {name: archive[name] for name in archive.files}
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as exc:
            raise ValueError(f"model file is not a readable npz archive: {exc}") from exc
        missing = [n for n in ("activations", "in_mean", "in_std", "params", "kernel_0", "bias_0")
                   if n not in arrays]
        if missing:
            raise ValueError(f"model file lacks arrays: {missing}")
        activations = arrays["activations"]
        if activations.dtype.kind != "U" or activations.ndim != 1:
            raise ValueError("model file's activations are not a 1-D string array")
        layers = []
        for i, activation in enumerate(activations.tolist()):
            if f"kernel_{i}" not in arrays or f"bias_{i}" not in arrays:
                raise ValueError(f"model file lacks kernel_{i}/bias_{i} for its {len(activations)} layers")
            layers.append((arrays[f"kernel_{i}"], arrays[f"bias_{i}"], activation))
        if f"kernel_{len(layers)}" in arrays:
            raise ValueError("model file has more kernels than activations")
        params = arrays["params"]
        if params.dtype.kind != "U" or params.shape != (1,):
            raise ValueError("model file's params are not a one-element string array")
        try:
            params = json.loads(params[0])
        except json.JSONDecodeError as exc:
            raise ValueError(f"model file's params are not JSON: {exc}") from exc
        for name in ("in_mean", "in_std", "out_mean", "out_std"):
            if name in arrays and arrays[name].dtype.kind not in "fiu":
                raise ValueError(f"model file's {name} is not numeric")
        for kernel, bias, _ in layers:
            if kernel.dtype.kind not in "fiu" or bias.dtype.kind not in "fiu":
                raise ValueError("model file has a non-numeric kernel or bias")
        return cls(layers, arrays["in_mean"], arrays["in_std"], arrays.get("out_mean"), arrays.get("out_std"),
                   params)
