"""Models benchmark: what the optimizer's shipped models buy, and what they cost on the hot path,
each next to its baseline from the same run.

Detection: the shipped anomaly model (`models/artifacts/anomaly`) and the hand-written rules
(`aurigraph.ml.rules`) flag the same labelled synthetic set (a seed the model was not trained on);
precision, recall, F1, the share of normal txs flagged, and recall per injected pattern.

Cost: p50/p99 latency of one load decision (`predict_rates` on a lookback window), of scoring one
block of `BLOCK_TXS` txs (`AnomalyScorer.flags`), and of extracting that block's features. The
baseline runs the same weights through Keras (`predict_on_batch`, the fastest of Keras' stock
inference calls for one small batch), timed interleaved with the NumPy path so machine drift hits
both alike. The issue's goal: a decision on the hot path under 1 ms p99. TensorFlow is imported
only for the baseline; without it the baseline is reported unavailable.

    result = run(seed=7, txs=20_000, progress=print)
    print(format_result(result))
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from aurigraph.ml.anomaly import AnomalyScorer, precision_recall
from aurigraph.ml.features import TxFeatureExtractor
from aurigraph.ml.forward import DenseNet
from aurigraph.ml.predictor import from_model_space, predict_rates, to_model_space
from aurigraph.ml.rules import rule_flags
from aurigraph.ml.synthetic import PATTERNS, labelled_transactions, training_rates

SHIPPED_MODELS = Path(__file__).resolve().parents[2] / "models" / "artifacts"
BLOCK_TXS = 1_000
DECISION_REPS = 2_000
BLOCK_REPS = 300
EXTRACT_REPS = 50   # pure-Python extraction takes milliseconds a block; 50 give a steady p50
TARGET_P99_MS = 1.0
# Keras and NumPy evaluate the anomaly score in float32 by different kernels (and Keras with the
# standardisation folded into the first layer): measured up to 6e-6 apart on a probability. A row whose
# score lies this close to the threshold (times the threshold, when above 1) may be flagged by one and
# not the other without either being wrong; only a row flagged differently beyond it is a disagreement.
FLAG_TOLERANCE = 1e-4


def load_shipped(folder: Path = SHIPPED_MODELS) -> dict[str, DenseNet]:
    """The shipped `load` and `anomaly` nets, decoded straight from their files (no registry)."""
    return {name: DenseNet.from_bytes((Path(folder) / name / "model.npz").read_bytes())
            for name in ("load", "anomaly")}


def _quality(flags: np.ndarray, labels: np.ndarray, patterns: np.ndarray) -> dict:
    precision, recall = precision_recall(flags, labels)
    return {"precision": round(precision, 4), "recall": round(recall, 4),
            "f1": round(2 * precision * recall / (precision + recall) if precision + recall else 0.0, 4),
            "normal_flagged": round(float(np.mean(flags[~labels])) if np.any(~labels) else 0.0, 4),
            "recall_by_pattern": {p: round(float(np.mean(flags[patterns == p])), 4) if np.any(patterns == p)
                                  else 0.0 for p in PATTERNS}}


def _percentiles(samples_ns: list[int]) -> dict:
    p50, p99 = np.percentile(np.asarray(samples_ns, dtype=np.float64) / 1000, [50, 99])
    return {"p50_us": round(float(p50), 2), "p99_us": round(float(p99), 2)}


def keras_twin(net: DenseNet) -> Callable[[np.ndarray], np.ndarray]:
    """The same function as `net` as a Keras model: standardisation folded into the first layer and
    de-standardisation into the last, so Keras does all of the work (`predict_on_batch`).

    ImportError without TensorFlow; ValueError when the last layer is not linear (nothing to fold into).
    """
    import keras  # the baseline only: the node itself never imports TensorFlow

    layers = [[np.array(k, dtype=np.float32), np.array(b, dtype=np.float32), a] for k, b, a in net.layers]
    scale = np.maximum(net.in_std, 1e-6)  # DenseNet floors the std the same way (STD_FLOOR)
    layers[0][1] = layers[0][1] - (net.in_mean / scale) @ layers[0][0]
    layers[0][0] = layers[0][0] / scale[:, None]
    if net.out_mean is not None:
        if layers[-1][2] != "linear":
            raise ValueError("cannot fold the output scaling into a non-linear last layer")
        layers[-1][0] = layers[-1][0] * net.out_std[None, :]
        layers[-1][1] = layers[-1][1] * net.out_std + net.out_mean
    model = keras.Sequential([keras.Input((net.input_dim,))]
                             + [keras.layers.Dense(k.shape[1], activation=a) for k, _, a in layers])
    for dense, (kernel, bias, _) in zip(model.layers, layers, strict=True):
        dense.set_weights([kernel, bias])
    return lambda x: np.asarray(model.predict_on_batch(np.asarray(x, dtype=np.float32)))


def _interleaved(ours: Callable[[int], object], theirs: Callable[[int], object] | None, reps: int) -> tuple:
    """Per-call ns of `ours(i)` and `theirs(i)`, alternating, after a few untimed warm-up calls each."""
    for i in range(5):
        ours(i)
        if theirs is not None:
            theirs(i)
    ours_ns, theirs_ns = [], []
    for i in range(reps):
        started = time.perf_counter_ns()
        ours(i)
        ours_ns.append(time.perf_counter_ns() - started)
        if theirs is not None:
            started = time.perf_counter_ns()
            theirs(i)
            theirs_ns.append(time.perf_counter_ns() - started)
    return ours_ns, theirs_ns


def _compare(ours_ns: list[int], theirs_ns: list[int], reps: int) -> dict:
    entry = {"reps": reps, "numpy": _percentiles(ours_ns), "keras": None}
    if theirs_ns:
        entry["keras"] = _percentiles(theirs_ns)
        for p in ("p50_us", "p99_us"):
            entry[f"numpy_over_keras_{p[:3]}"] = round(entry["numpy"][p] / entry["keras"][p], 4)
    return entry


def _flag_agreement(scorer: AnomalyScorer, rows: np.ndarray, keras_output: np.ndarray) -> dict:
    """How the Keras twin's flags on `rows` compare with `scorer`'s: `same_flags` (bit for bit),
    `flag_disagreements` (rows flagged differently whose two scores are both further than the
    tolerance from the threshold: the two compute different functions there), `near_threshold_rows`
    (rows where either score is within it, which either may flag) and `flag_tolerance`."""
    ours, theirs = scorer.score(rows), scorer.score_output(rows, keras_output)
    tolerance = FLAG_TOLERANCE * max(1.0, scorer.threshold)
    near = np.minimum(np.abs(ours - scorer.threshold), np.abs(theirs - scorer.threshold)) <= tolerance
    differ = (ours > scorer.threshold) != (theirs > scorer.threshold)
    return {"same_flags": bool(not differ.any()), "flag_disagreements": int(np.sum(differ & ~near)),
            "near_threshold_rows": int(np.sum(near)), "flag_tolerance": tolerance}


def _keras_twins(nets: dict[str, DenseNet], with_keras: bool, progress: Callable[[str], None]) -> tuple:
    """({name: keras function} or {}, what to report about the baseline)."""
    info: dict = {"available": False, "method": "predict_on_batch"}
    if not with_keras:
        return {}, {**info, "reason": "not asked for"}
    progress("building the Keras baseline (importing TensorFlow) …")
    try:
        return {name: keras_twin(net) for name, net in nets.items()}, {**info, "available": True}
    except (ImportError, ValueError) as exc:
        return {}, {**info, "reason": f"{type(exc).__name__}: {exc}"}


def run(seed: int, txs: int, progress: Callable[[str], None], *, artifacts: Path = SHIPPED_MODELS,
        decision_reps: int = DECISION_REPS, block_reps: int = BLOCK_REPS, extract_reps: int = EXTRACT_REPS,
        with_keras: bool = True) -> dict:
    """Measure detection quality and hot-path cost of the shipped models; a JSON-able dict."""
    if txs < 2 or min(decision_reps, block_reps, extract_reps) < 1:
        raise ValueError("txs must be >= 2 and every reps >= 1")
    nets = load_shipped(artifacts)
    scorer = AnomalyScorer(nets["anomaly"])
    progress(f"generating {txs} labelled synthetic transactions (seed {seed}) …")
    labelled = labelled_transactions(seed=seed, n=txs)
    labels, patterns = labelled.labels, np.asarray(labelled.patterns)
    x = TxFeatureExtractor().extract(labelled.txs, labelled.at_ms)
    progress("flagging them with the shipped anomaly model and with the rules …")
    detection = {"model": _quality(scorer.flags(x), labels, patterns),
                 "rules": _quality(rule_flags(x), labels, patterns)}
    twins, keras_info = _keras_twins(nets, with_keras, progress)

    lookback = int(nets["load"].params["lookback"])
    rates = training_rates(seed, windows=decision_reps + lookback + 5)
    block = min(BLOCK_TXS, txs)
    starts = list(range(0, txs - block + 1, block))

    def window(i: int) -> np.ndarray:
        return rates[i:i + lookback]

    def rows(i: int) -> np.ndarray:
        return x[starts[i % len(starts)]:][:block]

    def keras_decide(i: int) -> np.ndarray:
        return from_model_space(twins["load"](to_model_space(window(i)).reshape(1, -1))[0])

    def keras_score(i: int) -> np.ndarray:
        # The Keras output scored exactly as AnomalyScorer.score scores the NumPy one, at the same threshold.
        return scorer.score_output(rows(i), twins["anomaly"](rows(i))) > scorer.threshold

    def extract(i: int) -> np.ndarray:
        start = starts[i % len(starts)]
        end = start + block
        return TxFeatureExtractor().extract(labelled.txs[start:end], labelled.at_ms[start:end])

    if twins:
        # The baseline must compute the same function, or its timings mean nothing.
        probes = {"load": to_model_space(window(0)).reshape(1, -1), "anomaly": rows(0)}
        keras_info["max_abs_diff"] = round(max(float(np.max(np.abs(twins[n](p) - nets[n](p))))
                                               for n, p in probes.items()), 6)
        keras_info.update(_flag_agreement(scorer, rows(0), twins["anomaly"](rows(0))))

    progress(f"timing {decision_reps} load decisions …")
    decision = _compare(*_interleaved(lambda i: predict_rates(nets["load"], window(i)),
                                      keras_decide if twins else None, decision_reps), decision_reps)
    progress(f"timing {block_reps} scorings of a {block}-tx block …")
    scoring = _compare(*_interleaved(lambda i: scorer.flags(rows(i)), keras_score if twins else None,
                                     block_reps), block_reps)
    for side in ("numpy", "keras"):
        if scoring[side] is not None:
            per_tx = {f"{k[:3]}_per_tx_us": round(v / block, 4) for k, v in scoring[side].items()}
            scoring[side].update(per_tx)
    progress(f"timing {extract_reps} feature extractions of a {block}-tx block …")
    extraction = _compare(*_interleaved(extract, None, extract_reps), extract_reps)
    return {
        "seed": seed, "txs": txs, "anomalies": int(labels.sum()), "block_txs": block,
        "models": {"load": nets["load"].params,
                   "anomaly": {k: v for k, v in nets["anomaly"].params.items() if k != "features"}},
        "detection": detection,
        "latency": {"load_decision": decision, "block_scoring": scoring, "feature_extraction": extraction},
        "keras": keras_info,
        "target_p99_ms": TARGET_P99_MS,
        "meets_target": {name: entry["numpy"]["p99_us"] < TARGET_P99_MS * 1000
                         for name, entry in (("load_decision", decision), ("block_scoring", scoring))},
    }


def format_result(result: dict) -> str:
    """A compact table: detection model vs rules, then hot-path latency numpy vs keras."""
    head = f"anomaly detection: {result['txs']} txs, {result['anomalies']} anomalous, seed {result['seed']}"
    lines = [head,
             f"{'':<8} {'precision':>9} {'recall':>7} {'f1':>6} {'normal flagged':>15}  "
             + " ".join(f"{p:>7}" for p in PATTERNS)]
    for name in ("model", "rules"):
        q = result["detection"][name]
        lines.append(f"{name:<8} {q['precision']:>9.3f} {q['recall']:>7.3f} {q['f1']:>6.3f} "
                     f"{q['normal_flagged']:>15.2%}  "
                     + " ".join(f"{q['recall_by_pattern'][p]:>7.3f}" for p in PATTERNS))
    keras = result["keras"]
    lines += ["", f"hot path, p50 / p99 µs (baseline: keras {keras['method']}"
              + ("" if keras["available"] else f", unavailable: {keras['reason']}") + ")",
              f"{'':<28} {'numpy':>19} {'keras':>19} {'numpy/keras p99':>16}"]
    block = result["block_txs"]
    rows = [("load decision", result["latency"]["load_decision"], ""),
            (f"score a {block}-tx block", result["latency"]["block_scoring"], ""),
            ("  per tx", result["latency"]["block_scoring"], "per_tx_"),
            (f"extract {block}-tx features", result["latency"]["feature_extraction"], "")]
    for label, entry, unit in rows:
        cells = []
        for side in ("numpy", "keras"):
            t = entry[side]
            cells.append(f"{t[f'p50_{unit}us']:>9.2f} / {t[f'p99_{unit}us']:>7.2f}" if t else f"{'n/a':>19}")
        ratio = entry.get("numpy_over_keras_p99")
        lines.append(f"{label:<28} {cells[0]:>19} {cells[1]:>19} "
                     + (f"{ratio:>16.3f}" if ratio is not None and not unit else f"{'':>16}"))
    met = ", ".join(f"{name} {'yes' if ok else 'NO'}" for name, ok in result["meets_target"].items())
    lines.append(f"goal p99 < {result['target_p99_ms']:g} ms: {met}")
    return "\n".join(lines)
