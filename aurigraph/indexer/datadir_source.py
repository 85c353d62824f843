"""A `BlockSource` over a node's data directory, read-only: the replicas' ledgers and the storage
shards, as of opening (the node may be running). Used by `aurigraph index`."""

from __future__ import annotations

from aurigraph.node.datadir import DataDir
from aurigraph.storage.archive import BlockArchive
from aurigraph.storage.rocks import open_db_read_only


class DataDirSource:
    def __init__(self, data: DataDir) -> None:
        folders = sorted(data.root.glob("replica-*/ledger")) + sorted(data.root.glob("shard-*/archive"))
        if not folders:
            raise FileNotFoundError(f"{data.root} holds no replica or shard databases")
        # A replica that caught up by snapshot lacks older blocks; the shards have them.
        self._archives = [BlockArchive(open_db_read_only(f)) for f in folders]

    def head_height(self) -> int:
        return max((a.latest_height() or 0) for a in self._archives)

    def record(self, height: int) -> bytes | None:
        for archive in self._archives:
            found = archive.record_bytes(height)
            if found is not None:
                return found
        return None

    async def blocks_from(self, height: int, limit: int) -> list[bytes]:
        records = []
        for h in range(height, height + limit):
            found = self.record(h)
            if found is None:
                break
            records.append(found)
        return records
