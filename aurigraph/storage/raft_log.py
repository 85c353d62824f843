"""The consensus log on RocksDB: `aurigraph.consensus.Storage` plus the writes a replica makes.

Same semantics as `aurigraph.consensus.storage.MemoryStorage` (a conformance test runs both
through the same operations), but every write is one atomic batch, fsync'd whenever it holds
entries, a term or a vote, so a replica that acknowledges an append or a vote has it on disk. A
write that only moves the commit index is not fsync'd (etcd's `MustSync` rule): a replica that
loses it learns the commit index from the leader again, and it never acknowledges anything by it.

Layout (fixed-width big-endian; an internal on-disk format, not a wire format):
    b"E" + u64 index  -> u64 term + u8 type + data
    b"Mhard"          -> u64 term + u64 vote + u64 commit
    b"Mfirst"         -> u64 index + u64 term of the dummy entry (the snapshot point)
    b"Msnap"          -> snapshot metadata: u64 index, u64 term, conf state (see `_encode_conf`)
    b"Msnapdata"      -> snapshot data
"""

from __future__ import annotations

import struct

from aurigraph.consensus.errors import Compacted, ConsensusError, SnapshotOutOfDate, Unavailable
from aurigraph.consensus.storage import entry_size
from aurigraph.consensus.types import ConfState, Entry, EntryType, HardState, Snapshot, SnapshotMetadata
from aurigraph.storage.rocks import new_batch, scan_prefix, write_atomically, write_durably

_ENTRY = b"E"
_HARD = b"Mhard"
_FIRST = b"Mfirst"
_SNAP = b"Msnap"
_SNAP_DATA = b"Msnapdata"
_U64 = struct.Struct(">Q")
_TWO_U64 = struct.Struct(">QQ")
_THREE_U64 = struct.Struct(">QQQ")
_ENTRY_HEAD = struct.Struct(">QB")


def _key(index: int) -> bytes:
    return _ENTRY + _U64.pack(index)


def _encode_entry(e: Entry) -> bytes:
    return _ENTRY_HEAD.pack(e.term, e.type) + e.data


def _decode_entry(index: int, raw: bytes) -> Entry:
    term, type_ = _ENTRY_HEAD.unpack_from(raw)
    return Entry(term, index, EntryType(type_), raw[_ENTRY_HEAD.size:])


def _encode_conf(c: ConfState) -> bytes:
    parts = []
    for ids in (c.voters, c.learners, c.voters_outgoing):
        parts.append(struct.pack(f">I{len(ids)}Q", len(ids), *ids))
    stakes = sorted(c.stakes.items())
    parts.append(struct.pack(f">I{2 * len(stakes)}Q", len(stakes), *(v for pair in stakes for v in pair)))
    return b"".join(parts)


def _decode_conf(raw: bytes, offset: int) -> ConfState:
    lists = []
    for _ in range(3):
        (n,) = struct.unpack_from(">I", raw, offset)
        lists.append(struct.unpack_from(f">{n}Q", raw, offset + 4))
        offset += 4 + 8 * n
    (n,) = struct.unpack_from(">I", raw, offset)
    flat = struct.unpack_from(f">{2 * n}Q", raw, offset + 4)
    return ConfState(lists[0], lists[1], lists[2], dict(zip(flat[::2], flat[1::2])))


