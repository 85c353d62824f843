"""Stateless validation: each check gives its own precise reason; signatures verified in one batch."""

from __future__ import annotations

from dataclasses import replace

import pytest

from aurigraph.codec import sign_transaction
from aurigraph.crypto import Scheme, generate_keypair, sign
from aurigraph.ledger import (
    ChainParams,
    DataWrite,
    Rejection,
    StatelessValidator,
    Transfer,
    TxBody,
    TxRejected,
    signing_message,
)
from tests.conftest import CHAIN_ID, NOW_MS


@pytest.fixture
def validator():
    return StatelessValidator(CHAIN_ID, ChainParams(min_fee=2, max_clock_skew_ms=1000, max_tx_age_ms=60_000), lambda: NOW_MS)


def make(kp, **overrides):
    fields = dict(chain_id=CHAIN_ID, sender=kp.address, nonce=0, fee=2, timestamp_ms=NOW_MS, kind=Transfer(b"\x01" * 32, 1))
    fields.update(overrides)
    return sign_transaction(TxBody(**fields), kp)


def reason_of(validator, tx):
    verdict = validator.validate_batch([tx])[0]
    return None if verdict is None else verdict.reason


@pytest.mark.parametrize("scheme", list(Scheme))
def test_valid_transactions_pass_for_every_scheme(validator, keypairs, scheme):
    assert validator.validate_batch([make(keypairs[scheme]), make(keypairs[scheme], kind=DataWrite("k", b"v"))]) == [None, None]


def test_each_stateless_reason(validator, keypairs):
    kp = keypairs[Scheme.ED25519]
    good = make(kp)
    other = generate_keypair()
    assert reason_of(validator, make(kp, chain_id="other-chain")) is Rejection.WRONG_CHAIN
    assert reason_of(validator, make(kp, fee=1)) is Rejection.FEE_TOO_LOW
    assert reason_of(validator, make(kp, timestamp_ms=NOW_MS + 1001)) is Rejection.BAD_TIMESTAMP
    assert reason_of(validator, make(kp, timestamp_ms=NOW_MS - 60_001)) is Rejection.BAD_TIMESTAMP
    assert reason_of(validator, replace(good, public_key=other.public_key)) is Rejection.SENDER_MISMATCH
    assert reason_of(validator, replace(good, signature=good.signature[:-1])) is Rejection.MALFORMED
    assert reason_of(validator, replace(good, public_key=good.public_key + b"\x00")) is Rejection.MALFORMED
    forged = replace(good, signature=sign(other, signing_message(good.body_bytes)))
    assert reason_of(validator, forged) is Rejection.BAD_SIGNATURE
    tampered_body = make(kp, nonce=1).body_bytes
    assert reason_of(validator, replace(good, body_bytes=tampered_body)) is Rejection.BAD_SIGNATURE


def test_signature_over_other_domain_is_refused(validator, keypairs):
    kp = keypairs[Scheme.ED25519]
    good = make(kp)
    raw = replace(good, signature=sign(kp, good.body_bytes))  # signed without the domain tag
    assert reason_of(validator, raw) is Rejection.BAD_SIGNATURE


def test_batch_keeps_order_and_isolates_failures(validator, keypairs):
    kp = keypairs[Scheme.ED25519]
    txs = [make(kp, nonce=i) for i in range(50)]
    txs[7] = make(kp, chain_id="x")
    txs[30] = replace(txs[30], signature=bytes(64))
    verdicts = validator.validate_batch(txs)
    assert [i for i, v in enumerate(verdicts) if v] == [7, 30]
    assert verdicts[7].reason is Rejection.WRONG_CHAIN and verdicts[30].reason is Rejection.BAD_SIGNATURE


def test_validate_raises_the_verdict(validator, keypairs):
    with pytest.raises(TxRejected, match="wrong_chain"):
        validator.validate(make(keypairs[Scheme.ED25519], chain_id="x"))


def test_only_the_senders_own_refusals_are_authenticated(validator):
    """A refusal is `authenticated` only when the sender's key signed the transaction: anyone can
    resubmit a body with a bad signature, and that must not be taken for the sender's own refusal."""
    owner, thief = generate_keypair(), generate_keypair()
    wrong_chain = make(owner, chain_id="another-chain")  # signed by the sender: its own mistake
    real = make(owner, fee=1)  # below the minimum fee, signed by the sender
    forged = replace(real, signature=sign(thief, signing_message(real.body_bytes)))  # same body, same id
    stolen = replace(real, public_key=thief.public_key, signature=sign(thief, signing_message(real.body_bytes)))
    verdicts = validator.validate_batch([wrong_chain, real, forged, stolen])
    assert [(v.reason, v.authenticated) for v in verdicts] == [
        (Rejection.WRONG_CHAIN, True),
        (Rejection.FEE_TOO_LOW, True),
        (Rejection.FEE_TOO_LOW, False),  # the precheck fails first; the signature is not the sender's
        (Rejection.SENDER_MISMATCH, False),
    ]
    bad_signature = validator.validate_batch([replace(make(owner), signature=bytes(64))])[0]
    assert (bad_signature.reason, bad_signature.authenticated) == (Rejection.BAD_SIGNATURE, False)
