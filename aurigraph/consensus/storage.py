"""The durable log a replica reads back: the `Storage` protocol and an in-memory implementation.

The core only *reads* storage. The driver writes it while handling a `Ready`: first the snapshot
(`apply_snapshot`), then the entries (`append`), then the hard state (`set_hard_state`), all durably
before sending that `Ready`'s messages. When the application has applied up to some index it may
call `create_snapshot` and then `compact` to drop the log behind it. `MemoryStorage` is used by the
tests, the simulator and the benchmark; a RocksDB adapter implements the same protocol.
"""

from __future__ import annotations

from typing import Protocol

from aurigraph.consensus.errors import Compacted, ConsensusError, SnapshotOutOfDate, Unavailable
from aurigraph.consensus.types import ConfState, Entry, HardState, Snapshot, SnapshotMetadata


class Storage(Protocol):
    def initial_state(self) -> tuple[HardState, ConfState]:
        """The persisted hard state and the membership as of the stored snapshot."""

    def entries(self, lo: int, hi: int, max_bytes: int) -> list[Entry]:
        """Entries [lo, hi); at least one if lo < hi, then as many as fit in `max_bytes`."""

    def term(self, index: int) -> int:
        """Term of `index`, valid from `first_index() - 1` (the snapshot's) to `last_index()`."""

    def first_index(self) -> int: ...

    def last_index(self) -> int: ...

    def snapshot(self) -> Snapshot: ...


def entry_size(entry: Entry) -> int:
    """Bytes an entry counts for against append size limits (payload plus fixed overhead)."""
    return len(entry.data) + 24


def limit_size(entries: list[Entry], max_bytes: int) -> list[Entry]:
    """The longest prefix within `max_bytes`, but never fewer than one entry."""
    total = 0
    for i, entry in enumerate(entries):
        total += entry_size(entry)
        if i > 0 and total > max_bytes:
            return entries[:i]
    return entries


class MemoryStorage:
    """`Storage` kept in a Python list; `_entries[0]` is a dummy at the snapshot's index and term."""

    def __init__(self) -> None:
        self.hard_state = HardState()
        self._snapshot = Snapshot()
        self._entries: list[Entry] = [Entry(0, 0)]

    @classmethod
    def bootstrap(cls, conf_state: ConfState) -> MemoryStorage:
        """Storage of a founding member: an initial snapshot at index 1, term 1 holds `conf_state`.

        Starting from a snapshot (rather than from conf-change entries) means a replica added later
        always receives the membership with the snapshot it needs anyway.
        """
        storage = cls()
        storage.apply_snapshot(Snapshot(b"", SnapshotMetadata(conf_state, 1, 1)))
        storage.set_hard_state(HardState(1, 0, 1))
        return storage

    def initial_state(self) -> tuple[HardState, ConfState]:
        return self.hard_state, self._snapshot.metadata.conf_state

    def set_hard_state(self, hard_state: HardState) -> None:
        self.hard_state = hard_state

    def first_index(self) -> int:
        return self._entries[0].index + 1

    def last_index(self) -> int:
        return self._entries[0].index + len(self._entries) - 1

    def term(self, index: int) -> int:
        offset = self._entries[0].index
        if index < offset:
            raise Compacted(f"index {index} is compacted (snapshot at {offset})")
        if index - offset >= len(self._entries):
            raise Unavailable(f"index {index} is beyond the last index {self.last_index()}")
        return self._entries[index - offset].term

    def entries(self, lo: int, hi: int, max_bytes: int) -> list[Entry]:
        offset = self._entries[0].index
        if lo <= offset:
            raise Compacted(f"index {lo} is compacted (snapshot at {offset})")
        if hi > self.last_index() + 1:
            raise Unavailable(f"index {hi - 1} is beyond the last index {self.last_index()}")
        return limit_size(self._entries[lo - offset:hi - offset], max_bytes)

    def snapshot(self) -> Snapshot:
        return self._snapshot

    def apply_snapshot(self, snapshot: Snapshot) -> None:
        """Replace everything with a received snapshot (the log restarts after its index)."""
        if snapshot.metadata.index < self._snapshot.metadata.index:
            raise SnapshotOutOfDate(f"snapshot at {snapshot.metadata.index} is older than the stored one "
                                    f"at {self._snapshot.metadata.index}")
        self._snapshot = snapshot
        self._entries = [Entry(snapshot.metadata.term, snapshot.metadata.index)]

    def create_snapshot(self, index: int, conf_state: ConfState, data: bytes) -> Snapshot:
        """Record the application's state `data` as of applied `index` (<= the commit index)."""
        if index <= self._snapshot.metadata.index:
            raise SnapshotOutOfDate(f"index {index} is not after the stored snapshot "
                                    f"at {self._snapshot.metadata.index}")
        if index > self.last_index():
            raise Unavailable(f"snapshot index {index} is beyond the last index {self.last_index()}")
        self._snapshot = Snapshot(data, SnapshotMetadata(conf_state, index, self.term(index)))
        return self._snapshot

    def compact(self, index: int) -> None:
        """Drop entries up to and including `index`, which a snapshot must already cover."""
        offset = self._entries[0].index
        if index <= offset:
            raise Compacted(f"index {index} is already compacted (snapshot at {offset})")
        if index > self._snapshot.metadata.index:
            raise ConsensusError(f"cannot compact to {index}: no snapshot covers it "
                                 f"(snapshot at {self._snapshot.metadata.index})")
        self._entries = [Entry(self.term(index), index), *self._entries[index - offset + 1:]]

    def append(self, entries: list[Entry] | tuple[Entry, ...]) -> None:
        """Append `entries`, first truncating any stored suffix they overwrite."""
        if not entries:
            return
        first = self.first_index()
        if entries[-1].index < first:
            return  # all already covered by the snapshot
        if entries[0].index < first:
            entries = entries[first - entries[0].index:]
        start = entries[0].index - self._entries[0].index
        if start > len(self._entries):
            raise Unavailable(f"gap: appending at {entries[0].index}, last index {self.last_index()}")
        del self._entries[start:]
        self._entries.extend(entries)
