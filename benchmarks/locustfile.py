"""Locust load for the REST gateway: single submits, batch submits and the common reads.

    aurigraph up --data-dir data                      # in one terminal
    AURIGRAPH_DATA_DIR=data locust -f benchmarks/locustfile.py --host http://127.0.0.1:8000 \\
        --headless -u 32 -r 8 -t 60s

Before the users start, the faucet (from the node's data dir) funds one account per user, in one
committed batch. Each user then signs its own transfers with its own nonces, so nothing it sends is
rejected for a nonce. Throughput figures belong next to a baseline from the same run
(`aurigraph bench gateway` measures a bare endpoint alongside); this file is for open-ended load.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from pathlib import Path

from locust import FastHttpUser, between, events, task

from aurigraph.client import Client
from aurigraph.codec import encode_signed, sign_transaction
from aurigraph.codec.node import encode_batch
from aurigraph.crypto import generate_keypair
from aurigraph.keystore import load_keypair
from aurigraph.ledger import Transfer, TxBody
from aurigraph.node.datadir import DataDir

PROTOBUF = {"content-type": "application/x-protobuf", "accept": "application/x-protobuf"}
USERS_FUNDED = int(os.environ.get("AURIGRAPH_USERS", "256"))
BATCH = 100
_accounts: list = []
_next_account = itertools.count()
_lock = threading.Lock()
_chain = {}


@events.test_start.add_listener
def fund_accounts(environment, **_):
    data = DataDir(Path(os.environ.get("AURIGRAPH_DATA_DIR", "data")))
    faucet = load_keypair(data.faucet_key, data.passphrase())
    keys = [generate_keypair() for _ in range(USERS_FUNDED)]
    with Client(environment.host) as node:
        nonce = node.next_nonce(faucet.address)
        results = node.submit_batch([node.sign(faucet, Transfer(k.address, 10**12), nonce=nonce + i)
                                     for i, k in enumerate(keys)], wait=True)
        _chain["id"] = node.chain_id()
    assert all(r.status == 2 for r in results), "funding the load's accounts failed"
    _accounts.extend(keys)


class LedgerUser(FastHttpUser):
    wait_time = between(0, 0.01)

    def on_start(self) -> None:
        with _lock:
            self.key = _accounts[next(_next_account) % len(_accounts)]
        self.nonce = 0
        self.recipient = generate_keypair().address
        self.last_tx: bytes | None = None

    def _signed(self) -> bytes:
        body = TxBody(_chain["id"], self.key.address, self.nonce, 1, time.time_ns() // 1_000_000,
                      Transfer(self.recipient, 1))
        self.nonce += 1
        tx = sign_transaction(body, self.key)
        self.last_tx = tx.tx_id
        return encode_signed(tx)

    @task(10)
    def submit_one(self) -> None:
        self.client.post("/v11/transactions", data=self._signed(), headers=PROTOBUF, name="POST /v11/transactions")

    @task(2)
    def submit_batch(self) -> None:
        body = encode_batch([self._signed() for _ in range(BATCH)])
        self.client.post("/v11/transactions/batch", data=body, headers=PROTOBUF, name="POST /v11/transactions/batch")

    @task(3)
    def read_status(self) -> None:
        if self.last_tx:
            self.client.get(f"/v11/transactions/{self.last_tx.hex()}", name="GET /v11/transactions/{id}")

    @task(2)
    def read_latest_block(self) -> None:
        self.client.get("/v11/blocks/latest", headers={"accept": "application/x-protobuf"}, name="GET /v11/blocks/latest")

    @task(1)
    def read_account(self) -> None:
        self.client.get(f"/v11/accounts/{self.key.address.hex()}", name="GET /v11/accounts/{address}")
