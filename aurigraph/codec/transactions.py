"""Transactions: `aurigraph.v1.SignedTransaction` / `TransactionBody` <-> `aurigraph.ledger` types."""

from __future__ import annotations

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message

from aurigraph.codec.governance import admin_from_proto, admin_to_proto
from aurigraph.crypto import KeyPair, Scheme, Sealed, SealedRecipient, UnknownSchemeError
from aurigraph.crypto.kem import CONTENT_KEY_SIZE, KEM_CIPHERTEXT_SIZE, KEY_ID_SIZE, NONCE_SIZE, TAG_SIZE
from aurigraph.ledger import (
    ADMIN_ACTIONS,
    MAX_TX_BYTES,
    DataWrite,
    Receipt,
    ReceiptStatus,
    Rejection,
    SignedTx,
    Transfer,
    TxBody,
    TxRejected,
    sign_body,
)
from aurigraph.v1 import common_pb2, transaction_pb2


def parse_canonical(message: Message, data: bytes, what: str) -> None:
    """Parse `data` into `message`; reject garbage and any encoding but the canonical one."""
    try:
        message.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as e:  # upb raises DecodeError; be defensive
        raise TxRejected(Rejection.MALFORMED, f"{what} is not valid protobuf: {e}") from None
    # Re-serialization keeps unknown fields, so drop them first: then any difference means the
    # input had unknown, repeated or reordered fields.
    message.DiscardUnknownFields()
    if message.SerializeToString(deterministic=True) != data:
        raise TxRejected(
            Rejection.MALFORMED, f"{what} is not canonically encoded (unknown, repeated or out-of-order fields)"
        )


# --- body -------------------------------------------------------------------------------------

def _sealed_from_proto(m: transaction_pb2.SealedPayload) -> Sealed:
    if len(m.nonce) != NONCE_SIZE:
        raise TxRejected(Rejection.MALFORMED, f"sealed nonce must be {NONCE_SIZE} bytes")
    recipients = []
    for r in m.recipients:
        if (len(r.key_id), len(r.kem_ciphertext), len(r.wrap_nonce), len(r.wrapped_key)) != (
            KEY_ID_SIZE, KEM_CIPHERTEXT_SIZE, NONCE_SIZE, CONTENT_KEY_SIZE + TAG_SIZE
        ):
            raise TxRejected(Rejection.MALFORMED, "sealed recipient fields have the wrong lengths")
        recipients.append(SealedRecipient(r.key_id, r.kem_ciphertext, r.wrap_nonce, r.wrapped_key))
    return Sealed(m.nonce, m.ciphertext, tuple(recipients))


def _sealed_to_proto(s: Sealed) -> transaction_pb2.SealedPayload:
    return transaction_pb2.SealedPayload(
        nonce=s.nonce,
        ciphertext=s.ciphertext,
        recipients=[
            transaction_pb2.SealedRecipient(
                key_id=r.key_id, kem_ciphertext=r.kem_ciphertext, wrap_nonce=r.wrap_nonce, wrapped_key=r.wrapped_key
            )
            for r in s.recipients
        ],
    )


def body_from_proto(m: transaction_pb2.TransactionBody) -> TxBody:
    kind_name = m.WhichOneof("kind")
    if kind_name == "transfer":
        kind = Transfer(m.transfer.recipient, m.transfer.amount)
    elif kind_name == "data":
        value_name = m.data.WhichOneof("value")
        if value_name == "plain":
            value: bytes | Sealed = m.data.plain
        elif value_name == "sealed":
            value = _sealed_from_proto(m.data.sealed)
        else:
            raise TxRejected(Rejection.MALFORMED, "data write has no value")
        kind = DataWrite(m.data.key, value)
    elif kind_name == "admin":
        kind = admin_from_proto(m.admin)
    else:
        raise TxRejected(Rejection.MALFORMED, "transaction body has no transfer, data or admin action")
    return TxBody(m.chain_id, m.sender, m.nonce, m.fee, m.timestamp_ms, kind)


def body_to_proto(body: TxBody) -> transaction_pb2.TransactionBody:
    m = transaction_pb2.TransactionBody(
        chain_id=body.chain_id, sender=body.sender, nonce=body.nonce, fee=body.fee, timestamp_ms=body.timestamp_ms
    )
    kind = body.kind
    if isinstance(kind, Transfer):
        m.transfer.recipient, m.transfer.amount = kind.recipient, kind.amount
    elif isinstance(kind, ADMIN_ACTIONS):
        m.admin.CopyFrom(admin_to_proto(kind))
    elif isinstance(kind.value, Sealed):
        m.data.key = kind.key
        m.data.sealed.CopyFrom(_sealed_to_proto(kind.value))
    else:
        m.data.key, m.data.plain = kind.key, kind.value
    return m


