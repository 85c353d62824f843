"""Text form of 32-byte addresses: "ag" + hex(address || 4-byte checksum).

The checksum (BLAKE3-512 of the address, first 4 bytes) catches typos before a transfer goes to
an account nobody holds.
"""

from __future__ import annotations

from aurigraph.crypto.digest import Tag, digest
from aurigraph.crypto.errors import InvalidKeyError
from aurigraph.crypto.signing import ADDRESS_SIZE

PREFIX = "ag"
_CHECKSUM_SIZE = 4
TEXT_LENGTH = len(PREFIX) + 2 * (ADDRESS_SIZE + _CHECKSUM_SIZE)


def _checksum(address: bytes) -> bytes:
    return digest(Tag.ADDRESS_CHECKSUM, address)[:_CHECKSUM_SIZE]


def address_to_text(address: bytes) -> str:
    if len(address) != ADDRESS_SIZE:
        raise InvalidKeyError(f"address must be {ADDRESS_SIZE} bytes, got {len(address)}")
    return PREFIX + (address + _checksum(address)).hex()


def address_from_text(text: str) -> bytes:
    """Parse a text address; raises `InvalidKeyError` naming what is wrong."""
    text = text.strip()
    if not text.startswith(PREFIX):
        raise InvalidKeyError(f"address must start with {PREFIX!r}: {text[:16]!r}")
    if len(text) != TEXT_LENGTH:
        raise InvalidKeyError(f"address must be {TEXT_LENGTH} characters, got {len(text)}")
    try:
        raw = bytes.fromhex(text[len(PREFIX):])
    except ValueError:
        raise InvalidKeyError("address is not hexadecimal after the 'ag' prefix") from None
    address, checksum = raw[:ADDRESS_SIZE], raw[ADDRESS_SIZE:]
    if _checksum(address) != checksum:
        raise InvalidKeyError("address checksum mismatch (typo?)")
    return address
