"""Stateless transaction checks: everything that can be decided without account state.

A `TransactionValidator` actor runs `validate_batch` on thousands of decoded transactions at a
time. Cheap checks run first, so a malformed transaction never costs a signature verification;
the signatures of the survivors are then verified in one `verify_batch` call. Stateful checks
(nonce, balance) happen when a block is built (`aurigraph.ledger.state.check_stateful`).

The clock is injected (`now_ms`), so tests decide what time it is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from aurigraph.crypto import PUBLIC_KEY_SIZE, SIGNATURE_SIZE, derive_address, verify_batch
from aurigraph.ledger.errors import Rejection, TxRejected
from aurigraph.ledger.genesis import ChainParams
from aurigraph.ledger.governance import ADMIN_ACTIONS
from aurigraph.ledger.transaction import SignedTx

Verdict = TxRejected | None  # None: passed
# Refusals never attributed to the sender: the signature cannot be the sender's (a key or signature of
# the wrong size, a key that does not derive the sender), or the transaction is a stale copy that
# anyone can resubmit (too old: it may well be committed, and must not be announced as rejected).
_UNATTRIBUTABLE = frozenset({Rejection.MALFORMED, Rejection.SENDER_MISMATCH, Rejection.BAD_TIMESTAMP})


@dataclass(frozen=True)
class StatelessValidator:
    chain_id: str
    params: ChainParams
    now_ms: Callable[[], int]
    admins: frozenset[bytes] = field(default_factory=frozenset)  # who may send administrative actions

    def precheck(self, tx: SignedTx, now_ms: int) -> Verdict:
        """Every stateless check except the signature itself; the first failure wins."""
        scheme = tx.scheme  # an unknown scheme never decodes (aurigraph.codec rejects it)
        if len(tx.public_key) != PUBLIC_KEY_SIZE[scheme]:
            return TxRejected(
                Rejection.MALFORMED,
                f"{scheme.label} public key must be {PUBLIC_KEY_SIZE[scheme]} bytes, got {len(tx.public_key)}",
            )
        if len(tx.signature) != SIGNATURE_SIZE[scheme]:
            return TxRejected(
                Rejection.MALFORMED,
                f"{scheme.label} signature must be {SIGNATURE_SIZE[scheme]} bytes, got {len(tx.signature)}",
            )
        body = tx.body
        if derive_address(scheme, tx.public_key) != body.sender:
            return TxRejected(Rejection.SENDER_MISMATCH, "public key does not derive the sender address")
        if body.chain_id != self.chain_id:
            return TxRejected(Rejection.WRONG_CHAIN, f"chain id {body.chain_id!r} is not {self.chain_id!r}")
        if isinstance(body.kind, ADMIN_ACTIONS) and body.sender not in self.admins:
            return TxRejected(Rejection.NOT_AUTHORIZED, "only a chain admin may send an administrative action")
        if body.fee < self.params.min_fee:
            return TxRejected(Rejection.FEE_TOO_LOW, f"fee {body.fee} is below the minimum {self.params.min_fee}")
        if body.timestamp_ms > now_ms + self.params.max_clock_skew_ms:
            return TxRejected(Rejection.BAD_TIMESTAMP, "timestamp is too far in the future")
        if body.timestamp_ms + self.params.max_tx_age_ms < now_ms:
            return TxRejected(Rejection.BAD_TIMESTAMP, "timestamp is too old")
        return None

    def validate_batch(self, txs: Sequence[SignedTx]) -> list[Verdict]:
        """One verdict per transaction, in order; signatures verified in a single batch.

        A refused transaction's signature is verified too, when its sender's key signed it can be
        told at all: its rejection is then `authenticated` (the sender's own transaction), which is
        what may be remembered and published under its id."""
        now_ms = self.now_ms()
        verdicts = [self.precheck(tx, now_ms) for tx in txs]
        to_verify = [i for i, v in enumerate(verdicts) if v is None or v.reason not in _UNATTRIBUTABLE]
        valid = verify_batch([txs[i].verify_item() for i in to_verify])
        for i, ok in zip(to_verify, valid):
            if verdicts[i] is not None:
                verdicts[i].authenticated = ok
            elif not ok:
                verdicts[i] = TxRejected(Rejection.BAD_SIGNATURE, "signature does not verify over the body bytes")
        return verdicts

    def validate(self, tx: SignedTx) -> None:
        """Raise the transaction's `TxRejected`, if any."""
        verdict = self.validate_batch([tx])[0]
        if verdict is not None:
            raise verdict
