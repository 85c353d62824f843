"""Indexer: follows the committed chain into PostgreSQL (see `aurigraph.indexer`).

It pulls blocks — from the replicas (the first that has them), and from the storage shards for
heights a replica skipped by installing a snapshot — and hands them to `catch_up`, which resumes
from the index's own cursor; so the actor keeps no state worth losing, and a restart (or PostgreSQL
going away and coming back) only delays the index. Lag and progress are Ray metrics and `status()`.

What retrying cannot fix stops it, loudly (`status()["last_error"]`, `aurigraph_index_healthy` 0):
a block that does not extend the index, bad data, and a chain whose head is below the index or whose
block at the index's height has another hash — a chain restored from an older backup, for which
the index must be rebuilt (docs/data.md). It never rewrites what it indexed.
"""

from __future__ import annotations

import asyncio
import logging
import time

import ray
from ray.util.metrics import Counter, Gauge

from aurigraph import telemetry
from aurigraph.codec.blocks import index_block_record
from aurigraph.codec.genesis import genesis_from_json
from aurigraph.indexer import IndexGap, PgIndex
from aurigraph.indexer.follow import catch_up
from aurigraph.indexer.pg import UNREACHABLE
from aurigraph.storage.archive import shard_for

log = logging.getLogger("aurigraph.indexer")
POLL_S = 0.2
RETRY_S = 2.0
CALL_TIMEOUT_S = 10.0


class NodeSource:
    """Committed blocks from the node's actors."""

    def __init__(self, replicas: list, shards: list) -> None:
        self.replicas, self.shards = replicas, shards

    async def head_height(self) -> int | None:
        """The highest applied height among the replicas that answer; None if none does."""
        heights = await asyncio.gather(*(asyncio.wait_for(r.health.remote(), CALL_TIMEOUT_S) for r in self.replicas),
                                       return_exceptions=True)
        return max((h["height"] for h in heights if isinstance(h, dict)), default=None)

    async def blocks_from(self, height: int, limit: int) -> list[bytes]:
        for replica in self.replicas:
            try:
                records = await asyncio.wait_for(replica.get_blocks.remote(height, limit), CALL_TIMEOUT_S)
            except (ray.exceptions.RayError, TimeoutError):
                continue
            if records:
                return records
        head = await self.head_height()
        if self.shards and head is not None and height <= head:
            try:
                record = await asyncio.wait_for(self.shards[shard_for(height, len(self.shards))].get_block.remote(height),
                                                CALL_TIMEOUT_S)
            except (ray.exceptions.RayError, TimeoutError):
                return []  # a shard Ray is restarting: ask again next round
            return [record] if record is not None else []
        return []


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)
class Indexer:
    def __init__(self, dsn: str, schema: str, genesis_json: str, replicas: list, shards: list) -> None:
        telemetry.configure("indexer")
        self._dsn, self._schema = dsn, schema
        self._genesis = genesis_from_json(genesis_json)
        self._source = NodeSource(replicas, shards)
        self._height = -1
        self._error: str | None = None
        self._rows = 0
        self._height_gauge = Gauge("aurigraph_index_height", description="last block height in the PostgreSQL index")
        self._lag_gauge = Gauge("aurigraph_index_lag_blocks", description="committed blocks not yet indexed")
        self._rows_counter = Counter("aurigraph_index_rows_total", description="rows the indexer wrote")
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        """Start following (idempotent)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run_forever())

    async def _run_forever(self) -> None:
        index: PgIndex | None = None
        while True:
            try:
                if index is None:
                    index = await PgIndex.open(self._dsn, self._genesis, self._schema)
                    await self._check_same_chain(index)
                self._height = await catch_up(index, self._source, on_batch=self._indexed)
                head = await self._source.head_height()
                if head is not None and head < self._height:
                    raise IndexGap(f"the chain's head ({head}) is below the index ({self._height}): the chain was "
                                   f"rewound (restored from an older backup?); rebuild the index")
                if self._error:
                    log.warning("indexer recovered at height %d", self._height)
                self._error = None
                await self._update_lag()
                await asyncio.sleep(POLL_S)
            except UNREACHABLE as e:
                self._error = f"PostgreSQL: {type(e).__name__}: {e}"
                log.warning("indexer paused (%s); retrying in %.0f s", self._error, RETRY_S)
                if index is not None:
                    index.pool.terminate()
                    index = None
                await asyncio.sleep(RETRY_S)
            except Exception as e:  # what retrying cannot fix (see the module doc): stop loudly, check again later
                self._error = f"{type(e).__name__}: {e}"
                log.exception("indexer stopped")
                await asyncio.sleep(RETRY_S * 5)

    async def _check_same_chain(self, index: PgIndex) -> None:
        """The node's block at the index's height must be the one indexed there."""
        cursor = await index.head()
        head = await self._source.head_height()
        if cursor.height == 0 or head is None or head < cursor.height:
            return  # the genesis is checked by `PgIndex.open`; a head below the cursor, after catch_up
        records = await self._source.blocks_from(cursor.height, 1)
        if records and index_block_record(records[0]).hash != cursor.hash:
            raise IndexGap(f"the chain's block {cursor.height} is not the one indexed: the chain was rewound and "
                           f"has grown again (restored from an older backup?); rebuild the index")

    def _indexed(self, height: int, rows: int) -> None:
        self._height = height
        self._rows += rows
        self._height_gauge.set(height)
        self._rows_counter.inc(rows)

    async def _update_lag(self) -> int:
        head = await self._source.head_height()
        lag = max(0, head - self._height) if self._height >= 0 and head is not None else 0
        self._lag_gauge.set(lag)
        return lag

    async def status(self) -> dict:
        """Indexed height (-1 before the first connection), lag in blocks, rows written, and the
        error that is holding it up (None while it keeps up)."""
        return {"height": self._height, "lag_blocks": await self._update_lag(), "rows": self._rows,
                "last_error": self._error, "at_ms": time.time_ns() // 1_000_000}

    async def ping(self) -> bool:
        return True
