"""Synthetic data is a pure function of its seed and holds what it claims; the rule baseline
catches the obvious cases on it."""

from __future__ import annotations

import numpy as np
import pytest

from aurigraph.crypto import verify_batch
from aurigraph.ledger import signing_message
from aurigraph.ml.features import TX_FEATURES, TxFeatureExtractor
from aurigraph.ml.rules import LARGE_AMOUNT, rule_flags, rule_hits
from aurigraph.ml.synthetic import PATTERNS, labelled_transactions, load_trace, training_rates


@pytest.fixture(scope="module")
def labelled():
    return labelled_transactions(7, n=2000)


def test_labelled_transactions_are_the_same_for_a_seed(labelled):
    again = labelled_transactions(7, n=2000)
    assert [t.body_bytes + t.signature for t in again.txs] == [t.body_bytes + t.signature for t in labelled.txs]
    assert again.at_ms == labelled.at_ms and again.patterns == labelled.patterns
    assert np.array_equal(again.labels, labelled.labels)
    other = labelled_transactions(8, n=200)
    assert other.txs[0].body_bytes != labelled.txs[0].body_bytes


def test_labelled_set_holds_every_pattern_in_time_order_with_valid_signatures(labelled):
    assert len(labelled.txs) == len(labelled.at_ms) == len(labelled.labels) == len(labelled.patterns) == 2000
    assert labelled.at_ms == sorted(labelled.at_ms)
    assert labelled.labels.sum() == 100
    patterns = np.array(labelled.patterns)
    assert set(patterns) == {"normal", *PATTERNS}
    assert np.array_equal(labelled.labels, patterns != "normal")
    checks = verify_batch([(t.scheme, t.public_key, signing_message(t.body_bytes), t.signature) for t in labelled.txs])
    assert all(checks)
    # Each sender's nonces count up in the order the txs were seen.
    last: dict[bytes, int] = {}
    for t in labelled.txs:
        assert t.body.nonce == last.get(t.body.sender, 0) + 1
        last[t.body.sender] = t.body.nonce


def test_replays_repeat_one_content_and_amount_anomalies_are_large(labelled):
    replays = [t.body for t, p in zip(labelled.txs, labelled.patterns, strict=True) if p == "replay"]
    assert len({(b.sender, b.kind) for b in replays}) < len(replays) // 5
    assert len({(b.sender, b.nonce) for b in replays}) == len(replays)
    amounts = [t.body.kind.amount for t, p in zip(labelled.txs, labelled.patterns, strict=True) if p == "amount"]
    assert min(amounts) >= 10**7


def test_rules_catch_the_obvious_cases_without_flagging_most_traffic(labelled):
    X = TxFeatureExtractor().extract(labelled.txs, labelled.at_ms)
    flags = rule_flags(X)
    y = labelled.labels
    assert (flags & y).sum() / y.sum() > 0.3
    assert (flags & ~y).sum() / (~y).sum() < 0.05
    hits = rule_hits(X)
    assert set(hits) == set(PATTERNS)
    amount = np.array(labelled.patterns) == "amount"
    assert hits["amount"][amount].all()


def test_rule_thresholds_fire_at_exactly_the_threshold():
    X = np.zeros((2, len(TX_FEATURES)), dtype=np.float32)
    X[0, TX_FEATURES.index("log_amount")] = np.log1p(LARGE_AMOUNT)
    X[1, TX_FEATURES.index("log_amount")] = np.log1p(LARGE_AMOUNT - 1000)
    assert rule_flags(X).tolist() == [True, False]
    with pytest.raises(ValueError, match="TX_FEATURES"):
        rule_flags(np.zeros((2, 3)))


def test_load_trace_follows_its_phases_and_is_seeded():
    trace = load_trace(1)
    assert trace.shape == (45,) and trace.dtype == np.float32
    assert np.array_equal(trace, load_trace(1)) and not np.array_equal(trace, load_trace(2))
    idle, ramp, burst = trace[:10], trace[10:25], trace[25:35]
    assert idle.mean() < 40 and burst.mean() > 2500
    assert ramp[-1] > ramp[0]
    short = load_trace(1, phases=(("diurnal", 100),), window_ms=100)
    assert short.shape == (100,) and short.max() > 2000 and short.min() < 200
    with pytest.raises(ValueError, match="unknown phase"):
        load_trace(1, phases=(("storm", 3),))


def test_training_rates_are_long_varied_and_seeded():
    rates = training_rates(0)
    assert rates.shape == (2000,) and (rates >= 0).all()
    assert np.array_equal(rates, training_rates(0))
    assert rates.max() > 1000 and rates.min() < 200
    # Several cycles: the rate crosses its median many times.
    above = rates > np.median(rates)
    assert (above[1:] != above[:-1]).sum() > 10
