"""Indexer benchmark: rows/s through `PgIndex.index` (decode, replay against the indexed
balances, COPY, upserts, cursor — one SQL transaction per batch) next to a raw `COPY` of the very
same rows into the same tables, in the same run, against the same PostgreSQL.

The headline is `index_vs_copy` = indexer rows/s ÷ raw COPY rows/s: what indexing costs on top of
writing, independent of how fast this machine's PostgreSQL is.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

from aurigraph.codec import encode_block, sign_transaction
from aurigraph.codec.blocks import encode_block_record
from aurigraph.crypto import Scheme, generate_keypair
from aurigraph.indexer import PgIndex
from aurigraph.indexer.pg import ACCOUNT_COLUMNS, DATA_COLUMNS, connect_pool, drop_schema
from aurigraph.indexer.rows import BLOCK_COLUMNS, TX_COLUMNS, IndexHead, block_rows, decode_records
from aurigraph.ledger import (
    Account,
    ChainParams,
    Genesis,
    MemoryState,
    Transfer,
    TxBody,
    Validator,
    block_hash,
    build_block,
    genesis_block,
)

CHAIN_ID = "bench-index"


def make_chain(blocks: int, per_block: int, senders: int, progress: Callable[[str], None]) -> tuple[Genesis, list[bytes]]:
    """A genesis and `blocks` committed `BlockRecord`s of `per_block` transfers each."""
    node = generate_keypair(Scheme.ED25519)
    keys = [generate_keypair(Scheme.ED25519) for _ in range(senders)]
    genesis = Genesis(CHAIN_ID, 1, tuple((k.address, 10**12) for k in keys),
                      (Validator(1, node.scheme, node.public_key, 1, "bench"),), ChainParams(min_fee=1))
    state = MemoryState({a: Account(b) for a, b in genesis.balances})
    head = genesis_block(genesis).header
    nonces = [0] * senders
    records = []
    for height in range(1, blocks + 1):
        txs = []
        for i in range(per_block):
            s = (height * per_block + i) % senders
            body = TxBody(CHAIN_ID, keys[s].address, nonces[s], 1, 2, Transfer(keys[(s + 1) % senders].address, 1))
            nonces[s] += 1
            txs.append(sign_transaction(body, keys[s]))
        built = build_block(head, state, txs, proposer=node, timestamp_ms=2 + height, min_fee=1, max_txs=per_block)
        state.commit(built.result.delta)
        head = built.block.header
        records.append(encode_block_record(encode_block(built.block), built.result.receipts))
        if height % 10 == 0 or height == blocks:
            progress(f"built block {height}/{blocks}")
    return genesis, records


async def _run_index(dsn: str, genesis: Genesis, records: list[bytes], batch_blocks: int) -> tuple[int, float]:
    schema = f"bench_index_{uuid.uuid4().hex[:8]}"
    index = await PgIndex.open(dsn, genesis, schema)
    try:
        rows = 0
        started = time.perf_counter()
        for i in range(0, len(records), batch_blocks):
            rows += (await index.index(records[i:i + batch_blocks]))[1]
        return rows, time.perf_counter() - started
    finally:
        await index.close()
        await drop_schema(dsn, schema)


async def _run_copy(dsn: str, genesis: Genesis, records: list[bytes], batch_blocks: int) -> tuple[int, float]:
    """The same rows, computed beforehand, COPYed batch by batch (one transaction each)."""
    g = genesis_block(genesis).header
    head = IndexHead(0, block_hash(g), g.state_digest)
    state = MemoryState({a: Account(b) for a, b in genesis.balances})
    batches = []
    for i in range(0, len(records), batch_blocks):
        rows = block_rows(decode_records(records[i:i + batch_blocks]), head, state, genesis.params.min_fee)
        head = rows.head
        batches.append(rows)
    schema = f"bench_copy_{uuid.uuid4().hex[:8]}"
    pool = await connect_pool(dsn, schema, max_size=1)
    try:
        total = 0
        started = time.perf_counter()
        async with pool.acquire() as conn:
            for rows in batches:
                async with conn.transaction():
                    await conn.copy_records_to_table("blocks", columns=BLOCK_COLUMNS, records=rows.blocks)
                    await conn.copy_records_to_table("transactions", columns=TX_COLUMNS, records=rows.transactions)
                    await conn.copy_records_to_table("accounts", columns=ACCOUNT_COLUMNS, records=[
                        (a, acc.balance, acc.nonce, h) for a, (acc, h) in rows.accounts.items()])
                    await conn.copy_records_to_table("data_entries", columns=DATA_COLUMNS, records=[
                        (a, k.encode(), d, h) for (a, k), (d, h) in rows.data.items()])
                    await conn.execute("TRUNCATE accounts, data_entries")  # the next batch's are new rows again
                total += rows.row_count
        return total, time.perf_counter() - started
    finally:
        await pool.close()
        await drop_schema(dsn, schema)


def run(dsn: str, blocks: int, per_block: int, senders: int, batch_blocks: int, rounds: int,
        progress: Callable[[str], None]) -> dict:
    genesis, records = make_chain(blocks, per_block, senders, progress)
    rounds_out = []
    for r in range(rounds):  # interleaved: copy, index, copy, index, … so drift cancels out
        progress(f"round {r + 1}/{rounds}: raw COPY")
        copy_rows, copy_s = asyncio.run(_run_copy(dsn, genesis, records, batch_blocks))
        progress(f"round {r + 1}/{rounds}: indexer")
        index_rows, index_s = asyncio.run(_run_index(dsn, genesis, records, batch_blocks))
        rounds_out.append({"copy_rows_per_s": copy_rows / copy_s, "index_rows_per_s": index_rows / index_s,
                           "index_txs_per_s": blocks * per_block / index_s, "rows": index_rows,
                           "copy_rows": copy_rows})
    ratios = sorted(x["index_rows_per_s"] / x["copy_rows_per_s"] for x in rounds_out)
    return {"blocks": blocks, "txs_per_block": per_block, "senders": senders, "batch_blocks": batch_blocks,
            "rounds": rounds_out, "index_vs_copy": ratios[len(ratios) // 2],
            "index_rows_per_s": sorted(x["index_rows_per_s"] for x in rounds_out)[len(rounds_out) // 2],
            "copy_rows_per_s": sorted(x["copy_rows_per_s"] for x in rounds_out)[len(rounds_out) // 2]}


def format_table(result: dict) -> str:
    return "\n".join([
        (f"indexer benchmark: {result['blocks']} blocks x {result['txs_per_block']} transfers, "
         f"{result['batch_blocks']} blocks per SQL transaction"),
        f"  raw COPY of the same rows            {result['copy_rows_per_s']:>10,.0f} rows/s",
        f"  indexer (decode, replay, COPY, upsert) {result['index_rows_per_s']:>8,.0f} rows/s",
        f"  index_vs_copy (median of rounds)     {result['index_vs_copy']:>10.3f}",
    ])
