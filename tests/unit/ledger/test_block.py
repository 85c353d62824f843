"""Blocks: built by a leader, checked and replayed by a follower; every tampering is caught."""

from __future__ import annotations

from dataclasses import replace

import pytest

from aurigraph.crypto import Scheme, generate_keypair
from aurigraph.ledger import (
    InvalidBlock,
    Rejection,
    StateDivergence,
    block_hash,
    build_block,
    replay_block,
    sign_header,
    tx_inclusion_proof,
    verify_block,
    verify_tx_inclusion,
)
from tests.conftest import NOW_MS


def build(chain, txs, parent=None, state=None, proposer=None, max_txs=100):
    return build_block(parent or chain.parent, state or chain.genesis.state(), txs, proposer=proposer or chain.node,
                       timestamp_ms=NOW_MS, min_fee=1, max_txs=max_txs)


def test_leader_builds_follower_verifies_and_replays(chain):
    alice, bob = chain.accounts[0], chain.accounts[1]
    txs = [chain.tx(alice, n, to=bob.address) for n in range(5)]
    built = build(chain, txs)
    block = built.block
    assert block.header.height == 1 and block.header.tx_count == 5 and built.rejected == ()
    verify_block(block, chain.parent, chain.genesis.validator_keys)
    replayed = replay_block(block, chain.genesis.state(), prev_state_digest=chain.parent.state_digest, min_fee=1)
    assert replayed.state_digest == block.header.state_digest == built.result.state_digest
    for i, tx in enumerate(block.transactions):
        assert verify_tx_inclusion(tx, i, block.header, tx_inclusion_proof(block, i))
    assert not verify_tx_inclusion(block.transactions[0], 1, block.header, tx_inclusion_proof(block, 0))


def test_builder_leaves_out_failing_candidates_and_says_why(chain):
    alice, bob = chain.accounts[0], chain.accounts[1]
    txs = [chain.tx(alice, 0, to=bob.address), chain.tx(alice, 0, to=bob.address, amount=3),
           chain.tx(alice, 1, to=bob.address, amount=10**9), chain.tx(alice, 1, to=bob.address)]
    built = build(chain, txs)
    assert built.block.transactions == (txs[0], txs[3])
    assert [(t, r, d) for t, r, d in built.rejected] == [
        (txs[1], Rejection.NONCE_REPLAY, "nonce_replay"), (txs[2], Rejection.INSUFFICIENT_BALANCE, "insufficient_balance")]
    assert [r.index for r in built.result.receipts] == [0, 1]
    replay_block(built.block, chain.genesis.state(), prev_state_digest=chain.parent.state_digest, min_fee=1)


def test_max_txs_caps_the_block(chain):
    alice = chain.accounts[0]
    built = build(chain, [chain.tx(alice, n) for n in range(10)], max_txs=4)
    assert built.block.header.tx_count == 4


def test_chain_of_blocks_links(chain):
    alice = chain.accounts[0]
    state, parent = chain.genesis.state(), chain.parent
    for height in range(1, 4):
        built = build(chain, [chain.tx(alice, height - 1)], parent=parent, state=state)
        verify_block(built.block, parent, chain.genesis.validator_keys)
        state.commit(built.result.delta)
        assert built.block.header.prev_hash == block_hash(parent)
        parent = built.block.header
    assert parent.height == 3 and state.account(alice.address).nonce == 3


@pytest.mark.parametrize("field,value,message", [
    ("height", 2, "does not follow"),
    ("prev_hash", b"\x00" * 64, "does not link"),
    ("tx_root", b"\x00" * 64, "root or count"),
    ("tx_count", 2, "root or count"),
    ("chain_id", "other", "is for chain"),
    ("timestamp_ms", 0, "backwards"),
    ("state_digest", b"\x00" * 10, "state digest"),
])
def test_tampered_header_is_refused(chain, field, value, message):
    block = build(chain, [chain.tx(chain.accounts[0], 0)]).block
    with pytest.raises(InvalidBlock, match=message):
        verify_block(replace(block, header=replace(block.header, **{field: value})), chain.parent, chain.genesis.validator_keys)


def test_proposer_must_be_a_validator_and_sign(chain):
    block = build(chain, [chain.tx(chain.accounts[0], 0)]).block
    outsider = generate_keypair(Scheme.HYBRID)
    foreign = build(chain, [chain.tx(chain.accounts[0], 0)], proposer=outsider).block
    with pytest.raises(InvalidBlock, match="not a validator"):
        verify_block(foreign, chain.parent, chain.genesis.validator_keys)
    with pytest.raises(InvalidBlock, match="not signed"):
        verify_block(replace(block, signatures=()), chain.parent, chain.genesis.validator_keys)
    # A signature by another key, claiming to be the proposer.
    forged = replace(sign_header(block.header, outsider), signer=block.header.proposer)
    with pytest.raises(InvalidBlock, match="not signed"):
        verify_block(replace(block, signatures=(forged,)), chain.parent, chain.genesis.validator_keys)
    # The proposer's signature over a different header (swapped state digest) does not carry over.
    other = replace(block.header, state_digest=b"\x01" * 64)
    with pytest.raises(InvalidBlock, match="not signed"):
        verify_block(replace(block, header=other), chain.parent, chain.genesis.validator_keys)


def test_replay_halts_loudly_on_state_divergence(chain):
    built = build(chain, [chain.tx(chain.accounts[0], 0)])
    lying = replace(built.block, header=replace(built.block.header, state_digest=b"\x07" * 64))
    with pytest.raises(StateDivergence, match="halting"):
        replay_block(lying, chain.genesis.state(), prev_state_digest=chain.parent.state_digest, min_fee=1)
    # A replica whose state differs (here: one extra committed transfer) diverges too.
    state = chain.genesis.state()
    state.commit(build(chain, [chain.tx(chain.accounts[1], 0)]).result.delta)
    with pytest.raises(StateDivergence):
        replay_block(built.block, state, prev_state_digest=chain.parent.state_digest, min_fee=1)
