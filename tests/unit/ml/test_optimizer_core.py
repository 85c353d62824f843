"""`OptimizerCore` driven directly, with hand-built models and blocks: fallbacks, adaptive knobs,
flags, swaps."""

from __future__ import annotations

import math

import numpy as np
import pytest

from aurigraph.codec import sign_transaction
from aurigraph.consensus import BatchKnobs
from aurigraph.crypto import generate_keypair
from aurigraph.ledger import Block, BlockHeader, Transfer, TxBody
from aurigraph.ml.features import TX_FEATURES
from aurigraph.ml.forward import DenseNet
from aurigraph.ml.optimizer import OptimizerCore
from aurigraph.ml.synthetic import labelled_transactions
from aurigraph.storage.feature_store import FeatureStore

DEFAULTS = BatchKnobs(10_000, 5, 256, 150, 2)
T0 = 1_800_000_000_000


def load_net(predict_tps: float, lookback: int = 4) -> DenseNet:
    """Predicts `predict_tps` for each of 3 windows whatever the input (zero weights, fixed bias)."""
    layers = [(np.zeros((lookback, 3), np.float32), np.full(3, math.log1p(predict_tps), np.float32), "linear")]
    return DenseNet(layers, np.zeros(lookback), np.ones(lookback),
                    params={"kind": "load", "lookback": lookback, "horizon": 3, "space": "log1p"})


def anomaly_net(threshold: float) -> DenseNet:
    """Reconstructs everything as 0: the score is the mean square of the (unscaled) features."""
    f = len(TX_FEATURES)
    return DenseNet([(np.zeros((f, f), np.float32), np.zeros(f, np.float32), "linear")], np.zeros(f), np.ones(f),
                    params={"kind": "anomaly", "threshold": threshold})


def block(height: int, txs) -> Block:
    header = BlockHeader("c", 0, height, b"\0" * 64, b"\0" * 64, b"\0" * 64, b"p", T0, len(txs))
    return Block(header, tuple(txs))


@pytest.fixture(scope="module")
def txs():
    return labelled_transactions(seed=3, n=300, anomaly_share=0.0).txs


def run_windows(core: OptimizerCore, rates: list[float]) -> list:
    """One ingress sample per 1-second window, then a decision at each window's end."""
    decisions = []
    for i, rate in enumerate(rates):
        core.observe_ingress(int(rate), T0 + i * 1000 + 10)
        decisions.append(core.decide(T0 + (i + 1) * 1000))
    return decisions


def test_without_models_it_keeps_the_fixed_batching_and_says_why():
    core = OptimizerCore(DEFAULTS, tick_ms=20, window_ms=1000)
    decision = run_windows(core, [100, 200, 300])[-1]
    assert (decision.knobs.max_batch_txs, decision.knobs.batch_wait_ms) == (10_000, 5)
    assert decision.forecast_tps == ()
    assert set(core.status()["fallback"]) == {"load", "anomaly"}
    # Election timing needs measurements, not a model: 10,000-tx blocks at the 0.2 ms/tx prior.
    assert decision.knobs.election_ticks == math.ceil(3 * 10_000 * 0.2 / 20)


def test_a_forecast_sets_batch_size_and_wait_once_there_is_history():
    core = OptimizerCore(DEFAULTS, tick_ms=20, window_ms=1000, adapt_ticks=False)
    core.use_model("load", 4, load_net(4_000.0))
    decisions = run_windows(core, [10, 10, 10, 10, 10])
    assert decisions[2].forecast_tps == ()  # 3 windows < lookback 4: keep what is in force
    assert decisions[2].knobs == DEFAULTS
    assert decisions[3].forecast_tps == pytest.approx((4_000.0,) * 3, rel=1e-4)
    assert (decisions[3].knobs.max_batch_txs, decisions[3].knobs.batch_wait_ms) == (4_000, 2)
    assert decisions[3].knobs.election_ticks == DEFAULTS.election_ticks  # adapt_ticks off
    core.use_model("load", 5, load_net(20.0))  # a swap: the next decision uses the new version
    quiet = run_windows(core, [10])[0]
    assert (quiet.knobs.max_batch_txs, quiet.knobs.batch_wait_ms) == (1_000, 0)
    assert core.status()["serving"]["load"] == 5
    assert core.status()["inference_p99_ms"]["load"] > 0


def test_dropping_the_load_model_restores_the_fixed_batching():
    core = OptimizerCore(DEFAULTS, tick_ms=20, window_ms=1000, adapt_ticks=False)
    core.use_model("load", 1, load_net(4_000.0))
    run_windows(core, [10] * 5)
    core.drop_model("load", "load v1: corrupt")
    assert core.knobs == DEFAULTS
    assert run_windows(core, [10])[0].knobs == DEFAULTS
    assert core.status()["fallback"] == {"load": "load v1: corrupt", "anomaly": "no model loaded"}


def test_a_model_of_the_wrong_kind_is_refused_and_the_current_one_kept():
    core = OptimizerCore(DEFAULTS, tick_ms=20, window_ms=1000)
    core.use_model("load", 1, load_net(100.0))
    with pytest.raises(ValueError):
        core.use_model("load", 2, anomaly_net(1.0))
    with pytest.raises(ValueError):
        core.use_model("anomaly", 2, load_net(100.0))
    assert core.status()["serving"] == {"load": 1, "anomaly": None}


def test_transactions_above_the_threshold_are_flagged(txs, tmp_path):
    store = FeatureStore(tmp_path / "features")
    core = OptimizerCore(DEFAULTS, tick_ms=20, window_ms=1000, stores=[store])
    normal = block(1, txs[:100])
    probe = OptimizerCore(DEFAULTS, tick_ms=20, window_ms=1000)
    probe.use_model("anomaly", 1, anomaly_net(1e9))
    assert probe.observe_block(normal, 1000, T0) == []
    ceiling = float(np.max(probe.anomaly[1].score(probe.extractor.extract(txs[100:200], T0))))
    core.use_model("anomaly", 7, anomaly_net(ceiling + 1.0))
    assert core.observe_block(block(1, txs[100:200]), 1000, T0) == []
    whale = generate_keypair()
    odd = sign_transaction(TxBody(txs[0].body.chain_id, whale.address, 0, 1, T0, Transfer(b"\x01" * 32, 10**15)),
                           whale)
    flags = core.observe_block(block(2, [odd, *txs[200:210]]), 1000, T0 + 500)
    assert [f.tx_id for f in flags] == [odd.tx_id]
    assert flags[0].height == 2 and flags[0].model_version == 7 and flags[0].score > flags[0].threshold
    core.decide(T0 + 2000)
    assert store.counts() == {"windows": 2, "txs": 111}
    assert core.status()["flagged"] == 1 and core.status()["scored"] == 111


def test_the_threshold_override_wins_over_the_models_own():
    core = OptimizerCore(DEFAULTS, tick_ms=20, window_ms=1000, threshold_override=0.5)
    core.use_model("anomaly", 1, anomaly_net(99.0))
    assert core.status()["threshold"] == 0.5


def test_with_adaptive_batching_off_it_forecasts_but_keeps_the_fixed_batching():
    core = OptimizerCore(DEFAULTS, tick_ms=20, window_ms=1000, adapt_batching=False, adapt_ticks=False)
    core.use_model("load", 1, load_net(4_000.0))
    decision = run_windows(core, [10] * 5)[-1]
    assert decision.forecast_tps and decision.knobs == DEFAULTS
