"""Blocks and the genesis file survive their encodings exactly; bad input is a typed error."""

from __future__ import annotations

import json

import pytest

from aurigraph.codec import decode_block, encode_block
from aurigraph.codec.genesis import genesis_from_json, genesis_to_json
from aurigraph.ledger import GenesisError, InvalidBlock, block_hash, build_block, verify_block
from aurigraph.v1 import block_pb2
from tests.conftest import NOW_MS


def test_block_round_trip(chain):
    txs = [chain.tx(chain.accounts[0], n) for n in range(3)]
    block = build_block(chain.parent, chain.genesis.state(), txs, proposer=chain.node, timestamp_ms=NOW_MS,
                        min_fee=1, max_txs=10).block
    back = decode_block(encode_block(block))
    assert back == block and block_hash(back.header) == block_hash(block.header)
    verify_block(back, chain.parent, chain.genesis.validator_keys)


def test_bad_block_bytes_are_invalid_block(chain):
    with pytest.raises(InvalidBlock):
        decode_block(b"\xff\x01garbage")
    m = block_pb2.Block()
    m.transactions.add(body=b"\x0a", scheme=1)
    with pytest.raises(InvalidBlock, match="block 0"):
        decode_block(m.SerializeToString())
    m = block_pb2.Block()
    m.signatures.add(signer=b"x").signature.scheme = 9
    with pytest.raises(InvalidBlock):
        decode_block(m.SerializeToString())


def test_genesis_json_round_trip(chain):
    text = genesis_to_json(chain.genesis)
    assert genesis_from_json(text) == chain.genesis
    assert '"ag' in text  # human-readable addresses


@pytest.mark.parametrize("mutate,message", [
    (lambda d: d.pop("chain_id"), "missing field"),
    (lambda d: d.update(extra=1), "unknown genesis fields"),
    (lambda d: d["balances"][0].update(address="ag00"), "address"),
    (lambda d: d["balances"][0].update(amount="10"), "must be an integer"),
    (lambda d: d["balances"][0].update(amount=True), "must be an integer"),
    (lambda d: d["validators"][0].update(public_key="zz"), "genesis"),
    (lambda d: d["validators"][0].update(scheme="rsa"), "unknown signature scheme"),
    (lambda d: d["params"].update(bogus=1), "params must be"),
    (lambda d: d.update(chain_id=5), "chain_id must be a string"),
    (lambda d: d["validators"][0].update(stake=0), "stake"),
])
def test_genesis_json_errors_say_where(chain, mutate, message):
    document = json.loads(genesis_to_json(chain.genesis))
    mutate(document)
    with pytest.raises(GenesisError, match=message):
        genesis_from_json(json.dumps(document))


def test_genesis_json_garbage():
    for text in ["", "[]", "{"]:
        with pytest.raises(GenesisError):
            genesis_from_json(text)
