"""`OptimizerCore`: what the optimizer decides, with no Ray in it. The `Optimizer` actor
(`actors/optimizer.py`) feeds it observations and carries its decisions out; tests and the bench
drive it directly.

Per committed block (`observe_block`, in commit order): per-transaction features, anomaly scores
(when an anomaly model serves), flags above the threshold, and the rows into the feature store.
Per ingress / queue sample (`observe_ingress`, `observe_pending`) and replica loop sample
(`observe_loop`, `observe_rtt`): the window aggregates and the cost estimates.
Once a window (`decide`): the closed windows go to the store, the load model forecasts the next
windows' ingress rate, and `aurigraph.ml.controller` turns forecast and measurements into the
knobs. Without a usable load model (the reason is in `fallback`), or with `adapt_batching` off, the
batching knobs stay the node's fixed settings; the election timing adapts unless `adapt_ticks` is
off (it needs measurements, not a model).

Models are swapped whole between two calls (`use_model`): a decision is made with one version.
Each decision's and each block's inference time is kept (`inference_ms`) so the hot-path cost is
visible in the status and the bench.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from aurigraph.consensus import BatchKnobs
from aurigraph.ledger import Block
from aurigraph.ml.anomaly import AnomalyScorer
from aurigraph.ml.controller import ControlBounds, decide_batching, decide_ticks
from aurigraph.ml.features import TX_FEATURES, WINDOW_FEATURES, TxFeatureExtractor, WindowAggregator
from aurigraph.ml.forward import DenseNet
from aurigraph.ml.predictor import predict_rates

RATE_HISTORY = 512  # windows of ingress rate kept for the predictor
RTT_SAMPLES = 200
INFERENCE_SAMPLES = 2_000
PRIOR_APPLY_MS_PER_TX = 0.2  # measured on 2 cores (about 170 µs); refined by busy samples
# A loop sample says something about the cost per transaction only when its blocks were big: with a
# few transactions a block, the per-block fsyncs and round trips dominate.
MIN_TXS_FOR_COST = 500
STALL_SAMPLES = 60  # loop samples (rounds) whose longest step counts as the observed stall
_INGRESS = WINDOW_FEATURES.index("ingress_tps")


@dataclass(frozen=True)
class Flag:
    """A committed transaction the anomaly model scored above the threshold."""

    tx_id: bytes
    sender: bytes
    height: int
    score: float
    threshold: float
    model_version: int
    at_ms: int


@dataclass(frozen=True)
class Decision:
    knobs: BatchKnobs
    forecast_tps: tuple[float, ...]  # empty without a load model or history
    windows: int  # windows closed by this decision


def _p99(values) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))])


class OptimizerCore:
    def __init__(self, defaults: BatchKnobs, tick_ms: int, window_ms: int, *, stores: Sequence = (),
                 bounds: ControlBounds | None = None, adapt_batching: bool = True, adapt_ticks: bool = True,
                 threshold_override: float | None = None,
                 perf_ms: Callable[[], float] = lambda: time.perf_counter() * 1000) -> None:
        """`defaults`: the node's fixed knobs (the fallback). `stores`: where feature rows go (each
        with `put_windows` / `put_txs`: the `FeatureStore`, a `PgMirror`); none keeps nothing.
        `perf_ms`: a monotonic clock for inference timings only."""
        self.defaults = defaults
        self.knobs = defaults
        self.tick_ms = tick_ms
        self.bounds = bounds or ControlBounds()
        self.adapt_batching = adapt_batching
        self.adapt_ticks = adapt_ticks
        self.threshold_override = threshold_override
        self.stores = tuple(stores)
        self.extractor = TxFeatureExtractor()
        self.windows = WindowAggregator(window_ms)
        self.rates: deque[float] = deque(maxlen=RATE_HISTORY)
        self.rtt_ms: deque[float] = deque(maxlen=RTT_SAMPLES)
        self.apply_ms_per_tx = PRIOR_APPLY_MS_PER_TX
        self.max_step_ms: deque[float] = deque(maxlen=STALL_SAMPLES)
        self.load: tuple[int, DenseNet] | None = None  # (version, net)
        self.anomaly: tuple[int, AnomalyScorer] | None = None
        self.fallback: dict[str, str] = {"load": "no model loaded", "anomaly": "no model loaded"}
        self.inference_ms: dict[str, deque[float]] = {"load": deque(maxlen=INFERENCE_SAMPLES),
                                                      "anomaly": deque(maxlen=INFERENCE_SAMPLES)}
        self.flagged = 0
        self.scored = 0
        self._perf_ms = perf_ms

    # --- models ---------------------------------------------------------------------------------

    def use_model(self, name: str, version: int, net: DenseNet) -> None:
        """Serve `net` from the next call on. Raises ValueError (keeping the current model) if it
        is not a model of that kind."""
        if name == "load":
            predict_rates(net, np.zeros(int(net.params.get("lookback", 0)) or 1))  # checks kind and shape
            self.load = (version, net)
        elif name == "anomaly":
            scorer = AnomalyScorer(net)
            if net.input_dim != len(TX_FEATURES):
                raise ValueError(f"anomaly model takes {net.input_dim} features, the extractor gives "
                                 f"{len(TX_FEATURES)}")
            if self.threshold_override is not None:
                scorer = scorer.with_threshold(self.threshold_override)
            self.anomaly = (version, scorer)
        else:
            raise ValueError(f"unknown model {name!r}")
        self.fallback.pop(name, None)

    def drop_model(self, name: str, reason: str) -> None:
        """Stop using model `name` (fixed settings / no scoring) and say why."""
        if name == "load":
            self.load = None
            self.knobs = with_batching_of(self.knobs, self.defaults)
        else:
            self.anomaly = None
        self.fallback[name] = reason

    # --- observations ---------------------------------------------------------------------------

    def observe_block(self, block: Block, size_bytes: int, now_ms: int) -> list[Flag]:
        txs = block.transactions
        if not txs:
            return []
        x = self.extractor.extract(txs, now_ms)
        flags: list[Flag] = []
        scores = None
        if self.anomaly is not None:
            version, scorer = self.anomaly
            started = self._perf_ms()
            scores = scorer.score(x)
            self.inference_ms["anomaly"].append(self._perf_ms() - started)
            self.scored += len(txs)
            for i in np.flatnonzero(scores > scorer.threshold):
                tx = txs[int(i)]
                flags.append(Flag(tx.tx_id, tx.body.sender, block.header.height, float(scores[i]),
                                  scorer.threshold, version, now_ms))
            self.flagged += len(flags)
        ids = [tx.tx_id for tx in txs]
        for store in self.stores:
            store.put_txs(now_ms, ids, x, scores)
        self.windows.on_block(len(txs), size_bytes, max(0, now_ms - block.header.timestamp_ms),
                              (tx.body.sender for tx in txs), now_ms)
        return flags

    def observe_ingress(self, count: int, now_ms: int) -> None:
        self.windows.on_ingress(count, now_ms)

    def observe_pending(self, depth: int, now_ms: int) -> None:
        self.windows.on_pending(depth, now_ms)

    def observe_loop(self, step_ms: float, applied_txs: int, max_step_ms: float) -> None:
        """The leader's loop since the last sample: total step time, transactions applied, and the
        longest single step (the longest time it could not hear its peers)."""
        self.max_step_ms.append(max_step_ms)
        if applied_txs >= MIN_TXS_FOR_COST:
            sample = step_ms / applied_txs
            self.apply_ms_per_tx = 0.8 * self.apply_ms_per_tx + 0.2 * sample  # smoothed: blocks vary

    def observe_rtt(self, rtt_ms: float) -> None:
        self.rtt_ms.append(rtt_ms)

    # --- decisions ------------------------------------------------------------------------------

    def decide(self, now_ms: int) -> Decision:
        """Close the windows due by `now_ms` and choose the knobs for what comes next."""
        closed = self.windows.close(now_ms)
        if closed:
            for store in self.stores:
                store.put_windows(closed)
        self.rates.extend(float(w.values[_INGRESS]) for w in closed)
        forecast: tuple[float, ...] = ()
        knobs = self.knobs
        if self.load is not None:
            _, net = self.load
            lookback = int(net.params["lookback"])
            if len(self.rates) >= lookback:
                started = self._perf_ms()
                forecast = tuple(float(r) for r in predict_rates(net, np.fromiter(self.rates, np.float64)))
                knobs = decide_batching(forecast, knobs, self.bounds)
                self.inference_ms["load"].append(self._perf_ms() - started)
        if self.load is None or not self.adapt_batching:
            knobs = with_batching_of(knobs, self.defaults)
        if self.adapt_ticks:
            rtt_p99_ms = _p99(self.rtt_ms)
            stall_ms = max(rtt_p99_ms, max(self.max_step_ms, default=0.0))
            knobs = decide_ticks(knobs, self.tick_ms, rtt_p99_ms, stall_ms, self.apply_ms_per_tx, self.bounds)
        self.knobs = knobs
        return Decision(knobs, forecast, len(closed))

    def status(self) -> dict:
        return {
            "serving": {"load": self.load[0] if self.load else None,
                        "anomaly": self.anomaly[0] if self.anomaly else None},
            "fallback": dict(self.fallback),
            "knobs": {"max_batch_txs": self.knobs.max_batch_txs, "batch_wait_ms": self.knobs.batch_wait_ms,
                      "max_inflight_appends": self.knobs.max_inflight_appends,
                      "election_ticks": self.knobs.election_ticks, "heartbeat_ticks": self.knobs.heartbeat_ticks},
            "threshold": self.anomaly[1].threshold if self.anomaly else None,
            "scored": self.scored, "flagged": self.flagged,
            "rtt_p99_ms": round(_p99(self.rtt_ms), 3), "apply_ms_per_tx": round(self.apply_ms_per_tx, 4),
            "max_step_ms": round(max(self.max_step_ms, default=0.0), 3),
            "inference_p99_ms": {k: round(_p99(v), 4) for k, v in self.inference_ms.items()},
            "recent_ingress_tps": [round(r, 1) for r in list(self.rates)[-10:]],
        }


def with_batching_of(knobs: BatchKnobs, defaults: BatchKnobs) -> BatchKnobs:
    """`knobs` with the batching knobs (size, wait, pipeline depth) of `defaults`."""
    return BatchKnobs(defaults.max_batch_txs, defaults.batch_wait_ms, defaults.max_inflight_appends,
                      knobs.election_ticks, knobs.heartbeat_ticks)
