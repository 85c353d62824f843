"""What a retrain runs: train a candidate on a node's recent data and judge it against the serving model.

The optimizer actor runs `retrain` as a Ray task (`actors.training.train_candidate`), in a worker
process of its own because TensorFlow is loaded here. It registers the returned artifact, and
promotes it when `better` is true (or when the operator insists):

    result = retrain("load", {"rates": rates_tps}, serving_artifact, seed=0)
    result["artifact"]   # DenseNet.to_bytes() of the candidate
    result["candidate"], result["serving"]   # numeric metrics on the same evaluation data
    result["better"], result["reason"]       # the verdict, and one sentence saying why

Training is sized for a two-core machine (seconds, not minutes): only the newest `MAX_LOAD_WINDOWS`
windows and at most `MAX_ANOMALY_TRAIN_ROWS` live training rows are used, and epochs shrink so that
one fit takes at most about `*_STEP_BUDGET` optimizer steps.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from aurigraph.ml.anomaly import AnomalyScorer
from aurigraph.ml.features import TX_FEATURES, TxFeatureExtractor
from aurigraph.ml.forward import DenseNet
from aurigraph.ml.synthetic import labelled_transactions
from models import anomaly_model, load_model

# Load: 300 one-second windows give about 58 holdout samples, the least for a MAE worth comparing.
MIN_LOAD_WINDOWS = 300
MAX_LOAD_WINDOWS = 20_000   # the newest ~5.5 h of 1 s windows; older traffic says little about today's
LOAD_LOOKBACK, LOAD_HORIZON = 8, 3
LOAD_MAX_EPOCHS = 40
LOAD_STEP_BUDGET = 1_500    # batches of 32: about 3 s on two cores
LOAD_BATCH = 32             # what models.load_model.train fits with

# Anomaly: 2,000 live rows leave 1,600 to train on (320 of them set a 99.5% threshold) and 400 to
# check its flag rate on.
MIN_ANOMALY_ROWS = 2_000
MAX_ANOMALY_TRAIN_ROWS = 40_000  # evenly spaced over the period when there are more
ANOMALY_MAX_EPOCHS = 20
ANOMALY_STEP_BUDGET = 3_000      # batches of 64: about 6 s on two cores
ANOMALY_BATCH = anomaly_model.BATCH
ANOMALY_FALSE_POSITIVE_RATE = 0.005
EVAL_SEED_OFFSET = 10_000        # the synthetic evaluation set never shares a seed with training data
EVAL_TXS = 10_000                # about 500 labelled anomalies, 125 per pattern
INJECTED_SEED_OFFSET = 20_000    # the injected anomalies a candidate learns from: another seed again
INJECTED_TXS = 20_000            # about 1,000 anomalous rows, 250 per pattern
FLAG_RATE_SLACK = 3.0            # a candidate may flag up to 3x its nominal false-positive rate

HOLDOUT_FRACTION = load_model.HOLDOUT_FRACTION  # one meaning of "the newest 20%" for both models


def retrain(name: str, data: dict, serving_artifact: bytes | None, seed: int = 0) -> dict:
    """Train a candidate `name` model on `data` and compare it with `serving_artifact` on the same data.

    "load": `data["rates"]`, per-window ingress tx/s (float64, oldest first, at least
    `MIN_LOAD_WINDOWS`). The candidate (`models.load_model.train`) and the serving net are both
    evaluated on the most recent 20% (`models.load_model.evaluate`); better iff the candidate's
    holdout `mae_tps` is lower, or nothing serves.

    "anomaly": `data["X"]`, live `TX_FEATURES` rows (float32, oldest first, at least
    `MIN_ANOMALY_ROWS`, unlabelled, mostly normal). The candidate (`models.anomaly_model.train`)
    learns the oldest 80% as normal and the injected anomalies of the labelled synthetic set of seed
    `INJECTED_SEED_OFFSET + seed` as anomalous; its threshold flags `ANOMALY_FALSE_POSITIVE_RATE` of
    the live normal rows it held out. Both nets, whatever their scoring (a serving autoencoder is
    judged at its own threshold), are scored on (a) the labelled synthetic set of seed
    `EVAL_SEED_OFFSET + seed`, which neither trained on (precision, recall, f1) and (b) the share of
    the newest 20% of live rows they flag. Better iff candidate f1 >= serving f1 and candidate flag
    rate <= max(3 x the false-positive rate, serving flag rate), i.e. it finds the known patterns at
    least as well and does not flood operators with flags on today's traffic (it may match a
    serving model that already flags more).

    A serving artifact that does not decode, or is not a model of this kind for these inputs,
    counts as no serving model; the reason says so. ValueError for an unknown name or too little
    data. Returns {"artifact", "candidate", "serving" ({} without a serving model), "better", "reason"}.
    """
    if name == "load":
        return _retrain_load(_rates(data), serving_artifact, seed)
    if name == "anomaly":
        return _retrain_anomaly(_rows(data), serving_artifact, seed)
    raise ValueError(f"unknown model {name!r} (one of: load, anomaly)")


def _rates(data: dict) -> np.ndarray:
    if "rates" not in data:
        raise ValueError("load data needs 'rates' (per-window ingress tx/s)")
    rates = np.asarray(data["rates"], dtype=np.float64).reshape(-1)
    if rates.shape[0] < MIN_LOAD_WINDOWS:
        raise ValueError(f"not enough data: {rates.shape[0]} windows, need at least {MIN_LOAD_WINDOWS}")
    return rates[-MAX_LOAD_WINDOWS:]


def _rows(data: dict) -> np.ndarray:
    if "X" not in data:
        raise ValueError("anomaly data needs 'X' (TX_FEATURES rows)")
    x = np.asarray(data["X"], dtype=np.float32)
    if x.ndim != 2 or x.shape[1] != len(TX_FEATURES):
        raise ValueError(f"expected rows of {len(TX_FEATURES)} TX_FEATURES, got shape {x.shape}")
    if x.shape[0] < MIN_ANOMALY_ROWS:
        raise ValueError(f"not enough data: {x.shape[0]} rows, need at least {MIN_ANOMALY_ROWS}")
    if not np.all(np.isfinite(x)):
        raise ValueError("feature rows have non-finite values")
    return x


def _epochs(train_rows: int, batch: int, budget_steps: int, max_epochs: int) -> int:
    """As many epochs as fit the step budget, between 5 (below that the nets barely fit) and `max_epochs`."""
    return max(5, min(max_epochs, budget_steps // math.ceil(train_rows / batch)))


def _serving(artifact: bytes | None, kind: str, evaluate, cannot: str) -> tuple[DenseNet | None, dict, str]:
    """The serving net, its metrics (`evaluate(net)`) and "" — or None, {} and why it is treated
    as absent ("" when there simply is none): it does not decode, is another kind of model, or
    cannot be evaluated on these data (`cannot` says what it could not do)."""
    if artifact is None:
        return None, {}, ""
    try:
        net = DenseNet.from_bytes(artifact)
    except ValueError as exc:
        return None, {}, f"the serving artifact does not decode ({exc}), so it was treated as absent"
    try:
        if net.params.get("kind") != kind:
            raise ValueError(f"its kind is {net.params.get('kind')!r}")
        return net, _numeric(evaluate(net)), ""
    except (ValueError, KeyError, TypeError) as exc:
        return None, {}, f"the serving model cannot {cannot} ({exc}), so it was treated as absent"


def _numeric(metrics: dict) -> dict:
    """Plain Python numbers, so the result pickles small and encodes into any metrics map."""
    return {k: (int(v) if isinstance(v, int | np.integer) else float(v)) for k, v in metrics.items()}


def _retrain_load(rates: np.ndarray, serving_artifact: bytes | None, seed: int) -> dict:
    serving, serving_metrics, note = _serving(serving_artifact, "load", lambda net: load_model.evaluate(net, rates),
                                              "forecast these rates")
    samples = rates.shape[0] - LOAD_LOOKBACK - LOAD_HORIZON + 1
    epochs = _epochs(round(samples * (1 - HOLDOUT_FRACTION)), LOAD_BATCH, LOAD_STEP_BUDGET, LOAD_MAX_EPOCHS)
    trained = load_model.train(rates, lookback=LOAD_LOOKBACK, horizon=LOAD_HORIZON, epochs=epochs,
                               seed=seed)
    candidate = _numeric({**trained.metrics, "epochs": epochs, "windows": rates.shape[0]})
    mae, naive = candidate["mae_tps"], candidate["naive_mae_tps"]
    if serving is None:
        better = True
        verdict = (f"holdout MAE {mae:.1f} tx/s (naive {naive:.1f}); "
                   f"{note or 'no serving model to compare'}: better")
    else:
        better = mae < serving_metrics["mae_tps"]
        verdict = (f"holdout MAE {mae:.1f} tx/s vs serving {serving_metrics['mae_tps']:.1f} "
                   f"(naive {naive:.1f}): " + ("better" if better else "not better"))
    return {"artifact": trained.net.to_bytes(), "candidate": candidate, "serving": serving_metrics,
            "better": better, "reason": verdict}


@functools.lru_cache(maxsize=4)
def labelled_rows(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(X, labels) of the labelled synthetic set of `seed`, featurised by a fresh extractor (so each
    injected episode's rows are as a node would see them, amid ordinary traffic).

    Cached (a retrain needs an evaluation set and a set of injected anomalies): it is a pure function
    of its arguments and costs about a second to build; treat the returned arrays as read-only.
    """
    labelled = labelled_transactions(seed=seed, n=n)
    return TxFeatureExtractor().extract(labelled.txs, labelled.at_ms), labelled.labels


