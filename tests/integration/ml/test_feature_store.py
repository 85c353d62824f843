"""The feature store on a real RocksDB: round trips, restarts, the bound, export, and refusing a
store written with another feature set."""

from __future__ import annotations

import numpy as np
import pytest

from aurigraph.ml.features import TX_FEATURES, WINDOW_FEATURES, WindowRecord
from aurigraph.storage.feature_store import FORMAT_VERSION, FeatureSetMismatch, FeatureStore

W, T = len(WINDOW_FEATURES), len(TX_FEATURES)


def _windows(starts):
    return [WindowRecord(s, 1000, tuple(float(s / 1000 + i) for i in range(W))) for s in starts]


def _txs(n, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.bytes(64) for _ in range(n)], rng.normal(size=(n, T)).astype(np.float32)


@pytest.fixture
def store(tmp_path):
    s = FeatureStore(tmp_path / "features")
    yield s
    s.close()


def test_windows_round_trip_in_time_order(store):
    store.put_windows(_windows([2000, 3000]))
    store.put_windows(_windows([1000]))
    starts, values = store.windows()
    assert starts.tolist() == [1000, 2000, 3000] and starts.dtype == np.int64
    assert values.dtype == np.float32 and values.shape == (3, W)
    assert values[0].tolist() == list(_windows([1000])[0].values)
    assert store.windows(since_ms=2000)[0].tolist() == [2000, 3000]
    assert store.counts() == {"windows": 3, "txs": 0}


def test_txs_round_trip_with_and_without_scores(store):
    ids, X = _txs(5)
    store.put_txs(500, ids[:3], X[:3], np.array([0.1, 0.2, 0.3]))
    store.put_txs(500, ids[3:], X[3:], None)  # same millisecond: kept, after the first batch
    at, got_ids, got_X, scores = store.txs()
    assert at.tolist() == [500] * 5 and got_ids == ids
    assert np.array_equal(got_X, X)
    assert np.allclose(scores[:3], [0.1, 0.2, 0.3]) and np.isnan(scores[3:]).all()
    assert store.txs(limit=2)[1] == ids[:2]
    assert store.txs(since_ms=501)[0].size == 0
    with pytest.raises(ValueError, match="shape"):
        store.put_txs(600, ids[:2], X[:3], None)


def test_rows_survive_close_and_reopen(tmp_path):
    ids, X = _txs(4)
    first = FeatureStore(tmp_path / "f")
    first.put_windows(_windows([0, 1000]))
    first.put_txs(10, ids[:2], X[:2], None)
    first.close()
    reopened = FeatureStore(tmp_path / "f")
    reopened.put_txs(10, ids[2:], X[2:], None)
    assert reopened.counts() == {"windows": 2, "txs": 4}
    assert reopened.txs()[1] == ids  # sequence numbers carry on after a restart
    assert reopened.windows()[0].tolist() == [0, 1000]
    reopened.close()


def test_the_bound_drops_the_oldest_rows(tmp_path):
    s = FeatureStore(tmp_path / "f", max_windows=20, max_txs=10)
    for start in range(0, 100_000, 1000):
        s.put_windows(_windows([start]))
        assert s.counts()["windows"] <= 22  # the maximum plus its headroom
    starts, _ = s.windows()
    assert len(starts) == s.counts()["windows"]
    assert starts[-1] == 99_000 and starts.tolist() == list(range(starts[0], 100_000, 1000))
    ids, X = _txs(30)
    s.put_txs(1, ids, X, None)  # one write larger than the bound
    assert s.counts()["txs"] == 10 and s.txs()[1] == ids[-10:]
    s.close()
    reopened = FeatureStore(tmp_path / "f", max_windows=20, max_txs=10)
    assert reopened.counts() == {"windows": len(starts), "txs": 10}
    reopened.close()


def test_export_npz_round_trip(store, tmp_path):
    ids, X = _txs(3)
    store.put_windows(_windows([0, 1000, 2000]))
    store.put_txs(1500, ids, X, np.array([1.0, 2.0, 3.0]))
    counts = store.export_npz(tmp_path / "out.npz", since_ms=1000)
    assert counts == {"windows": 2, "txs": 3}
    data = np.load(tmp_path / "out.npz")
    assert int(data["format_version"]) == FORMAT_VERSION
    assert tuple(data["window_features"]) == WINDOW_FEATURES and tuple(data["tx_features"]) == TX_FEATURES
    assert data["window_start_ms"].tolist() == [1000, 2000]
    assert np.array_equal(data["window_values"], store.windows(1000)[1])
    assert data["tx_at_ms"].tolist() == [1500] * 3
    assert [bytes(row) for row in data["tx_ids"]] == ids
    assert np.array_equal(data["tx_X"], X) and data["tx_scores"].tolist() == [1.0, 2.0, 3.0]
    empty = FeatureStore(tmp_path / "empty")
    assert empty.export_npz(tmp_path / "empty.npz") == {"windows": 0, "txs": 0}
    assert np.load(tmp_path / "empty.npz")["tx_ids"].shape == (0, 64)
    empty.close()


def test_refuses_a_store_written_with_another_feature_set(tmp_path):
    FeatureStore(tmp_path / "f").close()
    with pytest.raises(FeatureSetMismatch, match="tx_features"):
        FeatureStore(tmp_path / "f", tx_features=(*TX_FEATURES, "log_extra"))
    with pytest.raises(FeatureSetMismatch):
        FeatureStore(tmp_path / "f", window_features=tuple(reversed(WINDOW_FEATURES)))
    FeatureStore(tmp_path / "f").close()  # the refusal left the store usable
