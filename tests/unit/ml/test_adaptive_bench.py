"""The adaptive batching benchmark's pure parts: the trace's ticks, setting parsing, medians.
(The benchmark itself runs nodes: `aurigraph bench optimizer`.)"""

from __future__ import annotations

import numpy as np
import pytest

from aurigraph.bench.adaptive import PHASES, TICK_S, Setting, _median_run, ticks


def test_ticks_send_exactly_the_trace_and_label_its_phases():
    windows = sum(n for _, n in PHASES)
    rates = np.full(windows, 33.3)
    plan = ticks(rates)
    assert len(plan) == windows * round(1 / TICK_S)
    assert sum(n for n, _ in plan) == pytest.approx(33.3 * windows, abs=1)  # fractions carried, not lost
    assert [p for _, p in plan[:: round(1 / TICK_S)]] == [name for name, n in PHASES for _ in range(n)]


def test_fixed_settings_parse_or_say_how():
    s = Setting.parse_fixed("2000/5")
    assert (s.max_batch_txs, s.batch_wait_ms, s.optimizer, s.adaptive) == (2000, 5, True, False)
    for bad in ("2000", "a/b", "1/2/3"):
        with pytest.raises(ValueError, match="MAX_BATCH_TXS/BATCH_WAIT_MS"):
            Setting.parse_fixed(bad)


def test_rounds_are_summarised_by_their_medians():
    def run(tps, p99):
        return {"label": "x", "optimizer": True, "adaptive": False, "max_batch_txs": 1, "batch_wait_ms": 1,
                "committed_tps": tps, "finality_ms": {"p50": p99 / 2, "p99": p99},
                "by_phase": {"burst": {"p99": p99}}, "new_terms": 1, "rejected": 0}
    summary = _median_run([run(100, 50), run(90, 500), run(110, 60)])
    assert summary["committed_tps"] == 100 and summary["finality_ms"]["p99"] == 60
    assert summary["by_phase"]["burst"]["p99"] == 60 and summary["p99_by_round"] == [50, 500, 60]
    assert summary["new_terms"] == 3
