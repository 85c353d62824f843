"""Range and history queries: account histories from the PostgreSQL index (when the node has one),
block ranges and the audit export from the node's own archive (always — it is the record).

Without a PostgreSQL DSN, account histories answer NOT_IMPLEMENTED with how to enable them; with
one that is down or not yet initialized, UNAVAILABLE with a retry hint. Nothing here writes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg

from aurigraph.codec.audit import audit_lines
from aurigraph.codec.blocks import parse_block_record
from aurigraph.indexer.pg import UNREACHABLE
from aurigraph.indexer.queries import MAX_PAGE, account_transactions
from aurigraph.ledger import Rejection
from aurigraph.v1 import query_pb2
from serve_apps.errors import ApiFailure
from serve_apps.node_api import NodeApi
from serve_apps.settings import GatewaySettings

MAX_RANGE_BLOCKS = 100  # per /v11/blocks response; the answer says where to go on
FETCH_BLOCKS = 16  # per call to the node while streaming an export
PG_TIMEOUT_S = 5.0
RETRY_AFTER_MS = 2000


def parse_page(text: str | None) -> tuple[int, int] | None:
    """`before=HEIGHT:POSITION` (as `next_page` gives it) to a cursor."""
    if not text:
        return None
    try:
        height, position = (int(part) for part in text.split(":"))
    except ValueError:
        raise ApiFailure("BAD_REQUEST", "before must be HEIGHT:POSITION, as next_page gives it") from None
    if not (0 <= height < 2**63 and 0 <= position < 2**31):
        raise ApiFailure("BAD_REQUEST", "before is out of range (HEIGHT < 2^63, POSITION < 2^31)")
    return height, position


class QueryService:
    def __init__(self, settings: GatewaySettings, api: NodeApi) -> None:
        self.settings = settings
        self.api = api
        self._pool: asyncpg.Pool | None = None
        self._pool_lock = asyncio.Lock()

    async def _index(self) -> asyncpg.Pool:
        if not self.settings.postgres_dsn:
            raise ApiFailure("NOT_IMPLEMENTED", "account histories need the PostgreSQL index, which this node "
                                                "does not run (start it with --postgres-dsn)")
        async with self._pool_lock:
            if self._pool is None:
                try:
                    self._pool = await asyncpg.create_pool(
                        self.settings.postgres_dsn, min_size=0, max_size=4, timeout=PG_TIMEOUT_S,
                        command_timeout=PG_TIMEOUT_S, server_settings={"search_path": self.settings.postgres_schema})
                except UNREACHABLE as e:
                    raise _unavailable(e) from None
            return self._pool

    async def account_transactions(self, address: bytes, limit: int, before: tuple[int, int] | None
                                   ) -> query_pb2.AccountTransactionsResponse:
        if not 1 <= limit <= MAX_PAGE:
            raise ApiFailure("BAD_REQUEST", f"limit must be 1 to {MAX_PAGE}")
        pool = await self._index()
        try:
            height, rows = await account_transactions(pool, address, limit, before)
        except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
            raise ApiFailure("UNAVAILABLE", "the index is not initialized yet", retry_after_ms=RETRY_AFTER_MS) from None
        except UNREACHABLE as e:
            raise _unavailable(e) from None
        out = query_pb2.AccountTransactionsResponse(indexed_height=height)
        for r in rows:
            t = out.transactions.add(tx_id=r.tx_id, height=r.height, position=r.position, sender=r.sender,
                                     nonce=r.nonce, fee=r.fee, timestamp_ms=r.timestamp_ms, status=r.status,
                                     fee_paid=r.fee_paid)
            if r.kind == "transfer":
                t.transfer.recipient, t.transfer.amount = r.recipient, r.amount
            else:
                t.data_key = r.data_key
            if r.reason:
                t.reason = int(Rejection[r.reason.upper()])
        if len(rows) == limit:
            out.next_page = f"{rows[-1].height}:{rows[-1].position}"
        return out

    async def range(self, from_height: int, to_height: int | None) -> tuple[int, int]:
        """The range asked for, checked against the head; `to` defaults to the head (an empty range,
        to < from, when `from` is above it)."""
        head = await self.api.head_height()
        if from_height < 1:
            raise ApiFailure("BAD_REQUEST", "from must be at least 1 (block 0 is the genesis block: /v11/blocks/0)")
        if to_height is None:
            return from_height, head
        if to_height < from_height:
            raise ApiFailure("BAD_REQUEST", f"to ({to_height}) is below from ({from_height})")
        if to_height > head:
            raise ApiFailure("NOT_FOUND", f"to ({to_height}) is above the committed head ({head})")
        return from_height, to_height

    async def _records(self, from_height: int, to_height: int) -> AsyncIterator[bytes]:
        height = from_height
        while height <= to_height:
            records = await self.api.blocks_from(height, min(FETCH_BLOCKS, to_height - height + 1))
            if not records:
                raise ApiFailure("UNAVAILABLE", f"block {height} could not be read", retry_after_ms=RETRY_AFTER_MS)
            for record in records:
                yield record
            height += len(records)

    async def block_range(self, from_height: int, to_height: int | None) -> query_pb2.BlockRangeResponse:
        """Headers and hashes of blocks from..to (default: the head), at most MAX_RANGE_BLOCKS."""
        from_height, to_height = await self.range(from_height, to_height)
        last = min(to_height, from_height + MAX_RANGE_BLOCKS - 1)
        out = query_pb2.BlockRangeResponse(next_from=last + 1 if last < to_height else 0)
        async for record in self._records(from_height, last):
            m = parse_block_record(record)
            out.blocks.add(header=m.block.header, hash=m.hash)
        return out

    def audit_lines(self, from_height: int, to_height: int) -> AsyncIterator[str]:
        """NDJSON lines of a range `range` checked."""
        async def lines() -> AsyncIterator[str]:
            async for record in self._records(from_height, to_height):
                for line in audit_lines(record):
                    yield line
        return lines()

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()


def _unavailable(e: Exception) -> ApiFailure:
    return ApiFailure("UNAVAILABLE", f"the PostgreSQL index is unreachable ({type(e).__name__})",
                      retry_after_ms=RETRY_AFTER_MS)

