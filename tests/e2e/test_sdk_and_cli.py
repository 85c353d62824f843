"""The Python SDK (sync and async, over REST and gRPC) and the CLI commands built on it, against
`aurigraph up`'s stack."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest

from aurigraph.client import ApiError, AsyncClient, Client, TransactionRejected
from aurigraph.crypto import address_to_text, generate_keypair
from aurigraph.keystore import save_keypair
from aurigraph.ledger import Transfer
from aurigraph.v1 import transaction_pb2
from tests.e2e.conftest import cli

COMMITTED = transaction_pb2.TRANSACTION_STATUS_COMMITTED


@pytest.fixture(params=["rest", "grpc"])
def url(request, stack):
    return stack.url if request.param == "rest" else f"grpc://{stack.grpc_target}"


def test_sync_client_transfers_reads_and_follows(stack, url):
    recipient = generate_keypair()
    with Client(url) as node:
        assert node.chain_id() == stack.chain_id
        result = node.transfer(stack.faucet, recipient.address, 42)
        assert result.status == COMMITTED and result.receipt.height >= 1
        assert node.account(recipient.address).balance == 42
        assert node.transaction(result.tx_id).status == COMMITTED
        assert node.block(result.receipt.height).block.header.height == result.receipt.height
        assert node.status().leader_id and len(node.nodes().nodes) == 3 and node.health().ready
        events = node.events(kinds=["transaction_committed"], account=recipient.address, from_height=1)
        first = next(events)
        events.close()
        assert first.transaction_committed.receipt.tx_id == result.tx_id
        with pytest.raises(TransactionRejected) as caught:
            node.transfer(recipient, generate_keypair().address, 10**6)  # more than it has
        assert caught.value.code == "REJECTED" and caught.value.result.reason == 9  # INSUFFICIENT_BALANCE


def test_async_client_batches_and_waits(stack, url):
    async def scenario():
        async with AsyncClient(url) as node:
            nonce = await node.next_nonce(stack.faucet.address)
            to = generate_keypair().address
            txs = [await node.sign(stack.faucet, Transfer(to, 1), nonce=nonce + i) for i in range(10)]
            results = await node.submit_batch(txs[:5])
            records = [await node.wait_committed(r.tx_id) for r in results]
            waited = await node.submit_until_final(txs)  # the first five again: idempotent
            return [r.status for r in records], [r.status for r in waited], (await node.account(to)).balance

    polled, waited, balance = asyncio.run(scenario())
    assert polled == [COMMITTED] * 5 and waited == [COMMITTED] * 10 and balance == 10


def test_sdk_errors_are_api_errors(stack, url):
    with Client(url) as node:
        with pytest.raises(ApiError) as caught:
            node.block(10**9)
        assert caught.value.code == "NOT_FOUND"
        assert node.transaction(b"\x02" * 64).status == transaction_pb2.TRANSACTION_STATUS_UNKNOWN
    with Client("http://127.0.0.1:1") as nowhere:
        with pytest.raises(ApiError) as caught:
            nowhere.status()
        assert caught.value.code == "UNAVAILABLE"
    with pytest.raises(ValueError):
        Client("ftp://x")


def test_cli_send_get_block_account_status_watch(stack, tmp_path):
    key_file = tmp_path / "faucet.key"
    save_keypair(key_file, stack.faucet, "pw", opslimit=2, memlimit=64 * 1024**2)
    (tmp_path / "pw").write_text("pw")
    to = address_to_text(generate_keypair().address)
    remote = ["--url", stack.url]
    sent = cli("tx", "send", "--key", str(key_file), "--passphrase-file", str(tmp_path / "pw"), "--to", to,
               "--amount", "9", "--json", *remote)
    assert sent.returncode == 0, sent.stderr
    result = json.loads(sent.stdout)
    assert result["status"] == "TRANSACTION_STATUS_COMMITTED"
    height = result["receipt"]["height"]
    tx_hex = base64.b64decode(result["tx_id"]).hex()
    got = cli("tx", "get", tx_hex, *remote)
    assert got.returncode == 0 and "committed" in got.stdout and f"block {height}" in got.stdout
    block = cli("block", "get", height, *remote)
    assert block.returncode == 0 and f"block {height}" in block.stdout and tx_hex in block.stdout
    assert cli("block", "get", *remote, "--json").returncode == 0
    account = cli("account", "get", to, *remote)
    assert account.returncode == 0 and "balance 9" in account.stdout
    status = cli("status", *remote)
    assert status.returncode == 0 and "leader replica" in status.stdout and "replica 3" in status.stdout
    watch = cli("watch", "--kinds", "block_committed", "--from-height", "1", "--count", "2", *remote)
    assert watch.returncode == 0 and watch.stdout.count("block ") == 2
    over_grpc = cli("status", "--url", f"grpc://{stack.grpc_target}", "--json")
    assert over_grpc.returncode == 0 and json.loads(over_grpc.stdout)["consensus"]["leader_id"]


@pytest.mark.parametrize("args, message", [
    (["tx", "get", "abc"], "128 hex digits"),
    (["tx", "get", "ab" * 64], "unknown"),
    (["block", "get", "x"], "height"),
    (["block", "get", "999999999"], "NOT_FOUND"),
    (["account", "get", "ag00"], "address"),
    (["watch", "--kinds", "nope"], "unknown event kind"),
])
def test_cli_errors_are_one_line(stack, args, message):
    done = cli(*args, "--url", stack.url)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert message in done.stderr + done.stdout


def test_cli_reports_an_unreachable_node(tmp_path):
    done = cli("status", "--url", "http://127.0.0.1:1")
    assert done.returncode == 1 and done.stderr.startswith("error: UNAVAILABLE") and "Traceback" not in done.stderr
