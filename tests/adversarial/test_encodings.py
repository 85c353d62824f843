"""Malleated encodings: the same `SignedTransaction`, or the same `TransactionBody`, in other bytes.

The invariant is "the signed bytes are the stored bytes" (ARCHITECTURE invariant 3): a transaction's
id is BLAKE3-512 of its exact body bytes, and its signature covers those same bytes. So
- a re-encoded *envelope* must be refused, or else yield the same id from identical body bytes;
  the codec refuses every encoding but the canonical one (`parse_canonical`), so it is refused;
- a re-encoded *body* is different bytes: a different id, and the original signature does not
  verify over it. The codec refuses it before any signature work (MALFORMED).
Unknown fields in the body are refused as well, even when the owner signs the body with them:
protobuf would ignore them, so accepting them would let the *signer* make many ids for one
transfer. Never a third party — the signature covers the unknown bytes too — and the nonce would
still stop a second apply; the canonical check removes even that.
"""

from __future__ import annotations

import pytest

from aurigraph.codec import encode_signed
from aurigraph.crypto import Scheme, verify_batch
from aurigraph.ledger import Rejection, sign_body, signing_message, transaction_id
from aurigraph.v1 import transaction_pb2
from tests.adversarial.conftest import envelope, transfer
from tests.adversarial.wire import UNKNOWN_FIELDS, blob, tag, uint, varint


@pytest.fixture
def honest(keypairs):
    return transfer(keypairs[Scheme.HYBRID], 0, amount=300)


def canonical_envelope(tx, **extra) -> bytes:
    e = {"body": 0, "scheme": 0, "key": 0, "sig": 0, **extra}
    return (blob(1, tx.body_bytes, e["body"]) + uint(2, int(tx.scheme), e["scheme"]) + blob(3, tx.public_key, e["key"])
            + blob(4, tx.signature, e["sig"]))


def malleated_envelopes(tx) -> dict[str, bytes]:
    fields = [blob(1, tx.body_bytes), uint(2, int(tx.scheme)), blob(3, tx.public_key), blob(4, tx.signature)]
    plain = b"".join(fields)
    out = {f"unknown {kind} field appended": plain + raw for kind, raw in UNKNOWN_FIELDS.items()}
    out["unknown field first"] = UNKNOWN_FIELDS["length-delimited"] + plain
    out.update({
        "body twice": fields[0] + plain,
        "scheme twice": plain + fields[1],
        "a garbage signature, then the real one": blob(4, b"\x00" * len(tx.signature)) + plain,
        "a garbage body, then the real one": blob(1, b"junk") + plain,
        "non-minimal scheme varint": canonical_envelope(tx, scheme=1),
        "non-minimal body length": canonical_envelope(tx, body=2),
        "non-minimal signature length": canonical_envelope(tx, sig=1),
        "non-minimal tag": tag(1, 2, extra=1) + varint(len(tx.body_bytes)) + tx.body_bytes + b"".join(fields[1:]),
        "signature first": fields[3] + fields[0] + fields[1] + fields[2],
        "scheme last": fields[0] + fields[2] + fields[3] + fields[1],
    })
    return out


def test_the_hand_made_canonical_envelope_is_the_codecs(honest, ledger):
    assert canonical_envelope(honest) == encode_signed(honest)
    assert ledger.reason(canonical_envelope(honest)) is None


def test_a_re_encoded_envelope_is_refused(honest, ledger):
    canonical = transaction_pb2.SignedTransaction.FromString(encode_signed(honest))
    for name, wire in malleated_envelopes(honest).items():
        parsed = transaction_pb2.SignedTransaction.FromString(wire)
        parsed.DiscardUnknownFields()
        assert parsed == canonical, f"{name}: protobuf reads it as the same transaction"
        checked = ledger.admit(wire)[0]
        # The invariant: refused, or the very same body bytes and id. It is refused.
        assert checked.tx is None or (checked.tx.body_bytes == honest.body_bytes and checked.tx_id == honest.tx_id)
        assert checked.rejection is not None and checked.rejection.reason is Rejection.MALFORMED, name
        assert "canonical" in checked.rejection.detail or "valid protobuf" in checked.rejection.detail, name


def malleated_bodies(tx) -> dict[str, bytes]:
    """The honest body (a transfer with nonce 0, fee 1) re-encoded. Fields: chain_id 1, sender 2,
    nonce 3, fee 4, timestamp_ms 5, transfer 10 (recipient 1, amount 2)."""
    b = tx.body
    inner = blob(1, b.kind.recipient) + uint(2, b.kind.amount)
    head = [blob(1, b.chain_id.encode()), blob(2, b.sender)]
    tail = [uint(4, b.fee), uint(5, b.timestamp_ms)]
    assert b"".join(head + tail) + blob(10, inner) == tx.body_bytes, "the canonical layout"
    body = b"".join(head + tail)
    out = {f"unknown {kind} field": tx.body_bytes + raw for kind, raw in UNKNOWN_FIELDS.items()}
    out.update({
        "nonce 0 written out": b"".join(head) + uint(3, 0) + b"".join(tail) + blob(10, inner),
        "fee twice": tx.body_bytes + uint(4, b.fee),
        "non-minimal fee": b"".join(head) + uint(4, b.fee, extra=1) + tail[1] + blob(10, inner),
        "non-minimal timestamp": b"".join(head) + tail[0] + uint(5, b.timestamp_ms, extra=2) + blob(10, inner),
        "non-minimal transfer length": body + blob(10, inner, extra=1),
        "transfer first": blob(10, inner) + body,
        "fields reversed": blob(10, inner) + b"".join(reversed(head + tail)),
        "unknown field inside the transfer": body + blob(10, inner + uint(9, 1)),
        "amount before recipient": body + blob(10, uint(2, b.kind.amount) + blob(1, b.kind.recipient)),
        "transfer split in two": body + blob(10, blob(1, b.kind.recipient)) + blob(10, uint(2, b.kind.amount)),
    })
    return out


def test_a_re_encoded_body_is_another_id_and_fails_the_signature(honest, ledger, keypairs):
    canonical = transaction_pb2.TransactionBody.FromString(honest.body_bytes)
    for name, body in malleated_bodies(honest).items():
        parsed = transaction_pb2.TransactionBody.FromString(body)
        parsed.DiscardUnknownFields()
        assert parsed == canonical, f"{name}: protobuf reads it as the same body"
        assert transaction_id(body) != honest.tx_id, name
        assert verify_batch([(honest.scheme, honest.public_key, signing_message(body), honest.signature)]) == [False]
        assert ledger.reason(envelope(honest, body=body)) is Rejection.MALFORMED, name
        # Signed by the owner over exactly these bytes, it is still refused: one transfer, one id.
        owners = sign_body(honest.body, body, keypairs[Scheme.HYBRID])
        assert ledger.reason(encode_signed(owners)) is Rejection.MALFORMED, name
