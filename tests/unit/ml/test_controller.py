"""From forecasts and measurements to knobs: batching by load, election timing within its floor."""

from __future__ import annotations

import random

from aurigraph.consensus import BatchKnobs, Config
from aurigraph.ml.controller import ControlBounds, decide_batching, decide_ticks

DEFAULTS = BatchKnobs(10_000, 5, 256, 150, 2)
BOUNDS = ControlBounds()


def test_low_load_proposes_at_once_with_small_blocks():
    knobs = decide_batching([20.0, 35.0, 10.0], DEFAULTS, BOUNDS)
    assert knobs.batch_wait_ms == BOUNDS.low_wait_ms
    assert knobs.max_batch_txs == BOUNDS.min_batch_txs
    assert knobs.max_inflight_appends == BOUNDS.min_inflight_appends


def test_a_coming_burst_sizes_blocks_for_its_peak():
    knobs = decide_batching([500.0, 2_000.0, 8_000.0], DEFAULTS, BOUNDS)
    assert BOUNDS.min_batch_txs < 8_000 < BOUNDS.max_batch_txs
    assert knobs.batch_wait_ms == BOUNDS.busy_wait_ms
    assert knobs.max_batch_txs == 8_000 * BOUNDS.block_interval_ms // 1000  # the peak, not the mean
    assert knobs.max_inflight_appends > BOUNDS.min_inflight_appends
    huge = decide_batching([10**7], DEFAULTS, BOUNDS)
    assert huge.max_batch_txs == BOUNDS.max_batch_txs


def test_nonsense_forecasts_fall_back_to_the_low_load_setting():
    for forecast in ([], [float("nan")], [-5.0], [float("inf")]):
        assert decide_batching(forecast, DEFAULTS, BOUNDS).max_batch_txs == BOUNDS.min_batch_txs


def test_the_election_timeout_never_goes_below_the_floor():
    knobs = decide_ticks(DEFAULTS, tick_ms=20, rtt_p99_ms=0.5, observed_stall_ms=3.0, apply_ms_per_tx=0.0,
                         bounds=BOUNDS)
    assert knobs.election_ticks == BOUNDS.election_floor_ms // 20
    assert knobs.heartbeat_ticks == BOUNDS.min_heartbeat_ms // 20  # never more often than the minimum


def test_an_observed_stall_longer_than_the_model_raises_the_timeout():
    knobs = decide_ticks(BatchKnobs(256, 1, 4, 150, 2), 20, 5.0, 900.0, 0.2, BOUNDS)
    assert knobs.election_ticks == 3 * 900 // 20


def test_bigger_blocks_raise_the_timeout_in_proportion():
    small = decide_ticks(BatchKnobs(1_000, 5, 256, 150, 2), 20, 2.0, 30.0, 0.2, BOUNDS)
    big = decide_ticks(BatchKnobs(10_000, 5, 256, 150, 2), 20, 2.0, 30.0, 0.2, BOUNDS)
    # 10,000 txs × 0.2 ms = 2 s of deafness, × 3 = 6 s: 300 ticks.
    assert big.election_ticks == 300
    assert small.election_ticks == BOUNDS.election_floor_ms // 20
    capped = decide_ticks(BatchKnobs(10_000, 5, 256, 150, 2), 20, 50.0, 50.0, 5.0, BOUNDS)
    assert capped.election_ticks == BOUNDS.election_ceiling_ms // 20


def test_every_decision_is_a_valid_consensus_config():
    """Whatever the measurements, the knobs pass `Config` validation (what `set_knobs` enforces),
    and the timeout stays within [floor, ceiling]."""
    rng = random.Random(7)
    for _ in range(2_000):
        tick_ms = rng.choice([1, 5, 20, 100, 1000])
        forecast = [rng.choice([0.0, rng.uniform(0, 50_000)]) for _ in range(3)]
        knobs = decide_batching(forecast, DEFAULTS, BOUNDS)
        knobs = decide_ticks(knobs, tick_ms, rng.uniform(0, 500), rng.uniform(0, 5000), rng.uniform(0, 3), BOUNDS)
        Config(node_id=1).with_knobs(knobs).validate()
        election_ms = knobs.election_ticks * tick_ms
        assert BOUNDS.election_floor_ms <= election_ms < max(BOUNDS.election_ceiling_ms + tick_ms, 2 * tick_ms + 1)
        assert knobs.heartbeat_ticks < knobs.election_ticks
