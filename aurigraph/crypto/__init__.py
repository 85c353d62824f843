"""Quantum-safe crypto for Aurigraph: signatures, digests, sealed payloads, keys at rest.

Pure: no I/O beyond the OS CSPRNG. Public API:
- `Scheme`, `KeyPair`, `generate_keypair`, `sign`, `verify`, `verify_batch`, `derive_address`
- `digest(Tag, ...)` (BLAKE3-512), `address_to_text` / `address_from_text`
- `seal` / `open_sealed` with `generate_kem_keypair` (ML-KEM-1024 + XChaCha20-Poly1305)
- `encrypt_with_passphrase` / `decrypt_with_passphrase` (Argon2id)
"""

from aurigraph.crypto.address import address_from_text, address_to_text
from aurigraph.crypto.digest import DIGEST_SIZE, ZERO_DIGEST, Tag, digest
from aurigraph.crypto.errors import CryptoError, DecryptionError, InvalidKeyError, UnknownSchemeError
from aurigraph.crypto.kem import KemKeyPair, Sealed, SealedRecipient, generate_kem_keypair, open_sealed, seal
from aurigraph.crypto.passphrase import decrypt_with_passphrase, encrypt_with_passphrase
from aurigraph.crypto.signing import (
    ADDRESS_SIZE,
    PUBLIC_KEY_SIZE,
    SECRET_KEY_SIZE,
    SIGNATURE_SIZE,
    KeyPair,
    Scheme,
    Signer,
    check_public_key,
    check_signature,
    derive_address,
    generate_keypair,
    sign,
    verify,
    verify_batch,
)

__all__ = [
    "ADDRESS_SIZE", "DIGEST_SIZE", "PUBLIC_KEY_SIZE", "SECRET_KEY_SIZE", "SIGNATURE_SIZE", "ZERO_DIGEST",
    "CryptoError", "DecryptionError", "InvalidKeyError", "KemKeyPair", "KeyPair", "Scheme", "Sealed",
    "SealedRecipient", "Signer", "Tag", "UnknownSchemeError", "address_from_text", "address_to_text",
    "check_public_key", "check_signature", "decrypt_with_passphrase", "derive_address", "digest",
    "encrypt_with_passphrase", "generate_kem_keypair", "generate_keypair", "open_sealed", "seal", "sign",
    "verify", "verify_batch",
]
