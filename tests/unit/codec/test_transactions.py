"""Wire decoding is strict: round trips are exact; garbage only ever gives a typed rejection."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aurigraph.codec import (
    decode_body,
    decode_signed,
    encode_body,
    encode_signed,
    sign_transaction,
    signed_from_json,
    signed_to_json,
)
from aurigraph.codec.node import decode_validated_batch, encode_validated
from aurigraph.codec.transactions import decode_validated
from aurigraph.crypto import Scheme, generate_kem_keypair, open_sealed, seal
from aurigraph.ledger import MAX_TX_BYTES, DataWrite, Rejection, TxBody, TxRejected
from aurigraph.v1 import transaction_pb2
from tests.conftest import CHAIN_ID, NOW_MS


@pytest.fixture(scope="module")
def signed(keypairs):
    kp = keypairs[Scheme.HYBRID]
    return sign_transaction(TxBody(CHAIN_ID, kp.address, 3, 2, NOW_MS, DataWrite("k", b"value")), kp)


def reason(fn, *args):
    with pytest.raises(TxRejected) as e:
        fn(*args)
    return e.value.reason


@pytest.mark.parametrize("scheme", list(Scheme))
def test_round_trip_keeps_the_exact_signed_bytes(chain, keypairs, scheme):
    tx = chain.tx(keypairs[scheme], 7, amount=12345)
    wire = encode_signed(tx)
    back = decode_signed(wire)
    assert back == tx and back.tx_id == tx.tx_id and back.body_bytes == tx.body_bytes
    assert encode_body(back.body) == tx.body_bytes
    assert signed_from_json(signed_to_json(tx)) == tx


def test_a_validated_transaction_is_parsed_to_the_same_value_and_keeps_the_id_it_came_with(chain, keypairs, signed):
    kem = generate_kem_keypair()
    kp = keypairs[Scheme.ED25519]
    sealed = sign_transaction(TxBody(CHAIN_ID, kp.address, 0, 1, NOW_MS,
                                     DataWrite("s", seal(b"v", [kem.public_key], b"s"))), kp)
    txs = [chain.tx(keypairs[Scheme.ML_DSA_87], 7, amount=12345), signed, sealed]
    for tx in txs:
        wire = encode_signed(tx)
        assert decode_validated(wire, tx.tx_id) == decode_signed(wire)
        assert decode_validated(wire, b"the validator's id").tx_id == b"the validator's id"  # taken, not recomputed
    batch = decode_validated_batch(encode_validated([encode_signed(t) for t in txs], [t.tx_id for t in txs]))
    assert [(t, t.tx_id) for t in batch] == [(t, t.tx_id) for t in txs]
    with pytest.raises(ValueError, match="2 transactions but 1 ids"):
        decode_validated_batch(encode_validated([encode_signed(t) for t in txs[:2]], [txs[0].tx_id]))


def test_sealed_data_survives_the_codec(keypairs):
    kp, kem = keypairs[Scheme.ED25519], generate_kem_keypair()
    body = TxBody(CHAIN_ID, kp.address, 0, 1, NOW_MS, DataWrite("secret", seal(b"s3cret", [kem.public_key], b"secret")))
    back = decode_signed(encode_signed(sign_transaction(body, kp)))
    assert open_sealed(back.body.kind.value, kem, b"secret") == b"s3cret"


def test_malformed_inputs_get_precise_reasons(signed):
    wire = encode_signed(signed)
    assert reason(decode_signed, b"\xff\xff\xff") is Rejection.MALFORMED
    assert reason(decode_signed, wire[:-3]) is Rejection.MALFORMED  # truncated
    assert reason(decode_signed, b"") is Rejection.MALFORMED  # empty body: neither transfer nor data
    assert reason(decode_signed, b"\x00" * (MAX_TX_BYTES + 1)) is Rejection.OVERSIZE
    m = transaction_pb2.SignedTransaction.FromString(wire)
    m.scheme = 7
    assert reason(decode_signed, m.SerializeToString()) is Rejection.UNKNOWN_SCHEME
    m.scheme = 1
    m.body = b"\x0a"  # body truncated inside
    assert reason(decode_signed, m.SerializeToString()) is Rejection.MALFORMED


def test_non_canonical_encodings_are_refused(signed):
    """Otherwise one body could have many ids (unknown fields, duplicates, reordering)."""
    wire = encode_signed(signed)
    unknown_field = wire + b"\xa0\x06\x01"  # field 100, varint 1
    assert reason(decode_signed, unknown_field) is Rejection.MALFORMED
    body = signed.body_bytes
    assert reason(decode_body, body + b"\x18\x05") is Rejection.MALFORMED  # nonce repeated: last wins in protobuf
    assert reason(decode_body, body + b"\xa0\x06\x01") is Rejection.MALFORMED  # unknown field in the body
    inner = transaction_pb2.TransactionBody.FromString(body)
    inner.data.plain = b"v"
    nested = inner.SerializeToString()
    # Append an unknown field inside the DataWrite sub-message by re-framing it.
    data_msg = inner.data.SerializeToString() + b"\xa0\x06\x01"
    framed = nested.replace(b"\x5a" + bytes([len(inner.data.SerializeToString())]) + inner.data.SerializeToString(),
                            b"\x5a" + bytes([len(data_msg)]) + data_msg)
    assert framed != nested
    assert reason(decode_body, framed) is Rejection.MALFORMED
    m = transaction_pb2.TransactionBody.FromString(body)
    reordered = m.data.SerializeToString()
    reordered = b"\x5a" + bytes([len(reordered)]) + reordered + body.replace(b"\x5a" + bytes([len(reordered)]) + reordered, b"")
    assert reason(decode_body, reordered) is Rejection.MALFORMED


def test_body_field_errors_come_through_the_codec(keypairs):
    kp = keypairs[Scheme.ED25519]
    m = transaction_pb2.TransactionBody(chain_id=CHAIN_ID, sender=kp.address[:20], nonce=1, fee=1)
    m.transfer.recipient, m.transfer.amount = kp.address, 5
    assert reason(decode_body, m.SerializeToString()) is Rejection.MALFORMED
    m.sender = kp.address
    m.transfer.amount = 0
    assert reason(decode_body, m.SerializeToString()) is Rejection.INVALID_AMOUNT
    m.transfer.amount = 1
    m.data.key = "k"  # switches the oneof to data, with no value
    assert reason(decode_body, m.SerializeToString()) is Rejection.MALFORMED
    m.data.sealed.nonce = b"short"
    assert reason(decode_body, m.SerializeToString()) is Rejection.MALFORMED


def test_absurd_numbers_on_the_wire_are_malformed(keypairs):
    """uint64 fields cannot carry negatives or values >= 2^64; an overlong varint is refused."""
    kp = keypairs[Scheme.ED25519]
    m = transaction_pb2.TransactionBody(chain_id=CHAIN_ID, sender=kp.address, fee=1)
    m.transfer.recipient, m.transfer.amount = kp.address, 5
    good = m.SerializeToString()
    overflow_nonce = b"\x18" + b"\xff" * 10 + b"\x01"  # field 3, an 11-byte varint: > 2^64
    assert reason(decode_body, overflow_nonce + good) is Rejection.MALFORMED
    with pytest.raises(ValueError):
        m.nonce = -1  # and a client cannot even build one
    with pytest.raises(ValueError):
        m.nonce = 2**64


def test_json_garbage_is_malformed():
    for text in ["", "[]", "{", '{"body": 5}', '{"scheme": "NOPE"}']:
        assert reason(signed_from_json, text) is Rejection.MALFORMED


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_never_crash_the_decoder(data):
    with contextlib.suppress(TxRejected):
        decode_signed(data)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_valid_transactions_never_crash_the_decoder(signed, data):
    wire = bytearray(encode_signed(signed))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(wire) - 1))
        wire[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(wire)))
    with contextlib.suppress(TxRejected):
        decode_signed(bytes(wire[:cut]))
