"""Forged and misattributed signatures, through the validator stage a node runs (`check_batch`):
every one is refused with its precise reason, and the honest transaction next to it still passes.

The reasons, in the order the stage decides them: MALFORMED (a key or signature of the wrong
length for its scheme), SENDER_MISMATCH (the key does not derive the sender's address — checked
before any signature work), BAD_SIGNATURE (the signature does not verify over the domain-tagged
body bytes).
"""

from __future__ import annotations

import hashlib
import os

import nacl.bindings as sodium
import pytest

from aurigraph.codec import encode_body
from aurigraph.crypto import (
    PUBLIC_KEY_SIZE,
    SIGNATURE_SIZE,
    KeyPair,
    Scheme,
    derive_address,
    generate_keypair,
    sign,
)
from aurigraph.ledger import Rejection, Transfer, TxBody, signing_message
from aurigraph.v1 import transaction_pb2
from tests.adversarial.conftest import CHAIN_ID, NOW_MS, envelope, transfer

ED_SIG = SIGNATURE_SIZE[Scheme.ED25519]
ED_PK = PUBLIC_KEY_SIZE[Scheme.ED25519]
ED_SK = 64
L = 2**252 + 27742317777372353535851937790883648493  # the order of Ed25519's base point


def test_random_bytes_as_the_signature_are_refused_for_every_scheme(ledger, keypairs):
    for scheme, key in keypairs.items():
        honest = transfer(key, 0)
        forged = envelope(honest, signature=os.urandom(SIGNATURE_SIZE[scheme]))
        assert ledger.reason(forged) is Rejection.BAD_SIGNATURE, scheme
        assert ledger.reason(envelope(honest, signature=os.urandom(SIGNATURE_SIZE[scheme] - 1))) is Rejection.MALFORMED
        assert ledger.reason(envelope(honest, signature=b"")) is Rejection.MALFORMED
        assert ledger.reason(envelope(honest)) is None, "the honest one passes"


@pytest.mark.parametrize("scheme", list(Scheme), ids=lambda s: s.label)
def test_a_valid_signature_by_another_key_does_not_spend_the_victims_account(ledger, keypairs, scheme):
    victim, thief = keypairs[scheme], generate_keypair(scheme)
    # The thief signs a transfer out of the victim's account with its own key:
    stolen = transfer(thief, 0, sender=victim.address)
    assert ledger.reason(envelope(stolen)) is Rejection.SENDER_MISMATCH, "its own key derives another address"
    # ... and presents the victim's public key instead: the signature does not verify under it.
    assert ledger.reason(envelope(stolen, public_key=victim.public_key)) is Rejection.BAD_SIGNATURE
    # A signature the victim really made, over another body, moved onto the thief's body:
    genuine = transfer(victim, 0, amount=1)
    assert ledger.reason(envelope(stolen, public_key=victim.public_key, signature=genuine.signature)) is (
        Rejection.BAD_SIGNATURE)


def test_no_other_key_or_scheme_derives_the_same_address(keypairs):
    """An address is BLAKE3-512(tag, scheme byte, whole public key)[:32]: the same key under another
    scheme, one half of a hybrid key, or a hybrid key with one half swapped for the attacker's all
    derive other addresses — the precondition for the SENDER_MISMATCH answers above."""
    ed, ml, hybrid = keypairs[Scheme.ED25519], keypairs[Scheme.ML_DSA_87], keypairs[Scheme.HYBRID]
    attacker = generate_keypair(Scheme.HYBRID)
    candidates = {
        "hybrid": derive_address(Scheme.HYBRID, hybrid.public_key),
        "its ed25519 half alone": derive_address(Scheme.ED25519, hybrid.public_key[:ED_PK]),
        "its ml-dsa half alone": derive_address(Scheme.ML_DSA_87, hybrid.public_key[ED_PK:]),
        "its ed25519 half + attacker's ml-dsa": derive_address(Scheme.HYBRID, hybrid.public_key[:ED_PK]
                                                               + attacker.public_key[ED_PK:]),
        "attacker's ed25519 + its ml-dsa half": derive_address(Scheme.HYBRID, attacker.public_key[:ED_PK]
                                                               + hybrid.public_key[ED_PK:]),
        "ed25519 account": ed.address,
        "ml-dsa account": ml.address,
        "attacker": attacker.address,
    }
    assert len(set(candidates.values())) == len(candidates), candidates
    assert len({generate_keypair().address for _ in range(200)}) == 200


