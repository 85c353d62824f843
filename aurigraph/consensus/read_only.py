"""ReadIndex: linearizable reads without writing to the log (Raft dissertation §6.4).

The leader records the commit index when a read arrives, then proves it is still the leader with a
heartbeat round carrying the read's context; once a quorum acknowledges, the read may be served by
any replica whose applied index has reached the recorded index. Requests are served in arrival
order: an acknowledgement for a later request confirms every earlier one too.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class ReadState:
    """A read may be served once the application has applied `index`; `request_ctx` identifies it."""

    index: int
    request_ctx: bytes


@dataclass
class ReadIndexStatus:
    index: int
    request_ctx: bytes
    request_from: int  # the replica that asked (the leader itself for a local read)
    acks: set[int] = field(default_factory=set)


class ReadOnly:
    def __init__(self) -> None:
        self._pending: dict[bytes, ReadIndexStatus] = {}
        self._queue: list[bytes] = []

    def add_request(self, index: int, request_ctx: bytes, request_from: int) -> bool:
        """Queue a read at `index`; False if a read with the same context is already pending."""
        if request_ctx in self._pending:
            return False
        self._pending[request_ctx] = ReadIndexStatus(index, request_ctx, request_from)
        self._queue.append(request_ctx)
        return True

    def recv_ack(self, node_id: int, request_ctx: bytes) -> set[int] | None:
        status = self._pending.get(request_ctx)
        if status is None:
            return None
        status.acks.add(node_id)
        return status.acks

    def advance(self, request_ctx: bytes) -> list[ReadIndexStatus]:
        """Pop and return every request up to and including `request_ctx` (now confirmed)."""
        if request_ctx not in self._pending:
            return []
        position = self._queue.index(request_ctx) + 1
        confirmed, self._queue = self._queue[:position], self._queue[position:]
        return [self._pending.pop(ctx) for ctx in confirmed]

    def last_pending_ctx(self) -> bytes:
        return self._queue[-1] if self._queue else b""

    def reset(self) -> None:
        self._pending.clear()
        self._queue.clear()
