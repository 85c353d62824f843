"""The PostgreSQL feature mirror on the real server: tables created idempotently, rows written
once, readable by feature name."""

from __future__ import annotations

import asyncio

import asyncpg
import numpy as np
import pytest

from aurigraph.ml.features import TX_FEATURES, WINDOW_FEATURES, WindowRecord
from aurigraph.ml.pg_features import ensure_tables, write_txs, write_windows
from tests.integration.conftest import DSN


async def _mirror(schema: str):
    ids = [bytes([i]) * 64 for i in range(3)]
    X = np.arange(3 * len(TX_FEATURES), dtype=np.float32).reshape(3, len(TX_FEATURES))
    windows = [WindowRecord(s, 1000, tuple(float(i) for i in range(len(WINDOW_FEATURES)))) for s in (0, 1000)]
    async with asyncpg.create_pool(DSN, min_size=1, max_size=2) as pool:
        async with pool.acquire() as conn:
            await ensure_tables(conn, schema)
            await ensure_tables(conn, schema)
        for _ in range(2):  # at-least-once delivery: the second copy changes nothing
            await write_windows(pool, schema, windows)
            await write_txs(pool, schema, 500, ids[:2], X[:2], np.array([0.5, 1.5]))
            await write_txs(pool, schema, 600, ids[2:], X[2:], None)
        async with pool.acquire() as conn:
            w = await conn.fetch(f'SELECT start_ms, ingress_tps, distinct_senders FROM "{schema}".ml_windows ORDER BY 1')
            t = await conn.fetch(f'SELECT tx_id, at_ms, score, log_sender_gap_ms FROM "{schema}".ml_tx_features ORDER BY at_ms, tx_id')
    return ids, X, w, t


def test_mirror_writes_each_row_once_under_feature_names(pg_schema):
    ids, X, w, t = asyncio.run(_mirror(pg_schema))
    assert [tuple(r) for r in w] == [(0, 0.0, 7.0), (1000, 0.0, 7.0)]
    assert [bytes(r["tx_id"]) for r in t] == ids
    assert [r["at_ms"] for r in t] == [500, 500, 600]
    assert [r["score"] for r in t] == [0.5, 1.5, None]
    assert [r["log_sender_gap_ms"] for r in t] == X[:, -1].tolist()


def test_schema_names_must_be_plain_identifiers():
    with pytest.raises(ValueError, match="identifier"):
        asyncio.run(ensure_tables(None, 'x"; DROP TABLE y; --'))
