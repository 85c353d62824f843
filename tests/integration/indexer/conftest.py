"""A committed chain made with the pure core (no consensus needed to index it), and a fresh
PostgreSQL schema per test on the real server at 127.0.0.1:5432 (database `test`)."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from aurigraph.codec import encode_block, sign_transaction
from aurigraph.codec.blocks import encode_block_record
from aurigraph.ledger import Account, DataWrite, MemoryState, Transfer, TxBody, build_block, genesis_block
from tests.conftest import CHAIN_ID, NOW_MS

DSN = "postgresql://postgres@127.0.0.1:5432/test"


def make_records(chain, blocks: int, per_block: int = 5) -> tuple[list[bytes], MemoryState]:
    """`blocks` committed `BlockRecord`s of transfers around the chain's accounts plus one data
    write each, and the state after them."""
    state = MemoryState({a: Account(b) for a, b in chain.genesis.balances})
    head = genesis_block(chain.genesis).header
    nonces = {a.address: 0 for a in chain.accounts}
    records = []
    for height in range(1, blocks + 1):
        txs = []
        for i in range(per_block):
            sender = chain.accounts[(height + i) % len(chain.accounts)]
            to = chain.accounts[(height + i + 1) % len(chain.accounts)]
            kind = DataWrite(f"k{height % 3}", b"v%d" % height) if i == 0 else Transfer(to.address, 10 + i)
            body = TxBody(CHAIN_ID, sender.address, nonces[sender.address], 1, NOW_MS, kind)
            nonces[sender.address] += 1
            txs.append(sign_transaction(body, sender))
        built = build_block(head, state, txs, proposer=chain.node, timestamp_ms=NOW_MS + height, min_fee=1,
                            max_txs=1000)
        assert len(built.block.transactions) == per_block, built.rejected
        state.commit(built.result.delta)
        head = built.block.header
        records.append(encode_block_record(encode_block(built.block), built.result.receipts))
    return records, state


@pytest.fixture
def pg_schema():
    """A schema of its own for one test, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    yield name

    async def drop():
        conn = await asyncpg.connect(DSN)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        finally:
            await conn.close()
    asyncio.run(drop())
