"""One typed, validated configuration of a replica's consensus core.

Build a `Config` once at the edge (from settings, in ticks, never seconds) and hand it to
`RawNode`. It is frozen and validated in `__post_init__`: a bad value raises `ConfigError` naming
the field. The adaptive subset (`BatchKnobs`) can be changed while running through
`RawNode.set_knobs`, which builds a new validated `Config` with `with_knobs`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from aurigraph.consensus.errors import ConfigError
from aurigraph.consensus.types import BatchKnobs

DEFAULT_MAX_BATCH_TXS = 10_000


@dataclass(frozen=True, slots=True)
class Config:
    """Settings of one replica.

    - `election_ticks`: a follower that hears no leader for a randomized timeout derived from this
      (see `raft.py` for the stake-weighted range) campaigns; also the leader's check-quorum and
      lease period. Must exceed `heartbeat_ticks`.
    - `heartbeat_ticks`: the leader sends heartbeats this often.
    - `max_inflight_appends`: appends sent to one follower and not yet acknowledged, at most (the
      pipelining window; a slow follower fills its own window and does not stall the others).
    - `max_entries_per_append` / `max_append_bytes`: size limits of one append (at least one entry
      is always sent, so a single large batch still makes progress).
    - `max_batch_txs` / `batch_wait_ms`: how the driver builds entries (validated and reported here).
    - `check_quorum`: a leader that has not heard from a quorum within `election_ticks` steps down,
      and a replica that heard from a leader within that time ignores vote requests (leader lease).
    - `pre_vote`: campaign only after a pre-vote round says an election could be won.
    - `stake_leader_transfer`: the leader hands over to a caught-up voter with strictly higher stake;
      `stake_transfer_cooldown_ticks` is how long it waits after becoming leader or after a failed
      transfer before trying (again).
    - `applied_index`: the index the application had applied when this replica (re)started.
    """

    node_id: int
    election_ticks: int = 10
    heartbeat_ticks: int = 1
    max_inflight_appends: int = 256
    max_entries_per_append: int = 64
    max_append_bytes: int = 16 * 1024 * 1024
    max_batch_txs: int = DEFAULT_MAX_BATCH_TXS
    batch_wait_ms: int = 5
    check_quorum: bool = True
    pre_vote: bool = True
    stake_leader_transfer: bool = True
    stake_transfer_cooldown_ticks: int = 30
    applied_index: int = 0

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        _positive("node_id", self.node_id)
        _positive("heartbeat_ticks", self.heartbeat_ticks)
        _positive("election_ticks", self.election_ticks)
        if self.election_ticks <= self.heartbeat_ticks:
            raise ConfigError("election_ticks", f"must exceed heartbeat_ticks ({self.heartbeat_ticks}), "
                              f"got {self.election_ticks}")
        _positive("max_inflight_appends", self.max_inflight_appends)
        _positive("max_entries_per_append", self.max_entries_per_append)
        _positive("max_append_bytes", self.max_append_bytes)
        _positive("max_batch_txs", self.max_batch_txs)
        for name in ("batch_wait_ms", "stake_transfer_cooldown_ticks", "applied_index"):
            value = getattr(self, name)
            if type(value) is not int or value < 0:
                raise ConfigError(name, f"must be an integer >= 0, got {value!r}")
        for name in ("check_quorum", "pre_vote", "stake_leader_transfer"):
            if type(getattr(self, name)) is not bool:
                raise ConfigError(name, f"must be a bool, got {getattr(self, name)!r}")

    @property
    def knobs(self) -> BatchKnobs:
        return BatchKnobs(self.max_batch_txs, self.batch_wait_ms, self.max_inflight_appends,
                          self.election_ticks, self.heartbeat_ticks)

    def with_knobs(self, knobs: BatchKnobs) -> Config:
        """A copy with `knobs` applied; raises `ConfigError` if the result would be invalid."""
        return dataclasses.replace(
            self, max_batch_txs=knobs.max_batch_txs, batch_wait_ms=knobs.batch_wait_ms,
            max_inflight_appends=knobs.max_inflight_appends, election_ticks=knobs.election_ticks,
            heartbeat_ticks=knobs.heartbeat_ticks,
        )


def _positive(name: str, value: object) -> None:
    if type(value) is not int or value <= 0:
        raise ConfigError(name, f"must be an integer > 0, got {value!r}")
