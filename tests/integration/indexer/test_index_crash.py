"""`aurigraph index` SIGKILLed at random points (a real crash, mid-COPY or mid-commit included):
after every kill the database holds exactly the blocks up to its cursor, one row per transaction,
and a final run completes the index with the right balances."""

from __future__ import annotations

import asyncio
import random
import re
import subprocess
import sys

import asyncpg

from aurigraph.codec.genesis import genesis_to_json
from aurigraph.node.datadir import DataDir
from aurigraph.storage.archive import BlockArchive
from aurigraph.storage.rocks import open_db
from tests.conftest import committed_records as make_records
from tests.integration.conftest import DSN

BLOCKS, PER_BLOCK = 240, 20


async def _snapshot(schema: str) -> dict:
    conn = await asyncpg.connect(DSN, server_settings={"search_path": schema})
    try:
        if not await conn.fetchval("SELECT to_regclass('index_cursor') IS NOT NULL"):
            return {"height": -1}
        return {
            "height": await conn.fetchval("SELECT coalesce((SELECT height FROM index_cursor), -1)"),
            "blocks": await conn.fetchval("SELECT count(*) FROM blocks"),
            "max_block": await conn.fetchval("SELECT coalesce(max(height), -1) FROM blocks"),
            "txs": await conn.fetchval("SELECT count(*) FROM transactions"),
            "distinct_txs": await conn.fetchval("SELECT count(DISTINCT tx_id) FROM transactions"),
            "txs_in_blocks": await conn.fetchval("SELECT coalesce(sum(tx_count), 0) FROM blocks"),
            "balances": {bytes(r["address"]): int(r["balance"]) for r in await conn.fetch(
                "SELECT address, balance FROM accounts")},
        }
    finally:
        await conn.close()


def test_killed_indexer_resumes_without_duplicates_or_gaps(tmp_path, chain, pg_schema):
    records, state = make_records(chain, BLOCKS, PER_BLOCK)
    data = DataDir(tmp_path / "node")
    data.root.mkdir()
    data.genesis.write_text(genesis_to_json(chain.genesis))
    db = open_db(data.shard(0))
    archive = BlockArchive(db)
    archive.put(records)
    db.close()
    command = [sys.executable, "-m", "aurigraph.cli.main", "index", "--data-dir", str(data.root),
               "--postgres-dsn", DSN, "--postgres-schema", pg_schema, "--batch-blocks", "1"]
    rng = random.Random(7)
    heights = []
    for target in sorted(rng.sample(range(5, BLOCKS - 5), 8)):
        # Run until its progress passes `target`, then SIGKILL it at once: it is busy with the
        # next batch by then (decoding, replaying, COPYing or committing — wherever the kill lands).
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        for line in process.stdout:
            found = re.search(r"indexed to height (\d+)/", line)
            if found and int(found.group(1)) >= target:
                break
        process.kill()
        process.wait()
        process.stdout.close()
        seen = asyncio.run(_snapshot(pg_schema))
        heights.append(seen["height"])
        if seen["height"] < 0:
            continue
        assert seen["max_block"] == seen["height"] and seen["blocks"] == seen["height"] + 1, seen
        assert seen["txs"] == seen["distinct_txs"] == seen["txs_in_blocks"] == seen["height"] * PER_BLOCK, seen
    assert any(0 < h < BLOCKS for h in heights), f"no kill landed mid-index: {heights}"
    done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"index at height {BLOCKS}" in done.stdout
    final = asyncio.run(_snapshot(pg_schema))
    assert final["txs"] == final["distinct_txs"] == BLOCKS * PER_BLOCK
    assert {a.address: final["balances"][a.address] for a in chain.accounts} == {
        a.address: state.account(a.address).balance for a in chain.accounts}
