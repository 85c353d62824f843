"""RocksRaftStorage behaves exactly like the core's MemoryStorage, and survives reopening."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aurigraph.consensus.errors import ConsensusError
from aurigraph.consensus.storage import MemoryStorage
from aurigraph.consensus.types import ConfState, Entry, EntryType, HardState, Snapshot, SnapshotMetadata
from aurigraph.storage.raft_log import RocksRaftStorage
from aurigraph.storage.rocks import open_db

CONF = ConfState(voters=(1, 2, 3), learners=(4,), stakes={1: 10, 2: 5})


def observe(s, lo_hi_pairs):
    """Everything a reader can see, with errors as their type names."""
    def attempt(fn, *args):
        try:
            return fn(*args)
        except ConsensusError as e:
            return type(e).__name__
    view = [s.first_index(), s.last_index(), s.initial_state(), s.snapshot()]
    for index in range(max(0, s.first_index() - 2), s.last_index() + 3):
        view.append(attempt(s.term, index))
    for lo, hi, max_bytes in lo_hi_pairs:
        view.append(attempt(s.entries, lo, hi, max_bytes))
    return view


op = st.one_of(
    st.tuples(st.just("append"), st.integers(0, 3), st.integers(1, 6), st.integers(1, 5), st.binary(max_size=30)),
    st.tuples(st.just("hard"), st.integers(0, 9), st.integers(0, 3), st.integers(0, 20)),
    st.tuples(st.just("snapshot"), st.integers(0, 4)),
    st.tuples(st.just("compact"), st.integers(0, 4)),
    st.tuples(st.just("apply_snapshot"), st.integers(0, 30), st.integers(1, 9)),
    st.just(("reopen",)),
)


def run(storage_factory, ops, reopen):
    s = storage_factory()
    term = 1
    for o in ops:
        try:
            if o[0] == "append":
                _, back, count, term_bump, data = o
                term = term + term_bump - 1
                start = max(1, s.last_index() + 1 - back)
                s.append([Entry(term, i, EntryType.NORMAL, data) for i in range(start, start + count)])
            elif o[0] == "hard":
                s.set_hard_state(HardState(*o[1:]))
            elif o[0] == "snapshot":
                s.create_snapshot(s.last_index() - o[1], CONF, b"state@%d" % s.last_index())
            elif o[0] == "compact":
                s.compact(s.snapshot().metadata.index - o[1])
            elif o[0] == "apply_snapshot":
                s.apply_snapshot(Snapshot(b"recv", SnapshotMetadata(CONF, o[1], o[2])))
            elif o[0] == "reopen":
                s = reopen(s)
        except ConsensusError as e:
            yield type(e).__name__
        yield observe(s, [(1, 4, 1000), (2, 9, 40), (s.first_index(), s.last_index() + 1, 10**6)])


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(op, max_size=25))
def test_conforms_to_memory_storage(ops):
    folder = Path(tempfile.mkdtemp(prefix="raftlog-"))
    dbs = []
    try:
        def rocks_factory():
            dbs.append(open_db(folder))
            return RocksRaftStorage.bootstrap(dbs[-1], CONF)

        def reopen_rocks(_):
            dbs[-1].close()
            dbs.append(open_db(folder))
            return RocksRaftStorage(dbs[-1])

        memory = list(run(lambda: MemoryStorage.bootstrap(CONF), ops, lambda s: s))
        rocks = list(run(rocks_factory, ops, reopen_rocks))
        assert rocks == memory
    finally:
        dbs[-1].close()
        shutil.rmtree(folder, ignore_errors=True)


def test_reopen_keeps_hard_state_entries_and_snapshot(tmp_path):
    db = open_db(tmp_path)
    s = RocksRaftStorage.bootstrap(db, CONF)
    s.append([Entry(2, i, EntryType.NORMAL, b"block%d" % i) for i in range(2, 12)])
    s.set_hard_state(HardState(2, 1, 9))
    s.create_snapshot(8, CONF, b"state")
    s.compact(6)
    db.close()
    again = RocksRaftStorage.bootstrap(open_db(tmp_path), ConfState(voters=(9,)))  # bootstrap must not reset
    assert again.initial_state() == (HardState(2, 1, 9), CONF)
    assert (again.first_index(), again.last_index()) == (7, 11)
    assert again.entries(7, 12, 10**6)[0] == Entry(2, 7, EntryType.NORMAL, b"block7")
    assert again.snapshot().data == b"state" and again.snapshot().metadata.index == 8
    with pytest.raises(ConsensusError):
        again.term(5)


def test_only_entries_terms_and_votes_are_fsynced_not_a_commit_index_alone(tmp_path, monkeypatch):
    """etcd's MustSync: what a replica acknowledges (entries, its vote and term) is on disk before it
    answers; a write that only moves the commit index is not synced, and a replica that lost it
    reopens with an older commit index, which the core takes up to the snapshot and the leader
    raises again."""
    import aurigraph.storage.raft_log as raft_log

    synced, unsynced = [], []
    monkeypatch.setattr(raft_log, "write_durably", lambda db, batch: (synced.append(1), db.write(batch)))
    monkeypatch.setattr(raft_log, "write_atomically", lambda db, batch: (unsynced.append(1), db.write(batch)))
    db = open_db(tmp_path)
    s = RocksRaftStorage.bootstrap(db, CONF)
    synced.clear()
    s.persist([Entry(1, 2, EntryType.NORMAL, b"a")], HardState(1, 0, 1))  # entries
    s.persist([], HardState(1, 0, 2))  # the commit index alone
    s.persist([], HardState(2, 0, 2))  # a new term
    s.persist([], HardState(2, 3, 2))  # a vote
    s.persist([Entry(2, 3, EntryType.NORMAL, b"b")], HardState(2, 3, 3))  # entries with a commit
    s.persist([], HardState(2, 3, 3))  # nothing new
    assert (len(synced), len(unsynced)) == (4, 2)
    db.close()
    again = RocksRaftStorage(open_db(tmp_path))
    assert again.initial_state()[0] == HardState(2, 3, 3) and again.last_index() == 3  # (a clean close keeps all)
