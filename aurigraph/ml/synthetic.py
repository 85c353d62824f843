"""Seeded synthetic data for training and evaluating the optimizer's models.

`load_trace` and `training_rates` give per-window target rates (tx/s) for the load predictor and
for load generators; `labelled_transactions` gives really signed transactions with anomalies of
known kinds injected and labelled, for the anomaly model and the rule baseline.

Everything is a pure function of its seed, keys included: Ed25519 keys are derived from seeded
32-byte seeds, so the same call gives byte-identical transactions on every machine. These keys are
for synthetic traffic only, never for real accounts.
"""

from __future__ import annotations

from dataclasses import dataclass

import nacl.bindings as sodium
import numpy as np

from aurigraph.codec import sign_transaction
from aurigraph.crypto import KeyPair, Scheme
from aurigraph.ledger import DataWrite, SignedTx, Transfer, TxBody

PATTERNS: tuple[str, ...] = ("burst", "amount", "fanout", "replay")
START_MS = 1_795_600_000_000
_IDLE, _RAMP, _BURST, _DIURNAL = "idle", "ramp", "burst", "diurnal"


def _phase(rng: np.random.Generator, name: str, windows: int, idle_tps: float, peak_tps: float) -> np.ndarray:
    if name == _IDLE:
        return np.full(windows, idle_tps, dtype=np.float64)
    if name == _RAMP:
        return np.linspace(idle_tps, peak_tps, windows)
    if name == _BURST:
        return np.full(windows, peak_tps, dtype=np.float64)
    if name == _DIURNAL:
        phase0 = rng.uniform(0, 2 * np.pi)
        wave = 0.5 - 0.5 * np.cos(np.linspace(phase0, phase0 + 2 * np.pi, windows))
        return idle_tps + (peak_tps - idle_tps) * wave
    raise ValueError(f"unknown phase {name!r} (expected idle, ramp, burst or diurnal)")


def _noisy(rng: np.random.Generator, rates: np.ndarray, window_ms: int) -> np.ndarray:
    """Arrivals are Poisson around the target, with 5% multiplicative jitter on the target itself."""
    window_s = window_ms / 1000
    target = rates * rng.lognormal(0.0, 0.05, size=rates.shape)
    return (rng.poisson(target * window_s) / window_s).astype(np.float32)


def load_trace(seed: int, *, window_ms: int = 1000,
               phases: tuple[tuple[str, int], ...] = (("idle", 10), ("ramp", 15), ("burst", 10), ("idle", 10)),
               idle_tps: float = 20, peak_tps: float = 3000) -> np.ndarray:
    """Per-window rates (tx/s, float32) through `phases` of (name, windows): "idle" holds
    `idle_tps`, "ramp" climbs linearly to `peak_tps`, "burst" holds the peak, "diurnal" is one
    smooth cycle between the two."""
    rng = np.random.default_rng(seed)
    rates = np.concatenate([_phase(rng, name, n, idle_tps, peak_tps) for name, n in phases] or [np.zeros(0)])
    return _noisy(rng, rates, window_ms)


def training_rates(seed: int, windows: int = 2000, *, window_ms: int = 1000) -> np.ndarray:
    """A long, varied series for training the load predictor: random cycles of idle, ramps,
    bursts, decays and diurnal-like waves, with levels and lengths drawn per cycle."""
    rng = np.random.default_rng(seed)
    parts: list[np.ndarray] = []
    total = 0
    while total < windows:
        idle_tps = rng.uniform(5, 200)
        peak_tps = idle_tps + rng.uniform(200, 4000)
        cycle = [
            _phase(rng, _IDLE, int(rng.integers(5, 60)), idle_tps, peak_tps),
            _phase(rng, _RAMP, int(rng.integers(5, 40)), idle_tps, peak_tps),
            _phase(rng, _BURST, int(rng.integers(3, 30)), idle_tps, peak_tps),
            _phase(rng, _RAMP, int(rng.integers(3, 30)), peak_tps, idle_tps),  # the decay
        ]
        if rng.random() < 0.5:
            cycle.append(_phase(rng, _DIURNAL, int(rng.integers(60, 300)), idle_tps, peak_tps))
        parts += cycle
        total += sum(len(p) for p in cycle)
    return _noisy(rng, np.concatenate(parts)[:windows], window_ms)


@dataclass(frozen=True)
class LabelledSet:
    """Transactions in observation order, with when each was seen, whether it is anomalous, and
    which pattern ("normal" or one of `PATTERNS`) produced it."""

    txs: list[SignedTx]
    at_ms: list[int]
    labels: np.ndarray
    patterns: list[str]


