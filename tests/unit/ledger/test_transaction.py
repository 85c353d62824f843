"""Transaction bodies refuse out-of-range and malformed fields with a typed reason."""

from __future__ import annotations

import pytest

from aurigraph.crypto import Sealed, SealedRecipient
from aurigraph.ledger import (
    MAX_DATA_KEY_BYTES,
    MAX_DATA_VALUE_BYTES,
    U64_MAX,
    DataWrite,
    Rejection,
    Transfer,
    TxBody,
    TxRejected,
)

ADDR = b"\x11" * 32


def body(**overrides) -> TxBody:
    fields = dict(chain_id="c", sender=ADDR, nonce=0, fee=1, timestamp_ms=1, kind=Transfer(b"\x22" * 32, 5))
    fields.update(overrides)
    return TxBody(**fields)


@pytest.mark.parametrize("amount", [-1, 0, U64_MAX + 1, 2**200, 1.5, "10", True, None])
def test_absurd_amounts_are_invalid_amount(amount):
    with pytest.raises(TxRejected) as e:
        Transfer(b"\x22" * 32, amount)
    assert e.value.reason is Rejection.INVALID_AMOUNT


@pytest.mark.parametrize("field,value,reason", [
    ("nonce", -1, Rejection.MALFORMED),
    ("nonce", U64_MAX + 1, Rejection.MALFORMED),
    ("fee", -5, Rejection.INVALID_AMOUNT),
    ("fee", 2**64, Rejection.INVALID_AMOUNT),
    ("timestamp_ms", -1, Rejection.BAD_TIMESTAMP),
    ("sender", b"\x11" * 31, Rejection.MALFORMED),
    ("sender", "not bytes", Rejection.MALFORMED),
    ("chain_id", "", Rejection.MALFORMED),
    ("chain_id", "x" * 65, Rejection.MALFORMED),
    ("kind", "transfer", Rejection.MALFORMED),
])
def test_body_fields_out_of_range(field, value, reason):
    with pytest.raises(TxRejected) as e:
        body(**{field: value})
    assert e.value.reason is reason
    assert e.value.detail  # always says what is wrong


def test_extremes_are_accepted():
    b = body(nonce=U64_MAX, fee=U64_MAX, kind=Transfer(b"\x22" * 32, U64_MAX))
    assert b.spend == 2 * U64_MAX  # never overflows in Python; the balance check refuses it


def test_data_write_limits():
    assert DataWrite("k" * MAX_DATA_KEY_BYTES, b"v" * MAX_DATA_VALUE_BYTES)
    cases = [
        (lambda: DataWrite("k" * (MAX_DATA_KEY_BYTES + 1), b"v"), Rejection.OVERSIZE),
        (lambda: DataWrite("é" * (MAX_DATA_KEY_BYTES // 2 + 1), b"v"), Rejection.OVERSIZE),  # bytes, not chars
        (lambda: DataWrite("k", b"v" * (MAX_DATA_VALUE_BYTES + 1)), Rejection.OVERSIZE),
        (lambda: DataWrite("", b"v"), Rejection.MALFORMED),
        (lambda: DataWrite("k", "text"), Rejection.MALFORMED),
        (lambda: DataWrite("k", Sealed(b"n" * 24, b"c", ())), Rejection.MALFORMED),
        (lambda: DataWrite("k", Sealed(b"n" * 24, b"c" * (MAX_DATA_VALUE_BYTES + 1),
                                       (SealedRecipient(b"i" * 16, b"k", b"n", b"w"),))), Rejection.OVERSIZE),
    ]
    for make, reason in cases:
        with pytest.raises(TxRejected) as e:
            make()
        assert e.value.reason is reason
