"""The block archive: committed blocks with their receipts, and transactions by id.

Layout (one RocksDB):
    b"B" + u64 height      -> `aurigraph.v1.BlockRecord` (block, hash, receipts)
    b"T" + tx id (64 B)    -> u64 height + u32 index

`put` is durable (fsync) and idempotent: archiving the same block again is a no-op, while a
different block at an archived height raises `ConflictingBlock` — the archive never rewrites history.
Reading one transaction decodes only that transaction of its block.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from aurigraph.codec import block_from_proto, block_to_proto, receipt_from_proto, receipt_to_proto, signed_from_proto
from aurigraph.ledger import Block, Receipt, SignedTx
from aurigraph.storage.rocks import last_with_prefix, new_batch, write_durably
from aurigraph.v1 import block_pb2

_BLOCK = b"B"
_TX = b"T"
_U64 = struct.Struct(">Q")
_LOCATION = struct.Struct(">QI")


class ConflictingBlock(RuntimeError):
    """A different block is already archived at this height: two histories, so stop loudly."""


@dataclass(frozen=True)
class ArchivedBlock:
    block: Block
    receipts: tuple[Receipt, ...]


@dataclass(frozen=True)
class ArchivedTx:
    tx: SignedTx
    receipt: Receipt
    height: int


class BlockArchive:
    def __init__(self, db) -> None:
        self._db = db

    def put(self, block: Block, receipts: Sequence[Receipt]) -> None:
        """Archive durably; a no-op if this exact block is already archived."""
        batch = new_batch()
        if self.stage(batch, block, receipts):
            write_durably(self._db, batch)

    def stage(self, batch, block: Block, receipts: Sequence[Receipt]) -> bool:
        """Add the block's writes to `batch` (for a caller that commits more in the same batch).

        Returns False if this exact block is already archived; raises `ConflictingBlock` if another is.
        """
        height = block.header.height
        existing = self._db.get(_BLOCK + _U64.pack(height))
        if existing is not None:
            if block_pb2.BlockRecord.FromString(existing).hash != block.hash:
                raise ConflictingBlock(f"height {height} is archived with a different block hash")
            return False
        record = block_pb2.BlockRecord(
            block=block_to_proto(block), hash=block.hash, receipts=[receipt_to_proto(r) for r in receipts]
        )
        batch.put(_BLOCK + _U64.pack(height), record.SerializeToString(deterministic=True))
        for index, tx in enumerate(block.transactions):
            batch.put(_TX + tx.tx_id, _LOCATION.pack(height, index))
        return True

    def record_bytes(self, height: int) -> bytes | None:
        """The stored `aurigraph.v1.BlockRecord` bytes, for serving without re-encoding."""
        return self._db.get(_BLOCK + _U64.pack(height))

    def _record(self, height: int) -> block_pb2.BlockRecord | None:
        raw = self.record_bytes(height)
        return None if raw is None else block_pb2.BlockRecord.FromString(raw)

    def block(self, height: int) -> ArchivedBlock | None:
        record = self._record(height)
        if record is None:
            return None
        return ArchivedBlock(block_from_proto(record.block), tuple(receipt_from_proto(r) for r in record.receipts))

    def latest_height(self) -> int | None:
        found = last_with_prefix(self._db, _BLOCK)
        return None if found is None else _U64.unpack(found[0][len(_BLOCK):])[0]

    def transaction(self, tx_id: bytes) -> ArchivedTx | None:
        location = self._db.get(_TX + tx_id)
        if location is None:
            return None
        height, index = _LOCATION.unpack(location)
        record = self._record(height)
        return ArchivedTx(
            signed_from_proto(record.block.transactions[index]), receipt_from_proto(record.receipts[index]), height
        )
