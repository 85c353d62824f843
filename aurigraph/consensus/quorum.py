"""Majority arithmetic over a voter set: the commit index a quorum has, and election outcomes.

Kept apart from the algorithm so that a later move to joint consensus (two majorities) changes this
module only. Stake weights leadership (see `raft.py`) but never quorums: one voter, one vote.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection, Mapping


class VoteResult(enum.Enum):
    PENDING = "pending"
    LOST = "lost"
    WON = "won"


def quorum_size(voters: Collection[int]) -> int:
    return len(voters) // 2 + 1


def committed_index(voters: Collection[int], acked_index: Callable[[int], int]) -> int:
    """The largest index that a majority of `voters` have acknowledged (0 with no voters)."""
    if not voters:
        return 0
    indexes = sorted((acked_index(v) for v in voters), reverse=True)
    return indexes[quorum_size(voters) - 1]


def vote_result(voters: Collection[int], votes: Mapping[int, bool]) -> VoteResult:
    granted = sum(1 for v in voters if votes.get(v) is True)
    rejected = sum(1 for v in voters if votes.get(v) is False)
    need = quorum_size(voters)
    if granted >= need:
        return VoteResult.WON
    if rejected > len(voters) - need:
        return VoteResult.LOST
    return VoteResult.PENDING


def has_quorum(voters: Collection[int], members: Collection[int]) -> bool:
    return sum(1 for v in voters if v in members) >= quorum_size(voters)
