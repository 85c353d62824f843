"""`PgIndex`: the indexer's PostgreSQL side (asyncpg).

`index(records)` writes consecutive committed blocks in ONE SQL transaction: it locks the cursor
row, skips blocks already indexed, replays the rest on the indexed balances (`rows.block_rows`),
COPYs blocks and transactions, upserts accounts and data entries, and moves the cursor. A crash,
a lost connection or a killed backend anywhere before COMMIT leaves nothing of the batch; after it,
everything. Re-indexing a height is a no-op, so at-least-once delivery of blocks is enough.

Every table lives in one PostgreSQL schema (`schema`, default `aurigraph`), created if missing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import asyncpg

from aurigraph.indexer.migrations import migrate
from aurigraph.indexer.rows import (
    BLOCK_COLUMNS,
    TX_COLUMNS,
    IndexGap,
    IndexHead,
    block_rows,
    decode_records,
    touched,
)
from aurigraph.ledger import Account, Genesis, MemoryState, block_hash, genesis_block

DEFAULT_SCHEMA = "aurigraph"
APPLICATION_NAME = "aurigraph-indexer"  # its sessions show in pg_stat_activity as aurigraph-indexer:<schema>
ACCOUNT_COLUMNS = ("address", "balance", "nonce", "updated_height")
DATA_COLUMNS = ("address", "key", "value_digest", "updated_height")
META_COLUMNS = ("key", "value", "updated_height")

__all__ = ["UNREACHABLE", "ChainMismatch", "IndexGap", "PgIndex", "connect_pool", "drop_schema", "valid_schema"]
# PostgreSQL away (down, restarting, connection lost or terminated): retry later. Any other error
# (bad data, a constraint) is a bug or a mismatch, and retrying would only repeat it.
UNREACHABLE = (OSError, TimeoutError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError,
               asyncpg.exceptions.OperatorInterventionError, asyncpg.exceptions.InsufficientResourcesError,
               asyncpg.CannotConnectNowError)
SCHEMA_PATTERN = r"^[a-z_][a-z0-9_]{0,62}$"  # unquoted in search_path, so lower case only


def valid_schema(name: str) -> str:
    if not re.match(SCHEMA_PATTERN, name):
        raise ValueError(f"schema name {name!r} must be lower-case letters, digits and _ (at most 63)")
    return name


class ChainMismatch(RuntimeError):
    """The database holds the index of another chain."""


async def connect_pool(dsn: str, schema: str = DEFAULT_SCHEMA, *, min_size: int = 1, max_size: int = 4,
                       timeout_s: float = 10.0) -> asyncpg.Pool:
    """A pool whose connections see `schema` first (created if missing, with the migrations applied)."""
    valid_schema(schema)
    async with asyncpg.create_pool(dsn, min_size=1, max_size=1, timeout=timeout_s) as bootstrap:
        await bootstrap.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, timeout=timeout_s,
                                     server_settings={"search_path": schema,
                                                      "application_name": f"{APPLICATION_NAME}:{schema}"})
    async with pool.acquire() as conn:
        await migrate(conn)
    return pool


async def drop_schema(dsn: str, schema: str) -> None:
    """Remove an index (its whole schema), e.g. to rebuild it after a restore."""
    valid_schema(schema)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


class PgIndex:
    def __init__(self, pool: asyncpg.Pool, genesis: Genesis) -> None:
        self.pool = pool
        self.genesis = genesis
        self._genesis_header = genesis_block(genesis).header
        self.genesis_hash = block_hash(self._genesis_header)

    @classmethod
    async def open(cls, dsn: str, genesis: Genesis, schema: str = DEFAULT_SCHEMA) -> PgIndex:
        """Connect, migrate, and check (or start, at the genesis) the index of `genesis`'s chain."""
        index = cls(await connect_pool(dsn, schema, max_size=2), genesis)
        try:
            await index._start()
        except BaseException:
            await index.pool.close()
            raise
        return index

    async def close(self) -> None:
        await self.pool.close()

    async def _start(self) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow("SELECT chain_id, genesis_hash FROM index_cursor FOR UPDATE")
            if row is not None:
                if row["genesis_hash"] != self.genesis_hash:
                    raise ChainMismatch(f"this database indexes chain {row['chain_id']!r} (another genesis hash); "
                                        f"use another database or --postgres-schema")
                return
            g = self._genesis_header
            await conn.copy_records_to_table("blocks", columns=BLOCK_COLUMNS, records=[(
                0, self.genesis_hash, g.prev_hash, g.tx_root, g.state_digest, g.proposer, g.timestamp_ms, 0,
                g.shard_id)])
            await conn.copy_records_to_table("accounts", columns=ACCOUNT_COLUMNS, records=[
                (address, amount, 0, 0) for address, amount in self.genesis.balances if amount])
            await conn.execute("INSERT INTO index_cursor (chain_id, genesis_hash, height, block_hash, state_digest) "
                               "VALUES ($1, $2, 0, $3, $4)", self.genesis.chain_id, self.genesis_hash,
                               self.genesis_hash, g.state_digest)

    async def head(self) -> IndexHead:
        row = await self.pool.fetchrow("SELECT height, block_hash, state_digest FROM index_cursor")
        return IndexHead(row["height"], row["block_hash"], row["state_digest"])

    async def index(self, records: Sequence[bytes]) -> tuple[int, int]:
        """Index consecutive `BlockRecord`s (any already indexed are skipped); returns the indexed
        height after it and the number of rows written."""
        blocks = decode_records(records)
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow("SELECT height, block_hash, state_digest FROM index_cursor FOR UPDATE")
            head = IndexHead(row["height"], row["block_hash"], row["state_digest"])
            blocks = [b for b in blocks if b[0].header.height > head.height]
            if not blocks:
                return head.height, 0
            governance = self.genesis.governance
            rows = block_rows(blocks, head, await _state_for(conn, blocks, governance), self.genesis.params.min_fee,
                              governance)
            await conn.copy_records_to_table("blocks", columns=BLOCK_COLUMNS, records=rows.blocks)
            await conn.copy_records_to_table("transactions", columns=TX_COLUMNS, records=rows.transactions)
            await _upsert(conn, "accounts", ACCOUNT_COLUMNS, ("address",),
                          [(a, acc.balance, acc.nonce, h) for a, (acc, h) in rows.accounts.items()])
            await _upsert(conn, "data_entries", DATA_COLUMNS, ("address", "key"),
                          [(a, k.encode(), d, h) for (a, k), (d, h) in rows.data.items()])
            await _upsert(conn, "ledger_meta", META_COLUMNS, ("key",), [(k, v, h) for k, (v, h) in rows.meta.items()])
            removed = [k for k, (v, _) in rows.meta.items() if not v]  # b"": the entry was removed
            if removed:
                await conn.execute("DELETE FROM ledger_meta WHERE key = ANY($1::bytea[])", removed)
            await conn.execute("UPDATE index_cursor SET height = $1, block_hash = $2, state_digest = $3, "
                               "updated_at = now()", rows.head.height, rows.head.hash, rows.head.state_digest)
            return rows.head.height, rows.row_count


