"""`aurigraph up --redis-url` against a private redis-server killed and restarted while clients
submit and read: no transaction is lost, reads keep answering, and the gateway says it degraded
and recovered (aurigraph_redis_up, aurigraph_redis_errors_total)."""

from __future__ import annotations

import re
import time

import httpx

from aurigraph.client import Client
from aurigraph.crypto import generate_keypair
from aurigraph.ledger import Transfer
from aurigraph.v1 import transaction_pb2
from tests.e2e.conftest import start_stack
from tests.redis_server import PrivateRedis

COMMITTED = transaction_pb2.TRANSACTION_STATUS_COMMITTED


def _metric(text: str, name: str) -> float | None:
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    return None if found is None else float(found.group(1))


def test_redis_killed_and_restarted_under_load_loses_nothing(tmp_path_factory):
    redis = PrivateRedis(tmp_path_factory.mktemp("redis"))
    redis.start()
    stack = start_stack(tmp_path_factory.mktemp("redis-node"), "--redis-url", redis.url)
    try:
        to = generate_keypair().address
        results = []
        with Client(stack.url) as node:
            nonce = node.next_nonce(stack.faucet.address)
            txs = [node.sign(stack.faucet, Transfer(to, 1), nonce=nonce + i) for i in range(200)]
            for i in range(10):
                if i == 3:
                    redis.kill()
                if i == 6:
                    redis.start()
                chunk = node.submit_until_final(txs[i * 20:(i + 1) * 20])
                results += chunk
                assert node.transaction(chunk[-1].tx_id).status == COMMITTED  # through the cache path
            assert all(r.status == COMMITTED for r in results)
            assert node.account(to).balance == 200
        deadline = time.monotonic() + 30
        while True:  # the gateway finds Redis again on its next use after the retry pause
            with Client(stack.url) as node:
                node.transaction(results[0].tx_id)
            text = httpx.get(f"{stack.url}/v11/metrics", timeout=10).text
            if _metric(text, "aurigraph_redis_up") == 1.0 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert _metric(text, "aurigraph_redis_up") == 1.0, text
        assert _metric(text, "aurigraph_redis_errors_total") >= 1
        with Client(stack.url) as node:  # fully replicated by now: cached on the first read, then hit
            first, again = node.transaction(results[0].tx_id), node.transaction(results[0].tx_id)
        assert first.confidence == 1.0 and again.SerializeToString() == first.SerializeToString()
        text = httpx.get(f"{stack.url}/v11/metrics", timeout=10).text
        assert _metric(text, "aurigraph_cache_hits_total") >= 1
    finally:
        stack.stop()
        redis.close()
