"""Train the default models a node ships with, on seeded synthetic data, and write them as artifacts.

    python -m models.bootstrap [--out models/artifacts] [--seed 0]

writes `<out>/<name>/model.npz` (a `DenseNet`) and `<out>/<name>/meta.json` for "load" and
"anomaly", the layout `aurigraph.ml.registry.ModelRegistry.seed_from` reads when a node starts with
an empty registry. The output is a pure function of the seed (training is seeded and TensorFlow ops
are deterministic), so regenerating the checked-in artifacts gives the same bytes; a change in
them means the data or the training code changed.

Load: `aurigraph.ml.synthetic.training_rates(seed)`, with the lookback and horizon that retrains
use (`models.retrain`). Anomaly: `labelled_transactions(seed, n=20_000)` through one
`TxFeatureExtractor`, its normal rows as normal and its injected episodes as anomalous, with the
false-positive rate retrains use; its metrics also hold precision/recall/F1 on the synthetic
evaluation set a retrain with this seed is judged on (another seed, never trained on).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from aurigraph.ml.features import TX_FEATURES
from aurigraph.ml.synthetic import training_rates
from models import anomaly_model, load_model
from models.retrain import (
    ANOMALY_FALSE_POSITIVE_RATE,
    EVAL_SEED_OFFSET,
    EVAL_TXS,
    LOAD_HORIZON,
    LOAD_LOOKBACK,
    labelled_rows,
)
from models.training import TrainedModel

DEFAULT_OUT = Path(__file__).resolve().parent / "artifacts"
ANOMALY_TXS = 20_000
# Offline, so the full recipes of `models/*_model.py`, not the step budgets of a live retrain.
LOAD_EPOCHS = 40
ANOMALY_EPOCHS = 20


def train_load(seed: int) -> tuple[TrainedModel, int]:
    """The load model on `training_rates(seed)`, and how many windows it saw."""
    rates = training_rates(seed)
    trained = load_model.train(rates, lookback=LOAD_LOOKBACK, horizon=LOAD_HORIZON, epochs=LOAD_EPOCHS,
                               seed=seed)
    return trained, int(rates.shape[0])


def train_anomaly(seed: int) -> tuple[TrainedModel, int]:
    """The anomaly classifier on the labelled synthetic rows of `seed`, and how many rows it saw."""
    x, labels = labelled_rows(seed, ANOMALY_TXS)
    trained = anomaly_model.train(x[~labels], x[labels], epochs=ANOMALY_EPOCHS, seed=seed,
                                  false_positive_rate=ANOMALY_FALSE_POSITIVE_RATE, features=TX_FEATURES)
    eval_x, eval_labels = labelled_rows(EVAL_SEED_OFFSET + seed, EVAL_TXS)
    metrics = {**trained.metrics, **anomaly_model.evaluate(trained.net, eval_x, eval_labels)}
    return TrainedModel(trained.net, metrics), int(x.shape[0])


def write_artifact(folder: Path, trained: TrainedModel, rows: int, seed: int) -> None:
    """`model.npz` and `meta.json` in `folder` (created), in the layout `ModelRegistry.seed_from` reads."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.npz").write_bytes(trained.net.to_bytes())
    meta = {"metrics": trained.metrics, "data_window": {"since_ms": 0, "until_ms": 0, "rows": rows},
            "source": f"synthetic, seed {seed}", "trained_by": "python -m models.bootstrap"}
    (folder / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models.bootstrap", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="artifact folder (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="synthetic data and training seed")
    args = parser.parse_args(argv)
    for name, train in (("load", train_load), ("anomaly", train_anomaly)):
        print(f"training the {name} model on synthetic data (seed {args.seed}) …", file=sys.stderr,
              flush=True)
        trained, rows = train(args.seed)
        write_artifact(args.out / name, trained, rows, args.seed)
        shown = ", ".join(f"{k}={v:.4g}" for k, v in sorted(trained.metrics.items()))
        print(f"{name}: {rows} rows -> {args.out / name}; {shown}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
