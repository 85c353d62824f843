"""Transactions as the core sees them: frozen dataclasses over the exact signed bytes.

A client serializes a `TxBody` (protobuf `TransactionBody`, done by `aurigraph.codec`), signs
`signing_message(body_bytes)`, and submits a `SignedTx`. The core never re-serializes a body: the
transaction id is BLAKE3-512 of `body_bytes`, and signatures are checked over those same bytes.

Field limits are enforced when a `TxBody` is constructed, so an out-of-range value can never exist
as a valid object; violations raise `TxRejected` with a precise reason.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from functools import cached_property

from aurigraph.crypto import ADDRESS_SIZE, KeyPair, Scheme, Sealed, Tag, digest, sign
from aurigraph.ledger.errors import Rejection, TxRejected
from aurigraph.ledger.governance import ADMIN_ACTIONS, AdminAction

U64_MAX = 2**64 - 1
MAX_CHAIN_ID_BYTES = 64
MAX_DATA_KEY_BYTES = 128
MAX_DATA_VALUE_BYTES = 65_536
MAX_SEALED_RECIPIENTS = 16
# Serialized SignedTransaction: a hybrid-signed data write of maximum size fits with room to spare.
MAX_TX_BYTES = 96 * 1024
TX_SIGNING_DOMAIN = b"AG1/tx-sign\x00"


def _check_u64(name: str, value: int, reason: Rejection) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= U64_MAX:
        raise TxRejected(reason, f"{name} must be an integer in [0, 2^64-1], got {value!r}")


def _check_address(name: str, value: bytes) -> None:
    if not isinstance(value, bytes) or len(value) != ADDRESS_SIZE:
        got = len(value) if isinstance(value, bytes) else type(value).__name__
        raise TxRejected(Rejection.MALFORMED, f"{name} must be a {ADDRESS_SIZE}-byte address, got {got}")


@dataclass(frozen=True)
class Transfer:
    recipient: bytes
    amount: int

    def __post_init__(self) -> None:
        _check_address("recipient", self.recipient)
        _check_u64("amount", self.amount, Rejection.INVALID_AMOUNT)
        if self.amount == 0:
            raise TxRejected(Rejection.INVALID_AMOUNT, "transfer amount must be greater than 0")


@dataclass(frozen=True)
class DataWrite:
    """Stores `value` under (sender, key). A `Sealed` value is opaque to the ledger."""

    key: str
    value: bytes | Sealed

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not self.key:
            raise TxRejected(Rejection.MALFORMED, "data key must be a non-empty string")
        if len(self.key.encode()) > MAX_DATA_KEY_BYTES:
            raise TxRejected(Rejection.OVERSIZE, f"data key is longer than {MAX_DATA_KEY_BYTES} bytes")
        if isinstance(self.value, Sealed):
            if not 1 <= len(self.value.recipients) <= MAX_SEALED_RECIPIENTS:
                raise TxRejected(
                    Rejection.MALFORMED, f"sealed value needs 1 to {MAX_SEALED_RECIPIENTS} recipients"
                )
            size = len(self.value.ciphertext)
        elif isinstance(self.value, bytes):
            size = len(self.value)
        else:
            raise TxRejected(Rejection.MALFORMED, "data value must be bytes or a sealed payload")
        if size > MAX_DATA_VALUE_BYTES:
            raise TxRejected(Rejection.OVERSIZE, f"data value is {size} bytes, limit {MAX_DATA_VALUE_BYTES}")

    @property
    def value_digest(self) -> bytes:
        """What the state digest commits to for this value (plain bytes or the sealed ciphertext)."""
        raw = self.value.ciphertext if isinstance(self.value, Sealed) else self.value
        return digest(Tag.DATA_VALUE, raw)


@dataclass(frozen=True)
class TxBody:
    chain_id: str
    sender: bytes
    nonce: int
    fee: int
    timestamp_ms: int
    kind: Transfer | DataWrite | AdminAction

    def __post_init__(self) -> None:
        if not isinstance(self.chain_id, str) or not 0 < len(self.chain_id.encode()) <= MAX_CHAIN_ID_BYTES:
            raise TxRejected(Rejection.MALFORMED, f"chain id must be 1 to {MAX_CHAIN_ID_BYTES} bytes")
        _check_address("sender", self.sender)
        _check_u64("nonce", self.nonce, Rejection.MALFORMED)
        _check_u64("fee", self.fee, Rejection.INVALID_AMOUNT)
        _check_u64("timestamp_ms", self.timestamp_ms, Rejection.BAD_TIMESTAMP)
        if not isinstance(self.kind, (Transfer, DataWrite, *ADMIN_ACTIONS)):
            raise TxRejected(Rejection.MALFORMED, "transaction must be a transfer, a data write or an admin action")

    @property
    def spend(self) -> int:
        """Total debited from the sender if the transaction succeeds."""
        return self.fee + (self.kind.amount if isinstance(self.kind, Transfer) else 0)


def transaction_id(body_bytes: bytes) -> bytes:
    """A transaction's id: BLAKE3-512 of its exact body bytes."""
    return digest(Tag.TX_ID, body_bytes)


def signing_message(body_bytes: bytes) -> bytes:
    """The exact bytes a transaction signature covers: a domain tag, then the serialized body."""
    return TX_SIGNING_DOMAIN + body_bytes


@dataclass(frozen=True)
class SignedTx:
    """A decoded transaction envelope. `body_bytes` are the signed, stored and hashed bytes."""

    body_bytes: bytes = field(repr=False)
    body: TxBody
    scheme: Scheme
    public_key: bytes = field(repr=False)
    signature: bytes = field(repr=False)

    @cached_property
    def tx_id(self) -> bytes:
        return transaction_id(self.body_bytes)

    @cached_property
    def auth_hash(self) -> bytes:
        """Commits the block to the signature material, not only the body (see `merkle_leaf`)."""
        return digest(Tag.TX_AUTH, struct.pack(">BI", self.scheme, len(self.public_key)), self.public_key, self.signature)

    def verify_item(self) -> tuple[Scheme, bytes, bytes, bytes]:
        """The tuple `aurigraph.crypto.verify_batch` takes."""
        return (self.scheme, self.public_key, signing_message(self.body_bytes), self.signature)


def sign_body(body: TxBody, body_bytes: bytes, keypair: KeyPair) -> SignedTx:
    """Sign already-serialized body bytes. `aurigraph.codec.sign_transaction` is the usual entry."""
    return SignedTx(body_bytes, body, keypair.scheme, keypair.public_key, sign(keypair, signing_message(body_bytes)))
