"""Read queries on the index (the gateway's side): an account's transactions."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

MAX_PAGE = 1000


@dataclass(frozen=True)
class IndexedTx:
    tx_id: bytes
    height: int
    position: int
    sender: bytes
    nonce: int
    fee: int
    timestamp_ms: int
    kind: str
    recipient: bytes | None
    amount: int | None
    data_key: str | None
    status: int
    reason: str | None
    fee_paid: int


_COLUMNS = ("tx_id, height, position, sender, nonce, fee, timestamp_ms, kind, recipient, amount, data_key, status, "
            "reason, fee_paid")
# Newest first, as two index range scans (sender side, recipient side) merged: the OR of both
# conditions would make PostgreSQL sort every matching row before it could apply LIMIT.
_ACCOUNT_TXS = f"""
SELECT {_COLUMNS} FROM (
    (SELECT {_COLUMNS} FROM transactions WHERE sender = $1 AND (height, position) < ($2, $3)
     ORDER BY height DESC, position DESC LIMIT $4)
    UNION ALL
    (SELECT {_COLUMNS} FROM transactions WHERE recipient = $1 AND sender <> $1 AND (height, position) < ($2, $3)
     ORDER BY height DESC, position DESC LIMIT $4)
) AS t ORDER BY height DESC, position DESC LIMIT $4"""  # nosec B608  # only the constant _COLUMNS is interpolated; values are $n parameters

_NO_CURSOR = (2**63 - 1, 2**31 - 1)


def _int(value) -> int | None:
    return None if value is None else int(value)


async def account_transactions(pool: asyncpg.Pool, address: bytes, limit: int,
                               before: tuple[int, int] | None = None) -> tuple[int, list[IndexedTx]]:
    """The indexed height, and transactions sent or received by `address` as of it, newest first,
    strictly before the (height, position) cursor `before` when given; at most `limit` (1..MAX_PAGE)."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be 1 to {MAX_PAGE}")
    height, position = before or _NO_CURSOR
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        indexed = await conn.fetchval("SELECT height FROM index_cursor")  # one snapshot with the rows
        rows = await conn.fetch(_ACCOUNT_TXS, address, height, position, limit)
    return indexed or 0, [
        IndexedTx(r["tx_id"], r["height"], r["position"], r["sender"], int(r["nonce"]), int(r["fee"]),
                  r["timestamp_ms"], r["kind"], r["recipient"], _int(r["amount"]),
                  None if r["data_key"] is None else r["data_key"].decode(), r["status"], r["reason"],
                  int(r["fee_paid"])) for r in rows]

