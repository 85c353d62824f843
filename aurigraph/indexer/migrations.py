"""The indexer's SQL schema as ordered migrations, applied once each and recorded in
`schema_migrations`. A migration is never edited after it ships: change the schema with a new one.

Amounts (u64 on the ledger) are NUMERIC(20); heights are BIGINT. A transaction's receipt (status,
reason, fee paid) is part of its row: there is exactly one receipt per transaction. Data keys are
BYTEA (their UTF-8 bytes): the ledger accepts any string as a key, NUL included, which TEXT cannot hold.
"""

from __future__ import annotations

MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (1, "initial schema", """
CREATE TABLE index_cursor (
    singleton     BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    chain_id      TEXT NOT NULL,
    genesis_hash  BYTEA NOT NULL,
    height        BIGINT NOT NULL,
    block_hash    BYTEA NOT NULL,
    state_digest  BYTEA NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE blocks (
    height        BIGINT PRIMARY KEY,
    hash          BYTEA NOT NULL UNIQUE,
    prev_hash     BYTEA NOT NULL,
    tx_root       BYTEA NOT NULL,
    state_digest  BYTEA NOT NULL,
    proposer      BYTEA NOT NULL,
    timestamp_ms  BIGINT NOT NULL,
    tx_count      INTEGER NOT NULL,
    shard_id      INTEGER NOT NULL
);
CREATE TABLE transactions (
    tx_id         BYTEA PRIMARY KEY,
    height        BIGINT NOT NULL,
    position      INTEGER NOT NULL,
    sender        BYTEA NOT NULL,
    nonce         NUMERIC(20) NOT NULL,
    fee           NUMERIC(20) NOT NULL,
    timestamp_ms  BIGINT NOT NULL,
    scheme        SMALLINT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('transfer', 'data')),
    recipient     BYTEA,
    amount        NUMERIC(20),
    data_key      BYTEA,
    status        SMALLINT NOT NULL,
    reason        TEXT,
    fee_paid      NUMERIC(20) NOT NULL,
    UNIQUE (height, position)
);
CREATE INDEX transactions_by_sender ON transactions (sender, height DESC, position DESC);
CREATE INDEX transactions_by_recipient ON transactions (recipient, height DESC, position DESC)
    WHERE recipient IS NOT NULL;
CREATE TABLE accounts (
    address         BYTEA PRIMARY KEY,
    balance         NUMERIC(20) NOT NULL,
    nonce           NUMERIC(20) NOT NULL,
    updated_height  BIGINT NOT NULL
);
CREATE TABLE data_entries (
    address         BYTEA NOT NULL,
    key             BYTEA NOT NULL,
    value_digest    BYTEA NOT NULL,
    updated_height  BIGINT NOT NULL,
    PRIMARY KEY (address, key)
);
"""),
    (2, "governance: admin transactions, compliance flags, governance state", """
ALTER TABLE transactions DROP CONSTRAINT transactions_kind_check;
ALTER TABLE transactions ADD CONSTRAINT transactions_kind_check CHECK (kind IN ('transfer', 'data', 'admin'));
ALTER TABLE transactions ADD COLUMN compliance_rules TEXT[];
CREATE TABLE ledger_meta (
    key             BYTEA PRIMARY KEY,
    value           BYTEA NOT NULL,
    updated_height  BIGINT NOT NULL
);
"""),
)

_LOCK_KEY = 0x4155_5249  # pg_advisory_xact_lock key: one migrator at a time


async def migrate(conn) -> list[int]:
    """Apply the migrations this database lacks, in order, in one transaction; returns the
    versions applied. Safe to run concurrently: an advisory lock serializes migrators."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
        await conn.execute("""CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())""")
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        applied = []
        for version, name, sql in MIGRATIONS:
            if version not in done:
                await conn.execute(sql)
                await conn.execute("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", version, name)
                applied.append(version)
        return applied
