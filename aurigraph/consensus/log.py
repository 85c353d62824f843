"""The Raft log as one replica sees it: durable `Storage` plus an unstable tail not yet persisted.

`RaftLog` answers the questions the algorithm asks (term at an index, is a candidate up to date,
where do two logs conflict), tracks `committed` and `applied`, and hands out entries to persist
(`unstable_entries`) and to apply (`next_committed_entries`). The driver acknowledges persistence
through `RawNode.advance`, which calls `stable_to` / `stable_snap_to` / `applied_to`.
"""

from __future__ import annotations

from aurigraph.consensus.errors import Compacted, ConsensusError, Unavailable
from aurigraph.consensus.storage import Storage, limit_size
from aurigraph.consensus.types import Entry, EntryType, Snapshot

NO_LIMIT = 1 << 62


class Unstable:
    """Entries (from `offset`) and possibly a snapshot that the driver has not yet persisted."""

    def __init__(self, offset: int) -> None:
        self.offset = offset
        self.entries: list[Entry] = []
        self.snapshot: Snapshot | None = None

    def maybe_first_index(self) -> int | None:
        return self.snapshot.metadata.index + 1 if self.snapshot else None

    def maybe_last_index(self) -> int | None:
        if self.entries:
            return self.offset + len(self.entries) - 1
        return self.snapshot.metadata.index if self.snapshot else None

    def maybe_term(self, index: int) -> int | None:
        if index < self.offset:
            if self.snapshot and self.snapshot.metadata.index == index:
                return self.snapshot.metadata.term
            return None
        last = self.maybe_last_index()
        if last is None or index > last:
            return None
        return self.entries[index - self.offset].term

    def stable_to(self, index: int, term: int) -> None:
        """The driver persisted entries up to `index`; drop them unless since overwritten."""
        if self.maybe_term(index) == term and index >= self.offset:
            del self.entries[:index + 1 - self.offset]
            self.offset = index + 1

    def stable_snap_to(self, index: int) -> None:
        if self.snapshot and self.snapshot.metadata.index == index:
            self.snapshot = None

    def restore(self, snapshot: Snapshot) -> None:
        self.offset = snapshot.metadata.index + 1
        self.entries = []
        self.snapshot = snapshot

    def truncate_and_append(self, entries: list[Entry]) -> None:
        first = entries[0].index
        if first == self.offset + len(self.entries):
            self.entries.extend(entries)
        elif first <= self.offset:
            # Replaces the whole unstable tail (and, once persisted, a stored suffix).
            self.offset = first
            self.entries = list(entries)
        else:
            del self.entries[first - self.offset:]
            self.entries.extend(entries)


