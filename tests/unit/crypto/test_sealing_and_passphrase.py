"""Sealed payloads (ML-KEM-1024 + XChaCha20-Poly1305) and passphrase-encrypted secrets (Argon2id)."""

from __future__ import annotations

import struct
from dataclasses import replace

import pytest

from aurigraph.crypto import (
    DecryptionError,
    InvalidKeyError,
    decrypt_with_passphrase,
    encrypt_with_passphrase,
    generate_kem_keypair,
    open_sealed,
    seal,
)

FAST_KDF = {"opslimit": 1, "memlimit": 8 * 1024}  # libsodium minimums: tests only


@pytest.fixture(scope="module")
def kem_keys():
    return [generate_kem_keypair() for _ in range(3)]


def test_every_recipient_opens_and_nobody_else(kem_keys):
    alice, bob, eve = kem_keys
    sealed = seal(b"payroll 2026-11", [alice.public_key, bob.public_key], aad=b"key:payroll")
    assert open_sealed(sealed, alice, aad=b"key:payroll") == b"payroll 2026-11"
    assert open_sealed(sealed, bob, aad=b"key:payroll") == b"payroll 2026-11"
    assert b"payroll" not in sealed.ciphertext
    with pytest.raises(DecryptionError, match="not among"):
        open_sealed(sealed, eve, aad=b"key:payroll")


def test_tampering_is_detected(kem_keys):
    alice = kem_keys[0]
    sealed = seal(b"secret", [alice.public_key], aad=b"a")
    with pytest.raises(DecryptionError):
        open_sealed(sealed, alice, aad=b"b")  # associated data differs
    flipped = bytes([sealed.ciphertext[0] ^ 1]) + sealed.ciphertext[1:]
    with pytest.raises(DecryptionError):
        open_sealed(replace(sealed, ciphertext=flipped), alice, aad=b"a")
    r = sealed.recipients[0]
    bad_kem = replace(r, kem_ciphertext=bytes([r.kem_ciphertext[0] ^ 1]) + r.kem_ciphertext[1:])
    with pytest.raises(DecryptionError):
        open_sealed(replace(sealed, recipients=(bad_kem,)), alice, aad=b"a")
    with pytest.raises(DecryptionError):
        open_sealed(replace(sealed, recipients=(replace(r, kem_ciphertext=b"short"),)), alice, aad=b"a")


def test_seal_rejects_bad_recipient_keys(kem_keys):
    with pytest.raises(InvalidKeyError):
        seal(b"x", [])
    with pytest.raises(InvalidKeyError, match="ML-KEM-1024 public key"):
        seal(b"x", [kem_keys[0].public_key[:100]])


def test_passphrase_round_trip_and_failures():
    blob = encrypt_with_passphrase(b"secret key bytes", "correct horse", **FAST_KDF)
    assert decrypt_with_passphrase(blob, "correct horse") == b"secret key bytes"
    assert b"secret key bytes" not in blob
    assert encrypt_with_passphrase(b"x", "p", **FAST_KDF) != encrypt_with_passphrase(b"x", "p", **FAST_KDF)  # salted
    with pytest.raises(DecryptionError, match="wrong passphrase"):
        decrypt_with_passphrase(blob, "wrong")
    with pytest.raises(DecryptionError, match="wrong passphrase"):
        decrypt_with_passphrase(blob[:-1] + bytes([blob[-1] ^ 1]), "correct horse")
    with pytest.raises(DecryptionError, match="truncated"):
        decrypt_with_passphrase(blob[:20], "correct horse")
    with pytest.raises(DecryptionError, match="bad magic"):
        decrypt_with_passphrase(b"XXXX" + blob[4:], "correct horse")
    with pytest.raises(DecryptionError, match="empty"):
        encrypt_with_passphrase(b"x", "", **FAST_KDF)


def test_crafted_kdf_parameters_are_refused():
    blob = bytearray(encrypt_with_passphrase(b"x", "p", **FAST_KDF))
    struct.pack_into(">Q", blob, 8, 2**62)  # memlimit: an attacker asking for exabytes
    with pytest.raises(DecryptionError, match="out-of-range"):
        decrypt_with_passphrase(bytes(blob), "p")