def encode_body(body: TxBody) -> bytes:
    return body_to_proto(body).SerializeToString(deterministic=True)


def decode_body(data: bytes) -> TxBody:
    m = transaction_pb2.TransactionBody()
    parse_canonical(m, data, "transaction body")
    return body_from_proto(m)


def sign_transaction(body: TxBody, keypair: KeyPair) -> SignedTx:
    """Serialize `body` once and sign those bytes: the client side of a transaction."""
    return sign_body(body, encode_body(body), keypair)


# --- envelope ---------------------------------------------------------------------------------

def signed_from_proto(m: transaction_pb2.SignedTransaction) -> SignedTx:
    body = decode_body(m.body)  # first: an empty or garbled envelope is malformed, whatever its scheme
    try:
        scheme = Scheme.parse(m.scheme)
    except UnknownSchemeError as e:
        raise TxRejected(Rejection.UNKNOWN_SCHEME, str(e)) from None
    return SignedTx(m.body, body, scheme, m.public_key, m.signature)


def signed_to_proto(tx: SignedTx) -> transaction_pb2.SignedTransaction:
    return transaction_pb2.SignedTransaction(
        body=tx.body_bytes, scheme=int(tx.scheme), public_key=tx.public_key, signature=tx.signature
    )


def decode_signed(data: bytes) -> SignedTx:
    """Wire bytes of a `SignedTransaction` -> `SignedTx`, or `TxRejected`."""
    if len(data) > MAX_TX_BYTES:
        raise TxRejected(Rejection.OVERSIZE, f"transaction is {len(data)} bytes, limit {MAX_TX_BYTES}")
    m = transaction_pb2.SignedTransaction()
    parse_canonical(m, data, "signed transaction")
    return signed_from_proto(m)


def decode_validated(data: bytes, tx_id: bytes) -> SignedTx:
    """Wire bytes that already passed `decode_signed` inside the node (the ingress's validation),
    with the id that decode computed -> `SignedTx`: parsed once more, without repeating the
    canonical-encoding checks or the hash. Never for bytes from outside the node."""
    m = transaction_pb2.SignedTransaction.FromString(data)
    tx = SignedTx(m.body, body_from_proto(transaction_pb2.TransactionBody.FromString(m.body)), Scheme(m.scheme),
                  m.public_key, m.signature)
    tx.__dict__["tx_id"] = tx_id  # the slot `SignedTx.tx_id` (a cached_property) fills when first read
    return tx


def encode_signed(tx: SignedTx) -> bytes:
    return signed_to_proto(tx).SerializeToString(deterministic=True)


def signed_to_json(tx: SignedTx) -> str:
    """Protobuf JSON mapping (bytes as base64), as printed by `aurigraph tx sign`."""
    return json_format.MessageToJson(signed_to_proto(tx), indent=2)


def signed_from_json(text: str) -> SignedTx:
    m = transaction_pb2.SignedTransaction()
    try:
        json_format.Parse(text, m)
    except json_format.ParseError as e:
        raise TxRejected(Rejection.MALFORMED, f"signed transaction JSON: {e}") from None
    return signed_from_proto(m)


# --- outcomes ---------------------------------------------------------------------------------

def reject_reason_to_proto(reason: Rejection | None) -> int:
    return common_pb2.REJECT_REASON_UNSPECIFIED if reason is None else int(reason)


def receipt_from_proto(m: transaction_pb2.Receipt) -> Receipt:
    return Receipt(
        tx_id=m.tx_id, status=ReceiptStatus(m.status), reason=Rejection(m.reason) if m.reason else None,
        height=m.height, index=m.index, fee_paid=m.fee_paid, rules=tuple(m.compliance_rules),
    )


def receipt_to_proto(r: Receipt) -> transaction_pb2.Receipt:
    return transaction_pb2.Receipt(
        tx_id=r.tx_id, status=int(r.status), reason=reject_reason_to_proto(r.reason), height=r.height,
        index=r.index, fee_paid=r.fee_paid, compliance_rules=list(r.rules),
    )
