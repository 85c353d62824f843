"""The verify stage: wire bytes in, per-transaction verdicts out, signatures checked in one batch.

`TransactionValidator` actors call `check_batch`; decoding errors and stateless failures become
REJECTED results with their reason, and the accepted transactions keep their exact wire bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aurigraph.codec import decode_signed
from aurigraph.ledger import SignedTx, StatelessValidator, TxRejected


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
