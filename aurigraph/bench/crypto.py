"""Crypto benchmark: per-core sign/verify rates per scheme, and our batch verify against the bare
library loop on the same signatures in the same run.

The headline is `batch_verify_ratio` = `verify_batch` rate / bare library loop rate (target ≥ 0.9):
it measures the cost of our wrapper, independent of how fast or loaded the machine is. Rounds are
interleaved (bare, ours, bare, ours, …); rates are medians over rounds and the ratio is the median
of the per-round ratios, so slow drift in machine load cancels out.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import nacl.bindings
import nacl.exceptions
import pqcrypto
import pqcrypto.sign.ml_dsa_87 as mldsa

from aurigraph.codec import encode_body
from aurigraph.crypto import Scheme, generate_keypair, sign, verify_batch
from aurigraph.ledger import Transfer, TxBody, signing_message

CHAIN_ID = "bench"


@dataclass(frozen=True)
class Corpus:
    """`size` verify items built from `unique` real signed transactions (cycled)."""

    scheme: Scheme
    items: list[tuple[Scheme, bytes, bytes, bytes]]
    sign_rate: float  # our `sign` over transaction signing messages (body encoding not included)


def build_corpus(scheme: Scheme, size: int, unique: int) -> Corpus:
    keypair = generate_keypair(scheme)
    recipient = generate_keypair().address
    messages = [
        signing_message(encode_body(TxBody(CHAIN_ID, keypair.address, n, 1, 1_790_000_000_000, Transfer(recipient, 1 + n))))
        for n in range(min(size, unique))
    ]
    started = time.perf_counter()
    signatures = [sign(keypair, m) for m in messages]
    sign_rate = len(messages) / (time.perf_counter() - started)
    items = [(scheme, keypair.public_key, messages[i % len(messages)], signatures[i % len(messages)]) for i in range(size)]
    return Corpus(scheme, items, sign_rate)


def _bare_ed25519(items: list) -> int:
    open_ = nacl.bindings.crypto_sign_open
    ok = 0
    for _, pk, msg, sig in items:
        try:
            open_(sig + msg, pk)
            ok += 1
        except nacl.exceptions.BadSignatureError:
            pass
    return ok


def _bare_mldsa(items: list) -> int:
    ok = 0
    for _, pk, msg, sig in items:
        try:
            mldsa.verify(pk, msg, sig)
            ok += 1
        except pqcrypto.InvalidSignatureError:
            pass
    return ok


def _bare_hybrid(items: list) -> int:
    open_ = nacl.bindings.crypto_sign_open
    ok = 0
    for _, pk, msg, sig in items:
        try:
            open_(sig[:64] + msg, pk[:32])
            mldsa.verify(pk[32:], msg, sig[64:])
            ok += 1
        except (nacl.exceptions.BadSignatureError, pqcrypto.InvalidSignatureError):
            pass
    return ok


BARE = {Scheme.ED25519: _bare_ed25519, Scheme.ML_DSA_87: _bare_mldsa, Scheme.HYBRID: _bare_hybrid}


def _rate(fn: Callable[[list], object], items: list) -> float:
    started = time.perf_counter()
    fn(items)
    return len(items) / (time.perf_counter() - started)


def compare(corpus: Corpus, rounds: int) -> dict:
    """Interleave bare and ours; the ratio is the median of per-round ratios, so drift cancels."""
    bare_fn = BARE[corpus.scheme]
    if bare_fn(corpus.items) != len(corpus.items) or not all(verify_batch(corpus.items)):
        raise RuntimeError(f"{corpus.scheme.label}: a valid signature failed to verify")
    bare, ours = [], []
    for _ in range(rounds):
        bare.append(_rate(bare_fn, corpus.items))
        ours.append(_rate(verify_batch, corpus.items))
    return {
        "scheme": corpus.scheme.label,
        "batch": len(corpus.items),
        "sign_per_s": round(corpus.sign_rate, 1),
        "bare_verify_per_s": round(statistics.median(bare), 1),
        "batch_verify_per_s": round(statistics.median(ours), 1),
        "batch_verify_ratio": round(statistics.median(o / b for o, b in zip(ours, bare)), 3),
    }


def run(batch: int, rounds: int, progress: Callable[[str], None]) -> dict:
    """Measure all schemes; ML-DSA corpora reuse fewer unique signatures because signing is slow."""
    plans = [(Scheme.ED25519, batch, batch), (Scheme.ML_DSA_87, max(batch // 5, 1), 200), (Scheme.HYBRID, max(batch // 5, 1), 200)]
    results = []
    for scheme, size, unique in plans:
        progress(f"{scheme.label}: signing {min(size, unique)} transactions…")
        corpus = build_corpus(scheme, size, unique)
        progress(f"{scheme.label}: verifying {size} signatures × {rounds} rounds (bare loop vs verify_batch)…")
        results.append(compare(corpus, rounds))
    return {"schemes": results, "rounds": rounds, "target_batch_verify_ratio": 0.9}


def format_table(result: dict) -> str:
    lines = [f"{'scheme':<10} {'batch':>6} {'sign/s':>9} {'bare verify/s':>14} {'verify_batch/s':>15} {'ratio':>6}"]
    for r in result["schemes"]:
        lines.append(
            f"{r['scheme']:<10} {r['batch']:>6} {r['sign_per_s']:>9.0f} {r['bare_verify_per_s']:>14.0f} "
            f"{r['batch_verify_per_s']:>15.0f} {r['batch_verify_ratio']:>6.3f}"
        )
    return "\n".join(lines)



