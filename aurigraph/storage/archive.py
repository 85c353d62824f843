"""The block archive: committed blocks with their receipts, and transactions by id.

Layout (one RocksDB):
    b"B" + u64 height      -> `aurigraph.v1.BlockRecord` bytes (block, hash, receipts), as received
    b"T" + tx id (64 B)    -> u64 height + u32 index

Records are filed from their bytes (height, hash and ids are read without decoding transactions)
and served as stored. `put` is durable (fsync) and idempotent: the same block again is a no-op,
while a different block at an archived height raises `ConflictingBlock` — history is never rewritten.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aurigraph.codec.blocks import RecordIndex, decode_block_record, index_block_record, record_transaction
from aurigraph.ledger import Block, Receipt, SignedTx
from aurigraph.storage.rocks import last_with_prefix, new_batch, write_durably

_BLOCK = b"B"
_TX = b"T"
_U64 = struct.Struct(">Q")
_LOCATION = struct.Struct(">QI")


def shard_for(height: int, shards: int) -> int:
    """The storage shard that archives the block at `height`, of `shards` shards."""
    return height % shards


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
    def __init__(self, db, owns: Callable[[int], bool] = lambda height: True) -> None:
        self._db = db
        self._owns = owns

    def put(self, records: Sequence[bytes]) -> None:
        """Archive `BlockRecord`s durably, in one write (a no-op for a block that is there already)."""
        batch = new_batch()
        for record in records:
            self.stage(batch, record)
        if not batch.is_empty():
            write_durably(self._db, batch)

    def stage(self, batch, record: bytes, index: RecordIndex | None = None) -> RecordIndex:
        """Add the record's writes to `batch`, for a caller that commits more in the same batch.
        `index`: the record's, from a caller that built the record from a block it holds (its
        transaction ids already computed); by default it is read from the record."""
        index = index or index_block_record(record)
        if not self._owns(index.height):
            raise ValueError(f"this archive does not own height {index.height}")
        existing = self._db.get(_BLOCK + _U64.pack(index.height))
        if existing is not None:
            if index_block_record(existing).hash != index.hash:
                raise ConflictingBlock(f"height {index.height} is archived with a different block hash")
            return index
        batch.put(_BLOCK + _U64.pack(index.height), record)
        for position, tx_id in enumerate(index.tx_ids):
            batch.put(_TX + tx_id, _LOCATION.pack(index.height, position))
        return index

    def record_bytes(self, height: int) -> bytes | None:
        """The stored `aurigraph.v1.BlockRecord` bytes, for serving without re-encoding."""
        return self._db.get(_BLOCK + _U64.pack(height))

    def block(self, height: int) -> ArchivedBlock | None:
        raw = self.record_bytes(height)
        if raw is None:
            return None
        block, receipts = decode_block_record(raw)
        return ArchivedBlock(block, tuple(receipts))

    def latest_height(self) -> int | None:
        found = last_with_prefix(self._db, _BLOCK)
        return None if found is None else _U64.unpack(found[0][len(_BLOCK):])[0]

    def transaction(self, tx_id: bytes) -> ArchivedTx | None:
        location = self._db.get(_TX + tx_id)
        if location is None:
            return None
        height, position = _LOCATION.unpack(location)
        tx, receipt = record_transaction(self.record_bytes(height), position)
        return ArchivedTx(tx, receipt, height)
