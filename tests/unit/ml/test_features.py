"""Feature extraction on hand-built inputs with exact expected rows, and window aggregation on a
known event sequence."""

from __future__ import annotations

import math

import numpy as np
import pytest

from aurigraph.codec import sign_transaction
from aurigraph.crypto import generate_keypair
from aurigraph.ledger import AdminNote, Block, BlockHeader, DataWrite, Transfer, TxBody
from aurigraph.ml import features
from aurigraph.ml.features import TX_FEATURES, WINDOW_FEATURES, TxFeatureExtractor, WindowAggregator

R1, R2, R3 = b"\x01" * 32, b"\x02" * 32, b"\x03" * 32


@pytest.fixture(scope="module")
def senders():
    return [generate_keypair() for _ in range(3)]


def _tx(keypair, to=R1, amount=5, nonce=0, fee=1):
    body = TxBody("aurigraph-test", keypair.address, nonce, fee, 1_000, Transfer(to, amount))
    return sign_transaction(body, keypair)


def _column(X, name):
    return X[:, TX_FEATURES.index(name)].tolist()


def _log1p(*counts):
    return [float(np.float32(math.log1p(c))) for c in counts]


def test_sender_window_counts_new_recipients_repeats_and_gaps(senders):
    a, b = senders[0], senders[1]
    data = sign_transaction(TxBody("aurigraph-test", b.address, 0, 2, 1_000, DataWrite("k", b"v")), b)
    txs = [_tx(a, R1, 5, 0), _tx(a, R1, 5, 1), data, _tx(a, R2, 7, 2), _tx(a, R1, 5, 3)]
    times = [0, 100, 150, 300, 1100]
    X = TxFeatureExtractor(window_ms=1000).extract(txs, times)

    assert X.shape == (5, len(TX_FEATURES)) and X.dtype == np.float32
    # At 1100 the window is (100, 1100]: the txs at 0 and 100 have left it.
    assert _column(X, "sender_txs_window") == _log1p(1, 2, 1, 3, 2)
    assert _column(X, "sender_new_recipients_window") == _log1p(1, 1, 0, 2, 1)
    assert _column(X, "recipient_new") == [1.0, 0.0, 0.0, 1.0, 0.0]
    assert _column(X, "repeat_body_window") == _log1p(0, 1, 0, 0, 0)
    assert _column(X, "log_sender_gap_ms") == _log1p(1000, 100, 1000, 200, 800)
    assert _column(X, "log_amount") == _log1p(5, 5, 0, 7, 5)
    assert _column(X, "is_data") == [0.0, 0.0, 1.0, 0.0, 0.0]
    assert _column(X, "log_fee") == _log1p(1, 1, 2, 1, 1)
    size = len(data.body_bytes) + len(data.public_key) + len(data.signature)
    assert _column(X, "log_size_bytes")[2] == _log1p(size)[0]


def test_the_same_txs_give_the_same_rows(senders):
    txs = [_tx(senders[i % 2], R1 if i % 3 else R2, 5 + i % 2, i) for i in range(20)]
    times = [i * 37 for i in range(20)]
    first = TxFeatureExtractor(window_ms=500).extract(txs, times)
    assert np.array_equal(first, TxFeatureExtractor(window_ms=500).extract(txs, times))


def test_one_time_for_a_batch_and_for_a_block(senders):
    a = senders[0]
    txs = (_tx(a, R1, 5, 0), _tx(a, R1, 5, 1), _tx(a, R2, 5, 2))
    header = BlockHeader("aurigraph-test", 0, 1, b"", b"", b"", b"", 5_000, len(txs))
    X = TxFeatureExtractor().extract_block(Block(header, txs))
    assert _column(X, "sender_txs_window") == _log1p(1, 2, 3)
    assert _column(X, "log_sender_gap_ms") == _log1p(60_000, 0, 0)
    assert np.array_equal(X, TxFeatureExtractor().extract(txs, 5_000))


def test_a_time_before_the_senders_latest_counts_as_the_latest(senders):
    a = senders[0]
    X = TxFeatureExtractor(window_ms=1000).extract([_tx(a, R1, 1, 0), _tx(a, R2, 1, 1)], [500, 400])
    assert _column(X, "log_sender_gap_ms") == _log1p(1000, 0)
    assert _column(X, "sender_txs_window") == _log1p(1, 2)


def test_least_recently_active_sender_is_evicted_and_comes_back_new(senders):
    a, b, c = senders
    extractor = TxFeatureExtractor(window_ms=10_000, max_senders=2)
    extractor.extract([_tx(a), _tx(b), _tx(a, nonce=1), _tx(c)], [0, 10, 20, 30])  # b is evicted
    assert extractor.tracked_senders == 2
    X = extractor.extract([_tx(a, nonce=2), _tx(b, nonce=1)], [40, 50])
    assert _column(X, "sender_txs_window") == _log1p(3, 1)
    assert _column(X, "recipient_new") == [0.0, 1.0]
    assert _column(X, "log_sender_gap_ms") == _log1p(20, 10_000)
    assert extractor.tracked_senders == 2


