"""The anomaly audit log: every transaction the anomaly model flagged, numbered 1, 2, … in the
order they were flagged, durable (each `append` is one fsync'd batch) and never rewritten. It is
bounded: past `max_flags` (plus 10%) the oldest are deleted down to `max_flags`, so a threshold
that flags far too much cannot fill the disk; sequence numbers keep counting.

Layout (one RocksDB):
    b"F" + u64 sequence -> the flag's encoded record (`AnomalyFlagged` bytes, `aurigraph.codec.models`)
    b"H" + sender       -> b"" while the hold policy holds that sender (until an operator releases it)
Single writer: the optimizer actor.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from pathlib import Path

from aurigraph.storage.rocks import last_with_prefix, new_batch, open_db, scan_prefix, write_durably

_FLAG = b"F"
_HELD = b"H"
_U64 = struct.Struct(">Q")


class FlagLog:
    def __init__(self, path: Path, max_flags: int = 1_000_000) -> None:
        self._db = open_db(Path(path))
        self.max_flags = max_flags
        last = last_with_prefix(self._db, _FLAG)
        self.last_sequence = 0 if last is None else _U64.unpack(last[0][1:])[0]
        first = next(scan_prefix(self._db, _FLAG), None)
        self.first_sequence = self.last_sequence + 1 if first is None else _U64.unpack(first[0][1:])[0]
        # The held senders, also kept in memory: the optimizer sends them to the ingress every round.
        self.held: set[bytes] = {key[len(_HELD):] for key, _ in scan_prefix(self._db, _HELD)}

    def append(self, encode, flags: Sequence) -> list[int]:
        """Store `encode(flag, sequence)` for each flag under the next sequence numbers; returns them."""
        if not flags:
            return []
        batch = new_batch()
        sequences = []
        for flag in flags:
            sequence = self.last_sequence + len(sequences) + 1
            batch.put(_FLAG + _U64.pack(sequence), encode(flag, sequence))
            sequences.append(sequence)
        write_durably(self._db, batch)
        self.last_sequence = sequences[-1]
        kept = self.last_sequence - self.first_sequence + 1
        if kept > self.max_flags + max(1, self.max_flags // 10):
            trim = new_batch()
            new_first = self.last_sequence - self.max_flags + 1
            trim.delete_range(_FLAG + _U64.pack(self.first_sequence), _FLAG + _U64.pack(new_first))
            write_durably(self._db, trim)
            self.first_sequence = new_first
        return sequences

    def read(self, from_sequence: int, limit: int) -> list[bytes]:
        """Up to `limit` records from `from_sequence` on, oldest first."""
        records = []
        for _, value in scan_prefix(self._db, _FLAG, _FLAG + _U64.pack(max(1, from_sequence))):
            if len(records) >= limit:
                break
            records.append(value)
        return records

    def hold(self, senders: set[bytes]) -> None:
        new = senders - self.held
        if not new:
            return
        batch = new_batch()
        for sender in new:
            batch.put(_HELD + sender, b"")
        write_durably(self._db, batch)
        self.held |= new

    def release(self, sender: bytes) -> bool:
        """Stop holding `sender`; False if it was not held."""
        if sender not in self.held:
            return False
        batch = new_batch()
        batch.delete(_HELD + sender)
        write_durably(self._db, batch)
        self.held.discard(sender)
        return True

    def close(self) -> None:
        self._db.close()
