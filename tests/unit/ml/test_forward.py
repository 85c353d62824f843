"""The NumPy serving form: same answers as Keras, a lossless artifact, and a loader that refuses
anything malformed whole (a corrupt model file must never be half-loaded)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from aurigraph.ml.forward import STD_FLOOR, DenseNet
from aurigraph.ml.predictor import predict_rates

ROOT = Path(__file__).resolve().parents[3]


def _random_net(widths=(10, 16, 4, 16, 10), activations=("relu", "tanh", "sigmoid", "linear"), seed=0,
                with_out=True) -> DenseNet:
    rng = np.random.default_rng(seed)
    layers = [(rng.normal(size=(a, b)), rng.normal(size=b), act)
              for a, b, act in zip(widths[:-1], widths[1:], activations, strict=True)]
    out = (rng.normal(size=widths[-1]), rng.uniform(0.5, 2, widths[-1])) if with_out else (None, None)
    return DenseNet(layers, rng.normal(size=widths[0]), rng.uniform(0.5, 2, widths[0]), *out,
                    params={"threshold": 0.7, "features": [f"f{i}" for i in range(widths[0])]})


_FLOAT64_ACTIVATIONS = {"relu": lambda h: np.maximum(h, 0.0), "linear": lambda h: h, "tanh": np.tanh,
                        "sigmoid": lambda h: 1.0 / (1.0 + np.exp(-h))}


def _float64_forward(net: DenseNet, x: np.ndarray) -> np.ndarray:
    """`net`'s function in float64 from its own (float32) weights, on the float32 input it would see: the
    reference a float32 forward pass is compared with. A float32 pass's last bits depend on the BLAS kernel
    (gemv for one row, gemm for a batch, each chosen per CPU), so two are never compared bit for bit."""
    h = (np.atleast_2d(np.asarray(x, dtype=np.float32)).astype(np.float64) - net.in_mean) / np.maximum(
        net.in_std.astype(np.float64), STD_FLOOR)
    for kernel, bias, activation in net.layers:
        h = _FLOAT64_ACTIVATIONS[activation](h @ kernel.astype(np.float64) + bias)
    return h if net.out_mean is None else h * net.out_std + net.out_mean


def _float32_tolerance(reference: np.ndarray) -> dict:
    """assert_allclose's tolerance for a float32 pass through a few small dense layers against `reference`:
    float32 rounding (eps 6e-8) compounded over the layers, with an absolute floor at the output's scale
    for outputs near 0, where a relative bound means nothing. Measured across 200 random `_random_net`s
    and OpenBLAS's Haswell/Zen/SkylakeX/Sandybridge/Prescott kernels: every error <= 0.1 of this bound;
    a 0.1% error (a layer evaluated in float16, say) exceeds it."""
    return {"rtol": 1e-4, "atol": 1e-5 * max(1.0, float(np.max(np.abs(reference))))}


def _rewritten(net: DenseNet, **changes) -> bytes:
    """`net`'s artifact with arrays replaced (or dropped when given None)."""
    with np.load(io.BytesIO(net.to_bytes()), allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    for name, value in changes.items():
        if value is None:
            del arrays[name]
        else:
            arrays[name] = value
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


@pytest.mark.parametrize("with_out", [True, False])
def test_round_trip_keeps_weights_params_and_answers(with_out):
    net = _random_net(with_out=with_out)
    loaded = DenseNet.from_bytes(net.to_bytes())
    x = np.random.default_rng(1).normal(size=(5, 10))
    np.testing.assert_array_equal(loaded(x), net(x))
    assert loaded.params == net.params
    assert (loaded.out_mean is None) == (not with_out)
    assert [a for _, _, a in loaded.layers] == ["relu", "tanh", "sigmoid", "linear"]
    assert (loaded.input_dim, loaded.output_dim) == (10, 10)


def test_matches_keras_predict():
    pytest.importorskip("tensorflow")
    import keras

    from models.training import set_seed, standardise, to_dense_net

    set_seed(0)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(8, activation="tanh"),
                              keras.layers.Dense(5, activation="sigmoid"), keras.layers.Dense(3)])
    rng = np.random.default_rng(2)
    in_mean, in_std = rng.normal(size=6).astype(np.float32), rng.uniform(0.5, 2, 6).astype(np.float32)
    out_mean, out_std = rng.normal(size=3).astype(np.float32), rng.uniform(0.5, 2, 3).astype(np.float32)
    net = to_dense_net(model, in_mean, in_std, out_mean, out_std, {"kind": "test"})
    x = rng.normal(size=(32, 6)).astype(np.float32)
    expected = model.predict(standardise(x, in_mean, in_std), verbose=0) * out_std + out_mean
    # Two float32 evaluations by different kernels (TF's per instruction set, NumPy's BLAS): equal up to
    # float32 rounding over four layers (measured <= 5e-7 abs, outputs up to ~2), never bit for bit.
    np.testing.assert_allclose(net(x), expected, **_float32_tolerance(expected))