class RocksRaftStorage:
    """A replica's durable raft log. The first and last index are cached; RocksDB holds the rest."""

    def __init__(self, db) -> None:
        self._db = db
        first = db.get(_FIRST)
        self._offset, self._offset_term = _TWO_U64.unpack(first) if first else (0, 0)
        last = None
        it = db.iter()
        it.seek_for_prev(_ENTRY + b"\xff" * 8)
        if it.valid() and it.key().startswith(_ENTRY):
            last = _U64.unpack(it.key()[1:])[0]
        self._last = last if last is not None and last > self._offset else self._offset
        raw = db.get(_HARD)
        self._hard = HardState(*_THREE_U64.unpack(raw)) if raw else HardState()

    @classmethod
    def bootstrap(cls, db, conf_state: ConfState) -> RocksRaftStorage:
        """A founding member's log (as `MemoryStorage.bootstrap`), unless `db` already holds one."""
        storage = cls(db)
        if db.get(_HARD) is None:
            storage.apply_snapshot(Snapshot(b"", SnapshotMetadata(conf_state, 1, 1)))
            storage.set_hard_state(HardState(1, 0, 1))
        return storage

    # --- reads (the Storage protocol) ---------------------------------------------------------

    def initial_state(self) -> tuple[HardState, ConfState]:
        raw = self._db.get(_HARD)
        return (HardState(*_THREE_U64.unpack(raw)) if raw else HardState()), self.snapshot().metadata.conf_state

    def first_index(self) -> int:
        return self._offset + 1

    def last_index(self) -> int:
        return self._last

    def term(self, index: int) -> int:
        if index < self._offset:
            raise Compacted(f"index {index} is compacted (snapshot at {self._offset})")
        if index > self._last:
            raise Unavailable(f"index {index} is beyond the last index {self._last}")
        if index == self._offset:
            return self._offset_term
        return _ENTRY_HEAD.unpack_from(self._db.get(_key(index)))[0]

    def entries(self, lo: int, hi: int, max_bytes: int) -> list[Entry]:
        if lo <= self._offset:
            raise Compacted(f"index {lo} is compacted (snapshot at {self._offset})")
        if hi > self._last + 1:
            raise Unavailable(f"index {hi - 1} is beyond the last index {self._last}")
        out: list[Entry] = []
        total = 0
        for key, raw in scan_prefix(self._db, _ENTRY, start=_key(lo)):
            index = _U64.unpack(key[1:])[0]
            if index >= hi:
                break
            entry = _decode_entry(index, raw)
            total += entry_size(entry)
            if out and total > max_bytes:  # as limit_size: never fewer than one entry
                break
            out.append(entry)
        return out

    def snapshot(self) -> Snapshot:
        meta = self._db.get(_SNAP)
        if meta is None:
            return Snapshot()
        index, term = _TWO_U64.unpack_from(meta)
        return Snapshot(self._db.get(_SNAP_DATA) or b"", SnapshotMetadata(_decode_conf(meta, 16), index, term))

    # --- writes (each durable before returning) -----------------------------------------------

    def set_hard_state(self, hard_state: HardState) -> None:
        self.persist((), hard_state)

    def append(self, entries: list[Entry] | tuple[Entry, ...]) -> None:
        """Append `entries`, first deleting any stored suffix they overwrite (one atomic batch)."""
        self.persist(entries, None)

    def persist(self, entries: list[Entry] | tuple[Entry, ...], hard_state: HardState | None) -> None:
        """A `Ready`'s entries and hard state in one atomic batch: at most one fsync per Ready, none
        when only the commit index moved (see the module's docstring)."""
        batch = new_batch()
        last = self._stage_append(batch, entries)
        sync = bool(entries)
        if hard_state is not None:
            batch.put(_HARD, _THREE_U64.pack(hard_state.term, hard_state.vote, hard_state.commit))
            sync = sync or (hard_state.term, hard_state.vote) != (self._hard.term, self._hard.vote)
            self._hard = hard_state
        if not batch.is_empty():
            (write_durably if sync else write_atomically)(self._db, batch)
        self._last = last

    def _stage_append(self, batch, entries) -> int:
        if not entries or entries[-1].index < self.first_index():
            return self._last
        if entries[0].index < self.first_index():
            entries = entries[self.first_index() - entries[0].index:]
        start = entries[0].index
        if start > self._last + 1:
            raise Unavailable(f"gap: appending at {start}, last index {self._last}")
        if start <= self._last:
            batch.delete_range(_key(start), _key(self._last + 1))
        for e in entries:
            batch.put(_key(e.index), _encode_entry(e))
        return entries[-1].index

    def apply_snapshot(self, snapshot: Snapshot) -> None:
        """Replace everything with a received snapshot (the log restarts after its index)."""
        current = self.snapshot().metadata.index
        if snapshot.metadata.index < current:
            raise SnapshotOutOfDate(f"snapshot at {snapshot.metadata.index} is older than the stored one at {current}")
        batch = new_batch()
        batch.delete_range(_ENTRY, _ENTRY + b"\xff" * 9)
        self._put_snapshot(batch, snapshot)
        write_durably(self._db, batch)
        self._offset, self._offset_term = snapshot.metadata.index, snapshot.metadata.term
        self._last = self._offset

    def create_snapshot(self, index: int, conf_state: ConfState, data: bytes) -> Snapshot:
        """Record the application's state `data` as of applied `index` (<= the commit index)."""
        current = self.snapshot().metadata.index
        if index <= current:
            raise SnapshotOutOfDate(f"index {index} is not after the stored snapshot at {current}")
        if index > self._last:
            raise Unavailable(f"snapshot index {index} is beyond the last index {self._last}")
        snapshot = Snapshot(data, SnapshotMetadata(conf_state, index, self.term(index)))
        batch = new_batch()
        self._put_snapshot(batch, snapshot, keep_first=True)
        write_durably(self._db, batch)
        return snapshot

    def compact(self, index: int) -> None:
        """Drop entries up to and including `index`, which a snapshot must already cover."""
        if index <= self._offset:
            raise Compacted(f"index {index} is already compacted (snapshot at {self._offset})")
        covered = self.snapshot().metadata.index
        if index > covered:
            raise ConsensusError(f"cannot compact to {index}: no snapshot covers it (snapshot at {covered})")
        term = self.term(index)
        batch = new_batch()
        batch.delete_range(_key(0), _key(index + 1))
        batch.put(_FIRST, _TWO_U64.pack(index, term))
        write_durably(self._db, batch)
        self._offset, self._offset_term = index, term

    def _put_snapshot(self, batch, snapshot: Snapshot, keep_first: bool = False) -> None:
        m = snapshot.metadata
        batch.put(_SNAP, _TWO_U64.pack(m.index, m.term) + _encode_conf(m.conf_state))
        batch.put(_SNAP_DATA, snapshot.data)
        if not keep_first:
            batch.put(_FIRST, _TWO_U64.pack(m.index, m.term))
