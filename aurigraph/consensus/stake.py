"""Stake-weighted leadership: the two rules, as pure functions `raft.py` calls.

Stake never changes quorums (one voter, one vote; see quorum.py); it changes who leads.

1. Election timeouts. With E = `election_ticks`, a voter with stake s, and S the largest voter stake,
   the randomized timeout is drawn uniformly from [E + shift, 2E + shift) with
   shift = floor(E * (S - s) / S). The top-stake voters use [E, 2E); a voter with a tiny stake waits
   up to twice as long. Among replicas whose logs are up to date (only those can win, Raft §5.4.1),
   the higher stake therefore times out, campaigns and wins first. Ranges overlap, so a crashed
   high-stake voter only delays elections, never blocks them; and because a vote request that is
   not granted does not reset the election timer (Raft Figure 2), stale high-stake candidates cannot
   starve an up-to-date low-stake one (regression seed classic/7/10052).
2. Hand-over. Every heartbeat interval, a leader that sees a voter with strictly higher stake that
   is recently active and holds its whole log (match == last index) transfers leadership to it
   (TimeoutNow, dissertation §3.10); among several it picks the highest stake, then the lowest id.
   Safeguards against ping-pong: transfers only go to strictly higher stake, so a chain of transfers
   ends at a top-stake voter and never comes back; a new leader, and a leader whose transfer timed
   out (after `election_ticks`), waits `stake_transfer_cooldown_ticks` before trying. Proposals are
   refused (`ProposalDropped`) while a transfer is under way.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from aurigraph.consensus.types import ConfState


def election_timeout_ticks(conf: ConfState, node_id: int, election_ticks: int, rng: random.Random) -> int:
    """Rule 1: a draw from [E + shift, 2E + shift), the shift shrinking as stake grows."""
    top = max((conf.stake_of(v) for v in conf.voters), default=1)
    top = max(top, 1)
    shift = election_ticks * (top - min(conf.stake_of(node_id), top)) // top
    return election_ticks + shift + rng.randrange(election_ticks)


def transfer_target(conf: ConfState, leader_id: int, caught_up: Iterable[int]) -> int | None:
    """Rule 2: the caught-up, recently active voter to hand over to, if any outranks the leader."""
    own = conf.stake_of(leader_id)
    better = [v for v in caught_up if v in conf.voters and conf.stake_of(v) > own]
    return max(better, key=lambda v: (conf.stake_of(v), -v)) if better else None
