"""`aurigraph.v1.VerifyRequest` / `VerifyResponse` and the node's ML-KEM public key record."""

from __future__ import annotations

from google.protobuf.message import DecodeError

from aurigraph.crypto import verify_batch
from aurigraph.crypto.kem import kem_key_id
from aurigraph.v1 import crypto_pb2

MAX_VERIFY_CHECKS = 10_000


class InvalidVerifyRequest(ValueError):
    """The request does not parse or holds more than `MAX_VERIFY_CHECKS` checks."""


def verify_request(data: bytes) -> bytes:
    """Verify every check of a `VerifyRequest` (raw message bytes, exactly as given); returns
    `VerifyResponse` bytes with one bool per check, in order. Bad keys or schemes are just False."""
    try:
        request = crypto_pb2.VerifyRequest.FromString(data)
    except DecodeError as e:
        raise InvalidVerifyRequest(f"VerifyRequest is not valid protobuf: {e}") from None
    if len(request.checks) > MAX_VERIFY_CHECKS:
        raise InvalidVerifyRequest(f"{len(request.checks)} checks, at most {MAX_VERIFY_CHECKS} per request")
    items = [(c.signature.scheme, c.signature.public_key, c.message, c.signature.signature) for c in request.checks]
    return crypto_pb2.VerifyResponse(valid=verify_batch(items)).SerializeToString()


def kem_public_key(public_key: bytes) -> crypto_pb2.KemPublicKey:
    return crypto_pb2.KemPublicKey(algorithm="ML-KEM-1024", public_key=public_key, key_id=kem_key_id(public_key))
