"""From predictions and observations to HyperRAFT++'s runtime knobs (`BatchKnobs`): pure functions
the optimizer actor calls once a window; no model, no I/O here.

Batching (`decide_batching`). The leader builds one block at a time from everything pending, so
under pressure blocks grow by themselves, and a cap below what piles up during one round only
costs throughput (more rounds, each with its fsyncs and round trips). What the knobs add:
- at low load (predicted peak below `low_load_tps`) a transaction is proposed at once
  (`low_wait_ms`), for latency; otherwise the leader waits up to `busy_wait_ms` to fill a block;
- blocks are capped at `block_interval_ms` worth of the predicted peak rate (between
  `min_batch_txs` and `max_batch_txs`): far above one round's arrivals, so the cap does not bind
  while the node keeps up, but it bounds how long one block holds the replicas' loops, and with it
  the election timeout below (a smaller cap at low load lets failover be faster);
- the per-follower pipeline (`max_inflight_appends`) is deep under load, so a follower that
  lags catches up in fewer round trips, and shallow at idle, bounding what is buffered per follower.

Election timing (`decide_ticks`). A replica's loop is deaf while it applies a block, so followers
must wait longer than the longest such stall before they start an election. The stall is the
longer of what was observed (the p99 round trip to the replicas and their longest loop steps) and
what the block cap allows (cap × the measured apply cost per transaction):

    stall_ms     = max(observed_stall_ms, max_batch_txs × apply_ms_per_tx)
    election_ms  = clamp(STALL_SAFETY × stall_ms, election_floor_ms, election_ceiling_ms)
    heartbeat_ms = clamp(2 × rtt_p99_ms, min_heartbeat_ms, election_ms / 10)

`election_floor_ms` (default 1,000 ms) is the documented floor: the timeout never goes below it
whatever the measurements say. The optimizer raises the timeout in the same `set_knobs` call that
allows bigger blocks (`RawNode.set_knobs` applies a new timeout at once).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

from aurigraph.consensus import BatchKnobs

STALL_SAFETY = 3.0


@dataclass(frozen=True)
class ControlBounds:
    min_batch_txs: int = 1_000
    max_batch_txs: int = 10_000
    block_interval_ms: int = 1_000
    low_load_tps: float = 200.0
    low_wait_ms: int = 0
    busy_wait_ms: int = 2
    min_heartbeat_ms: int = 40
    min_inflight_appends: int = 4
    max_inflight_appends: int = 256
    election_floor_ms: int = 1_000
    election_ceiling_ms: int = 12_000


def decide_batching(predicted_tps: Sequence[float], current: BatchKnobs, bounds: ControlBounds) -> BatchKnobs:
    """Batch size, batch wait and pipeline depth for the predicted rates of the next windows
    (the peak counts: a block cap too small for a coming burst costs more than one too big)."""
    peak = max((float(r) for r in predicted_tps), default=0.0)
    if not math.isfinite(peak) or peak < 0:
        peak = 0.0
    batch = int(peak * bounds.block_interval_ms / 1000)
    batch = max(bounds.min_batch_txs, min(bounds.max_batch_txs, batch))
    busy = peak >= bounds.low_load_tps
    wait_ms = bounds.busy_wait_ms if busy else bounds.low_wait_ms
    depth = bounds.max_inflight_appends if busy else bounds.min_inflight_appends
    return dataclasses.replace(current, max_batch_txs=batch, batch_wait_ms=wait_ms, max_inflight_appends=depth)


def decide_ticks(knobs: BatchKnobs, tick_ms: int, rtt_p99_ms: float, observed_stall_ms: float,
                 apply_ms_per_tx: float, bounds: ControlBounds) -> BatchKnobs:
    """Election and heartbeat ticks safe for `knobs.max_batch_txs` (see the module docstring)."""
    stall_ms = max(0.0, rtt_p99_ms, observed_stall_ms, knobs.max_batch_txs * max(0.0, apply_ms_per_tx))
    election_ms = min(bounds.election_ceiling_ms, max(bounds.election_floor_ms, STALL_SAFETY * stall_ms))
    election_ticks = max(2, math.ceil(election_ms / tick_ms))
    heartbeat_ms = max(bounds.min_heartbeat_ms, 2 * max(0.0, rtt_p99_ms))
    heartbeat_ticks = max(1, min(election_ticks // 10, math.ceil(heartbeat_ms / tick_ms)))
    return dataclasses.replace(knobs, election_ticks=election_ticks, heartbeat_ticks=heartbeat_ticks)
