"""Signature schemes: Ed25519, ML-DSA-87 and HYBRID (both, and both must verify).

Keys come only from the OS CSPRNG (libsodium's `randombytes`; OpenSSL's for ML-DSA-87 seeds).

ML-DSA-87 secret keys come in two forms, told apart by length: the 32-byte FIPS 204 seed (ξ) of
every key generated now, signed through OpenSSL (`cryptography`'s ML-DSA, ~2 ms a signature), and
the 4,896-byte expanded key of keys generated before (pqcrypto's PQClean code, ~10-30 ms a
signature; kept so existing key files still sign). Both give FIPS 204 signatures that either library
verifies; verification stays on pqcrypto, which is the faster of the two there. A leader signs every
block with its hybrid key, so the signing speed is on the commit path of every block
(docs/performance.md).
Every signed message is prefixed with a domain tag by the caller (see `aurigraph.ledger`), so a
transaction signature can never be replayed as a block signature.

`verify_batch` is the validator's hot path: a tight loop over (scheme, public key, message,
signature) tuples that returns one bool per item and never raises for bad input.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import nacl.bindings as _sodium
import nacl.exceptions
import pqcrypto
import pqcrypto.sign.ml_dsa_87 as _mldsa
from cryptography.hazmat.primitives.asymmetric import mldsa as _openssl_mldsa

from aurigraph.crypto.digest import Tag, digest
from aurigraph.crypto.errors import InvalidKeyError, UnknownSchemeError

ADDRESS_SIZE = 32


class Scheme(enum.IntEnum):
    """Numbers match `aurigraph.v1.SignatureScheme`."""

    ED25519 = 1
    ML_DSA_87 = 2
    HYBRID = 3

    @classmethod
    def parse(cls, value: int | str) -> Scheme:
        """Accept the enum number or a name such as 'ed25519', 'ml-dsa-87', 'hybrid'."""
        try:
            if isinstance(value, str):
                return cls[value.strip().upper().replace("-", "_")]
            return cls(value)
        except (KeyError, ValueError):
            names = ", ".join(s.name.lower().replace("_", "-") for s in cls)
            raise UnknownSchemeError(f"unknown signature scheme {value!r} (expected one of: {names})") from None

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", "-")


ED25519_PUBLIC_KEY_SIZE = _sodium.crypto_sign_PUBLICKEYBYTES  # 32
ED25519_SECRET_KEY_SIZE = _sodium.crypto_sign_SECRETKEYBYTES  # 64: seed || public key
ED25519_SIGNATURE_SIZE = _sodium.crypto_sign_BYTES  # 64

PUBLIC_KEY_SIZE = {
    Scheme.ED25519: ED25519_PUBLIC_KEY_SIZE,
    Scheme.ML_DSA_87: _mldsa.PUBLIC_KEY_SIZE,
    Scheme.HYBRID: ED25519_PUBLIC_KEY_SIZE + _mldsa.PUBLIC_KEY_SIZE,
}
MLDSA_SEED_SIZE = 32  # FIPS 204's ξ: the secret key of every ML-DSA-87 key generated now
MLDSA_EXPANDED_KEY_SIZE = _mldsa.SECRET_KEY_SIZE  # 4896: keys generated before (still accepted)
SECRET_KEY_SIZE = {  # of keys generated now
    Scheme.ED25519: ED25519_SECRET_KEY_SIZE,
    Scheme.ML_DSA_87: MLDSA_SEED_SIZE,
    Scheme.HYBRID: ED25519_SECRET_KEY_SIZE + MLDSA_SEED_SIZE,
}
_ACCEPTED_SECRET_KEY_SIZES = {
    Scheme.ED25519: (ED25519_SECRET_KEY_SIZE,),
    Scheme.ML_DSA_87: (MLDSA_SEED_SIZE, MLDSA_EXPANDED_KEY_SIZE),
    Scheme.HYBRID: (ED25519_SECRET_KEY_SIZE + MLDSA_SEED_SIZE, ED25519_SECRET_KEY_SIZE + MLDSA_EXPANDED_KEY_SIZE),
}
SIGNATURE_SIZE = {
    Scheme.ED25519: ED25519_SIGNATURE_SIZE,
    Scheme.ML_DSA_87: _mldsa.SIGNATURE_SIZE,
    Scheme.HYBRID: ED25519_SIGNATURE_SIZE + _mldsa.SIGNATURE_SIZE,
}


@dataclass(frozen=True)
class KeyPair:
    """A signing key pair. The secret key is kept out of `repr` so it never lands in logs."""

    scheme: Scheme
    public_key: bytes
    secret_key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        check_public_key(self.scheme, self.public_key)
        sizes = _ACCEPTED_SECRET_KEY_SIZES[self.scheme]
        if len(self.secret_key) not in sizes:
            raise InvalidKeyError(
                f"{self.scheme.label} secret key must be {' or '.join(map(str, sizes))} bytes, "
                f"got {len(self.secret_key)}"
            )

    @property
    def address(self) -> bytes:
        return derive_address(self.scheme, self.public_key)

    def sign(self, message: bytes) -> bytes:
        return sign(self, message)


class Signer(Protocol):
    """Anything that signs for one public key: a `KeyPair` in memory, or a key held by an HSM
    (`aurigraph.keystore`). Signatures are in the scheme's wire format (HYBRID: Ed25519 || ML-DSA-87)."""

    @property
    def scheme(self) -> Scheme: ...

    @property
    def public_key(self) -> bytes: ...

    @property
    def address(self) -> bytes: ...

    def sign(self, message: bytes) -> bytes: ...