class RaftLog:
    def __init__(self, storage: Storage, applied: int = 0) -> None:
        self.storage = storage
        first, last = storage.first_index(), storage.last_index()
        self.unstable = Unstable(last + 1)
        self.committed = first - 1
        self.applied = first - 1
        hard_state, _ = storage.initial_state()
        self.commit_to(max(hard_state.commit, storage.snapshot().metadata.index))
        # The application restarts from the stored snapshot (entries kept behind it are not
        # applied again) unless it says it has applied more.
        self.applied_to(max(applied, storage.snapshot().metadata.index, self.applied))

    # --- indexes and terms -------------------------------------------------------------------
    def first_index(self) -> int:
        first = self.unstable.maybe_first_index()
        return first if first is not None else self.storage.first_index()

    def last_index(self) -> int:
        last = self.unstable.maybe_last_index()
        return last if last is not None else self.storage.last_index()

    def term(self, index: int) -> int:
        """Term at `index`; raises `Compacted` below the snapshot, `Unavailable` past the end."""
        if index < self.first_index() - 1:
            raise Compacted(f"index {index} is compacted")
        if index > self.last_index():
            raise Unavailable(f"index {index} is beyond the last index {self.last_index()}")
        term = self.unstable.maybe_term(index)
        return term if term is not None else self.storage.term(index)

    def term_or_zero(self, index: int) -> int:
        try:
            return self.term(index)
        except (Compacted, Unavailable):
            return 0

    def last_term(self) -> int:
        return self.term(self.last_index())

    def match_term(self, index: int, term: int) -> bool:
        try:
            return self.term(index) == term
        except (Compacted, Unavailable):
            return False

    def is_up_to_date(self, last_index: int, term: int) -> bool:
        """Raft §5.4.1: a candidate's log is at least as up to date as ours (term, then length)."""
        return term > self.last_term() or (term == self.last_term() and last_index >= self.last_index())

    # --- appending ---------------------------------------------------------------------------
    def find_conflict(self, entries: tuple[Entry, ...]) -> int:
        """Index of the first entry whose term differs from ours (or that we lack); 0 if none."""
        for entry in entries:
            if not self.match_term(entry.index, entry.term):
                return entry.index
        return 0

    def find_conflict_by_term(self, index: int, term: int) -> tuple[int, int]:
        """The largest index <= `index` whose term is <= `term`, and that term (fast back-off)."""
        while index > 0:
            try:
                our_term = self.term(index)
            except Compacted:
                return index, 0
            except Unavailable:
                index = self.last_index()
                continue
            if our_term <= term:
                return index, our_term
            index -= 1
        return 0, 0

    def maybe_append(self, index: int, log_term: int, committed: int, entries: tuple[Entry, ...]) -> int | None:
        """Raft §5.3 log matching: accept `entries` after (index, log_term) if we have that entry.

        Returns the index of the last new entry, or None if our log does not match at `index`.
        Entries we already hold are never re-appended (a delayed duplicate must not truncate).
        """
        if not self.match_term(index, log_term):
            return None
        last_new = index + len(entries)
        conflict = self.find_conflict(entries)
        if conflict:
            if conflict <= self.committed:
                raise ConsensusError(f"entry {conflict} conflicts with committed entry (commit {self.committed})")
            self.append(list(entries[conflict - index - 1:]))
        self.commit_to(min(committed, last_new))
        return last_new

    def append(self, entries: list[Entry]) -> int:
        if not entries:
            return self.last_index()
        if entries[0].index - 1 < self.committed:
            raise ConsensusError(f"append at {entries[0].index} would overwrite committed {self.committed}")
        self.unstable.truncate_and_append(entries)
        return self.last_index()

    # --- reading -----------------------------------------------------------------------------
    def slice(self, lo: int, hi: int, max_bytes: int = NO_LIMIT) -> list[Entry]:
        """Entries [lo, hi) within `max_bytes` (at least one); raises `Compacted` below the log."""
        if lo >= hi:
            return []
        if lo < self.first_index():
            raise Compacted(f"index {lo} is compacted")
        if hi > self.last_index() + 1:
            raise Unavailable(f"index {hi - 1} is beyond the last index {self.last_index()}")
        offset = self.unstable.offset
        result: list[Entry] = []
        if lo < offset:
            result = self.storage.entries(lo, min(hi, offset), max_bytes)
            if len(result) < min(hi, offset) - lo:
                return result  # the byte limit cut the stored part short
        if hi > offset:
            result = result + self.unstable.entries[max(lo, offset) - offset:hi - offset]
        return limit_size(result, max_bytes)

    def unstable_entries(self) -> list[Entry]:
        return list(self.unstable.entries)

    def has_next_committed_entries(self) -> bool:
        return self.committed > self.applied and self.unstable.snapshot is None

    def next_committed_entries(self, max_bytes: int = NO_LIMIT) -> list[Entry]:
        """Committed entries not yet applied. None while a snapshot awaits persisting."""
        if not self.has_next_committed_entries():
            return []
        return self.slice(self.applied + 1, self.committed + 1, max_bytes)

    def snapshot(self) -> Snapshot:
        return self.unstable.snapshot or self.storage.snapshot()

    def has_unapplied_conf_change(self) -> bool:
        """A committed membership change not yet applied (or a snapshot that may carry one)."""
        if self.committed <= self.applied:
            return False
        try:
            pending = self.slice(self.applied + 1, self.committed + 1)
        except Compacted:
            return True
        return any(e.type == EntryType.CONF_CHANGE for e in pending)

    # --- progress ----------------------------------------------------------------------------
    def commit_to(self, index: int) -> None:
        if index > self.committed:
            if index > self.last_index():
                raise ConsensusError(f"commit index {index} is beyond the last index {self.last_index()}")
            self.committed = index

    def maybe_commit(self, index: int, term: int) -> bool:
        """Raft §5.4.2: advance the commit index only to an entry of the leader's current term."""
        if index > self.committed and self.term_or_zero(index) == term:
            self.commit_to(index)
            return True
        return False

    def applied_to(self, index: int) -> None:
        if index < self.applied or index > self.committed:
            raise ConsensusError(f"applied index {index} is outside [{self.applied}, {self.committed}]")
        self.applied = index

    def stable_to(self, index: int, term: int) -> None:
        self.unstable.stable_to(index, term)

    def stable_snap_to(self, index: int) -> None:
        self.unstable.stable_snap_to(index)

    def restore(self, snapshot: Snapshot) -> None:
        """Replace the log with `snapshot` (persisted with the next `Ready`)."""
        self.committed = snapshot.metadata.index
        self.unstable.restore(snapshot)
