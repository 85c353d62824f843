"""Shared by all test tiers: the slow-test rule, real keys for every scheme, a small funded chain
and committed blocks of it.

Soak runs (`@pytest.mark.slow`) stay out of the default run; select them with `-m slow` (`make soak`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, settings

from aurigraph.codec import encode_block, sign_transaction
from aurigraph.codec.blocks import encode_block_record
from aurigraph.crypto import KeyPair, Scheme, generate_keypair
from aurigraph.ledger import (
    Account,
    ChainParams,
    DataWrite,
    Genesis,
    MemoryState,
    SignedTx,
    Transfer,
    TxBody,
    Validator,
    build_block,
    genesis_block,
)

# The machine's environment must not change what the suite tests: a proxy would carry the tests'
# loopback calls (httpx, gRPC and websockets honour these), RAY_ADDRESS would attach every local
# Ray start to someone's cluster, and the node's own settings (keys, URLs, logging, tracing) would
# change how the stacks under test run. Test switches (AURIGRAPH_REWRITE, *_TESTS_*) stay.
ENVIRONMENT_NOT_INHERITED = ("http_proxy", "https_proxy", "all_proxy", "grpc_proxy", "no_proxy")
ENVIRONMENT_PREFIXES_NOT_INHERITED = ("RAY_", "AURIGRAPH_")
TEST_SWITCHES = ("AURIGRAPH_REWRITE", "AURIGRAPH_HSM_TESTS_OWN_PROCESS")


def pytest_configure(config: pytest.Config) -> None:
    """Before any test: drop what the machine's environment would change (see above), for this
    process and every process the tests start. Hypothesis runs derandomized, without its example
    database (every run on every machine tries the same examples, as the seeded simulations do)
    and without the time-based health check (a loaded 2-core machine generates slowly, which is not
    a failure)."""
    for name in list(os.environ):
        if name.lower() in ENVIRONMENT_NOT_INHERITED or (
                name.startswith(ENVIRONMENT_PREFIXES_NOT_INHERITED) and name not in TEST_SWITCHES):
            del os.environ[name]
    settings.register_profile("suite", derandomize=True, database=None,
                              suppress_health_check=[HealthCheck.too_slow])
    settings.load_profile("suite")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "slow" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="soak run: select with -m slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


CHAIN_ID = "aurigraph-test"
NOW_MS = 1_795_600_000_000


@pytest.fixture(scope="session")
def keypairs() -> dict[Scheme, KeyPair]:
    return {scheme: generate_keypair(scheme) for scheme in Scheme}


@dataclass
class Chain:
    """A genesis with one hybrid-keyed validator and funded Ed25519 accounts."""

    genesis: Genesis
    node: KeyPair
    accounts: list[KeyPair]

    @property
    def parent(self):
        return genesis_block(self.genesis).header

    def tx(self, sender: KeyPair, nonce: int, *, to: bytes | None = None, amount: int = 10, fee: int = 1,
           chain_id: str = CHAIN_ID, timestamp_ms: int = NOW_MS) -> SignedTx:
        body = TxBody(chain_id, sender.address, nonce, fee, timestamp_ms, Transfer(to or self.accounts[-1].address, amount))
        return sign_transaction(body, sender)


@pytest.fixture(scope="session")
def chain() -> Chain:
    node = generate_keypair(Scheme.HYBRID)
    accounts = [generate_keypair() for _ in range(4)]
    genesis = Genesis(
        chain_id=CHAIN_ID,
        timestamp_ms=NOW_MS - 1000,
        balances=tuple((a.address, 1_000_000) for a in accounts),
        validators=(Validator(1, node.scheme, node.public_key, 10, "node-1"),),
        params=ChainParams(min_fee=1),
    )
    return Chain(genesis, node, accounts)


def committed_records(chain, blocks: int, per_block: int = 5) -> tuple[list[bytes], MemoryState]:
    """`blocks` committed `BlockRecord`s of transfers around the chain's accounts plus one data
    write each, and the state after them."""
    state = MemoryState({a: Account(b) for a, b in chain.genesis.balances})
    head = genesis_block(chain.genesis).header
    nonces = {a.address: 0 for a in chain.accounts}
    records = []
    for height in range(1, blocks + 1):
        txs = []
        for i in range(per_block):
            sender = chain.accounts[(height + i) % len(chain.accounts)]
            to = chain.accounts[(height + i + 1) % len(chain.accounts)]
            kind = DataWrite(f"k{height % 3}", b"v%d" % height) if i == 0 else Transfer(to.address, 10 + i)
            body = TxBody(CHAIN_ID, sender.address, nonces[sender.address], 1, NOW_MS, kind)
            nonces[sender.address] += 1
            txs.append(sign_transaction(body, sender))
        built = build_block(head, state, txs, proposer=chain.node, timestamp_ms=NOW_MS + height, min_fee=1,
                            max_txs=1000)
        assert len(built.block.transactions) == per_block, built.rejected
        state.commit(built.result.delta)
        head = built.block.header
        records.append(encode_block_record(encode_block(built.block), built.result.receipts))
    return records, state
