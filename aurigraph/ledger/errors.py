"""Typed outcomes of validation and block processing."""

from __future__ import annotations

import enum


class Rejection(enum.IntEnum):
    """Why a transaction is refused. Numbers match `aurigraph.v1.RejectReason` (a test checks)."""

    MALFORMED = 1
    OVERSIZE = 2
    UNKNOWN_SCHEME = 3
    BAD_SIGNATURE = 4
    SENDER_MISMATCH = 5
    WRONG_CHAIN = 6
    NONCE_REPLAY = 7
    NONCE_GAP = 8
    INSUFFICIENT_BALANCE = 9
    INVALID_AMOUNT = 10
    FEE_TOO_LOW = 11
    BAD_TIMESTAMP = 12
    HELD_FOR_REVIEW = 13  # not a ledger rule: the optimizer's hold policy refuses a flagged sender
    COMPLIANCE = 14  # a compliance rule with action REJECT matched
    NOT_AUTHORIZED = 15  # an administrative action from an address that is not a chain admin
    INVALID_ADMIN_ACTION = 16  # an administrative action that cannot apply

    @property
    def label(self) -> str:
        return self.name.lower()


class TxRejected(ValueError):
    """A transaction cannot be accepted; `reason` is machine-readable, `detail` is for humans."""

    def __init__(self, reason: Rejection, detail: str) -> None:
        super().__init__(f"{reason.label}: {detail}")
        self.reason = reason
        self.detail = detail
        # Set by `StatelessValidator`: the transaction is signed by its sender's key, so this refusal
        # is about the sender's own transaction (not a forgery that reuses its body).
        self.authenticated = False


class InvalidBlock(ValueError):
    """A block does not extend the chain correctly (bad link, root, signature or proposer)."""


class StateDivergence(RuntimeError):
    """Applying a block gave a different state digest than its header claims.

    Raised to halt the replica loudly (ARCHITECTURE invariant 2); never caught and ignored.
    """


class GenesisError(ValueError):
    """The genesis document is inconsistent."""
