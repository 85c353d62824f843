"""The state machine: transfer/data semantics, stateful rejections, determinism (property-based)."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aurigraph.codec import sign_transaction
from aurigraph.crypto import ZERO_DIGEST, generate_keypair
from aurigraph.ledger import (
    Account,
    DataWrite,
    MemoryState,
    ReceiptStatus,
    Rejection,
    Transfer,
    TxBody,
    apply_transactions,
)
from tests.conftest import CHAIN_ID, NOW_MS

PROPOSER = b"\xee" * 32


def apply(state, txs, *, height=1, prev=ZERO_DIGEST, min_fee=1):
    return apply_transactions(state, txs, chain_id=CHAIN_ID, height=height, proposer=PROPOSER, min_fee=min_fee,
                              prev_state_digest=prev)


def test_transfer_moves_value_and_pays_the_proposer(chain):
    alice, bob = chain.accounts[0], chain.accounts[1]
    state = chain.genesis.state()
    result = apply(state, [chain.tx(alice, 0, to=bob.address, amount=100, fee=3)])
    assert [r.status for r in result.receipts] == [ReceiptStatus.COMMITTED]
    assert result.receipts[0].fee_paid == 3
    d = result.delta
    assert d.account(alice.address).balance == 1_000_000 - 103 and d.account(alice.address).nonce == 1
    assert d.account(bob.address).balance == 1_000_100 and d.account(bob.address).nonce == 0
    assert d.account(PROPOSER).balance == 3
    assert state.account(alice.address).balance == 1_000_000, "apply must not mutate the base state"


def test_stateful_rejections_change_nothing(chain):
    alice, bob = chain.accounts[0], chain.accounts[1]
    poor = generate_keypair()
    txs = [
        chain.tx(alice, 0, to=bob.address),
        chain.tx(alice, 0, to=bob.address, amount=11),  # replay of nonce 0
        chain.tx(alice, 5, to=bob.address),  # gap
        chain.tx(alice, 1, to=bob.address, amount=1_000_000),  # more than the balance
        chain.tx(poor, 0, to=bob.address),  # empty account
        chain.tx(alice, 1, to=bob.address, fee=0),
        chain.tx(alice, 1, to=bob.address, chain_id="elsewhere"),
        chain.tx(alice, 1, to=bob.address),
    ]
    result = apply(chain.genesis.state(), txs)
    reasons = [r.reason for r in result.receipts]
    assert reasons == [None, Rejection.NONCE_REPLAY, Rejection.NONCE_GAP, Rejection.INSUFFICIENT_BALANCE,
                       Rejection.INSUFFICIENT_BALANCE, Rejection.FEE_TOO_LOW, Rejection.WRONG_CHAIN, None]
    assert result.delta.account(alice.address).nonce == 2
    assert result.delta.account(alice.address).balance == 1_000_000 - 22
    assert poor.address not in result.delta.accounts


def test_exact_balance_is_spendable_and_one_more_is_not(chain):
    alice, bob = chain.accounts[0], chain.accounts[1]
    ok = apply(chain.genesis.state(), [chain.tx(alice, 0, to=bob.address, amount=999_999, fee=1)])
    assert ok.receipts[0].status is ReceiptStatus.COMMITTED and ok.delta.account(alice.address).balance == 0
    no = apply(chain.genesis.state(), [chain.tx(alice, 0, to=bob.address, amount=1_000_000, fee=1)])
    assert no.receipts[0].reason is Rejection.INSUFFICIENT_BALANCE


def test_data_write_is_stored_as_a_digest(chain):
    alice = chain.accounts[0]
    body = TxBody(CHAIN_ID, alice.address, 0, 1, NOW_MS, DataWrite("profile", b"v1"))
    result = apply(chain.genesis.state(), [sign_transaction(body, alice)])
    assert result.receipts[0].status is ReceiptStatus.COMMITTED
    assert result.delta.data_digest(alice.address, "profile") == body.kind.value_digest
    assert result.delta.data_digest(alice.address, "other") is None


def test_state_digest_chains_and_depends_on_everything(chain):
    alice, bob = chain.accounts[0], chain.accounts[1]
    tx = chain.tx(alice, 0, to=bob.address)
    base = apply(chain.genesis.state(), [tx]).state_digest
    assert apply(chain.genesis.state(), [tx]).state_digest == base
    assert apply(chain.genesis.state(), [tx], height=2).state_digest != base
    assert apply(chain.genesis.state(), [tx], prev=b"\x01" * 64).state_digest != base
    assert apply(chain.genesis.state(), [chain.tx(alice, 0, to=bob.address, amount=11)]).state_digest != base
    assert apply(chain.genesis.state(), []).state_digest != base


# --- property-based: determinism and a reference model -----------------------------------------

ACCOUNTS = [generate_keypair() for _ in range(4)]
START = 1_000


def fresh_state():
    return MemoryState({kp.address: Account(START) for kp in ACCOUNTS})


op = st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(1, 400), st.sampled_from([0, 0, 0, 0, -1, 1]),
               st.integers(0, 5))


def to_blocks(ops, cuts):
    """Turn ops into signed transfers with mostly-correct nonces, split into blocks at `cuts`."""
    expected_nonce = [0] * 4
    txs = []
    for sender, recipient, amount, nonce_skew, fee in ops:
        nonce = max(0, expected_nonce[sender] + nonce_skew)
        kp = ACCOUNTS[sender]
        txs.append(sign_transaction(TxBody(CHAIN_ID, kp.address, nonce, fee, NOW_MS, Transfer(ACCOUNTS[recipient].address, amount)), kp))
        expected_nonce[sender] = nonce + 1
    bounds = sorted({0, len(txs), *(c % (len(txs) + 1) for c in cuts)})
    return [txs[a:b] for a, b in itertools.pairwise(bounds)]


def run_chain(blocks, min_fee=1):
    state, prev, digests, receipts = fresh_state(), ZERO_DIGEST, [], []
    for height, block in enumerate(blocks, start=1):
        result = apply(state, block, height=height, prev=prev, min_fee=min_fee)
        state.commit(result.delta)
        prev = result.state_digest
        digests.append(prev)
        receipts += result.receipts
    return state, digests, receipts


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(op, max_size=40), st.lists(st.integers(0, 100), max_size=4))
def test_same_blocks_same_state_and_digests(ops, cuts):
    blocks = to_blocks(ops, cuts)
    s1, d1, r1 = run_chain(blocks)
    s2, d2, r2 = run_chain(blocks)
    assert d1 == d2 and r1 == r2 and s1.accounts == s2.accounts


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(op, max_size=40), st.lists(st.integers(0, 100), max_size=4))
def test_matches_reference_model_and_conserves_supply(ops, cuts):
    blocks = to_blocks(ops, cuts)
    state, _, receipts = run_chain(blocks)
    balance = {kp.address: START for kp in ACCOUNTS}
    nonce = {kp.address: 0 for kp in ACCOUNTS}
    fees = 0
    for tx in (t for b in blocks for t in b):
        b = tx.body
        ok = b.nonce == nonce[b.sender] and b.fee >= 1 and balance[b.sender] >= b.kind.amount + b.fee
        if ok:
            balance[b.sender] -= b.kind.amount + b.fee
            balance[b.kind.recipient] += b.kind.amount
            nonce[b.sender] += 1
            fees += b.fee
    for kp in ACCOUNTS:
        assert state.account(kp.address).balance == balance[kp.address]
        assert state.account(kp.address).nonce == nonce[kp.address]
    assert state.account(PROPOSER).balance == fees
    assert sum(a.balance for a in state.accounts.values()) == START * len(ACCOUNTS)
    assert sum(r.status is ReceiptStatus.COMMITTED for r in receipts) == sum(nonce.values())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(op, min_size=2, max_size=20))
def test_reordering_committed_transactions_changes_the_digest(ops):
    blocks = to_blocks(ops, [])
    txs = blocks[0]
    swapped = [txs[1], txs[0], *txs[2:]]
    _, d1, r1 = run_chain([txs])
    _, d2, r2 = run_chain([swapped])
    if [r.tx_id for r in r1] != [r.tx_id for r in r2]:
        assert d1 != d2
