"""Typed errors raised by `aurigraph.crypto`. Callers map them to rejection reasons."""


class CryptoError(ValueError):
    """Base class: a key, signature or ciphertext is unusable."""


class UnknownSchemeError(CryptoError):
    """The signature scheme number is not one we support."""


class InvalidKeyError(CryptoError):
    """A key or signature has the wrong length or encoding for its scheme."""


class DecryptionError(CryptoError):
    """Authenticated decryption failed: wrong key or passphrase, or tampered data."""
