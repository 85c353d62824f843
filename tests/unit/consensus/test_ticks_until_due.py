"""`ticks_until_due`: a driver may sleep through the ticks before the due one (an idle replica
wakes for heartbeats and elections, not every tick) only if those ticks change nothing but
counters, and the due one is not later than the first tick that acts. Checked on every alive node
at many points of seeded chaos runs (partitions, crashes, transfers, membership changes)."""

from __future__ import annotations

import copy
import copyreg
import types

import pytest

from aurigraph.consensus import StateRole
from tests.unit.consensus.sim import Cluster

# Stakes are read-only mappings: a deep copy of a node may rebuild them.
copyreg.pickle(types.MappingProxyType, lambda m: (types.MappingProxyType, (dict(m),)))


def observable(raft) -> tuple:
    """Everything a tick could change besides its counters."""
    return (raft.state, raft.term, raft.vote, raft.lead, raft.lead_transferee, list(raft.msgs),
            raft.log.last_index(), raft.log.committed, raft.randomized_election_ticks,
            {i: (pr.state, pr.recent_active) for i, pr in raft.tracker.progress.items()})


def acted(before: tuple, raft) -> bool:
    return observable(raft) != before or raft.heartbeat_elapsed_ticks == 0 or raft.election_elapsed_ticks == 0


@pytest.mark.parametrize("seed", range(40))
def test_the_ticks_before_the_due_one_only_count_and_the_due_one_acts(seed) -> None:
    cluster = Cluster(seed, voters=3, spares=2, heartbeat_ticks=3)
    checked = 0
    for step in range(400):
        cluster.chaos_step()
        if step % 5:
            continue
        for sim in cluster.nodes.values():
            if not sim.alive:
                continue
            node = copy.deepcopy(sim.node)  # the run goes on untouched
            raft = node.raft
            due = node.ticks_until_due()
            assert due >= 1
            before = observable(raft)
            for _ in range(due - 1):
                node.tick()
                assert observable(raft) == before, f"seed {seed} step {step}: a tick before the due one acted"
            node.tick()
            if raft.state == StateRole.LEADER or raft.promotable():
                state = before[0]
                if state == StateRole.LEADER or raft.promotable():
                    assert acted(before, raft), f"seed {seed} step {step}: the due tick did nothing"
            checked += 1
    assert checked > 200  # the run kept nodes alive to check


def test_ticks_owed_counts_the_slept_ticks_up_to_the_due_one_and_a_busy_stretch_as_one() -> None:
    from aurigraph.node.replica import ticks_owed

    tick = 0.02
    # Woken by a message before the next tick time: nothing owed.
    assert ticks_owed(1.010, 1.020, 1.000, tick, 50) == (0, 1.020)
    # Slept from 1.000 through tick times 1.02, 1.04, ..., 1.10 (5 of them): all five.
    n, nxt = ticks_owed(1.105, 1.020, 1.000, tick, 50)
    assert n == 5 and abs(nxt - 1.12) < 1e-9
    # ... but never past the due one: the core would have acted there.
    assert ticks_owed(1.105, 1.020, 1.000, tick, 3)[0] == 3
    # Busy (not asleep) through tick times 1.02 .. 1.06, then slept from 1.065 to 1.105: the busy
    # three count as one, the slept two (1.08, 1.10) in full.
    n, nxt = ticks_owed(1.105, 1.020, 1.065, tick, 50)
    assert n == 3 and abs(nxt - 1.12) < 1e-9
