"""Seeded whole-cluster simulation: thousands of runs of 3, 5 and 7 replicas under faults.

Each run (see `sim.py`) drives a cluster through `CHAOS_STEPS` steps of message drop, duplication,
delay and reordering, partitions (often isolating the leader), crashes and restarts from persisted
state, snapshots with log compaction, leader transfers, ReadIndex reads and (in one profile)
membership changes, checking the Raft safety properties after every step; it then heals everything
and checks liveness (a leader emerges and proposals commit on every member).

Profiles vary the configuration, because some bugs only show without the extensions that mask
them. Mutation check (2026-11-25): with `RaftLog.maybe_commit` changed to commit any index a quorum
holds, whatever its term (Raft §5.4.2, Figure 8), 5 of the 45 simulator tests failed, all in
`classic` (no pre-vote, no check-quorum, one entry per append): seeds 59, 120, 208 and 231 with 3
voters, 21 and 60 with 7, e.g. "leader completeness: leader 3 of term 11 lacks committed entry 5
(term 2)"; `test_s5_4_2_leader_never_commits_previous_term_entries_by_counting_replicas` failed
too. The `default`, `prevote` and `membership` profiles did not catch it. The rule was then
restored; those seeds are kept below as regression cases. A second mutation, granting votes without
the up-to-date check (`RaftLog.is_up_to_date` returning True, Raft §5.4.1), failed the first block
of `default` with 3 voters at once (seeds 3, 12, 14, ...: "leader completeness: leader 3 of term 3
lacks committed entry 4 (term 2)").
"""

from __future__ import annotations

import pytest

from tests.unit.consensus.sim import Faults, SafetyViolation, run_seed

CHAOS_STEPS = 300
SEEDS_PER_BLOCK = 50

PROFILES: dict[str, dict] = {
    "default": dict(faults=Faults(), config={}),
    "classic": dict(
        faults=Faults(drop=0.1, max_delay_steps=4, partition=0.04, crash=0.02, snapshot=0.005, transfer=0.0),
        config=dict(pre_vote=False, check_quorum=False, max_entries_per_append=1, max_inflight_appends=2,
                    election_ticks=6, stake_leader_transfer=False),
    ),
    "prevote": dict(
        faults=Faults(drop=0.1, max_delay_steps=4, partition=0.04, crash=0.02, snapshot=0.01),
        config=dict(pre_vote=True, check_quorum=False, max_entries_per_append=2, election_ticks=6),
    ),
    "membership": dict(faults=Faults(conf_change=0.02), config={}, spares=2),
}

# (profile, voters, blocks of SEEDS_PER_BLOCK seeds) in the default run.
PLAN = [
    ("default", 3, 6), ("default", 5, 6), ("default", 7, 3),
    ("classic", 3, 6), ("classic", 5, 6), ("classic", 7, 3),
    ("prevote", 3, 3), ("prevote", 5, 3),
    ("membership", 3, 3), ("membership", 5, 3),
]

# Every seed that ever failed, kept forever: (profile, voters, seed, chaos steps, what it found).
# Seeds marked "harness" exposed a simulator bug, not a core bug; they still run. The simulator has
# changed since some of these were found, so they guard the area rather than replay the exact run.
REGRESSIONS = [
    ("default", 5, 0, 300, "restart after a snapshot with entries kept behind it re-applied them"),
    ("default", 5, 1, 300, "restart after a snapshot with entries kept behind it re-applied them"),
    ("default", 7, 1, 300, "restart after a snapshot with entries kept behind it re-applied them"),
    ("default", 5, 2, 300, "restart after a snapshot with entries kept behind it re-applied them"),
    ("default", 3, 24, 300, "harness: liveness check demanded proposals lost in a leader hand-over"),
    ("default", 3, 69, 300, "harness: liveness check demanded proposals lost in a leader hand-over"),
    ("default", 3, 89, 300, "harness: liveness check demanded proposals lost in a leader hand-over"),
    ("default", 7, 140, 300, "harness: liveness check demanded proposals lost in a leader hand-over"),
    ("classic", 3, 59, 300, "mutation: a previous-term entry committed by counting replicas was lost"),
    ("classic", 3, 120, 300, "mutation: a previous-term entry committed by counting replicas was lost"),
    ("classic", 3, 208, 300, "mutation: a previous-term entry committed by counting replicas was lost"),
    ("classic", 3, 231, 300, "mutation: a previous-term entry committed by counting replicas was lost"),
    ("classic", 7, 21, 300, "mutation: a previous-term entry committed by counting replicas was lost"),
    ("classic", 7, 60, 300, "mutation: a previous-term entry committed by counting replicas was lost"),
    ("classic", 7, 10052, 2000, ("no leader for good: stale high-stake candidates kept resetting the "
                                 "election timer of the only up-to-date (low-stake) replica")),
]


def run_profile(profile: str, voters: int, seed: int, steps: int = CHAOS_STEPS) -> None:
    p = PROFILES[profile]
    run_seed(seed, voters, steps, faults=p["faults"], spares=p.get("spares", 0), **p["config"])


def run_block(profile: str, voters: int, seeds: range, steps: int = CHAOS_STEPS) -> None:
    failures = []
    for seed in seeds:
        try:
            run_profile(profile, voters, seed, steps)
        except SafetyViolation as e:
            failures.append(str(e))
    assert not failures, f"{len(failures)} failing seeds in {profile}/{voters}:\n" + "\n\n".join(failures[:3])


@pytest.mark.parametrize(
    ("profile", "voters", "block"),
    [(p, v, b) for p, v, blocks in PLAN for b in range(blocks)],
    ids=str,
)
def test_simulated_cluster_is_safe_and_live(profile: str, voters: int, block: int) -> None:
    start = block * SEEDS_PER_BLOCK
    run_block(profile, voters, range(start, start + SEEDS_PER_BLOCK))


@pytest.mark.parametrize(("profile", "voters", "seed", "steps", "found"), REGRESSIONS, ids=str)
def test_regression_seed(profile: str, voters: int, seed: int, steps: int, found: str) -> None:
    run_profile(profile, voters, seed, steps)


def test_default_run_covers_thousands_of_seeds() -> None:
    assert sum(blocks for _, _, blocks in PLAN) * SEEDS_PER_BLOCK >= 1000
    assert {v for _, v, _ in PLAN} == {3, 5, 7}


@pytest.mark.slow
@pytest.mark.parametrize("profile", sorted(PROFILES))
@pytest.mark.parametrize("voters", [3, 5, 7])
def test_soak(profile: str, voters: int) -> None:
    run_block(profile, voters, range(10_000, 10_200), steps=2_000)
