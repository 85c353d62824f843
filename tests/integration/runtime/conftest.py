"""A real node on a real local Ray instance, and a client that drives it like a user would."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

import pytest
import ray

from actors.launcher import start_node
from actors.supervisor import NAMESPACE, replica_name
from aurigraph.codec import encode_signed, sign_transaction
from aurigraph.codec.node import decode_block_record, encode_batch, response_statuses
from aurigraph.crypto import generate_keypair
from aurigraph.keystore import load_keypair
from aurigraph.ledger import Transfer, TxBody
from aurigraph.node.config import NodeSettings
from aurigraph.node.datadir import DataDir, prepare
from aurigraph.node.replica import TxStatus


@dataclass
class Client:
    node: object
    chain_id: str
    faucet: object
    senders: list = field(default_factory=list)
    next_nonce: Counter = field(default_factory=Counter)
    acknowledged: set = field(default_factory=set)

    def fund_senders(self, count: int, amount: int = 10**9) -> None:
        self.senders = [generate_keypair() for _ in range(count)]
        self.submit_until_final([self.make(self.faucet, s.address, amount) for s in self.senders])

    def make(self, sender, to: bytes, amount: int = 1) -> bytes:
        nonce = self.next_nonce[sender.address]
        self.next_nonce[sender.address] += 1
        body = TxBody(self.chain_id, sender.address, nonce, 1, time.time_ns() // 1_000_000, Transfer(to, amount))
        return encode_signed(sign_transaction(body, sender))

    def submit(self, wire: list[bytes], wait: bool = True):
        return response_statuses(ray.get(self.node.ingress.submit.remote(encode_batch(wire), wait)))

    def submit_until_final(self, wire: list[bytes], deadline_s: float = 90.0) -> None:
        """Resubmit the same signed bytes until each is COMMITTED: safe, because ids are idempotent."""
        todo = list(wire)
        deadline = time.monotonic() + deadline_s
        while todo:
            assert time.monotonic() < deadline, f"{len(todo)} transactions never committed"
            try:
                results = self.submit(todo)
            except ray.exceptions.RayError:
                time.sleep(0.2)
                continue
            again = []
            for raw, r in zip(todo, results):
                if r.status == TxStatus.COMMITTED:
                    self.acknowledged.add(r.tx_id)
                else:
                    assert r.status != TxStatus.REJECTED, f"rejected: {r.detail}"
                    again.append(raw)
            todo = again
            if todo:
                time.sleep(0.1)


def replica(node_id: int):
    return ray.get_actor(replica_name(node_id), namespace=NAMESPACE)


def chain_of(node_id: int) -> list:
    """All blocks of a replica, from height 1 up."""
    r = replica(node_id)
    height = ray.get(r.health.remote())["height"]
    return [decode_block_record(ray.get(r.get_block.remote(h)))[0] for h in range(1, height + 1)]


def wait_until(predicate, timeout_s: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except ray.exceptions.RayError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def running_node(tmp_path_factory):
    data = DataDir(tmp_path_factory.mktemp("node"))
    settings = NodeSettings(data_dir=data.root, replicas=3, validators=2, shards=2, tick_ms=20)
    genesis = prepare(data, settings.chain_id, settings.replicas, log=lambda *_: None)
    node = start_node(settings)
    client = Client(node, genesis.chain_id, load_keypair(data.faucet_key, data.passphrase()))
    yield node, client, settings
    node.stop()
