"""Replays across nonces and chains, through the validator stage and the leader's block building.

The validator stage cannot see nonces (it is stateless), so a replayed transaction passes it; the
leader's `build_block` is where a replay dies, and it never enters a block or changes a balance.
A chain id inside the signed body stops cross-chain replays at the validator stage, and again when
a block is applied (a leader that skipped the stateless stage still could not commit it).
"""

from __future__ import annotations

from aurigraph.crypto import Scheme, generate_keypair
from aurigraph.ledger import ReceiptStatus, Rejection, StatelessValidator, apply_transactions
from tests.adversarial.conftest import CHAIN_ID, NOW_MS, envelope, transfer


def refused(built) -> list:
    """(transaction, reason) for each candidate the leader left out of the block."""
    return [(tx, reason) for tx, reason, *_detail in built.rejected]


def _balances(ledger, *addresses):
    return [ledger.state.account(a) for a in addresses]


def test_a_committed_transaction_replayed_with_the_same_nonce_changes_nothing(ledger, keypairs):
    key = keypairs[Scheme.HYBRID]
    to = generate_keypair().address
    tx = transfer(key, 0, to=to, amount=25)
    first = ledger.commit([tx])
    assert [r.status for r in first.result.receipts] == [ReceiptStatus.COMMITTED]
    after = _balances(ledger, key.address, to)
    assert ledger.reason(envelope(tx)) is None, "stateless: the exact bytes still look valid"
    for attempt in (tx, transfer(key, 0, to=to, amount=26), transfer(key, 0, to=generate_keypair().address)):
        built = ledger.commit([attempt])
        assert built.block.transactions == () and refused(built) == [(attempt, Rejection.NONCE_REPLAY)]
    assert _balances(ledger, key.address, to) == after, "not applied twice"


def test_two_spends_with_one_nonce_in_one_batch_commit_once(ledger, keypairs):
    key = keypairs[Scheme.ED25519]
    a, b = transfer(key, 0, amount=700_000), transfer(key, 0, amount=700_001)
    built = ledger.commit([a, b, a])
    assert built.block.transactions == (a,)
    assert refused(built) == [(b, Rejection.NONCE_REPLAY), (a, Rejection.NONCE_REPLAY)]
    assert ledger.state.account(key.address).nonce == 1


def test_a_replay_long_after_the_nonce_moved_on_is_refused(ledger, keypairs):
    key = keypairs[Scheme.ML_DSA_87]
    old = transfer(key, 0)
    ledger.commit([old])
    for nonce in range(1, 4):
        ledger.commit([transfer(key, nonce)])
    assert refused(ledger.commit([old])) == [(old, Rejection.NONCE_REPLAY)]
    future = transfer(key, 9)
    assert refused(ledger.commit([future])) == [(future, Rejection.NONCE_GAP)]


def test_a_transaction_from_another_chain_is_refused_here(ledger, keypairs):
    key = keypairs[Scheme.HYBRID]
    elsewhere = transfer(key, 0, chain_id="another-chain")
    assert ledger.reason(envelope(elsewhere)) is Rejection.WRONG_CHAIN
    # The other chain's validator refuses ours just the same.
    theirs = StatelessValidator("another-chain", ledger.genesis.params, lambda: NOW_MS)
    assert theirs.validate_batch([transfer(key, 0)])[0].reason is Rejection.WRONG_CHAIN
    # Moving it over by rewriting the chain id breaks the signature (the id is in the signed body).
    ours = transfer(key, 0)
    assert ledger.reason(envelope(elsewhere, body=ours.body_bytes)) is Rejection.BAD_SIGNATURE
    # A leader that skipped the validator stage still cannot commit it: the block says WRONG_CHAIN.
    result = apply_transactions(ledger.state, [elsewhere], chain_id=CHAIN_ID, height=1, proposer=b"\x01" * 32,
                                min_fee=1, prev_state_digest=ledger.head.state_digest)
    assert [(r.status, r.reason) for r in result.receipts] == [(ReceiptStatus.REJECTED, Rejection.WRONG_CHAIN)]
    assert refused(ledger.commit([elsewhere])) == [(elsewhere, Rejection.WRONG_CHAIN)]
    assert ledger.state.account(key.address).nonce == 0
