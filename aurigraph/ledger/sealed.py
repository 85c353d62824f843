"""Confidential data writes: a `DataWrite` whose value is sealed to ML-KEM-1024 recipients.

The ledger orders and stores a sealed value without reading it (state commits to the ciphertext's
digest, the archive keeps the whole transaction). Only a recipient's KEM key opens it. The payload's
associated data binds it to where it was written, so a sealed value copied into another chain,
another sender's transaction or another data key no longer opens:

    aad = b"AG1/sealed-data\\x00" || u16 len(chain_id) || chain_id || sender (32 bytes)
          || u16 len(key) || key                               (lengths big-endian, strings UTF-8)

Usage (the SDK's `write_sealed` / `open_data` do exactly this):

    write = seal_data_write(chain_id, sender, "payroll/2026-11", b"...", [alice_kem_pk, bob_kem_pk])
    ... sign TxBody(chain_id, sender, ..., write), submit, wait ...
    plaintext = open_data_write(committed_body, alice_kem_keypair)

Sealing checks the recipient count and the value size before any encryption, with the same
limits `DataWrite` enforces, so a value that seals is a value the ledger accepts.
"""

from __future__ import annotations

import struct

from aurigraph.crypto import ADDRESS_SIZE, KemKeyPair, Sealed, open_sealed, seal
from aurigraph.crypto.kem import TAG_SIZE
from aurigraph.ledger.errors import Rejection, TxRejected
from aurigraph.ledger.transaction import (
    MAX_CHAIN_ID_BYTES,
    MAX_DATA_KEY_BYTES,
    MAX_DATA_VALUE_BYTES,
    MAX_SEALED_RECIPIENTS,
    DataWrite,
    TxBody,
)

SEALED_DATA_DOMAIN = b"AG1/sealed-data\x00"
# The AEAD tag makes the stored ciphertext 16 bytes longer than the plaintext.
MAX_SEALED_PLAINTEXT_BYTES = MAX_DATA_VALUE_BYTES - TAG_SIZE


class NotSealedError(ValueError):
    """The transaction is not a data write, or its value is plain bytes (nothing to open)."""


def sealed_value_aad(chain_id: str, sender: bytes, key: str) -> bytes:
    """The associated data of a sealed data value written by `sender` under `key` on `chain_id`.

    Length-prefixed, so no two distinct (chain_id, sender, key) triples give the same bytes."""
    chain = chain_id.encode()
    data_key = key.encode()
    if not 0 < len(chain) <= MAX_CHAIN_ID_BYTES:
        raise TxRejected(Rejection.MALFORMED, f"chain id must be 1 to {MAX_CHAIN_ID_BYTES} bytes")
    if not isinstance(sender, bytes) or len(sender) != ADDRESS_SIZE:
        raise TxRejected(Rejection.MALFORMED, f"sender must be a {ADDRESS_SIZE}-byte address")
    if not 0 < len(data_key) <= MAX_DATA_KEY_BYTES:
        raise TxRejected(Rejection.MALFORMED, f"data key must be 1 to {MAX_DATA_KEY_BYTES} bytes")
    return b"".join([
        SEALED_DATA_DOMAIN, struct.pack(">H", len(chain)), chain, sender, struct.pack(">H", len(data_key)), data_key,
    ])


def seal_data_value(chain_id: str, sender: bytes, key: str, plaintext: bytes,
                    recipient_public_keys: list[bytes]) -> Sealed:
    """Seal `plaintext` to 1..`MAX_SEALED_RECIPIENTS` ML-KEM-1024 public keys, bound to where it goes."""
    if not isinstance(plaintext, bytes):
        raise TxRejected(Rejection.MALFORMED, "a sealed data value must be bytes")
    recipients = list(recipient_public_keys)
    if not 1 <= len(recipients) <= MAX_SEALED_RECIPIENTS:
        raise TxRejected(Rejection.MALFORMED,
                         f"sealed value needs 1 to {MAX_SEALED_RECIPIENTS} recipients, got {len(recipients)}")
    if len(set(recipients)) != len(recipients):
        raise TxRejected(Rejection.MALFORMED, "the same recipient key is given twice")
    if len(plaintext) > MAX_SEALED_PLAINTEXT_BYTES:
        raise TxRejected(Rejection.OVERSIZE,
                         f"sealed data value is {len(plaintext)} bytes, limit {MAX_SEALED_PLAINTEXT_BYTES}")
    return seal(plaintext, recipients, aad=sealed_value_aad(chain_id, sender, key))


def seal_data_write(chain_id: str, sender: bytes, key: str, plaintext: bytes,
                    recipient_public_keys: list[bytes]) -> DataWrite:
    """A `DataWrite` of `plaintext` sealed to the recipients (see `seal_data_value`)."""
    return DataWrite(key, seal_data_value(chain_id, sender, key, plaintext, recipient_public_keys))


def sealed_recipient_ids(body: TxBody) -> list[bytes]:
    """The 16-byte key ids of a sealed write's recipients (public metadata); `NotSealedError` otherwise."""
    return [r.key_id for r in _sealed_of(body).recipients]


def open_data_write(body: TxBody, keypair: KemKeyPair) -> bytes:
    """The plaintext of a sealed data write, for one of its recipients.

    Raises `NotSealedError` (not a data write, or a plain value) and `aurigraph.crypto.DecryptionError`
    (this key is not a recipient, or the payload was tampered with or moved to another
    chain, sender or key)."""
    sealed = _sealed_of(body)
    return open_sealed(sealed, keypair, aad=sealed_value_aad(body.chain_id, body.sender, body.kind.key))


def _sealed_of(body: TxBody) -> Sealed:
    if not isinstance(body.kind, DataWrite):
        raise NotSealedError("the transaction is not a data write")
    if not isinstance(body.kind.value, Sealed):
        raise NotSealedError(f"data key {body.kind.key!r} holds a plain (not sealed) value")
    return body.kind.value
