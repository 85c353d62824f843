"""The verify stage: wire bytes in, per-transaction verdicts out, signatures checked in one batch.

`TransactionValidator` actors call `check_batch`; decoding errors and stateless failures become
REJECTED results with their reason, and the accepted transactions keep their exact wire bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aurigraph.codec import decode_signed
from aurigraph.ledger import SignedTx, StatelessValidator, TxRejected

# What verifying a transaction costs, told from its size before decoding it: an Ed25519-signed
# one is a few hundred bytes and verifies in ~60 µs on the development machine; one signed with
# ML-DSA-87 (alone or in a hybrid) carries a 2,592-byte key and a 4,627-byte signature and takes
# 300 to 350 µs, about six times as long. (A large Ed25519-signed data write counts as the latter:
# its size says so, and hashing it costs too.)
POST_QUANTUM_SIGNED_MIN_BYTES = 4_000
POST_QUANTUM_VERIFY_UNITS = 6


def verify_cost_units(wire: Sequence[bytes]) -> int:
    """The verification cost of `wire`, in units of one Ed25519 verification (see above)."""
    return sum(POST_QUANTUM_VERIFY_UNITS if len(raw) >= POST_QUANTUM_SIGNED_MIN_BYTES else 1 for raw in wire)


@dataclass(frozen=True)
class Checked:
    """One input's verdict: `tx` when it passed, `rejection` when it did not. `tx_id` is set
    whenever the input decoded (also for a rejection, e.g. a bad signature), else empty."""

    tx: SignedTx | None
    rejection: TxRejected | None
    tx_id: bytes = b""


def check_batch(validator: StatelessValidator, wire: Sequence[bytes]) -> list[Checked]:
    decoded: list[SignedTx | TxRejected] = []
    for raw in wire:
        try:
            decoded.append(decode_signed(raw))
        except TxRejected as e:
            decoded.append(e)
    valid = [d for d in decoded if isinstance(d, SignedTx)]
    verdicts = iter(validator.validate_batch(valid))
    out = []
    for d in decoded:
        if isinstance(d, TxRejected):
            out.append(Checked(None, d))
        else:
            verdict = next(verdicts)
            out.append(Checked(d if verdict is None else None, verdict, d.tx_id))
    return out
