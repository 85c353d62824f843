"""Audit notes: administrative actions the node takes outside the ledger (a membership change, a
model promotion) are recorded on chain *before* they are carried out, as `AdminNote` transactions
signed by a chain admin key and committed like any transaction, so the audit export shows every one.

On a chain whose genesis lists admins, an action whose note cannot be committed is not carried out
(`NotRecorded`). On a chain without admins (governance off) there is nothing to sign with: actions
proceed and the node logs that they were not recorded.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from aurigraph.codec import encode_signed, sign_transaction
from aurigraph.crypto import KeyPair
from aurigraph.ledger import AdminNote, TxBody


class NotRecorded(RuntimeError):
    """The audit note of an administrative action could not be committed: the action was not taken."""


@dataclass(frozen=True)
class Notary:
    chain_id: str
    key: KeyPair | None  # None: governance off (no admins in the genesis)
    fee: int = 1

    def note(self, nonce: int, kind: str, detail: str, principal: str) -> bytes:
        """The signed `AdminNote` transaction, as wire bytes."""
        body = TxBody(self.chain_id, self.key.address, nonce, self.fee, time.time_ns() // 1_000_000,
                      AdminNote(kind, _clip(detail, 1024), _clip(principal, 128)))
        return encode_signed(sign_transaction(body, self.key))


def _clip(text: str, max_bytes: int) -> str:
    return text.encode()[:max_bytes].decode(errors="ignore")
