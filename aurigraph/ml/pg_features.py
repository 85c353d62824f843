"""Optional PostgreSQL mirror of the feature store, for data scientists who query with SQL.

Switched on by configuration next to the indexer; RocksDB (`aurigraph.storage.feature_store`)
stays the store of record. One column per feature name, so `SELECT ingress_tps FROM ml_windows`
reads as it should:

    async with pool.acquire() as conn:
        await ensure_tables(conn, schema)          # idempotent, once at start
    await write_windows(pool, schema, records)
    await write_txs(pool, schema, at_ms, tx_ids, X, scores)

Writes are idempotent (a window by its start, a tx by its id: ON CONFLICT DO NOTHING), so a mirror
fed at least once after a restart holds each row once. Each call is one SQL transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from aurigraph.ml.features import TX_FEATURES, WINDOW_FEATURES, WindowRecord

# Feature names and schema names are spliced into SQL, so both must be plain identifiers.
_IDENTIFIER_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_")


def _identifier(name: str) -> str:
    if not name or name[0].isdigit() or not set(name) <= _IDENTIFIER_CHARS or len(name) > 63:
        raise ValueError(f"{name!r} is not a lower-case SQL identifier")
    return f'"{name}"'


def _columns(names: Sequence[str]) -> str:
    return ", ".join(f"{_identifier(n)} REAL NOT NULL" for n in names)


async def ensure_tables(conn, schema: str) -> None:
    """Create the schema and the `ml_windows` / `ml_tx_features` tables if they are missing."""
    s = _identifier(schema)
    await conn.execute(f"""
CREATE SCHEMA IF NOT EXISTS {s};
CREATE TABLE IF NOT EXISTS {s}.ml_windows (
    start_ms   BIGINT PRIMARY KEY,
    window_ms  INTEGER NOT NULL,
    {_columns(WINDOW_FEATURES)}
);
CREATE TABLE IF NOT EXISTS {s}.ml_tx_features (
    tx_id  BYTEA PRIMARY KEY,
    at_ms  BIGINT NOT NULL,
    score  REAL,
    {_columns(TX_FEATURES)}
);
CREATE INDEX IF NOT EXISTS ml_tx_features_by_time ON {s}.ml_tx_features (at_ms);
""")


def _insert(schema: str, table: str, leading: Sequence[str], features: Sequence[str], key: str) -> str:
    names = [*leading, *features]
    placeholders = ", ".join(f"${i}" for i in range(1, len(names) + 1))
    return (f"INSERT INTO {_identifier(schema)}.{table} ({', '.join(_identifier(n) for n in names)}) "  # nosec B608  # names checked by _identifier; values are $n parameters
            f"VALUES ({placeholders}) ON CONFLICT ({key}) DO NOTHING")


async def write_windows(pool, schema: str, records: Sequence[WindowRecord]) -> None:
    """Mirror closed windows; a window already there is left as it is."""
    sql = _insert(schema, "ml_windows", ("start_ms", "window_ms"), WINDOW_FEATURES, "start_ms")
    rows = [(r.start_ms, r.window_ms, *map(float, r.values)) for r in records]
    async with pool.acquire() as conn, conn.transaction():
        await conn.executemany(sql, rows)


async def write_txs(pool, schema: str, at_ms: int, tx_ids: Sequence[bytes], X: np.ndarray,
                    scores: np.ndarray | None) -> None:
    """Mirror one batch of tx feature rows (score NULL when not scored); a tx already there is
    left as it is."""
    X = np.asarray(X, dtype=np.float32)
    if X.shape != (len(tx_ids), len(TX_FEATURES)):
        raise ValueError(f"X has shape {X.shape}, expected ({len(tx_ids)}, {len(TX_FEATURES)})")
    score_list = [None] * len(tx_ids) if scores is None else [float(s) for s in scores]
    sql = _insert(schema, "ml_tx_features", ("tx_id", "at_ms", "score"), TX_FEATURES, "tx_id")
    rows = [(bytes(i), at_ms, s, *map(float, row)) for i, s, row in zip(tx_ids, score_list, X.tolist(), strict=True)]
    async with pool.acquire() as conn, conn.transaction():
        await conn.executemany(sql, rows)


class PgMirror:
    """The optimizer's PostgreSQL mirror: it takes the same `put_windows` / `put_txs` calls as the
    feature store (the optimizer core writes to both), buffers them, and writes them when the actor
    calls `flush` once a round. Best effort: PostgreSQL being down delays the mirror (the buffer
    keeps the newest `max_buffered` rows; older ones are dropped and counted in `dropped`), and
    never the optimizer."""

    def __init__(self, dsn: str, schema: str, max_buffered: int = 200_000) -> None:
        self.dsn, self.schema, self.max_buffered = dsn, schema, max_buffered
        self.dropped = 0
        self.last_error: str | None = None
        self._windows: list[WindowRecord] = []
        self._txs: list[tuple[int, list[bytes], np.ndarray, np.ndarray | None]] = []
        self._buffered = 0
        self._pool = None

    def put_windows(self, records: Sequence[WindowRecord]) -> None:
        self._windows.extend(records)
        self._bound()

    def put_txs(self, at_ms: int, tx_ids: Sequence[bytes], X: np.ndarray, scores: np.ndarray | None) -> None:
        self._txs.append((at_ms, list(tx_ids), np.array(X, dtype=np.float32),
                          None if scores is None else np.array(scores, dtype=np.float32)))
        self._buffered += len(tx_ids)
        self._bound()

    def _bound(self) -> None:
        while self._buffered > self.max_buffered and self._txs:
            self._buffered -= len(self._txs[0][1])
            self.dropped += len(self._txs.pop(0)[1])
        if len(self._windows) > self.max_buffered:
            self.dropped += len(self._windows) - self.max_buffered
            del self._windows[: len(self._windows) - self.max_buffered]

    async def flush(self) -> None:
        """Write what is buffered; on failure keep it for the next call and remember the error."""
        import asyncpg

        try:
            if self._pool is None:
                self._pool = await asyncpg.create_pool(self.dsn, min_size=0, max_size=2, timeout=5, command_timeout=30)
                async with self._pool.acquire() as conn:
                    await ensure_tables(conn, self.schema)
            if self._windows:
                await write_windows(self._pool, self.schema, self._windows)
                self._windows = []
            while self._txs:
                at_ms, ids, X, scores = self._txs[0]
                await write_txs(self._pool, self.schema, at_ms, ids, X, scores)
                self._txs.pop(0)
                self._buffered -= len(ids)
            self.last_error = None
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as e:
            self.last_error = f"{type(e).__name__}: {e}"
            if self._pool is not None and isinstance(e, (OSError, asyncpg.InterfaceError)):
                await self.close()  # reconnect next time

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            pool.terminate()