def test_export_refuses_layers_it_cannot_serve():
    pytest.importorskip("tensorflow")
    import keras

    from models.training import to_dense_net

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4), keras.layers.Dropout(0.5)])
    with pytest.raises(ValueError, match="cannot export layer"):
        to_dense_net(model, np.zeros(4), np.ones(4), None, None, {})
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4, activation="softmax")])
    with pytest.raises(ValueError, match="cannot export activation 'softmax'"):
        to_dense_net(model, np.zeros(4), np.ones(4), None, None, {})


def test_loader_refuses_truncated_bytes():
    blob = _random_net().to_bytes()
    with pytest.raises(ValueError, match="not a readable npz archive"):
        DenseNet.from_bytes(blob[: len(blob) // 2])


def test_loader_refuses_random_bytes():
    with pytest.raises(ValueError, match="not an npz archive"):
        DenseNet.from_bytes(os.urandom(512))
    with pytest.raises(ValueError, match="not a readable npz archive"):
        DenseNet.from_bytes(b"PK\x03\x04" + bytes(range(256)))


def test_loader_refuses_non_finite_weights():
    net = _random_net()
    kernel = net.layers[1][0].copy()
    kernel[2, 3] = np.nan
    with pytest.raises(ValueError, match="kernel 1 has non-finite values"):
        DenseNet.from_bytes(_rewritten(net, kernel_1=kernel))
    with pytest.raises(ValueError, match="in_std has non-finite values"):
        DenseNet.from_bytes(_rewritten(net, in_std=np.full(10, np.inf)))


def test_loader_refuses_shapes_that_do_not_chain():
    net = _random_net()
    with pytest.raises(ValueError, match="layer 2 kernel expects 5 inputs but layer 1 gives 4"):
        DenseNet.from_bytes(_rewritten(net, kernel_2=np.ones((5, 16))))
    with pytest.raises(ValueError, match="layer 0 bias has 3 values for 16 outputs"):
        DenseNet.from_bytes(_rewritten(net, bias_0=np.ones(3)))
    with pytest.raises(ValueError, match=r"in_mean/in_std have shapes \(9,\)/\(10,\), expected \(10,\)"):
        DenseNet.from_bytes(_rewritten(net, in_mean=np.zeros(9)))


def test_loader_refuses_unknown_activation():
    with pytest.raises(ValueError, match="layer 1 has unknown activation 'gelu'"):
        DenseNet.from_bytes(_rewritten(_random_net(), activations=np.array(["relu", "gelu", "relu", "linear"])))


def test_loader_refuses_missing_or_malformed_members():
    net = _random_net()
    with pytest.raises(ValueError, match=r"lacks arrays: \['params'\]"):
        DenseNet.from_bytes(_rewritten(net, params=None))
    with pytest.raises(ValueError, match="lacks kernel_3/bias_3"):
        DenseNet.from_bytes(_rewritten(net, kernel_3=None))
    with pytest.raises(ValueError, match="params are not JSON"):
        DenseNet.from_bytes(_rewritten(net, params=np.array(["{not json"])))
    with pytest.raises(ValueError, match="out_mean and out_std must be given together"):
        DenseNet.from_bytes(_rewritten(net, out_std=None))
    with pytest.raises(ValueError, match="non-numeric kernel"):
        DenseNet.from_bytes(_rewritten(net, kernel_0=np.full((10, 16), "1.0")))


def test_single_row_forward_matches_the_batch():
    net = _random_net()
    x = np.random.default_rng(3).normal(size=(4, 10))
    one = net(x[2])
    assert one.shape == (1, 10) and one.dtype == np.float32
    # One row goes through BLAS's gemv and a batch through gemm, whose summation orders differ by CPU
    # (1.4e-6 apart on some): both must be the same function value, the float64 one up to float32 rounding.
    reference = _float64_forward(net, x)
    tolerance = _float32_tolerance(reference)
    np.testing.assert_allclose(one[0], reference[2], **tolerance)
    np.testing.assert_allclose(net(x)[2], reference[2], **tolerance)
    # Not so loose that a real difference passes: another row, or this one 0.1% off.
    assert not np.allclose(net(x[1])[0], reference[2], **tolerance)
    assert not np.allclose(one[0] * 1.001, reference[2], **tolerance)
    with pytest.raises(ValueError, match=r"expected input of shape \[n, 10\]"):
        net(np.zeros((1, 9)))


def test_predict_rates_serves_a_load_net_in_tps():
    # Copies the last log1p rate to the one-window horizon: the forecast is the last rate, in tx/s.
    params = {"kind": "load", "lookback": 2, "horizon": 1, "space": "log1p"}
    net = DenseNet([(np.array([[0.0], [1.0]]), np.zeros(1), "linear")], np.zeros(2), np.ones(2), params=params)
    np.testing.assert_allclose(predict_rates(net, [5.0, 1.0, 300.0]), [300.0], rtol=1e-5)
    with pytest.raises(ValueError, match="need 2 recent rates, got 1"):
        predict_rates(net, [5.0])
    with pytest.raises(ValueError, match="not a log1p load model"):
        predict_rates(net.with_params({"kind": "anomaly"}), [5.0, 1.0])


def test_serving_modules_load_no_tensorflow():
    # The node's hot path imports these without the ml extra installed.
    code = ("import json, sys\n"
            "import aurigraph.ml.anomaly, aurigraph.ml.forward, aurigraph.ml.predictor\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras'))))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True)
    assert json.loads(out.stdout) == []
