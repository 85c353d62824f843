"""Confidential data writes (`aurigraph.ledger.sealed`): who can open a sealed value, and that its
associated data pins it to the chain, sender and data key it was written under."""

from __future__ import annotations

from dataclasses import replace

import pytest

from aurigraph.codec import decode_signed, encode_signed, sign_transaction
from aurigraph.crypto import DecryptionError, generate_kem_keypair, generate_keypair
from aurigraph.ledger import (
    MAX_SEALED_PLAINTEXT_BYTES,
    DataWrite,
    NotSealedError,
    Rejection,
    Transfer,
    TxBody,
    TxRejected,
    open_data_write,
    seal_data_value,
    seal_data_write,
    sealed_recipient_ids,
    sealed_value_aad,
)
from aurigraph.ledger.transaction import MAX_SEALED_RECIPIENTS

CHAIN = "aurigraph-test"
SECRET = b"salary: 123,456.78 EUR"


@pytest.fixture(scope="module")
def kem():
    return [generate_kem_keypair() for _ in range(3)]


@pytest.fixture(scope="module")
def senders():
    return generate_keypair(), generate_keypair()


def body(sender: bytes, write, chain: str = CHAIN, nonce: int = 0) -> TxBody:
    return TxBody(chain, sender, nonce, 1, 1_700_000_000_000, write)


def test_every_recipient_opens_and_a_third_key_does_not(kem, senders):
    alice, bob, eve = kem
    tx = body(senders[0].address, seal_data_write(CHAIN, senders[0].address, "hr/pay", SECRET,
                                                   [alice.public_key, bob.public_key]))
    assert open_data_write(tx, alice) == SECRET
    assert open_data_write(tx, bob) == SECRET
    with pytest.raises(DecryptionError, match="not among"):
        open_data_write(tx, eve)
    assert sealed_recipient_ids(tx) == [alice.key_id, bob.key_id]


def test_the_signed_wire_bytes_hold_no_plaintext_and_round_trip(kem, senders):
    signer = senders[0]
    tx = sign_transaction(body(signer.address, seal_data_write(CHAIN, signer.address, "k", SECRET,
                                                                [kem[0].public_key])), signer)
    wire = encode_signed(tx)
    assert SECRET not in wire and SECRET[:8] not in wire
    assert open_data_write(decode_signed(wire).body, kem[0]) == SECRET


@pytest.mark.parametrize("move", ["key", "sender", "chain"])
def test_a_sealed_value_moved_elsewhere_does_not_open(kem, senders, move):
    alice = kem[0]
    owner, other = senders
    sealed = seal_data_value(CHAIN, owner.address, "hr/pay", SECRET, [alice.public_key])
    assert open_data_write(body(owner.address, DataWrite("hr/pay", sealed)), alice) == SECRET
    moved = {
        "key": body(owner.address, DataWrite("hr/pay2", sealed)),
        "sender": body(other.address, DataWrite("hr/pay", sealed)),
        "chain": body(owner.address, DataWrite("hr/pay", sealed), chain=CHAIN + "-b"),
    }[move]
    with pytest.raises(DecryptionError, match="wrong key or tampered"):
        open_data_write(moved, alice)


def test_the_aad_is_unambiguous_and_domain_separated(senders):
    sender = senders[0].address
    aad = sealed_value_aad(CHAIN, sender, "k")
    assert aad.startswith(b"AG1/sealed-data\x00") and sender in aad
    # Length prefixes: shifting a byte between chain id and key gives different data.
    assert sealed_value_aad("ab", sender, "c") != sealed_value_aad("a", sender, "bc")
    assert len({sealed_value_aad(c, s, k) for c in ("a", "b") for s in (sender, senders[1].address)
                for k in ("x", "y")}) == 8
    with pytest.raises(TxRejected):
        sealed_value_aad(CHAIN, b"short", "k")
    with pytest.raises(TxRejected):
        sealed_value_aad(CHAIN, sender, "")


def test_tampering_is_detected(kem, senders):
    alice = kem[0]
    sender = senders[0].address
    sealed = seal_data_value(CHAIN, sender, "k", SECRET, [alice.public_key, kem[1].public_key])
    flipped = replace(sealed, ciphertext=bytes([sealed.ciphertext[0] ^ 1]) + sealed.ciphertext[1:])
    with pytest.raises(DecryptionError, match="tampered"):
        open_data_write(body(sender, DataWrite("k", flipped)), alice)
    r = sealed.recipients[0]
    bad_wrap = replace(r, wrapped_key=bytes([r.wrapped_key[0] ^ 1]) + r.wrapped_key[1:])
    with pytest.raises(DecryptionError):
        open_data_write(body(sender, DataWrite("k", replace(sealed, recipients=(bad_wrap, sealed.recipients[1])))),
                        alice)
    # Swapping one recipient's entry under another's key id does not open either.
    swapped = replace(sealed.recipients[1], key_id=r.key_id)
    with pytest.raises(DecryptionError):
        open_data_write(body(sender, DataWrite("k", replace(sealed, recipients=(swapped,)))), alice)
    with pytest.raises(DecryptionError):
        open_data_write(body(sender, DataWrite("k", replace(sealed, nonce=bytes(24)))), alice)


def test_recipient_limits_are_enforced_before_sealing(kem, senders):
    sender = senders[0].address
    many = [generate_kem_keypair() for _ in range(MAX_SEALED_RECIPIENTS + 1)]
    full = seal_data_value(CHAIN, sender, "k", b"x", [k.public_key for k in many[:MAX_SEALED_RECIPIENTS]])
    assert len(full.recipients) == MAX_SEALED_RECIPIENTS
    assert open_data_write(body(sender, DataWrite("k", full)), many[MAX_SEALED_RECIPIENTS - 1]) == b"x"
    with pytest.raises(TxRejected, match=f"1 to {MAX_SEALED_RECIPIENTS} recipients") as caught:
        seal_data_value(CHAIN, sender, "k", b"x", [k.public_key for k in many])
    assert caught.value.reason is Rejection.MALFORMED
    with pytest.raises(TxRejected, match="recipients"):
        seal_data_value(CHAIN, sender, "k", b"x", [])
    with pytest.raises(TxRejected, match="twice"):
        seal_data_value(CHAIN, sender, "k", b"x", [kem[0].public_key, kem[0].public_key])
    # The ledger refuses a sealed value with too many recipients however it was built.
    oversealed = replace(full, recipients=full.recipients + full.recipients[:1])
    with pytest.raises(TxRejected, match="recipients"):
        DataWrite("k", oversealed)


def test_size_limit_counts_the_aead_tag(kem, senders):
    sender = senders[0].address
    biggest = seal_data_write(CHAIN, sender, "k", bytes(MAX_SEALED_PLAINTEXT_BYTES), [kem[0].public_key])
    assert open_data_write(body(sender, biggest), kem[0]) == bytes(MAX_SEALED_PLAINTEXT_BYTES)
    with pytest.raises(TxRejected) as caught:
        seal_data_value(CHAIN, sender, "k", bytes(MAX_SEALED_PLAINTEXT_BYTES + 1), [kem[0].public_key])
    assert caught.value.reason is Rejection.OVERSIZE


def test_plain_values_and_transfers_are_not_sealed(kem, senders):
    sender = senders[0].address
    with pytest.raises(NotSealedError, match="plain"):
        open_data_write(body(sender, DataWrite("k", SECRET)), kem[0])
    with pytest.raises(NotSealedError, match="not a data write"):
        sealed_recipient_ids(body(sender, Transfer(senders[1].address, 5)))