def _anomaly_metrics(net: DenseNet, eval_x: np.ndarray, eval_labels: np.ndarray,
                     holdout: np.ndarray) -> dict:
    return {**anomaly_model.evaluate(net, eval_x, eval_labels),
            "holdout_flag_rate": float(np.mean(AnomalyScorer(net).flags(holdout))),
            "threshold": float(net.params["threshold"])}


def _retrain_anomaly(x: np.ndarray, serving_artifact: bytes | None, seed: int) -> dict:
    split = x.shape[0] - max(1, round(HOLDOUT_FRACTION * x.shape[0]))
    train_x, holdout = x[:split], x[split:]
    if train_x.shape[0] > MAX_ANOMALY_TRAIN_ROWS:
        # Evenly spaced rows keep the whole period's traffic mix, and are the same for every seed.
        train_x = train_x[np.linspace(0, train_x.shape[0] - 1, MAX_ANOMALY_TRAIN_ROWS).astype(np.int64)]
    eval_x, eval_labels = labelled_rows(EVAL_SEED_OFFSET + seed, EVAL_TXS)
    injected_x, injected_labels = labelled_rows(INJECTED_SEED_OFFSET + seed, INJECTED_TXS)

    serving, serving_metrics, note = _serving(
        serving_artifact, "anomaly", lambda net: _anomaly_metrics(net, eval_x, eval_labels, holdout),
        "score these rows")

    anomalous = injected_x[injected_labels]
    fit_rows = round(train_x.shape[0] * (1 - anomaly_model.CALIBRATION_FRACTION)
                     + anomalous.shape[0] * (1 + anomaly_model.EXPOSURE_SHARE))
    epochs = _epochs(fit_rows, ANOMALY_BATCH, ANOMALY_STEP_BUDGET, ANOMALY_MAX_EPOCHS)
    trained = anomaly_model.train(train_x, anomalous, epochs=epochs, seed=seed,
                                  false_positive_rate=ANOMALY_FALSE_POSITIVE_RATE, features=TX_FEATURES)
    candidate = _numeric({**trained.metrics, **_anomaly_metrics(trained.net, eval_x, eval_labels, holdout),
                          "epochs": epochs, "holdout_rows": holdout.shape[0], "eval_txs": eval_x.shape[0]})
    limit = FLAG_RATE_SLACK * ANOMALY_FALSE_POSITIVE_RATE
    f1, rate = candidate["f1"], candidate["holdout_flag_rate"]
    if serving is None:
        better = True
        verdict = (f"synthetic F1 {f1:.3f}, live holdout flag rate {rate:.2%}; "
                   f"{note or 'no serving model to compare'}: better")
    else:
        limit = max(limit, serving_metrics["holdout_flag_rate"])
        f1_ok, rate_ok = f1 >= serving_metrics["f1"], rate <= limit
        better = f1_ok and rate_ok
        checks = (("lower F1", f1_ok), ("flags too much live traffic", rate_ok))
        failures = [why for why, ok in checks if not ok]
        verdict = (f"synthetic F1 {f1:.3f} vs serving {serving_metrics['f1']:.3f}, live holdout flag rate "
                   f"{rate:.2%} vs serving {serving_metrics['holdout_flag_rate']:.2%} (limit {limit:.2%}): "
                   + ("better" if better else f"not better ({' and '.join(failures)})"))
    return {"artifact": trained.net.to_bytes(), "candidate": candidate, "serving": serving_metrics,
            "better": better, "reason": verdict}
