"""Encrypt secrets at rest under a passphrase: Argon2id (libsodium) + XSalsa20-Poly1305.

Blob layout (all fixed-size fields, so it is easy to parse safely):
    magic "AGK1" | opslimit u32 | memlimit u64 | salt 16 B | nonce 24 B | ciphertext + 16 B tag
The cost parameters travel with the blob, so they can be raised later without breaking old files.
"""

from __future__ import annotations

import struct

import nacl.exceptions
import nacl.pwhash.argon2id as argon2id
import nacl.secret
import nacl.utils

from aurigraph.crypto.errors import DecryptionError

_MAGIC = b"AGK1"
_HEADER = struct.Struct(">4sIQ16s24s")
# libsodium's "moderate" profile: ~0.5 s and 256 MiB per derivation here; a key file is opened rarely.
DEFAULT_OPSLIMIT = argon2id.OPSLIMIT_MODERATE
DEFAULT_MEMLIMIT = argon2id.MEMLIMIT_MODERATE
# Bounds accepted when reading, so a crafted file cannot ask for absurd memory or time.
_MAX_OPSLIMIT = 64
_MAX_MEMLIMIT = 4 * 1024**3


def _derive(passphrase: str, salt: bytes, opslimit: int, memlimit: int) -> bytes:
    if not passphrase:
        raise DecryptionError("passphrase must not be empty")
    return argon2id.kdf(nacl.secret.SecretBox.KEY_SIZE, passphrase.encode(), salt, opslimit, memlimit)


def encrypt_with_passphrase(
    plaintext: bytes, passphrase: str, *, opslimit: int = DEFAULT_OPSLIMIT, memlimit: int = DEFAULT_MEMLIMIT
) -> bytes:
    salt = nacl.utils.random(argon2id.SALTBYTES)
    nonce = nacl.utils.random(nacl.secret.SecretBox.NONCE_SIZE)
    key = _derive(passphrase, salt, opslimit, memlimit)
    header = _HEADER.pack(_MAGIC, opslimit, memlimit, salt, nonce)
    return header + nacl.secret.SecretBox(key).encrypt(plaintext, nonce).ciphertext


def decrypt_with_passphrase(blob: bytes, passphrase: str) -> bytes:
    """Raises `DecryptionError` for a wrong passphrase, a tampered blob or an unknown format."""
    if len(blob) < _HEADER.size + nacl.secret.SecretBox.MACBYTES:
        raise DecryptionError("encrypted key is truncated")
    magic, opslimit, memlimit, salt, nonce = _HEADER.unpack_from(blob)
    if magic != _MAGIC:
        raise DecryptionError("not an Aurigraph encrypted key (bad magic)")
    if not (argon2id.OPSLIMIT_MIN <= opslimit <= _MAX_OPSLIMIT and argon2id.MEMLIMIT_MIN <= memlimit <= _MAX_MEMLIMIT):
        raise DecryptionError("encrypted key has out-of-range KDF parameters")
    key = _derive(passphrase, salt, opslimit, memlimit)
    try:
        return nacl.secret.SecretBox(key).decrypt(blob[_HEADER.size:], nonce)
    except nacl.exceptions.CryptoError:
        raise DecryptionError("wrong passphrase or corrupted key file") from None
