"""The adversarial suite (issue 9): every attack is rejected or contained, the node still commits,
and nothing acknowledged is lost.

Two kinds of target:
- the ledger's rules, through exactly the code a node runs — `check_batch` (decode, stateless
  rules, one batched signature verification: what a `TransactionValidator` does) and
  `build_block` + commit (what the leader does) — with real keys, no Ray (`ledger`);
- a running node's gateway: `aurigraph up` in a subprocess (`stack`, shared by the package, rate
  limit off), attacked over raw sockets, HTTP, WebSocket and gRPC. After each group of attacks a
  test calls `witness.check()`: a fresh transfer still commits, and every transaction acknowledged
  as committed so far is still there, committed, at the same height.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import httpx
import pytest

from aurigraph.codec import encode_signed, sign_transaction
from aurigraph.crypto import KeyPair, Scheme, generate_keypair
from aurigraph.ledger import (
    Account,
    BlockHeader,
    BuiltBlock,
    ChainParams,
    Genesis,
    MemoryState,
    Rejection,
    SignedTx,
    StatelessValidator,
    Transfer,
    TxBody,
    Validator,
    build_block,
    genesis_block,
)
from aurigraph.node.ingest import Checked, check_batch
from aurigraph.v1 import transaction_pb2
from tests.conftest import CHAIN_ID, NOW_MS
from tests.e2e.conftest import start_stack
from tests.e2e.test_rest import PROTOBUF, Sender, fund

__all__ = ["CHAIN_ID", "NOW_MS", "PROTOBUF", "Ledger", "Sender", "Witness", "fund", "transfer"]


# --- the ledger, without Ray ------------------------------------------------------------------

def transfer(key: KeyPair, nonce: int, *, chain_id: str = CHAIN_ID, amount: int = 10, to: bytes = b"\x07" * 32,
             sender: bytes | None = None) -> SignedTx:
    """A transfer signed by `key` (its sender is `key`'s address unless `sender` says otherwise)."""
    body = TxBody(chain_id, sender or key.address, nonce, 1, NOW_MS, Transfer(to, amount))
    return sign_transaction(body, key)


def envelope(tx: SignedTx, **fields) -> bytes:
    """The wire bytes of `tx` with some envelope fields replaced (body, scheme, public_key, signature)."""
    m = transaction_pb2.SignedTransaction.FromString(encode_signed(tx))
    for name, value in fields.items():
        setattr(m, name, value)
    return m.SerializeToString(deterministic=True)


@dataclass
class Ledger:
    """One chain whose accounts are the session's `keypairs` (one per scheme), each funded."""

    genesis: Genesis
    proposer: KeyPair
    state: MemoryState
    head: BlockHeader
    validator: StatelessValidator

    def admit(self, *wire: bytes) -> list[Checked]:
        return check_batch(self.validator, wire)

    def reason(self, wire: bytes) -> Rejection | None:
        """Why the validator stage refuses `wire` (None: it would pass on to the leader)."""
        checked = self.admit(wire)[0]
        return None if checked.rejection is None else checked.rejection.reason

    def commit(self, txs: list[SignedTx]) -> BuiltBlock:
        """Build the next block from `txs` as the leader does, and apply it."""
        built = build_block(self.head, self.state, txs, proposer=self.proposer,
                            timestamp_ms=NOW_MS + self.head.height + 1, min_fee=1, max_txs=1000)
        self.state.commit(built.result.delta)
        self.head = built.block.header
        return built


@pytest.fixture(scope="session")
def proposer() -> KeyPair:
    return generate_keypair(Scheme.HYBRID)


@pytest.fixture
def ledger(keypairs, proposer) -> Ledger:
    genesis = Genesis(chain_id=CHAIN_ID, timestamp_ms=NOW_MS - 1000,
                      balances=tuple((kp.address, 1_000_000) for kp in keypairs.values()),
                      validators=(Validator(1, proposer.scheme, proposer.public_key, 10, "node-1"),),
                      params=ChainParams(min_fee=1))
    state = MemoryState({address: Account(balance) for address, balance in genesis.balances})
    validator = StatelessValidator(CHAIN_ID, genesis.params, lambda: NOW_MS)
    return Ledger(genesis, proposer, state, genesis_block(genesis).header, validator)


# --- a running node -----------------------------------------------------------------------------

@pytest.fixture(scope="package")
def stack(tmp_path_factory):
    """One node + gateway for the package: no API keys, rate limit off (attacks come from one
    address), a stream queue of 1024 events (so a subscriber that stops reading is past it soon)."""
    s = start_stack(tmp_path_factory.mktemp("adversarial-node"), "--rate-limit", "0",
                    "--stream-queue-events", "1024")
    yield s
    s.stop()


@pytest.fixture(scope="package")
def http(stack):
    with httpx.Client(base_url=stack.url, timeout=60) as client:
        yield client


@dataclass
class Witness:
    """Transactions the node acknowledged as committed, and the check that it still commits."""

    stack: object
    http: httpx.Client
    committed: dict[bytes, int] = field(default_factory=dict)  # tx id -> height

    def acknowledged(self, tx_id: bytes, height: int) -> None:
        self.committed[tx_id] = height

    def check(self) -> None:
        """A fresh transfer from a fresh account commits; nothing acknowledged is lost."""
        sender = Sender(self.stack.chain_id, fund(self.stack, self.http, 1000), 0)
        tx = sender.transfer(amount=1)
        r = self.http.post("/v11/transactions", params={"wait": "committed"}, content=encode_signed(tx),
                           headers={"content-type": PROTOBUF, "accept": PROTOBUF})
        assert r.status_code == 200, r.text
        result = transaction_pb2.SubmitResponse.FromString(r.content)
        assert result.status == transaction_pb2.TRANSACTION_STATUS_COMMITTED
        self.acknowledged(tx.tx_id, result.receipt.height)
        for tx_id, height in self.committed.items():
            record = self.http.get(f"/v11/transactions/{tx_id.hex()}", headers={"accept": PROTOBUF})
            assert record.status_code == 200, record.text
            record = transaction_pb2.TransactionRecord.FromString(record.content)
            assert record.status == transaction_pb2.TRANSACTION_STATUS_COMMITTED, tx_id.hex()
            assert record.receipt.height == height, tx_id.hex()


@pytest.fixture(scope="package")
def witness(stack, http) -> Witness:
    return Witness(stack, http)


def wait_until(predicate, timeout_s: float = 15.0, poll_s: float = 0.1):
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(poll_s)