@dataclass
class _Event:
    at_ms: int
    sender: int
    kind: Transfer | DataWrite
    pattern: str
    timestamp_ms: int | None = None  # a replay keeps its original body's stale timestamp


def _keypair(rng: np.random.Generator) -> KeyPair:
    pk, sk = sodium.crypto_sign_seed_keypair(rng.bytes(32))
    return KeyPair(Scheme.ED25519, bytes(pk), bytes(sk))


def labelled_transactions(seed: int, n: int = 5000, anomaly_share: float = 0.05,
                          chain_id: str = "aurigraph-synthetic", senders: int = 200,
                          rate_tps: float = 10.0) -> LabelledSet:
    """`n` signed transactions: ordinary traffic from `senders` accounts (log-normal amounts, a few
    usual recipients each, some data writes, Poisson timing at `rate_tps` overall), with about
    `anomaly_share` of them from injected episodes of each pattern, labelled:
    burst (one sender, ~30 txs in ~3 s), amount (one transfer 10^7..10^9), fanout (one sender to
    ~20 never-seen recipients in ~10 s), replay (one body re-sent ~15 times with new nonces)."""
    rng = np.random.default_rng(seed)
    keys = [_keypair(rng) for _ in range(senders)]
    population = [k.address for k in keys] + [rng.bytes(32) for _ in range(senders)]
    usual = [[population[int(j)] for j in rng.choice(len(population), 3, replace=False)] for _ in keys]
    amount_mu = rng.uniform(np.log(10), np.log(5000), senders)
    activity = rng.lognormal(0.0, 0.5, senders)
    activity /= activity.sum()

    def ordinary_kind(s: int) -> Transfer | DataWrite:
        if rng.random() < 0.1:
            return DataWrite(f"k{int(rng.integers(1000))}", rng.bytes(int(rng.integers(16, 256))))
        recipient = usual[s][int(rng.integers(3))] if rng.random() < 0.9 else population[int(rng.integers(len(population)))]
        return Transfer(recipient, max(1, int(rng.lognormal(amount_mu[s], 0.8))))

    n_anomalous = min(n, round(n * anomaly_share))
    n_normal = n - n_anomalous
    span_ms = int(n_normal / rate_tps * 1000)
    times = np.sort(rng.integers(0, max(span_ms, 1), n_normal))
    events = [_Event(int(t), int(s), ordinary_kind(int(s)), "normal")
              for t, s in zip(times, rng.choice(senders, n_normal, p=activity), strict=True)]

    quota = {p: n_anomalous // len(PATTERNS) for p in PATTERNS}
    quota["amount"] += n_anomalous - sum(quota.values())
    for pattern, left in quota.items():
        while left > 0:
            size = min(left, {"burst": 30, "amount": 1, "fanout": 20, "replay": 15}[pattern])
            events += _episode(rng, pattern, size, int(rng.integers(0, max(span_ms, 1))),
                               int(rng.integers(senders)), ordinary_kind)
            left -= size

    events.sort(key=lambda e: e.at_ms)
    nonces = [0] * senders
    txs = []
    for e in events:
        nonces[e.sender] += 1
        stamp = e.timestamp_ms if e.timestamp_ms is not None else e.at_ms - int(rng.integers(0, 50))
        body = TxBody(chain_id, keys[e.sender].address, nonces[e.sender], 1 + int(rng.integers(3)),
                      START_MS + stamp, e.kind)
        txs.append(sign_transaction(body, keys[e.sender]))
    return LabelledSet(txs, [START_MS + e.at_ms for e in events],
                       np.array([e.pattern != "normal" for e in events], dtype=bool),
                       [e.pattern for e in events])


def _episode(rng: np.random.Generator, pattern: str, size: int, at_ms: int, sender: int,
             ordinary_kind) -> list[_Event]:
    if pattern == "amount":
        return [_Event(at_ms, sender, Transfer(rng.bytes(32), int(10 ** rng.uniform(7, 9))), pattern)]
    if pattern == "burst":
        offsets = np.sort(rng.integers(0, 3000, size))
        return [_Event(at_ms + int(o), sender, ordinary_kind(sender), pattern) for o in offsets]
    if pattern == "fanout":
        offsets = np.sort(rng.integers(0, 10_000, size))
        amount = max(1, int(rng.lognormal(np.log(500), 0.5)))
        return [_Event(at_ms + int(o), sender, Transfer(rng.bytes(32), amount), pattern) for o in offsets]
    # replay: the same content, re-sent every ~0.6 s, each copy keeping the original timestamp
    kind = Transfer(rng.bytes(32), max(1, int(rng.lognormal(np.log(500), 0.5))))
    return [_Event(at_ms + 600 * i, sender, kind, pattern, timestamp_ms=at_ms) for i in range(size)]
