"""Sealed payloads: ML-KEM-1024 key encapsulation + XChaCha20-Poly1305, to one or more recipients.

Sealing: a random 32-byte content key encrypts the payload once (AEAD, with the caller's
associated data). For each recipient an ML-KEM-1024 encapsulation gives a shared secret; BLAKE3's
derive-key mode turns it into a key-encryption key that wraps the content key (AEAD, bound to the
recipient's key id and the KEM ciphertext). Opening tries the entry whose key id matches.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import nacl.bindings as _sodium
import nacl.exceptions
import nacl.utils
import pqcrypto.kem.ml_kem_1024 as _mlkem
from blake3 import blake3

from aurigraph.crypto.digest import Tag, digest
from aurigraph.crypto.errors import DecryptionError, InvalidKeyError

KEY_ID_SIZE = 16
NONCE_SIZE = _sodium.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES  # 24
TAG_SIZE = _sodium.crypto_aead_xchacha20poly1305_ietf_ABYTES  # 16
CONTENT_KEY_SIZE = _sodium.crypto_aead_xchacha20poly1305_ietf_KEYBYTES  # 32
KEM_PUBLIC_KEY_SIZE = _mlkem.PUBLIC_KEY_SIZE
KEM_SECRET_KEY_SIZE = _mlkem.SECRET_KEY_SIZE
KEM_CIPHERTEXT_SIZE = _mlkem.CIPHERTEXT_SIZE
_KEK_CONTEXT = "aurigraph 2026-11 ml-kem-1024 key-encryption key v1"


@dataclass(frozen=True)
class KemKeyPair:
    public_key: bytes
    secret_key: bytes = field(repr=False)

    @property
    def key_id(self) -> bytes:
        return kem_key_id(self.public_key)


@dataclass(frozen=True)
class SealedRecipient:
    key_id: bytes
    kem_ciphertext: bytes
    wrap_nonce: bytes
    wrapped_key: bytes


@dataclass(frozen=True)
class Sealed:
    nonce: bytes
    ciphertext: bytes
    recipients: tuple[SealedRecipient, ...]


def generate_kem_keypair() -> KemKeyPair:
    pk, sk = _mlkem.keygen()
    return KemKeyPair(bytes(pk), bytes(sk))


def kem_key_id(public_key: bytes) -> bytes:
    if len(public_key) != KEM_PUBLIC_KEY_SIZE:
        raise InvalidKeyError(f"ML-KEM-1024 public key must be {KEM_PUBLIC_KEY_SIZE} bytes, got {len(public_key)}")
    return digest(Tag.KEY_ID, public_key)[:KEY_ID_SIZE]


def _kek(shared_secret: bytes) -> bytes:
    return blake3(shared_secret, derive_key_context=_KEK_CONTEXT).digest(length=CONTENT_KEY_SIZE)


def seal(plaintext: bytes, recipient_public_keys: list[bytes], aad: bytes = b"") -> Sealed:
    """Encrypt `plaintext` so that any one of the recipients can open it."""
    if not recipient_public_keys:
        raise InvalidKeyError("seal needs at least one recipient public key")
    content_key = nacl.utils.random(CONTENT_KEY_SIZE)
    nonce = nacl.utils.random(NONCE_SIZE)
    ciphertext = _sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, aad, nonce, content_key)
    recipients = []
    for pk in recipient_public_keys:
        key_id = kem_key_id(pk)
        kem_ct, shared = _mlkem.encaps(pk)
        wrap_nonce = nacl.utils.random(NONCE_SIZE)
        wrapped = _sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
            content_key, key_id + bytes(kem_ct), wrap_nonce, _kek(bytes(shared))
        )
        recipients.append(SealedRecipient(key_id, bytes(kem_ct), wrap_nonce, wrapped))
    return Sealed(nonce, ciphertext, tuple(recipients))


def open_sealed(sealed: Sealed, keypair: KemKeyPair, aad: bytes = b"") -> bytes:
    """Decrypt with the recipient's key pair; `DecryptionError` if not a recipient or tampered."""
    key_id = keypair.key_id
    entry = next((r for r in sealed.recipients if r.key_id == key_id), None)
    if entry is None:
        raise DecryptionError("this key is not among the payload's recipients")
    try:
        shared = _mlkem.decaps(keypair.secret_key, entry.kem_ciphertext)
        content_key = _sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
            entry.wrapped_key, key_id + entry.kem_ciphertext, entry.wrap_nonce, _kek(bytes(shared))
        )
        return _sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(sealed.ciphertext, aad, sealed.nonce, content_key)
    except (nacl.exceptions.CryptoError, ValueError, TypeError):
        raise DecryptionError("sealed payload does not open: wrong key or tampered data") from None
