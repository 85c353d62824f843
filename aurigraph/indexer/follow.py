"""Following the committed chain into the index: one loop for the node's indexer actor and for
`aurigraph index` alike, over any `BlockSource`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from aurigraph.indexer.pg import PgIndex

BATCH_BLOCKS = 16  # blocks per SQL transaction (up to 160k transactions at the default block size)


class BlockSource(Protocol):
    async def blocks_from(self, height: int, limit: int) -> list[bytes]:
        """Consecutive committed `BlockRecord` bytes from `height` (at most `limit`; none at the head)."""
        ...


async def catch_up(index: PgIndex, source: BlockSource, *, batch_blocks: int = BATCH_BLOCKS,
                   on_batch: Callable[[int, int], None] | None = None) -> int:
    """Index everything the source has past the index head; returns the indexed height.
    `on_batch(height, rows)` is called after each committed batch."""
    height = (await index.head()).height
    while True:
        records = await source.blocks_from(height + 1, batch_blocks)
        if not records:
            return height
        height, rows = await index.index(records)
        if on_batch is not None:
            on_batch(height, rows)
