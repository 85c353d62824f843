"""A replica's ledger on one RocksDB: the state and its own copy of every applied block.

`apply` commits a block's state delta, the block with its receipts, and the new head in a single
atomic batch: after a crash the replica has applied exactly some prefix of the chain, and its
blocks and state always agree. (`StorageShard` archives are separate and catch up from here.)

The batch is not fsync'd: the raft log (fsync'd when each entry is appended, before anyone is told
of it) is the durable record of every committed block, and a replica re-applies from it whatever
its ledger lost (only a crash of the machine can lose an unsynced write; one of the process cannot).
So a block costs one fsync per replica, the log's. The log may drop applied entries only once
they are durable here too: the driver calls `sync` before compacting it.
"""

from __future__ import annotations

from collections.abc import Sequence

from aurigraph.codec.blocks import (
    RecordIndex,
    decode_ledger_snapshot,
    encode_block_record,
    encode_ledger_snapshot,
)
from aurigraph.ledger import Account, Block, BlockHeader, Genesis, Receipt, StateDelta, block_hash
from aurigraph.storage.archive import ArchivedBlock, ArchivedTx, BlockArchive
from aurigraph.storage.rocks import new_batch, write_atomically
from aurigraph.storage.state_store import RocksState


class LedgerStore:
    """A `StateReader` (for building and replaying blocks) plus the applied blocks."""

    def __init__(self, db, genesis: Genesis) -> None:
        self._db = db
        self.state = RocksState.open(db, genesis)
        self.blocks = BlockArchive(db)

    def account(self, address: bytes) -> Account:
        return self.state.account(address)

    def data_digest(self, address: bytes, key: str) -> bytes | None:
        return self.state.data_digest(address, key)

    def meta(self, key: bytes) -> bytes | None:
        return self.state.meta(key)

    @property
    def head(self) -> BlockHeader:
        return self.state.head

    def apply(self, block: Block, block_bytes: bytes, receipts: Sequence[Receipt], delta: StateDelta) -> None:
        """Commit a block (also given as its encoded bytes, stored as they are) with its result."""
        batch = new_batch()
        self.state.stage(batch, block.header, delta)
        header = block.header
        index = RecordIndex(header.height, block_hash(header), tuple(tx.tx_id for tx in block.transactions))
        self.blocks.stage(batch, encode_block_record(block_bytes, receipts), index)
        write_atomically(self._db, batch)

    def sync(self) -> None:
        """Make every `apply` so far durable (fsync RocksDB's log)."""
        self._db.flush_wal(True)

    def export_snapshot(self) -> bytes:
        """`LedgerSnapshot` bytes of the state at the head (consensus snapshot data)."""
        return encode_ledger_snapshot(self.state.export())

    def install_snapshot(self, data: bytes) -> bool:
        """Install `LedgerSnapshot` bytes if they are ahead of the head; True if installed."""
        snapshot = decode_ledger_snapshot(data)
        if snapshot.head.height <= self.head.height:
            return False
        self.state.install(snapshot)
        return True

    def block(self, height: int) -> ArchivedBlock | None:
        return self.blocks.block(height)

    def transaction(self, tx_id: bytes) -> ArchivedTx | None:
        return self.blocks.transaction(tx_id)