async def _state_for(conn, blocks, governance) -> MemoryState:
    """The indexed accounts, data entries and governance state the blocks touch."""
    addresses, keys, meta = touched(blocks, governance)
    state = MemoryState({r["address"]: Account(int(r["balance"]), int(r["nonce"])) for r in await conn.fetch(
        "SELECT address, balance, nonce FROM accounts WHERE address = ANY($1::bytea[])", list(addresses))})
    if keys:
        found = await conn.fetch(
            "SELECT d.address, d.key, d.value_digest FROM data_entries d "
            "JOIN unnest($1::bytea[], $2::bytea[]) AS k(address, key) USING (address, key)",
            [a for a, _ in keys], [k.encode() for _, k in keys])
        state.data.update({(r["address"], r["key"].decode()): r["value_digest"] for r in found})
    state.meta_entries.update({r["key"]: r["value"] for r in await conn.fetch(
        "SELECT key, value FROM ledger_meta WHERE key = ANY($1::bytea[])", list(meta))})
    return state


async def _upsert(conn, table: str, columns: tuple[str, ...], key: tuple[str, ...], records: list[tuple]) -> None:
    """COPY into a temporary twin of `table`, then insert-or-update from it (one statement)."""
    if not records:
        return
    stage = f"stage_{table}"
    await conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {table}) ON COMMIT DELETE ROWS")
    await conn.copy_records_to_table(stage, columns=columns, records=records)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in key)
    await conn.execute(f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(columns)} FROM {stage} "  # nosec B608  # table/column names are this module's constants, values go through COPY
                       f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}")
