"""ML-KEM-1024 recipient keys on disk and on the command line: the key pair that opens sealed data.

The file format is the key store's (`aurigraph.keystore.save_kem_keypair`: JSON version 1, scheme
"ml-kem-1024", the public key in clear, the secret key Argon2id-encrypted). This module adds the
reading side that needs the passphrase, and the parsing of a recipient given as a key file, a file
holding the public key in hex, or the hex itself.
"""

from __future__ import annotations

import json
from pathlib import Path

import pqcrypto.kem.ml_kem_1024 as mlkem

from aurigraph.crypto import CryptoError, decrypt_with_passphrase
from aurigraph.crypto.kem import KEM_PUBLIC_KEY_SIZE, KemKeyPair, kem_key_id
from aurigraph.keystore import KeyFileError, load_kem_public

KEM_ALGORITHM = "ml-kem-1024"  # the key file's "scheme" (as `aurigraph.keystore` writes it)


def is_kem_key_file(path: Path) -> bool:
    """True when `path` is a readable key file of the ML-KEM-1024 kind (no passphrase needed)."""
    try:
        document = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(document, dict) and document.get("scheme") == KEM_ALGORITHM


def load_kem_keypair(path: Path, passphrase: str) -> KemKeyPair:
    """Decrypt an ML-KEM-1024 key file: `DecryptionError` on a wrong passphrase, `KeyFileError` on
    a bad file (including a secret key that does not belong to the public key)."""
    public_key = load_kem_public(path)  # checks the format, the kind and the public key's length
    try:
        blob = bytes.fromhex(json.loads(Path(path).read_text())["secret_key"])
    except (OSError, KeyError, TypeError, ValueError) as e:
        raise KeyFileError(f"{path}: secret key is not readable hex ({e})") from None
    keypair = KemKeyPair(public_key, decrypt_with_passphrase(blob, passphrase))
    if not _belongs(keypair):
        raise KeyFileError(f"{path}: secret key does not belong to the public key")
    return keypair


def _belongs(keypair: KemKeyPair) -> bool:
    try:
        ciphertext, shared = mlkem.encaps(keypair.public_key)
        return bytes(mlkem.decaps(keypair.secret_key, ciphertext)) == bytes(shared)
    except (ValueError, TypeError, RuntimeError):
        return False


def parse_kem_recipient(text: str) -> bytes:
    """A recipient's ML-KEM-1024 public key from a KEM key file, a file holding its hex, or hex.

    `KeyFileError` with a one-line reason when it is none of these."""
    candidate = text.strip()
    path = Path(candidate)
    if len(candidate) < 1024 and path.is_file():
        if is_kem_key_file(path):
            return load_kem_public(path)
        try:
            candidate = path.read_text().strip()
        except (OSError, UnicodeDecodeError) as e:
            raise KeyFileError(f"{path}: not an ML-KEM-1024 key file or hex public key ({e})") from None
    try:
        public_key = bytes.fromhex(candidate)
        kem_key_id(public_key)  # checks the length
    except (ValueError, CryptoError):
        raise KeyFileError(
            f"{text[:60]!r}: not an ML-KEM-1024 key file, nor a {KEM_PUBLIC_KEY_SIZE}-byte public key in hex"
        ) from None
    return public_key
