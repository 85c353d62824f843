"""StorageShard: the block and transaction archive for one range of heights (height % shards).

Blocks arrive from the leader after they are applied (`archive`, idempotent, in rounds) and are read back by
height or transaction id. Each shard owns its own RocksDB and recovers from it on restart.
"""

from __future__ import annotations

from pathlib import Path

import ray

from aurigraph import telemetry
from aurigraph.codec.node import committed_record
from aurigraph.node.backup import checkpoint_shard
from aurigraph.storage.archive import BlockArchive, shard_for
from aurigraph.storage.rocks import open_db


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)
class StorageShard:
    def __init__(self, index: int, count: int, path: str) -> None:
        telemetry.configure(f"shard-{index}")
        self.index, self.count = index, count
        self._db = open_db(Path(path))
        self._archive = BlockArchive(self._db, owns=lambda height: shard_for(height, count) == index)

    def archive(self, records: list[bytes]) -> None:
        """Store `BlockRecord`s (bytes as the replica stored them) of heights this shard owns, in one
        fsync'd write: the leader pushes what it applied since its last round in one call."""
        self._archive.put(records)

    def latest_height(self) -> int:
        """Highest archived height, or -1."""
        latest = self._archive.latest_height()
        return -1 if latest is None else latest

    def get_block(self, height: int) -> bytes | None:
        """The archived `BlockRecord` bytes at `height`, or None."""
        return self._archive.record_bytes(height)

    def get_transaction(self, tx_id: bytes) -> bytes | None:
        """A `TransactionRecord` (COMMITTED, with receipt) if this shard archived it."""
        found = self._archive.transaction(tx_id)
        return None if found is None else committed_record(found)

    def checkpoint(self, dest: str) -> dict:
        """A RocksDB checkpoint of the archive into the backup folder `dest` (see
        `aurigraph.node.backup`); returns path in the backup -> description."""
        return checkpoint_shard(self.index, self._db, Path(dest))

    def ping(self) -> bool:
        return True

    def ray_node(self) -> str:
        return ray.get_runtime_context().get_node_id()
