"""Genesis: validated on construction; its block commits to every field."""

from __future__ import annotations

from dataclasses import replace

import pytest

from aurigraph.crypto import Scheme, generate_keypair
from aurigraph.ledger import U64_MAX, ChainParams, Genesis, GenesisError, Validator, block_hash, genesis_block


@pytest.fixture(scope="module")
def base():
    node = generate_keypair(Scheme.ED25519)
    return Genesis("g", 1, ((b"\x01" * 32, 5),), (Validator(1, node.scheme, node.public_key, 3, "n1"),))


def test_genesis_block_is_height_zero_and_deterministic(base):
    block = genesis_block(base)
    assert block.header.height == 0 and block.transactions == () and block.header.proposer == b""
    assert block_hash(block.header) == block_hash(genesis_block(base).header)
    assert base.state().account(b"\x01" * 32).balance == 5


@pytest.mark.parametrize("change", [
    dict(chain_id="h"), dict(timestamp_ms=2), dict(balances=((b"\x01" * 32, 6),)),
    dict(params=ChainParams(min_fee=2)), dict(params=ChainParams(max_block_txs=5)),
])
def test_every_field_changes_the_genesis_hash(base, change):
    assert block_hash(genesis_block(replace(base, **change)).header) != block_hash(genesis_block(base).header)


def test_validator_fields_change_the_genesis_hash(base):
    v = base.validators[0]
    for changed in (replace(v, stake=4), replace(v, name="n2"), replace(v, id=2)):
        assert genesis_block(replace(base, validators=(changed,))).hash != genesis_block(base).hash


@pytest.mark.parametrize("change,message", [
    (dict(chain_id=""), "chain_id"),
    (dict(validators=()), "at least one validator"),
    (dict(balances=((b"\x01" * 32, 1), (b"\x01" * 32, 2))), "twice"),
    (dict(balances=((b"\x01" * 31, 1),)), "32 bytes"),
    (dict(balances=((b"\x01" * 32, U64_MAX), (b"\x02" * 32, 1))), "total supply"),
    (dict(balances=((b"\x01" * 32, -1),)), ">= 0"),
    (dict(timestamp_ms=-1), "timestamp_ms"),
])
def test_inconsistent_documents_are_refused(base, change, message):
    with pytest.raises(GenesisError, match=message):
        replace(base, **change)


def test_validator_problems_are_refused(base):
    v = base.validators[0]
    with pytest.raises(GenesisError, match="unique"):
        replace(base, validators=(v, replace(v, name="dup")))
    with pytest.raises(GenesisError, match="unique and >= 1"):
        replace(base, validators=(replace(v, id=0),))
    with pytest.raises(GenesisError, match="stake"):
        replace(base, validators=(replace(v, stake=0),))
    with pytest.raises(GenesisError, match="public key must be"):
        replace(base, validators=(replace(v, public_key=b"\x00" * 5),))
    with pytest.raises(GenesisError, match="max_block_txs"):
        ChainParams(max_block_txs=0)
