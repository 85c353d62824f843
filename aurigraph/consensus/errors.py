"""Typed errors of the consensus core.

Misuse of the API (proposing on a follower, a second membership change while one is pending, a
bad config) raises a `ConsensusError` subclass with a precise reason; storage lookups below the
compacted prefix raise `Compacted`. The core never uses `assert` for validation.
"""

from __future__ import annotations


class ConsensusError(Exception):
    """Base class of every error the consensus core raises on purpose."""


class ConfigError(ConsensusError, ValueError):
    """A `Config` or `BatchKnobs` value is out of range; `field` names the offending setting."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = detail


class NotLeader(ConsensusError):
    """The operation needs the leader; `leader_id` is the leader this node knows of (0: none)."""

    def __init__(self, node_id: int, leader_id: int) -> None:
        known = f"leader is {leader_id}" if leader_id else "no leader known"
        super().__init__(f"node {node_id} is not the leader ({known})")
        self.node_id = node_id
        self.leader_id = leader_id


class ProposalDropped(ConsensusError):
    """The leader refuses a proposal for now (a leader transfer is in progress); retry later."""


class ConfChangeRejected(ConsensusError):
    """A membership change is refused: one is still pending, or it would be unsafe or a no-op."""


class Compacted(ConsensusError):
    """The requested index lies at or below the snapshot; the entries are gone from the log."""


class Unavailable(ConsensusError):
    """The requested index lies beyond the last index of the log."""


class SnapshotOutOfDate(ConsensusError):
    """A snapshot older than the one already stored was offered to storage."""
