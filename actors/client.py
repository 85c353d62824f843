"""A Ray-level client of a running node, below the gateway: `aurigraph bench node` and the runtime's
integration tests use it to measure and test the actors without Serve in the way (API clients use
`aurigraph.client`). It builds and signs transfers, submits batches to the ingress, and resubmits
the same signed bytes until each is final — safe, since submission is idempotent by id."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

import ray

from aurigraph.codec import encode_signed, sign_transaction
from aurigraph.codec.node import encode_batch, response_statuses
from aurigraph.crypto import KeyPair, generate_keypair
from aurigraph.ledger import Transfer, TxBody
from aurigraph.node.replica import TxStatus


class Rejected(RuntimeError):
    """The node refused a transaction for good (REJECTED, with its reason)."""


@dataclass
class NodeClient:
    ingress: object
    chain_id: str
    faucet: KeyPair
    senders: list = field(default_factory=list)
    next_nonce: Counter = field(default_factory=Counter)
    acknowledged: set = field(default_factory=set)

    def fund_senders(self, count: int, amount: int = 10**9) -> None:
        self.senders = [generate_keypair() for _ in range(count)]
        self.submit_until_final([self.make(self.faucet, s.address, amount) for s in self.senders])

    def make(self, sender: KeyPair, to: bytes, amount: int = 1) -> bytes:
        """A signed transfer with the sender's next nonce (tracked here), as wire bytes."""
        nonce = self.next_nonce[sender.address]
        self.next_nonce[sender.address] += 1
        body = TxBody(self.chain_id, sender.address, nonce, 1, time.time_ns() // 1_000_000, Transfer(to, amount))
        return encode_signed(sign_transaction(body, sender))

    def submit(self, wire: list[bytes], wait: bool = True) -> list:
        return response_statuses(ray.get(self.ingress.submit.remote(encode_batch(wire), wait)))

    def submit_until_final(self, wire: list[bytes], deadline_s: float = 90.0) -> None:
        """Resubmit until each transaction is COMMITTED; raises `Rejected` on a final refusal."""
        todo = list(wire)
        deadline = time.monotonic() + deadline_s
        while todo:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(todo)} transactions not committed within {deadline_s:.0f} s")
            try:
                results = self.submit(todo)
            except ray.exceptions.RayError:
                time.sleep(0.2)
                continue
            again = []
            for raw, r in zip(todo, results):
                if r.status == TxStatus.COMMITTED:
                    self.acknowledged.add(r.tx_id)
                elif r.status == TxStatus.REJECTED:
                    raise Rejected(f"transaction rejected: {r.detail}")
                else:
                    again.append(raw)
            todo = again
            if todo:
                time.sleep(0.05)