def _hybrid_parts(tx):
    return tx.signature[:ED_SIG], tx.signature[ED_SIG:]


def test_hybrid_with_one_half_missing_wrong_or_moved_is_refused(ledger, keypairs):
    victim = keypairs[Scheme.HYBRID]
    honest = transfer(victim, 0)
    ed, ml = _hybrid_parts(honest)
    other_body = transfer(victim, 0, amount=11)  # the victim's real signature, over another body
    other_ed, other_ml = _hybrid_parts(other_body)
    stranger_ed, stranger_ml = _hybrid_parts(transfer(generate_keypair(Scheme.HYBRID), 0))
    cases = {
        "ed25519 half zeroed": (bytes(ED_SIG) + ml, Rejection.BAD_SIGNATURE),
        "ml-dsa half zeroed": (ed + bytes(len(ml)), Rejection.BAD_SIGNATURE),
        "ed25519 half only": (ed, Rejection.MALFORMED),
        "ml-dsa half only": (ml, Rejection.MALFORMED),
        "ed25519 half truncated": (ed[:-1] + ml, Rejection.MALFORMED),
        "ml-dsa half truncated": (ed + ml[:-1], Rejection.MALFORMED),
        "one byte appended": (ed + ml + b"\x00", Rejection.MALFORMED),
        "halves swapped": (ml + ed, Rejection.BAD_SIGNATURE),
        "ed25519 half from another key": (stranger_ed + ml, Rejection.BAD_SIGNATURE),
        "ml-dsa half from another key": (ed + stranger_ml, Rejection.BAD_SIGNATURE),
        "ed25519 half over another body": (other_ed + ml, Rejection.BAD_SIGNATURE),
        "ml-dsa half over another body": (ed + other_ml, Rejection.BAD_SIGNATURE),
    }
    for name, (signature, reason) in cases.items():
        assert ledger.reason(envelope(honest, signature=signature)) is reason, name
    assert ledger.reason(envelope(honest)) is None


def test_a_broken_ed25519_does_not_open_a_hybrid_account(ledger, keypairs):
    """An attacker who can forge Ed25519 (simulated: it holds the Ed25519 half of the victim's
    secret key) still cannot spend from a hybrid account: downgrading to an ED25519 envelope changes
    the address, and a HYBRID envelope still needs a valid ML-DSA-87 half."""
    victim = keypairs[Scheme.HYBRID]
    ed_secret, ed_public = victim.secret_key[:ED_SK], victim.public_key[:ED_PK]
    stolen = transfer(victim, 0, amount=999)
    ed_forgery = sodium.crypto_sign(signing_message(stolen.body_bytes), ed_secret)[:ED_SIG]
    downgraded = envelope(stolen, scheme=int(Scheme.ED25519), public_key=ed_public, signature=ed_forgery)
    assert ledger.reason(downgraded) is Rejection.SENDER_MISMATCH
    for ml_half in (bytes(SIGNATURE_SIZE[Scheme.ML_DSA_87]), os.urandom(SIGNATURE_SIZE[Scheme.ML_DSA_87])):
        assert ledger.reason(envelope(stolen, signature=ed_forgery + ml_half)) is Rejection.BAD_SIGNATURE
    # Likewise a broken ML-DSA alone: a valid ML-DSA half next to a bad Ed25519 one.
    ml_half = KeyPair(Scheme.ML_DSA_87, victim.public_key[ED_PK:], victim.secret_key[ED_SK:])
    ml_forgery = sign(ml_half, signing_message(stolen.body_bytes))
    assert ledger.reason(envelope(stolen, signature=bytes(ED_SIG) + ml_forgery)) is Rejection.BAD_SIGNATURE
    assert ledger.reason(envelope(stolen, scheme=int(Scheme.ML_DSA_87), public_key=victim.public_key[ED_PK:],
                                  signature=ml_forgery)) is Rejection.SENDER_MISMATCH


def test_ml_dsa_signature_on_a_different_message_is_refused(ledger, keypairs):
    key = keypairs[Scheme.ML_DSA_87]
    honest = transfer(key, 0)
    other = transfer(key, 1)
    without_domain = sign(key, honest.body_bytes)  # the right body, but not the tagged signing message
    for signature in (other.signature, without_domain, sign(key, b"")):
        assert ledger.reason(envelope(honest, signature=signature)) is Rejection.BAD_SIGNATURE
    assert ledger.reason(envelope(honest)) is None