def generate_keypair(scheme: Scheme | int | str = Scheme.ED25519) -> KeyPair:
    scheme = Scheme.parse(scheme)
    if scheme is Scheme.ED25519:
        pk, sk = _sodium.crypto_sign_keypair()
    elif scheme is Scheme.ML_DSA_87:
        pk, sk = _mldsa_keygen()
    else:
        ed_pk, ed_sk = _sodium.crypto_sign_keypair()
        ml_pk, ml_sk = _mldsa_keygen()
        pk, sk = ed_pk + ml_pk, ed_sk + ml_sk
    return KeyPair(scheme, bytes(pk), bytes(sk))


def _mldsa_keygen() -> tuple[bytes, bytes]:
    """(public key, 32-byte seed) of a new ML-DSA-87 key."""
    key = _openssl_mldsa.MLDSA87PrivateKey.generate()
    return key.public_key().public_bytes_raw(), key.private_bytes_raw()


def sign(keypair: KeyPair, message: bytes) -> bytes:
    """Sign `message`; HYBRID returns the Ed25519 signature followed by the ML-DSA-87 one."""
    sk = keypair.secret_key
    if keypair.scheme is Scheme.ED25519:
        return _ed25519_sign(sk, message)
    if keypair.scheme is Scheme.ML_DSA_87:
        return _mldsa_sign(sk, message)
    ed_sk, ml_sk = sk[:ED25519_SECRET_KEY_SIZE], sk[ED25519_SECRET_KEY_SIZE:]
    return _ed25519_sign(ed_sk, message) + _mldsa_sign(ml_sk, message)


def _mldsa_sign(sk: bytes, message: bytes) -> bytes:
    if len(sk) == MLDSA_SEED_SIZE:
        return _openssl_mldsa_key(sk).sign(message)
    return bytes(_mldsa.sign(sk, message))


@functools.lru_cache(maxsize=16)
def _openssl_mldsa_key(seed: bytes) -> _openssl_mldsa.MLDSA87PrivateKey:
    """The expanded key of a seed (about 1 ms to derive): a node signs every block with the same one."""
    return _openssl_mldsa.MLDSA87PrivateKey.from_seed_bytes(seed)


def _ed25519_sign(sk: bytes, message: bytes) -> bytes:
    return _sodium.crypto_sign(message, sk)[:ED25519_SIGNATURE_SIZE]


def check_public_key(scheme: Scheme, public_key: bytes) -> None:
    """Raise `InvalidKeyError` unless `public_key` has the right length for `scheme`."""
    if len(public_key) != PUBLIC_KEY_SIZE[scheme]:
        raise InvalidKeyError(
            f"{scheme.label} public key must be {PUBLIC_KEY_SIZE[scheme]} bytes, got {len(public_key)}"
        )


def check_signature(scheme: Scheme, signature: bytes) -> None:
    """Raise `InvalidKeyError` unless `signature` has the right length for `scheme`."""
    if len(signature) != SIGNATURE_SIZE[scheme]:
        raise InvalidKeyError(
            f"{scheme.label} signature must be {SIGNATURE_SIZE[scheme]} bytes, got {len(signature)}"
        )


def derive_address(scheme: Scheme, public_key: bytes) -> bytes:
    """The 32-byte account address of a public key: BLAKE3-512(tag, scheme, key)[:32]."""
    check_public_key(scheme, public_key)
    return digest(Tag.ADDRESS, bytes((scheme,)), public_key)[:ADDRESS_SIZE]


def verify(scheme: Scheme | int, public_key: bytes, message: bytes, signature: bytes) -> bool:
    """True if `signature` is valid. Raises typed errors for an unknown scheme or wrong lengths."""
    scheme = Scheme.parse(scheme)
    check_public_key(scheme, public_key)
    check_signature(scheme, signature)
    return verify_batch(((scheme, public_key, message, signature),))[0]


# What a bad item can raise inside the libraries (nacl's ValueError/TypeError subclass the builtins).
_BAD_ITEM = (nacl.exceptions.BadSignatureError, pqcrypto.InvalidSignatureError, ValueError, TypeError)


def verify_batch(items: Iterable[Sequence]) -> list[bool]:
    """Verify many `(scheme, public_key, message, signature)` items; one bool each, in order.

    Never raises on bad input: an unknown scheme, a key or signature of the wrong length, or a
    failed check all give False. Callers that need a precise reason check lengths first
    (`check_public_key`, `check_signature`).
    """
    open_ed25519 = _sodium.crypto_sign_open
    verify_mldsa = _mldsa.verify
    ed_sig = ED25519_SIGNATURE_SIZE
    ed_pk = ED25519_PUBLIC_KEY_SIZE
    results: list[bool] = []
    append = results.append
    for scheme, pk, msg, sig in items:
        # Schemes compared as ints and lengths checked inline: this loop is the validator's hot path.
        try:
            if scheme == 1 and len(sig) == ed_sig:
                open_ed25519(sig + msg, pk)
            elif scheme == 2:
                verify_mldsa(pk, msg, sig)
            elif scheme == 3 and len(sig) > ed_sig and len(pk) > ed_pk:
                open_ed25519(sig[:ed_sig] + msg, pk[:ed_pk])
                verify_mldsa(pk[ed_pk:], msg, sig[ed_sig:])
            else:
                append(False)
                continue
        except _BAD_ITEM:
            append(False)
        else:
            append(True)
    return results
