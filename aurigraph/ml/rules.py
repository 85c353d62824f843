"""The hand-written rule baseline the anomaly model is measured against.

These are the thresholds an operator would write on day one, fixed by judgement and not tuned on
any labels, so that "the model beats the rules" means something. They read `TX_FEATURES` rows from
a `TxFeatureExtractor` with its default 60 s window; the counts below are per that window.

    flags = rule_flags(X)          # any rule fired
    hits = rule_hits(X)["burst"]   # which rule, for an alert's reason
"""

from __future__ import annotations

import math

import numpy as np

from aurigraph.ml.features import TX_FEATURES

BURST_SENDER_TXS = 20          # one sender's txs in a minute: ordinary accounts send a handful
LARGE_AMOUNT = 1_000_000       # a single transfer this large is worth a human look
FANOUT_NEW_RECIPIENTS = 10     # first-time recipients of one sender in a minute
REPLAY_REPEATS = 3             # earlier identical (recipient, amount) or data bodies in a minute

_RULES: dict[str, tuple[str, float]] = {
    "burst": ("sender_txs_window", BURST_SENDER_TXS),
    "amount": ("log_amount", LARGE_AMOUNT),
    "fanout": ("sender_new_recipients_window", FANOUT_NEW_RECIPIENTS),
    "replay": ("repeat_body_window", REPLAY_REPEATS),
}


def rule_hits(X: np.ndarray) -> dict[str, np.ndarray]:
    """Per rule, a bool mask over the rows of `X` (columns in `TX_FEATURES` order)."""
    if X.ndim != 2 or X.shape[1] != len(TX_FEATURES):
        raise ValueError(f"expected rows of {len(TX_FEATURES)} TX_FEATURES, got shape {X.shape}")
    # Columns are log1p-scaled, so compare against log1p of the threshold, with a little slack
    # for float32 rounding at exactly the threshold.
    return {name: X[:, TX_FEATURES.index(column)] >= math.log1p(threshold) - 1e-6
            for name, (column, threshold) in _RULES.items()}


def rule_flags(X: np.ndarray) -> np.ndarray:
    """True for each row that any rule flags."""
    return np.logical_or.reduce(list(rule_hits(X).values()))
