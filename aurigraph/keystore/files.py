"""Key files: a signing key pair on disk, the secret part encrypted under a passphrase.

Format (JSON, version 1): the scheme, address and public key in clear, so `aurigraph keys show`
needs no passphrase, and the secret key as an Argon2id + XSalsa20-Poly1305 blob (hex). Files are
written 0600, atomically (temporary file + rename), and never overwritten unless asked.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from aurigraph.crypto import (
    CryptoError,
    KeyPair,
    Scheme,
    address_from_text,
    address_to_text,
    decrypt_with_passphrase,
    derive_address,
    encrypt_with_passphrase,
    verify,
)
from aurigraph.crypto.kem import KemKeyPair, kem_key_id
from aurigraph.crypto.passphrase import DEFAULT_MEMLIMIT, DEFAULT_OPSLIMIT

FORMAT_VERSION = 1
KEM_ALGORITHM = "ml-kem-1024"


class KeyFileError(ValueError):
    """The key file is missing, unreadable, of an unknown format or does not match its contents."""


def save_keypair(
    path: Path, keypair: KeyPair, passphrase: str, *, overwrite: bool = False,
    opslimit: int = DEFAULT_OPSLIMIT, memlimit: int = DEFAULT_MEMLIMIT,
) -> None:
    document = {
        "version": FORMAT_VERSION,
        "scheme": keypair.scheme.label,
        "address": address_to_text(keypair.address),
        "public_key": keypair.public_key.hex(),
        "secret_key": encrypt_with_passphrase(keypair.secret_key, passphrase, opslimit=opslimit, memlimit=memlimit).hex(),
        "kdf": "argon2id",
        "cipher": "xsalsa20-poly1305",
    }
    _write_document(Path(path), document, overwrite)


def _write_document(path: Path, document: dict, overwrite: bool) -> None:
    if path.exists() and not overwrite:
        raise KeyFileError(f"{path} already exists; refusing to overwrite a key")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            os.fchmod(f.fileno(), 0o600)
            json.dump(document, f, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_kem_keypair(path: Path, keypair: KemKeyPair, passphrase: str, *, overwrite: bool = False) -> None:
    """An ML-KEM-1024 key pair (a recipient key for sealed payloads), in the same file format."""
    document = {
        "version": FORMAT_VERSION,
        "scheme": KEM_ALGORITHM,
        "public_key": keypair.public_key.hex(),
        "secret_key": encrypt_with_passphrase(keypair.secret_key, passphrase).hex(),
        "kdf": "argon2id",
        "cipher": "xsalsa20-poly1305",
    }
    _write_document(Path(path), document, overwrite)


def load_kem_public(path: Path) -> bytes:
    """The ML-KEM-1024 public key of a KEM key file (no passphrase needed)."""
    document = _read(path)
    try:
        if document["scheme"] != KEM_ALGORITHM:
            raise ValueError(f"not an {KEM_ALGORITHM} key file")
        public_key = bytes.fromhex(document["public_key"])
        kem_key_id(public_key)  # checks the length
    except (KeyError, TypeError, ValueError, CryptoError) as e:
        raise KeyFileError(f"{path}: {e}") from None
    return public_key


def _read(path: Path) -> dict:
    try:
        document = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise KeyFileError(f"{path}: no such key file") from None
    except (OSError, ValueError) as e:
        raise KeyFileError(f"{path}: not a readable key file ({e})") from None
    if not isinstance(document, dict) or document.get("version") != FORMAT_VERSION:
        raise KeyFileError(f"{path}: unknown key file format (expected version {FORMAT_VERSION})")
    return document


def _public_part(path: Path, document: dict) -> tuple[Scheme, bytes, bytes]:
    try:
        scheme = Scheme.parse(document["scheme"])
        public_key = bytes.fromhex(document["public_key"])
        address = address_from_text(document["address"])
        derived = derive_address(scheme, public_key)
    except (KeyError, TypeError, ValueError) as e:
        raise KeyFileError(f"{path}: {e}") from None
    if derived != address:
        raise KeyFileError(f"{path}: address does not match the public key")
    return scheme, public_key, address


def load_public(path: Path) -> tuple[Scheme, bytes, bytes]:
    """(scheme, public key, address) without the passphrase; checks the address matches the key."""
    return _public_part(path, _read(path))


def load_keypair(path: Path, passphrase: str) -> KeyPair:
    """Decrypt the key file; `DecryptionError` on a wrong passphrase, `KeyFileError` on a bad file."""
    document = _read(path)
    scheme, public_key, _ = _public_part(path, document)
    try:
        blob = bytes.fromhex(document["secret_key"])
    except (KeyError, TypeError, ValueError) as e:
        raise KeyFileError(f"{path}: secret key is not hex ({e})") from None
    secret_key = decrypt_with_passphrase(blob, passphrase)
    try:
        keypair = KeyPair(scheme, public_key, secret_key)
    except CryptoError as e:
        raise KeyFileError(f"{path}: {e}") from None
    probe = b"AG1/keyfile-probe\x00"
    if not verify(scheme, public_key, probe, keypair.sign(probe)):
        raise KeyFileError(f"{path}: secret key does not belong to the public key")
    return keypair
