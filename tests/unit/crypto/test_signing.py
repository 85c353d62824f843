"""Signatures: every scheme signs and verifies; every tampering and malformed input is refused."""

from __future__ import annotations

import pytest

from aurigraph.crypto import (
    PUBLIC_KEY_SIZE,
    SIGNATURE_SIZE,
    InvalidKeyError,
    KeyPair,
    Scheme,
    UnknownSchemeError,
    address_from_text,
    address_to_text,
    derive_address,
    generate_keypair,
    sign,
    verify,
    verify_batch,
)

MESSAGE = b"AG1/test\x00transfer 10 to bob"


@pytest.mark.parametrize("scheme", list(Scheme))
def test_sign_then_verify(keypairs, scheme):
    kp = keypairs[scheme]
    sig = sign(kp, MESSAGE)
    assert len(sig) == SIGNATURE_SIZE[scheme]
    assert verify(scheme, kp.public_key, MESSAGE, sig)


@pytest.mark.parametrize("scheme", list(Scheme))
def test_tampered_message_signature_or_key_is_rejected(keypairs, scheme):
    kp = keypairs[scheme]
    sig = sign(kp, MESSAGE)
    assert not verify(scheme, kp.public_key, MESSAGE + b"!", sig)
    for i in (0, len(sig) // 2, len(sig) - 1):
        bad = bytearray(sig)
        bad[i] ^= 0x01
        assert not verify(scheme, kp.public_key, MESSAGE, bytes(bad)), f"bit flip at {i} accepted"
    other = generate_keypair(scheme)
    assert not verify(scheme, other.public_key, MESSAGE, sig), "signature accepted under another key"


def test_hybrid_needs_both_halves(keypairs):
    kp = keypairs[Scheme.HYBRID]
    ed, ml = keypairs[Scheme.ED25519], keypairs[Scheme.ML_DSA_87]
    sig = sign(kp, MESSAGE)
    ed_len = SIGNATURE_SIZE[Scheme.ED25519]
    good_ed, good_ml = sig[:ed_len], sig[ed_len:]
    foreign_ed = sign(ed, MESSAGE)  # valid Ed25519 signature, but by another key
    foreign_ml = sign(ml, MESSAGE)
    assert not verify(Scheme.HYBRID, kp.public_key, MESSAGE, foreign_ed + good_ml)
    assert not verify(Scheme.HYBRID, kp.public_key, MESSAGE, good_ed + foreign_ml)
    assert not verify(Scheme.HYBRID, kp.public_key, MESSAGE, bytes(ed_len) + good_ml)
    assert not verify(Scheme.HYBRID, kp.public_key, MESSAGE, good_ed + bytes(len(good_ml)))
    with pytest.raises(InvalidKeyError):  # one half missing entirely
        verify(Scheme.HYBRID, kp.public_key, MESSAGE, good_ed)


@pytest.mark.parametrize("scheme", list(Scheme))
def test_wrong_lengths_raise_typed_errors(keypairs, scheme):
    kp = keypairs[scheme]
    sig = sign(kp, MESSAGE)
    with pytest.raises(InvalidKeyError, match="public key must be"):
        verify(scheme, kp.public_key[:-1], MESSAGE, sig)
    with pytest.raises(InvalidKeyError, match="signature must be"):
        verify(scheme, kp.public_key, MESSAGE, sig[:10])
    with pytest.raises(InvalidKeyError, match="signature must be"):
        verify(scheme, kp.public_key, MESSAGE, sig + b"\x00")
    with pytest.raises(InvalidKeyError, match="secret key must be"):
        KeyPair(scheme, kp.public_key, kp.secret_key[:-1])
    with pytest.raises(InvalidKeyError):
        derive_address(scheme, b"\x01" * 3)


def test_unknown_scheme_is_a_typed_error(keypairs):
    kp = keypairs[Scheme.ED25519]
    for bad in (0, 4, 255, "rsa", ""):
        with pytest.raises(UnknownSchemeError):
            verify(bad, kp.public_key, MESSAGE, sign(kp, MESSAGE))
    assert Scheme.parse("ml-dsa-87") is Scheme.ML_DSA_87
    assert Scheme.parse(" Hybrid ") is Scheme.HYBRID


def test_verify_batch_returns_one_bool_per_item_and_never_raises(keypairs):
    items, expected = [], []
    for scheme, kp in keypairs.items():
        sig = sign(kp, MESSAGE)
        items += [
            (scheme, kp.public_key, MESSAGE, sig),
            (scheme, kp.public_key, MESSAGE + b"x", sig),
            (scheme, kp.public_key[:5], MESSAGE, sig),
            (scheme, kp.public_key, MESSAGE, sig[:5]),
            (scheme, kp.public_key, MESSAGE, b""),
            (scheme, b"", MESSAGE, sig),
        ]
        expected += [True, False, False, False, False, False]
    items += [(0, b"", b"", b""), (99, b"k", b"m", b"s")]
    expected += [False, False]
    assert verify_batch(items) == expected
    assert verify_batch([]) == []


def test_verify_batch_on_a_large_batch_finds_the_single_bad_item(keypairs):
    kp = keypairs[Scheme.ED25519]
    items = [(Scheme.ED25519, kp.public_key, b"m%d" % i, sign(kp, b"m%d" % i)) for i in range(2000)]
    items[1234] = (Scheme.ED25519, kp.public_key, b"forged", items[1234][3])
    result = verify_batch(items)
    assert result.count(False) == 1 and result[1234] is False


def test_keypairs_come_from_the_csprng_and_hide_secrets(keypairs):
    for scheme in Scheme:
        a, b = generate_keypair(scheme), generate_keypair(scheme)
        assert a.public_key != b.public_key and a.secret_key != b.secret_key
        assert len(a.public_key) == PUBLIC_KEY_SIZE[scheme]
        assert a.secret_key.hex()[:32] not in repr(a)


def test_address_is_bound_to_scheme_and_key(keypairs):
    ed = keypairs[Scheme.ED25519]
    assert ed.address == derive_address(Scheme.ED25519, ed.public_key)
    assert len(ed.address) == 32
    hybrid = keypairs[Scheme.HYBRID]
    assert derive_address(Scheme.HYBRID, hybrid.public_key) != derive_address(Scheme.ED25519, hybrid.public_key[:32])


def test_address_text_round_trip_and_typo_detection(keypairs):
    address = keypairs[Scheme.ED25519].address
    text = address_to_text(address)
    assert text.startswith("ag") and address_from_text(text) == address
    typo = text[:10] + ("0" if text[10] != "0" else "1") + text[11:]
    for bad, message in [(typo, "checksum"), (text[:-2], "characters"), ("xx" + text[2:], "start with"),
                         ("ag" + "zz" * 36, "hexadecimal")]:
        with pytest.raises(InvalidKeyError, match=message):
            address_from_text(bad)
    with pytest.raises(InvalidKeyError):
        address_to_text(address[:31])


def test_new_mldsa_keys_are_seeds_signed_by_openssl_and_verified_by_pqcrypto():
    """Keys generated now hold the 32-byte FIPS 204 seed and sign through OpenSSL; the signature is a
    standard ML-DSA-87 one: pqcrypto (the verifier of every replica and validator) accepts it."""
    import pqcrypto
    import pqcrypto.sign.ml_dsa_87 as pq

    kp = generate_keypair(Scheme.ML_DSA_87)
    assert len(kp.secret_key) == 32
    sig = sign(kp, MESSAGE)
    pq.verify(kp.public_key, MESSAGE, sig)  # raises if not valid
    with pytest.raises(pqcrypto.InvalidSignatureError):
        pq.verify(kp.public_key, MESSAGE + b"!", sig)


@pytest.mark.parametrize("scheme", [Scheme.ML_DSA_87, Scheme.HYBRID])
def test_expanded_mldsa_keys_of_earlier_key_files_still_sign(scheme):
    """A key file written before seeds (pqcrypto's 4,896-byte expanded ML-DSA-87 key) still signs,
    through pqcrypto, and its signatures verify like any other."""
    import nacl.bindings as sodium
    import pqcrypto.sign.ml_dsa_87 as pq

    ml_pk, ml_sk = pq.keygen()
    if scheme is Scheme.ML_DSA_87:
        kp = KeyPair(scheme, bytes(ml_pk), bytes(ml_sk))
    else:
        ed_pk, ed_sk = sodium.crypto_sign_keypair()
        kp = KeyPair(scheme, ed_pk + bytes(ml_pk), ed_sk + bytes(ml_sk))
    sig = sign(kp, MESSAGE)
    assert verify(scheme, kp.public_key, MESSAGE, sig)
    assert not verify(scheme, kp.public_key, MESSAGE + b"!", sig)