def test_recipient_memory_per_sender_is_bounded(senders, monkeypatch):
    monkeypatch.setattr(features, "MAX_RECIPIENTS_PER_SENDER", 2)
    a = senders[0]
    X = TxFeatureExtractor().extract([_tx(a, R1), _tx(a, R2), _tx(a, R3), _tx(a, R1)], 0)
    assert _column(X, "recipient_new") == [1.0, 1.0, 1.0, 1.0]  # R1 was forgotten when R3 came


def test_window_deque_is_trimmed_to_the_window(senders):
    a = senders[0]
    extractor = TxFeatureExtractor(window_ms=100)
    extractor.extract([_tx(a, nonce=i) for i in range(50)], list(range(0, 500, 10)))
    assert len(extractor._senders[a.address].recent) == 10


def test_window_aggregator_gives_exact_windows_with_empty_ones():
    agg = WindowAggregator(window_ms=1000)
    agg.on_ingress(10, 100)
    agg.on_pending(3, 200)
    agg.on_pending(7, 800)
    agg.on_ingress(5, 900)
    agg.on_block(4, 400, 20.0, [b"a", b"b"], 950)
    agg.on_block(2, 200, 40.0, [b"b"], 990)
    agg.on_ingress(4, 2500)
    agg.on_pending(1, 2600)

    first = agg.close(2999)
    assert [r.start_ms for r in first] == [0, 1000]
    assert first[0].values == (15.0, 6.0, 2.0, 3.0, 7.0, 30.0, 600.0, 2.0)
    # Idle window: no traffic, but the queue is still as deep as last reported.
    assert first[1].values == (0.0, 0.0, 0.0, 0.0, 7.0, 0.0, 0.0, 0.0)
    last = agg.close(3000)
    assert [r.start_ms for r in last] == [2000]
    assert last[0].values == (4.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0)
    assert last[0].as_array().dtype == np.float32 and last[0].as_array().shape == (len(WINDOW_FEATURES),)
    assert agg.close(3000) == []

    agg.on_ingress(1, 500)
    assert agg.late_events == 1


def test_rates_are_per_second_for_short_windows():
    agg = WindowAggregator(window_ms=250)
    agg.on_ingress(5, 10)
    agg.on_block(5, 1000, 12.0, [b"a"], 20)
    (record,) = agg.close(250)
    assert record.values[:2] == (20.0, 20.0) and record.values[6] == 4000.0


def test_a_long_gap_returns_only_the_newest_windows():
    agg = WindowAggregator(window_ms=1000, max_emit=3)
    agg.on_pending(9, 500)
    records = agg.close(10_000)
    assert [r.start_ms for r in records] == [7000, 8000, 9000]
    assert agg.skipped_windows == 7
    assert all(r.values[4] == 9.0 for r in records)


def test_first_close_without_events_starts_the_clock():
    agg = WindowAggregator(window_ms=1000)
    assert agg.close(1500) == []
    assert [r.start_ms for r in agg.close(3000)] == [1000, 2000]


def test_administrative_actions_are_featurized_like_other_non_transfers(senders):
    """The optimizer sees every committed transaction, audit notes included (a bug once stopped its
    rounds at the first one)."""
    a = senders[0]
    note = sign_transaction(TxBody("aurigraph-test", a.address, 0, 1, 1_000, AdminNote("membership", "x")), a)
    again = sign_transaction(TxBody("aurigraph-test", a.address, 1, 1, 1_000, AdminNote("membership", "x")), a)
    other = sign_transaction(TxBody("aurigraph-test", a.address, 2, 1, 1_000, AdminNote("membership", "y")), a)
    X = TxFeatureExtractor(window_ms=1000).extract([note, again, other], [0, 10, 20])
    assert _column(X, "is_data") == [1.0, 1.0, 1.0] and _column(X, "log_amount") == [0.0, 0.0, 0.0]
    assert _column(X, "repeat_body_window") == _log1p(0, 1, 0)


def test_a_senders_window_counts_match_a_recount_as_entries_come_and_go():
    """The running counts behind `repeat_body_window` and `sender_new_recipients_window` (kept so a
    busy sender's rows cost O(1), not O(window)) equal a recount of the window after every step."""
    import random

    rng = random.Random(7)
    state = features._SenderState()
    t = 0
    for _ in range(2_000):
        t += rng.randrange(0, 40)
        state.drop_before(t - 500)
        state.push(t, bytes([rng.randrange(5)]), rng.random() < 0.3)
        recount: dict[bytes, int] = {}
        for _, content, _ in state.recent:
            recount[content] = recount.get(content, 0) + 1
        assert state.content_counts == recount
        assert state.new_recipients == sum(1 for _, _, new in state.recent if new)
