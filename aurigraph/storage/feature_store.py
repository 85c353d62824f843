"""The optimizer's feature store: window and transaction feature rows in RocksDB, kept across
restarts so models can retrain on recent history and data scientists can export it.

Layout (one RocksDB, raw bytes, big-endian integers so scans run in time order):
    b"M" + b"features"          -> JSON {"format": FORMAT_VERSION, "window_features": [...], "tx_features": [...]}
    b"M" + b"state"             -> u64 next sequence, u64 window rows, u64 tx rows
    b"W" + u64 start_ms + u64 seq -> window values as float32 little-endian bytes, `WINDOW_FEATURES` order
    b"X" + u64 at_ms + u64 seq    -> u8 id length, tx id, float32 score (NaN: not scored), float32 features

The sequence number makes rows at the same millisecond distinct and keeps them in write order.
Each `put_*` is one atomic write batch (rows and counters together), so counts match rows after a
crash. The batches are not fsync'd (`write_atomically`): the optimizer writes one per block, and
fsyncs of training data would compete with the replicas' for the disk; a process crash loses
nothing, a machine crash at most the last moments' rows. The store is bounded: once a kind holds more than its maximum plus 10% headroom, its
oldest rows are deleted down to the maximum in one more batch, so trimming is paid once per ~10%
of the maximum written, not on every write.
A store written with other feature names refuses to open (`FeatureSetMismatch`): rows are
positional, and silently reading them under new names would feed models the wrong columns.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from aurigraph.ml.features import TX_FEATURES, WINDOW_FEATURES, WindowRecord
from aurigraph.storage.rocks import new_batch, open_db, scan_prefix, write_atomically, write_durably

FORMAT_VERSION = 1
_META_FEATURES = b"Mfeatures"
_META_STATE = b"Mstate"
_WINDOW = b"W"
_TX = b"X"
_KEY = struct.Struct(">QQ")
_STATE = struct.Struct(">QQQ")
_F32 = np.dtype("<f4")


class FeatureSetMismatch(RuntimeError):
    """The store on disk was written with a different feature set or format."""


class FeatureStore:
    """Bounded, durable rows of features. Single writer: the optimizer actor that owns it."""

    def __init__(self, path: Path, max_windows: int = 200_000, max_txs: int = 2_000_000, *,
                 window_features: Sequence[str] = WINDOW_FEATURES, tx_features: Sequence[str] = TX_FEATURES) -> None:
        if max_windows <= 0 or max_txs <= 0:
            raise ValueError("max_windows and max_txs must be positive")
        self.window_features = tuple(window_features)
        self.tx_features = tuple(tx_features)
        self._max = {_WINDOW: max_windows, _TX: max_txs}
        self._db = open_db(Path(path))
        wanted = {"format": FORMAT_VERSION, "window_features": list(self.window_features),
                  "tx_features": list(self.tx_features)}
        stored = self._db.get(_META_FEATURES)
        if stored is None:
            batch = new_batch()
            batch.put(_META_FEATURES, json.dumps(wanted).encode())
            batch.put(_META_STATE, _STATE.pack(0, 0, 0))
            write_durably(self._db, batch)
        elif json.loads(stored) != wanted:
            self._db.close()
            raise FeatureSetMismatch(
                f"feature store at {path} was written with {stored.decode()}, this code expects "
                f"{json.dumps(wanted)}; export it and start a new store")
        seq, windows, txs = _STATE.unpack(self._db[_META_STATE])
        self._seq = seq
        self._counts = {_WINDOW: windows, _TX: txs}

    def counts(self) -> dict[str, int]:
        return {"windows": self._counts[_WINDOW], "txs": self._counts[_TX]}

    def put_windows(self, records: Sequence[WindowRecord]) -> None:
        """Append closed windows (one atomic batch)."""
        batch = new_batch()
        for record in records:
            values = np.asarray(record.values, dtype=_F32)
            if values.shape != (len(self.window_features),):
                raise ValueError(f"window has {values.size} values, expected {len(self.window_features)}")
            batch.put(_WINDOW + _KEY.pack(record.start_ms, self._next_seq()), values.tobytes())
        self._commit(batch, _WINDOW, len(records))

    def put_txs(self, at_ms: int, tx_ids: Sequence[bytes], X: np.ndarray, scores: np.ndarray | None) -> None:
        """Append one batch of tx feature rows seen at `at_ms` (and their anomaly scores, if scored)
        (one atomic batch)."""
        X = np.asarray(X, dtype=_F32)
        if X.shape != (len(tx_ids), len(self.tx_features)):
            raise ValueError(f"X has shape {X.shape}, expected ({len(tx_ids)}, {len(self.tx_features)})")
        score_col = np.full(len(tx_ids), np.nan, dtype=_F32) if scores is None else np.asarray(scores, dtype=_F32)
        if score_col.shape != (len(tx_ids),):
            raise ValueError(f"scores has shape {score_col.shape}, expected ({len(tx_ids)},)")
        batch = new_batch()
        for tx_id, score, row in zip(tx_ids, score_col, X, strict=True):
            if not 0 < len(tx_id) < 256:
                raise ValueError(f"tx id must be 1 to 255 bytes, got {len(tx_id)}")
            value = bytes([len(tx_id)]) + tx_id + score.tobytes() + row.tobytes()
            batch.put(_TX + _KEY.pack(at_ms, self._next_seq()), value)
        self._commit(batch, _TX, len(tx_ids))

    def windows(self, since_ms: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """(start_ms int64[n], values float32[n, len(window_features)]) for windows starting at or
        after `since_ms`, oldest first."""
        starts, rows = [], []
        for key, value in scan_prefix(self._db, _WINDOW, _WINDOW + _KEY.pack(since_ms, 0)):
            starts.append(_KEY.unpack(key[1:])[0])
            rows.append(value)
        values = np.frombuffer(b"".join(rows), dtype=_F32).reshape(len(rows), len(self.window_features))
        return np.array(starts, dtype=np.int64), values.astype(np.float32)

    def txs(self, since_ms: int = 0, limit: int | None = None
            ) -> tuple[np.ndarray, list[bytes], np.ndarray, np.ndarray]:
        """(at_ms int64[n], tx ids, X float32[n, len(tx_features)], scores float32[n], NaN where not
        scored) for rows seen at or after `since_ms`, oldest first, at most `limit` of them."""
        at, ids, scores, rows = [], [], [], []
        width = 4 * len(self.tx_features)
        for key, value in scan_prefix(self._db, _TX, _TX + _KEY.pack(since_ms, 0)):
            if limit is not None and len(at) >= limit:
                break
            n = value[0]
            at.append(_KEY.unpack(key[1:])[0])
            ids.append(bytes(value[1:1 + n]))
            scores.append(value[1 + n:5 + n])
            rows.append(value[5 + n:5 + n + width])
        X = np.frombuffer(b"".join(rows), dtype=_F32).reshape(len(rows), len(self.tx_features))
        return (np.array(at, dtype=np.int64), ids, X.astype(np.float32),
                np.frombuffer(b"".join(scores), dtype=_F32).astype(np.float32))

    def dataset(self, since_ms: int = 0) -> dict[str, np.ndarray]:
        """Rows from `since_ms` on, as named arrays (what `save_npz` writes): format_version (int64
        scalar), window_features / tx_features (unicode arrays), window_start_ms (int64[n]),
        window_values (float32[n, W]), tx_at_ms (int64[m]), tx_ids (uint8[m, id length]; every tx
        id has the same length), tx_X (float32[m, T]), tx_scores (float32[m], NaN: not scored)."""
        starts, values = self.windows(since_ms)
        at, ids, X, scores = self.txs(since_ms)
        id_size = len(ids[0]) if ids else 64
        if any(len(i) != id_size for i in ids):
            raise ValueError("tx ids of different lengths cannot be exported as one matrix")
        ids_matrix = np.frombuffer(b"".join(ids), dtype=np.uint8).reshape(len(ids), id_size)
        return {"format_version": np.int64(FORMAT_VERSION),
                "window_features": np.array(self.window_features, dtype=str),
                "tx_features": np.array(self.tx_features, dtype=str),
                "window_start_ms": starts, "window_values": values,
                "tx_at_ms": at, "tx_ids": ids_matrix, "tx_X": X, "tx_scores": scores}

    def export_npz(self, path: Path, since_ms: int = 0) -> dict[str, int]:
        """Write rows from `since_ms` on to one .npz (`dataset`'s arrays) and return
        {"windows": n, "txs": m}."""
        return save_npz(path, self.dataset(since_ms))

    def close(self) -> None:
        self._db.close()

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _commit(self, batch, prefix: bytes, added: int) -> None:
        """Write `batch` with the new counters; if that passes the headroom, delete the oldest rows
        down to the maximum in a second batch. Each batch carries its counters, so rows and
        counts never disagree on disk."""
        self._counts[prefix] += added
        self._write(batch)
        excess = self._counts[prefix] - self._max[prefix]
        if excess > max(1, self._max[prefix] // 10):
            trim = new_batch()
            for trimmed, (key, _) in enumerate(scan_prefix(self._db, prefix)):
                if trimmed == excess:
                    break
                trim.delete(key)
            self._counts[prefix] -= excess
            self._write(trim)

    def _write(self, batch) -> None:
        batch.put(_META_STATE, _STATE.pack(self._seq, self._counts[_WINDOW], self._counts[_TX]))
        write_atomically(self._db, batch)


def save_npz(path: Path, dataset: dict[str, np.ndarray]) -> dict[str, int]:
    """Write a `FeatureStore.dataset` to `path` (loads with `np.load(path)`, no pickle needed);
    returns {"windows": n, "txs": m}."""
    with open(path, "wb") as f:
        np.savez(f, **dataset)
    return {"windows": len(dataset["window_start_ms"]), "txs": len(dataset["tx_at_ms"])}
