"""The PostgreSQL index against the real server: complete, idempotent, gap-free, chain-checked."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from aurigraph.codec import encode_block, sign_transaction
from aurigraph.codec.blocks import decode_block_record, encode_block_record
from aurigraph.indexer import ChainMismatch, IndexGap, PgIndex
from aurigraph.indexer.queries import account_transactions
from aurigraph.ledger import (
    Account,
    DataWrite,
    MemoryState,
    StateDivergence,
    TxBody,
    build_block,
    genesis_block,
)
from tests.conftest import CHAIN_ID, NOW_MS
from tests.conftest import committed_records as make_records
from tests.integration.conftest import DSN


def run(coro):
    return asyncio.run(coro)


async def _open(chain, schema):
    return await PgIndex.open(DSN, chain.genesis, schema)


def test_indexes_blocks_transactions_balances_and_data(chain, pg_schema):
    records, state = make_records(chain, 12)

    async def scenario():
        index = await _open(chain, pg_schema)
        try:
            assert (await index.head()).height == 0
            assert (await index.index(records[:5]))[0] == 5
            height, rows = await index.index(records)  # overlaps the first call: those are skipped
            assert height == 12 and rows > 0
            db = index.pool
            assert await db.fetchval("SELECT count(*) FROM blocks") == 13  # with the genesis block
            assert await db.fetchval("SELECT count(*) FROM transactions") == 12 * 5
            for account in chain.accounts:
                row = await db.fetchrow("SELECT balance, nonce FROM accounts WHERE address = $1", account.address)
                expected = state.account(account.address)
                assert (int(row["balance"]), int(row["nonce"])) == (expected.balance, expected.nonce)
            proposer = await db.fetchrow("SELECT balance FROM accounts WHERE address = $1", chain.node.address)
            assert int(proposer["balance"]) == 12 * 5, "fees go to the proposer"
            data = await db.fetch("SELECT address, key, value_digest FROM data_entries")
            assert {(r["address"], r["key"].decode()): r["value_digest"] for r in data} == state.data
            hashes = await db.fetch("SELECT height, hash FROM blocks WHERE height > 0 ORDER BY height")
            assert [r["hash"] for r in hashes] == [decode_block_record(r)[0].hash for r in records]
            assert (await account_transactions(db, chain.accounts[0].address, 1))[0] == 12
        finally:
            await index.close()
    run(scenario())


def test_account_history_pages_newest_first_without_gaps_or_repeats(chain, pg_schema):
    records, _ = make_records(chain, 10)
    me = chain.accounts[1].address
    expected = []
    for record in records:
        block, _ = decode_block_record(record)
        for position, tx in enumerate(block.transactions):
            kind = tx.body.kind
            if tx.body.sender == me or getattr(kind, "recipient", None) == me:
                expected.append((block.header.height, position, tx.tx_id))
    expected.reverse()

    async def scenario():
        index = await _open(chain, pg_schema)
        try:
            await index.index(records)
            seen, before = [], None
            while True:
                height, page = await account_transactions(index.pool, me, 4, before)
                assert height == 10
                if not page:
                    break
                assert len(page) <= 4
                seen += [(t.height, t.position, t.tx_id) for t in page]
                before = (page[-1].height, page[-1].position)
            assert seen == expected
            assert await account_transactions(index.pool, b"\x01" * 32, 10) == (10, [])
        finally:
            await index.close()
    run(scenario())


def test_reindexing_never_duplicates_and_a_gap_is_refused(chain, pg_schema):
    records, _ = make_records(chain, 8)

    async def scenario():
        index = await _open(chain, pg_schema)
        try:
            await index.index(records[:3])
            with pytest.raises(IndexGap):
                await index.index(records[5:])  # heights 6.. after 3: missing 4 and 5
            assert (await index.head()).height == 3
            for _ in range(2):
                await index.index(records)
            assert await index.pool.fetchval("SELECT count(*) FROM transactions") == 8 * 5
            assert await index.pool.fetchval("SELECT count(DISTINCT tx_id) FROM transactions") == 8 * 5
        finally:
            await index.close()
        again = await _open(chain, pg_schema)  # a restart resumes from the cursor
        try:
            assert (await again.head()).height == 8
        finally:
            await again.close()
    run(scenario())


def test_a_block_that_does_not_replay_to_its_state_digest_is_refused(chain, pg_schema):
    records, state = make_records(chain, 1)
    parent = decode_block_record(records[0])[0].header
    rich = MemoryState(dict(state.accounts))  # the same parent, but balances the chain never had
    sender = chain.accounts[0]
    rich.accounts[sender.address] = Account(rich.account(sender.address).balance + 1, rich.account(sender.address).nonce)
    forged = build_block(parent, rich, [chain.tx(sender, rich.account(sender.address).nonce)], proposer=chain.node,
                         timestamp_ms=parent.timestamp_ms + 1, min_fee=1, max_txs=10)
    forged_record = encode_block_record(encode_block(forged.block), forged.result.receipts)

    async def scenario():
        index = await _open(chain, pg_schema)
        try:
            await index.index(records)
            with pytest.raises(StateDivergence):
                await index.index([forged_record])
            assert (await index.head()).height == 1
            assert await index.pool.fetchval("SELECT count(*) FROM transactions") == 5
        finally:
            await index.close()
    run(scenario())


def test_a_database_of_another_chain_is_refused(chain, pg_schema):
    other = dataclasses.replace(chain, genesis=dataclasses.replace(chain.genesis, chain_id="another-chain"))

    async def scenario():
        await (await _open(chain, pg_schema)).close()
        with pytest.raises(ChainMismatch, match="aurigraph-test"):
            await _open(other, pg_schema)
    run(scenario())


def test_any_data_key_the_ledger_accepts_is_indexed_nul_included(chain, pg_schema):
    state = MemoryState({a: Account(b) for a, b in chain.genesis.balances})
    parent = genesis_block(chain.genesis).header
    sender = chain.accounts[0]
    body = TxBody(CHAIN_ID, sender.address, 0, 1, NOW_MS, DataWrite("a\x00b/é", b"v"))
    built = build_block(parent, state, [sign_transaction(body, sender)], proposer=chain.node,
                        timestamp_ms=NOW_MS, min_fee=1, max_txs=10)
    record = encode_block_record(encode_block(built.block), built.result.receipts)

    async def scenario():
        index = await _open(chain, pg_schema)
        try:
            await index.index([record])
            keys = await index.pool.fetch("SELECT key FROM data_entries")
            _, txs = await account_transactions(index.pool, sender.address, 10)
            return [bytes(r["key"]) for r in keys], txs
        finally:
            await index.close()
    keys, txs = run(scenario())
    assert keys == ["a\x00b/é".encode()] and txs[0].data_key == "a\x00b/é"


def test_a_schema_name_postgresql_would_fold_is_refused():
    with pytest.raises(ValueError, match="lower-case"):
        run(PgIndex.open(DSN, None, "MixedCase"))
