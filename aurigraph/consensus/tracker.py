"""The leader's view of every other replica: how far it has replicated, and how fast to send.

Each `Progress` is in one of three states (as in etcd):
- PROBE: we do not know where the follower's log matches ours; send one append at a time and back
  off on rejection until it matches.
- REPLICATE: it matches; pipeline appends optimistically, at most `max_inflight_appends` unacked.
  A slow follower fills only its own window, so it never holds back commits made by the others.
- SNAPSHOT: the entries it needs are compacted; a snapshot is on its way and nothing else is sent.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Iterable

from aurigraph.consensus import quorum
from aurigraph.consensus.types import ConfState


class ProgressState(enum.Enum):
    PROBE = "probe"
    REPLICATE = "replicate"
    SNAPSHOT = "snapshot"


class Inflights:
    """Last indexes of appends sent but not acknowledged, oldest first, at most `capacity`."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._last_indexes: deque[int] = deque()

    def full(self) -> bool:
        return len(self._last_indexes) >= self.capacity

    def add(self, last_index: int) -> None:
        self._last_indexes.append(last_index)

    def free_le(self, index: int) -> None:
        while self._last_indexes and self._last_indexes[0] <= index:
            self._last_indexes.popleft()

    def free_first_one(self) -> None:
        if self._last_indexes:
            self._last_indexes.popleft()

    def reset(self) -> None:
        self._last_indexes.clear()


class Progress:
    def __init__(self, next_index: int, inflight_capacity: int, is_learner: bool) -> None:
        self.match = 0
        self.next = next_index
        self.state = ProgressState.PROBE
        self.pending_snapshot = 0
        self.recent_active = False
        self.probe_sent = False
        self.inflights = Inflights(inflight_capacity)
        self.is_learner = is_learner

    def _reset(self, state: ProgressState) -> None:
        self.state = state
        self.probe_sent = False
        self.pending_snapshot = 0
        self.inflights.reset()

    def become_probe(self) -> None:
        # After a snapshot, probe from just past it: the follower has at least that much.
        next_index = max(self.match + 1, self.pending_snapshot + 1) if self.state == ProgressState.SNAPSHOT \
            else self.match + 1
        self._reset(ProgressState.PROBE)
        self.next = next_index

    def become_replicate(self) -> None:
        self._reset(ProgressState.REPLICATE)
        self.next = self.match + 1

    def become_snapshot(self, snapshot_index: int) -> None:
        self._reset(ProgressState.SNAPSHOT)
        self.pending_snapshot = snapshot_index

    def maybe_update(self, index: int) -> bool:
        """The follower acknowledged `index`; True if that is news."""
        updated = index > self.match
        if updated:
            self.match = index
            self.probe_sent = False
        self.next = max(self.next, index + 1)
        return updated

    def sent_entries(self, last_index: int, count: int) -> None:
        """An append carrying `count` entries up to `last_index` went out."""
        if self.state == ProgressState.REPLICATE and count:
            self.next = last_index + 1
            self.inflights.add(last_index)
        elif self.state == ProgressState.PROBE:
            self.probe_sent = True

    def maybe_decrease_to(self, rejected: int, match_hint: int) -> bool:
        """The follower rejected an append at `rejected`; False if the rejection is stale."""
        if self.state == ProgressState.REPLICATE:
            if rejected <= self.match:
                return False
            self.next = self.match + 1
            return True
        if self.next - 1 != rejected:
            return False
        self.next = max(min(rejected, match_hint + 1), self.match + 1, 1)
        self.probe_sent = False
        return True

    def is_paused(self) -> bool:
        if self.state == ProgressState.PROBE:
            return self.probe_sent
        if self.state == ProgressState.REPLICATE:
            return self.inflights.full()
        return True


class ProgressTracker:
    """Membership plus per-replica `Progress` (meaningful on the leader) and election votes."""

    def __init__(self, conf_state: ConfState, inflight_capacity: int) -> None:
        self.conf_state = conf_state
        self.inflight_capacity = inflight_capacity
        self.progress: dict[int, Progress] = {}
        self.votes: dict[int, bool] = {}
        self.apply_conf_state(conf_state, next_index=1)

    @property
    def voters(self) -> tuple[int, ...]:
        return self.conf_state.voters

    @property
    def learners(self) -> tuple[int, ...]:
        return self.conf_state.learners

    def members(self) -> Iterable[int]:
        return (*self.conf_state.voters, *self.conf_state.learners)

    def apply_conf_state(self, conf_state: ConfState, next_index: int) -> None:
        """Switch membership; new replicas start probing at `next_index`, others keep progress."""
        self.conf_state = conf_state
        members = set(self.members())
        for node_id in list(self.progress):
            if node_id not in members:
                del self.progress[node_id]
        for node_id in members:
            pr = self.progress.get(node_id)
            if pr is None:
                self.progress[node_id] = Progress(next_index, self.inflight_capacity, node_id in conf_state.learners)
            else:
                pr.is_learner = node_id in conf_state.learners

    def reset_progress(self, last_index: int, self_id: int) -> None:
        """On a role change: probe everyone from past our last index; we hold all our own log."""
        for node_id, pr in self.progress.items():
            self.progress[node_id] = Progress(last_index + 1, self.inflight_capacity, pr.is_learner)
        if self_id in self.progress:
            self.progress[self_id].match = last_index

    def set_inflight_capacity(self, capacity: int) -> None:
        self.inflight_capacity = capacity
        for pr in self.progress.values():
            pr.inflights.capacity = capacity

    def committed(self) -> int:
        return quorum.committed_index(self.voters, lambda v: self.progress[v].match)

    def acked_count(self, index: int) -> int:
        return sum(1 for v in self.voters if self.progress[v].match >= index)

    def reset_votes(self) -> None:
        self.votes = {}

    def record_vote(self, node_id: int, granted: bool) -> None:
        self.votes.setdefault(node_id, granted)

    def vote_result(self) -> quorum.VoteResult:
        return quorum.vote_result(self.voters, self.votes)

    def has_quorum(self, members: Iterable[int]) -> bool:
        return quorum.has_quorum(self.voters, set(members))

    def quorum_active(self) -> bool:
        return quorum.has_quorum(self.voters, [v for v in self.voters if self.progress[v].recent_active])
