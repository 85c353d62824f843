"""Ledger state in RocksDB: a `StateReader` that whole blocks are committed into, atomically.

Layout (one RocksDB, one per replica):
    b"A" + address                 -> u64 balance + u64 nonce
    b"D" + address + UTF-8 key     -> 64-byte value digest
    b"X" + meta key                -> governance state (`aurigraph.ledger.governance`)
    b"M" + b"head"                 -> `aurigraph.v1.BlockHeader` of the last applied block
    b"M" + b"genesis"              -> hash of the genesis block this state started from

`commit_block` writes a block's state delta and the new head in one fsync'd batch, so after a
crash the state is exactly that after some block, never in between. `export` and `install` move
the whole state as a `LedgerSnapshotData` (install replaces everything in one fsync'd batch).
Opening a store with a different genesis than it was initialized with raises `GenesisMismatch`.
"""

from __future__ import annotations

import struct

from aurigraph.codec import decode_header, encode_header
from aurigraph.codec.blocks import LedgerSnapshotData
from aurigraph.ledger import Account, BlockHeader, Genesis, StateDelta, block_hash, genesis_block
from aurigraph.ledger.state import EMPTY_ACCOUNT
from aurigraph.storage.rocks import new_batch, scan_prefix, write_durably

_ACCOUNT = b"A"
_DATA = b"D"
_META = b"X"
_HEAD = b"Mhead"
_GENESIS = b"Mgenesis"
_BALANCE_NONCE = struct.Struct(">QQ")


class GenesisMismatch(RuntimeError):
    """The data directory belongs to another chain."""


class RocksState:
    def __init__(self, db) -> None:
        self._db = db

    @classmethod
    def open(cls, db, genesis: Genesis) -> RocksState:
        """Open the state of `genesis`'s chain, initializing an empty database at height 0."""
        state = cls(db)
        genesis_hash = block_hash(genesis_block(genesis).header)
        stored = db.get(_GENESIS)
        if stored is None:
            batch = new_batch()
            for address, amount in genesis.balances:
                if amount:
                    batch.put(_ACCOUNT + address, _BALANCE_NONCE.pack(amount, 0))
            batch.put(_HEAD, encode_header(genesis_block(genesis).header))
            batch.put(_GENESIS, genesis_hash)
            write_durably(db, batch)
        elif stored != genesis_hash:
            raise GenesisMismatch("this data directory holds another chain (genesis hash differs)")
        return state

    def account(self, address: bytes) -> Account:
        raw = self._db.get(_ACCOUNT + address)
        return EMPTY_ACCOUNT if raw is None else Account(*_BALANCE_NONCE.unpack(raw))

    def data_digest(self, address: bytes, key: str) -> bytes | None:
        return self._db.get(_DATA + address + key.encode())

    def meta(self, key: bytes) -> bytes | None:
        return self._db.get(_META + key)

    @property
    def head(self) -> BlockHeader:
        """Header of the last applied block (the genesis block before any other)."""
        return decode_header(self._db.get(_HEAD))

    def commit_block(self, header: BlockHeader, delta: StateDelta) -> None:
        """Durably apply `delta` as the result of the block with `header`, which must extend the head."""
        batch = new_batch()
        self.stage(batch, header, delta)
        write_durably(self._db, batch)

    def stage(self, batch, header: BlockHeader, delta: StateDelta) -> None:
        """Add the block's state writes and the new head to `batch` (committed by the caller)."""
        head = self.head
        if header.height != head.height + 1 or header.prev_hash != block_hash(head):
            raise ValueError(f"block {header.height} does not extend the applied head {head.height}")
        for address, account in delta.accounts.items():
            batch.put(_ACCOUNT + address, _BALANCE_NONCE.pack(account.balance, account.nonce))
        for (address, key), value_digest in delta.data.items():
            batch.put(_DATA + address + key.encode(), value_digest)
        for key, value in delta.meta_writes.items():
            if value:
                batch.put(_META + key, value)
            else:
                batch.delete(_META + key)
        batch.put(_HEAD, encode_header(header))

    def export(self) -> LedgerSnapshotData:
        """The whole state as of the head, in key order."""
        accounts = tuple((k[1:], *_BALANCE_NONCE.unpack(v)) for k, v in scan_prefix(self._db, _ACCOUNT))
        data = tuple((k[1:33], k[33:].decode(), v) for k, v in scan_prefix(self._db, _DATA))
        meta = tuple((k[1:], v) for k, v in scan_prefix(self._db, _META))
        return LedgerSnapshotData(self._db.get(_GENESIS), self.head, accounts, data, meta)

    def install(self, snapshot: LedgerSnapshotData) -> None:
        """Replace the whole state with `snapshot` (same chain, at or after the head), atomically."""
        if snapshot.genesis_hash != self._db.get(_GENESIS):
            raise GenesisMismatch("the snapshot belongs to another chain")
        if snapshot.head.height < self.head.height:
            raise ValueError(f"snapshot at height {snapshot.head.height} is behind the head {self.head.height}")
        batch = new_batch()
        batch.delete_range(_ACCOUNT, _ACCOUNT + b"\xff" * 33)
        batch.delete_range(_DATA, _DATA + b"\xff" * 33)
        batch.delete_range(_META, _META + b"\xff" * 64)
        for address, balance, nonce in snapshot.accounts:
            batch.put(_ACCOUNT + address, _BALANCE_NONCE.pack(balance, nonce))
        for address, key, value_digest in snapshot.data:
            batch.put(_DATA + address + key.encode(), value_digest)
        for key, value in snapshot.meta:
            batch.put(_META + key, value)
        batch.put(_HEAD, encode_header(snapshot.head))
        write_durably(self._db, batch)
