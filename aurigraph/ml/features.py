"""What the optimizer's models see: one row of numbers per transaction, and one per time window.

Per transaction (`TX_FEATURES`, for the anomaly model and the rule baseline): `TxFeatureExtractor`
turns signed transactions into a float32 matrix, remembering each sender's recent activity so a row
says how this transaction compares with what its sender did just before. Per window
(`WINDOW_FEATURES`, for the load predictor): `WindowAggregator` folds ingress, queue and commit
events into fixed windows.

Both are pure, deterministic state machines: time comes in as arguments (never a clock), so the
same events in the same order always give the same rows. The optimizer actor owns one of each and
feeds them in commit order; rows go to `aurigraph.storage.feature_store` and to the models.
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from aurigraph.ledger import Block, DataWrite, SignedTx, Transfer

# Columns of `TxFeatureExtractor.extract`, in order. Counts and magnitudes are log1p-scaled so the
# anomaly model sees ranges of a few units whatever the traffic; flags are 0.0 / 1.0.
TX_FEATURES: tuple[str, ...] = (
    "log_amount",                    # log1p(transfer amount); 0 for a data write
    "log_size_bytes",                # log1p(body + public key + signature bytes): the envelope's payload
    "log_fee",                       # log1p(fee)
    "is_data",                       # 1 for a data write, 0 for a transfer
    "sender_txs_window",             # log1p(sender's txs in the trailing window, this one included)
    "sender_new_recipients_window",  # log1p(first-time recipients the sender paid in the window, this one incl.)
    "recipient_new",                 # 1 if the sender never paid this recipient within remembered history
    "repeat_body_window",            # log1p(earlier txs in the window with this sender's identical content)
    "log_sender_gap_ms",             # log1p(ms since the sender's previous tx), capped at window_ms
)

# Columns of `WindowRecord.values`, in order; raw units (the predictor scales them itself).
WINDOW_FEATURES: tuple[str, ...] = (
    "ingress_tps",        # txs accepted at ingress per second
    "committed_tps",      # txs committed per second
    "blocks",             # blocks committed in the window
    "mean_batch_txs",     # committed txs per block (0 without blocks)
    "max_pending",        # deepest pending queue seen; the last known depth when none was reported
    "commit_latency_ms",  # mean proposal-to-commit latency of the window's blocks (0 without blocks)
    "bytes_per_s",        # committed block bytes per second
    "distinct_senders",   # distinct senders among the window's committed txs
)

_COLUMN = {name: i for i, name in enumerate(TX_FEATURES)}
# A fan-out sender could otherwise grow its recipient memory without limit.
MAX_RECIPIENTS_PER_SENDER = 1024


@dataclass
class _SenderState:
    # (at_ms, content digest, recipient was new) per tx in the trailing window, oldest first, and
    # counts over it kept as entries come and go (a busy sender has thousands in its window:
    # counting them per transaction made a fast chain's feature extraction quadratic).
    recent: deque[tuple[int, bytes, bool]] = field(default_factory=deque)
    content_counts: dict[bytes, int] = field(default_factory=dict)
    new_recipients: int = 0
    recipients: OrderedDict[bytes, None] = field(default_factory=OrderedDict)
    last_ms: int | None = None

    def push(self, t: int, content: bytes, recipient_new: bool) -> None:
        self.recent.append((t, content, recipient_new))
        self.content_counts[content] = self.content_counts.get(content, 0) + 1
        self.new_recipients += recipient_new

    def drop_before(self, cutoff: int) -> None:
        """Forget the entries at or before `cutoff`."""
        while self.recent and self.recent[0][0] <= cutoff:
            _, content, was_new = self.recent.popleft()
            left = self.content_counts[content] - 1
            if left:
                self.content_counts[content] = left
            else:
                del self.content_counts[content]
            self.new_recipients -= was_new


def _content_digest(tx: SignedTx) -> bytes:
    """What a replay repeats: the body's effect (recipient and amount, or key and value), ignoring
    nonce, fee and timestamp, which a re-sender changes freely."""
    kind = tx.body.kind
    h = hashlib.blake2b(digest_size=16)
    if isinstance(kind, Transfer):
        h.update(b"t" + kind.recipient + kind.amount.to_bytes(8, "big"))
    elif not isinstance(kind, DataWrite):  # an administrative action: what it says
        h.update(b"a" + repr(kind).encode())
    else:
        value = kind.value
        raw = value if isinstance(value, bytes) else value.nonce + value.ciphertext
        h.update(b"d" + len(kind.key.encode()).to_bytes(2, "big") + kind.key.encode() + raw)
    return h.digest()


class TxFeatureExtractor:
    """Stateful per-sender features over a trailing window of `window_ms`.

    Time is the observation time the caller passes (`at_ms`: when the node saw the tx), not the
    body's `timestamp_ms`: clients choose their timestamps, and a replayed body carries a stale one.
    Feed txs in observation order; a time earlier than the sender's latest is taken as that latest.
    The window is (t - window_ms, t]. Memory is bounded: at most `max_senders` senders (least
    recently active evicted; an evicted sender comes back as new), each holding its window's txs
    and up to `MAX_RECIPIENTS_PER_SENDER` remembered recipients (least recently paid forgotten).
    """

    def __init__(self, window_ms: int = 60_000, max_senders: int = 100_000) -> None:
        if window_ms <= 0 or max_senders <= 0:
            raise ValueError("window_ms and max_senders must be positive")
        self.window_ms = window_ms
        self.max_senders = max_senders
        self._senders: OrderedDict[bytes, _SenderState] = OrderedDict()

    @property
    def tracked_senders(self) -> int:
        return len(self._senders)

    def extract(self, txs: Sequence[SignedTx], at_ms: int | Sequence[int]) -> np.ndarray:
        """Rows for `txs` in order (float32, shape [len(txs), len(TX_FEATURES)]), updating state.

        `at_ms` is one observation time for the whole batch, or one per tx.
        """
        times = [at_ms] * len(txs) if isinstance(at_ms, int | np.integer) else list(at_ms)
        if len(times) != len(txs):
            raise ValueError(f"{len(txs)} txs but {len(times)} times")
        out = np.zeros((len(txs), len(TX_FEATURES)), dtype=np.float32)
        for i, (tx, t) in enumerate(zip(txs, times, strict=True)):
            self._fill(out[i], tx, int(t))
        return out

    def extract_block(self, block: Block) -> np.ndarray:
        """Rows for a committed block's txs, observed at the block's timestamp."""
        return self.extract(block.transactions, block.header.timestamp_ms)

    def _state(self, sender: bytes) -> _SenderState:
        state = self._senders.get(sender)
        if state is None:
            state = self._senders[sender] = _SenderState()
            if len(self._senders) > self.max_senders:
                self._senders.popitem(last=False)
        else:
            self._senders.move_to_end(sender)
        return state

    def _fill(self, row: np.ndarray, tx: SignedTx, t: int) -> None:
        body = tx.body
        state = self._state(body.sender)
        if state.last_ms is not None:
            t = max(t, state.last_ms)
        state.drop_before(t - self.window_ms)

        recipient_new = False
        if isinstance(body.kind, Transfer):
            recipient = body.kind.recipient
            recipient_new = recipient not in state.recipients
            state.recipients[recipient] = None
            state.recipients.move_to_end(recipient)
            if len(state.recipients) > MAX_RECIPIENTS_PER_SENDER:
                state.recipients.popitem(last=False)
            row[_COLUMN["log_amount"]] = math.log1p(body.kind.amount)
        else:  # a data write (or an administrative action, which moves no value either)
            row[_COLUMN["is_data"]] = 1.0

        content = _content_digest(tx)
        repeats = state.content_counts.get(content, 0)
        new_recipients = state.new_recipients + recipient_new
        gap_ms = self.window_ms if state.last_ms is None else min(t - state.last_ms, self.window_ms)

        row[_COLUMN["log_size_bytes"]] = math.log1p(len(tx.body_bytes) + len(tx.public_key) + len(tx.signature))
        row[_COLUMN["log_fee"]] = math.log1p(body.fee)
        row[_COLUMN["sender_txs_window"]] = math.log1p(len(state.recent) + 1)
        row[_COLUMN["sender_new_recipients_window"]] = math.log1p(new_recipients)
        row[_COLUMN["recipient_new"]] = float(recipient_new)
        row[_COLUMN["repeat_body_window"]] = math.log1p(repeats)
        row[_COLUMN["log_sender_gap_ms"]] = math.log1p(gap_ms)

        state.push(t, content, recipient_new)
        state.last_ms = t


@dataclass(frozen=True)
class WindowRecord:
    """One closed window [start_ms, start_ms + window_ms) with `values` in `WINDOW_FEATURES` order."""

    start_ms: int
    window_ms: int
    values: tuple[float, ...]

    def as_array(self) -> np.ndarray:
        return np.asarray(self.values, dtype=np.float32)


@dataclass
class _Window:
    ingress: int = 0
    committed: int = 0
    blocks: int = 0
    max_pending: int | None = None
    latency_ms_sum: float = 0.0
    bytes: int = 0
    senders: set[bytes] = field(default_factory=set)


class WindowAggregator:
    """Folds node events into windows aligned to multiples of `window_ms` (epoch ms).

    Events name their own time; an event for a window already returned by `close` is dropped and
    counted in `late_events`. `close(now_ms)` returns every window ending at or before `now_ms`,
    empty ones included so idle time shows, from the first window that saw an event (or the first
    `close`) on. After a gap longer than `max_emit` windows only the newest `max_emit` are returned
    (the skipped ones are counted in `skipped_windows`), so a node waking from a long pause does
    not flood the store and predictor with a day of zeros.
    """

    def __init__(self, window_ms: int = 1000, max_emit: int = 3600) -> None:
        if window_ms <= 0 or max_emit <= 0:
            raise ValueError("window_ms and max_emit must be positive")
        self.window_ms = window_ms
        self.max_emit = max_emit
        self.late_events = 0
        self.skipped_windows = 0
        self._open: dict[int, _Window] = {}
        self._next_start: int | None = None  # start of the oldest window not yet returned
        self._last_pending = 0

    def _window(self, at_ms: int) -> _Window | None:
        start = at_ms - at_ms % self.window_ms
        if self._next_start is None:
            self._next_start = start
        if start < self._next_start:
            self.late_events += 1
            return None
        return self._open.setdefault(start, _Window())

    def on_ingress(self, count: int, at_ms: int) -> None:
        if (w := self._window(at_ms)) is not None:
            w.ingress += count

    def on_pending(self, depth: int, at_ms: int) -> None:
        if (w := self._window(at_ms)) is not None:
            w.max_pending = depth if w.max_pending is None else max(w.max_pending, depth)

    def on_block(self, tx_count: int, size_bytes: int, latency_ms: float, senders: Iterable[bytes],
                 at_ms: int) -> None:
        if (w := self._window(at_ms)) is not None:
            w.committed += tx_count
            w.blocks += 1
            w.latency_ms_sum += latency_ms
            w.bytes += size_bytes
            w.senders.update(senders)

    def close(self, now_ms: int) -> list[WindowRecord]:
        """Windows that ended at or before `now_ms`, oldest first; each is returned once."""
        if self._next_start is None:
            self._next_start = now_ms - now_ms % self.window_ms
        due = (now_ms - self._next_start) // self.window_ms
        if due <= 0:
            return []
        if due > self.max_emit:
            skip_to = self._next_start + (due - self.max_emit) * self.window_ms
            for start in sorted(s for s in self._open if s < skip_to):
                w = self._open.pop(start)
                self._last_pending = w.max_pending if w.max_pending is not None else self._last_pending
            self.skipped_windows += due - self.max_emit
            self._next_start, due = skip_to, self.max_emit
        records = []
        for _ in range(due):
            records.append(self._record(self._next_start, self._open.pop(self._next_start, None) or _Window()))
            self._next_start += self.window_ms
        return records

    def _record(self, start_ms: int, w: _Window) -> WindowRecord:
        if w.max_pending is not None:
            self._last_pending = w.max_pending
        window_s = self.window_ms / 1000
        values = (
            w.ingress / window_s,
            w.committed / window_s,
            float(w.blocks),
            w.committed / w.blocks if w.blocks else 0.0,
            float(self._last_pending),
            w.latency_ms_sum / w.blocks if w.blocks else 0.0,
            w.bytes / window_s,
            float(len(w.senders)),
        )
        return WindowRecord(start_ms, self.window_ms, values)