# --- Ed25519 malleability -------------------------------------------------------------------------

def _secret_scalar(secret_key: bytes) -> int:
    h = bytearray(hashlib.sha512(secret_key[:32]).digest()[:32])
    h[0] &= 248
    h[31] &= 127
    h[31] |= 64
    return int.from_bytes(h, "little")


def _sign_with_nonce_point(secret_key: bytes, public_key: bytes, message: bytes, r_bytes: bytes, r: int) -> bytes:
    """An Ed25519 signature computed by hand with a chosen nonce point R = [r]B (encoded `r_bytes`)."""
    k = int.from_bytes(hashlib.sha512(r_bytes + public_key + message).digest(), "little") % L
    return r_bytes + ((r + k * _secret_scalar(secret_key)) % L).to_bytes(32, "little")


def test_ed25519_signatures_cannot_be_malleated(ledger, keypairs):
    """libsodium's `crypto_sign_open` (pynacl 1.6, the only Ed25519 verifier on the node) is strict,
    checked here through the validator stage:
    - S must be canonical (S < L): the classic malleation S + L, and S with high bits set, fail;
    - R and A must not be of small order (nor a non-canonical encoding of one): a signature with
      R = identity — valid by the cofactorless equation, and made here by hand with nonce 0 —
      fails, and so does the "universal" forgery (A = R = identity, S = 0) under any address;
    - R is compared byte for byte with the recomputed, canonical encoding.
    So a transaction's signature has exactly one valid encoding. (The transaction id hashes only the
    body bytes, so even a malleable signature could not change an id; block leaves do commit to the
    signature, which is why this must hold.)"""
    key = keypairs[Scheme.ED25519]
    honest = transfer(key, 0)
    message = signing_message(honest.body_bytes)
    r_bytes, s = honest.signature[:32], int.from_bytes(honest.signature[32:], "little")
    assert s + L < 2**256
    malleated = {
        "S + L": r_bytes + (s + L).to_bytes(32, "little"),
        "S + 2L": r_bytes + ((s + 2 * L) % 2**256).to_bytes(32, "little"),
        "S with the top bit set": r_bytes + (s | 1 << 255).to_bytes(32, "little"),
        "R's sign bit flipped": bytes(r_bytes[:31]) + bytes([r_bytes[31] ^ 0x80]) + honest.signature[32:],
    }
    for name, signature in malleated.items():
        assert ledger.reason(envelope(honest, signature=signature)) is Rejection.BAD_SIGNATURE, name
    # A hand-made signature with an ordinary nonce verifies (the construction is right) ...
    r = 123456789
    ordinary = _sign_with_nonce_point(key.secret_key, key.public_key, message,
                                      sodium.crypto_scalarmult_ed25519_base_noclamp(r.to_bytes(32, "little")), r)
    assert ledger.reason(envelope(honest, signature=ordinary)) is None
    # ... and with nonce 0 (R = identity, canonical and non-canonical encodings) it does not.
    for identity in ((1).to_bytes(32, "little"), (2**255 - 19 + 1).to_bytes(32, "little")):
        forged = _sign_with_nonce_point(key.secret_key, key.public_key, message, identity, 0)
        assert ledger.reason(envelope(honest, signature=forged)) is Rejection.BAD_SIGNATURE


@pytest.mark.parametrize("point", [
    "0100000000000000000000000000000000000000000000000000000000000000",  # identity
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # order 2
    "0000000000000000000000000000000000000000000000000000000000000080",  # order 4
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",  # order 8
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # identity, non-canonical (y = p + 1)
], ids=["identity", "order-2", "order-4", "order-8", "identity-non-canonical"])
def test_a_small_order_key_is_nobodys_key(ledger, point):
    """An account whose key is a small-order point would be spendable by anyone (with A = R of small
    order and S = 0 the verification equation holds for every message). Its address exists and the
    sender check passes, but libsodium refuses the key: such an account can receive, never spend."""
    weak = bytes.fromhex(point)
    body = encode_body(TxBody(CHAIN_ID, derive_address(Scheme.ED25519, weak), 0, 1, NOW_MS, Transfer(b"\x07" * 32, 1)))
    wire = transaction_pb2.SignedTransaction(body=body, scheme=int(Scheme.ED25519), public_key=weak,
                                             signature=weak + bytes(32)).SerializeToString(deterministic=True)
    assert ledger.reason(wire) is Rejection.BAD_SIGNATURE
