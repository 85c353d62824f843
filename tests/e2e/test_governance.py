"""Governance against `aurigraph up`'s three-replica stack, as an operator does it with the CLI:
compliance rules set on chain (each rule kind, reject and flag), KYC attestations, an admin action
from a non-admin, the leader's key rotated while the chain runs, and the audit export showing every
administrative action and verifying end to end (signatures checked with the rotated keys)."""

from __future__ import annotations

import json
import subprocess
import time

import httpx
import pytest

from aurigraph.client import Client, TransactionRejected
from aurigraph.codec import sign_transaction
from aurigraph.crypto import address_to_text, generate_keypair
from aurigraph.ledger import SetKyc, TxBody
from aurigraph.v1 import common_pb2, transaction_pb2
from tests.e2e.conftest import cli

COMMITTED, REJECTED = transaction_pb2.TRANSACTION_STATUS_COMMITTED, transaction_pb2.TRANSACTION_STATUS_REJECTED


def refused(call, *args):
    """The `SubmitResponse` of a transaction the node rejects (the SDK raises it)."""
    with pytest.raises(TransactionRejected) as caught:
        call(*args)
    return caught.value.result


def admin(stack, *args) -> subprocess.CompletedProcess:
    """`aurigraph admin …` signed with the dev chain's admin key."""
    return cli("admin", *args, "--key", stack.data.admin_key, "--passphrase-file", stack.data.keys / "passphrase",
               "--url", stack.url)


@pytest.fixture
def rules_file(tmp_path):
    def write(text: str):
        path = tmp_path / "rules.toml"
        path.write_text(text)
        return path
    return write


def test_compliance_rules_set_on_chain_and_enforced(stack, rules_file, tmp_path):
    alice, bob, carol, denied = (generate_keypair() for _ in range(4))
    with Client(stack.url) as node:
        for who in (alice, bob):
            assert node.transfer(stack.faucet, who.address, 1_000_000).status == COMMITTED
    rules = rules_file(f"""
[[rules]]
name = "sanctions"
action = "reject"
denied = ["{address_to_text(denied.address)}"]

[[rules]]
name = "large"
action = "flag"
max_tx_amount = 500

[[rules]]
name = "daily-cap"
action = "reject"
max_daily_amount = 1000

[[rules]]
name = "kyc"
action = "reject"
kyc_above_balance = 1_000_500
""")
    try:
        # The faucet holds far more than the KYC line: attest it first, or it could not send at all.
        assert admin(stack, "kyc", address_to_text(stack.faucet.address), "--attest").returncode == 0
        done = admin(stack, "rules", "set", rules)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("committed")
        shown = cli("admin", "rules", "show", "--url", stack.url)
        assert shown.returncode == 0 and "sanctions" in shown.stdout and "max_daily_amount = 1000" in shown.stdout
        with Client(f"grpc://{stack.grpc_target}") as node:
            assert [r.name for r in node.compliance_rules().rules] == ["sanctions", "large", "daily-cap", "kyc"]

        with Client(stack.url) as node:
            to_denied = refused(node.transfer, alice, denied.address, 5)
            assert (to_denied.status, to_denied.reason) == (REJECTED, common_pb2.REJECT_REASON_COMPLIANCE)
            assert "sanctions" in to_denied.detail
            flagged = node.transfer(alice, carol.address, 600)  # above "large": commits, flagged
            assert flagged.status == COMMITTED and list(flagged.receipt.compliance_rules) == ["large"]
            capped = refused(node.transfer, alice, carol.address, 500)  # 1,100 today: above the daily cap
            assert (capped.status, capped.reason) == (REJECTED, common_pb2.REJECT_REASON_COMPLIANCE)
            assert "daily-cap" in capped.detail
            assert node.transfer(bob, carol.address, 400).status == COMMITTED  # the cap is per sender
            too_rich = refused(node.transfer, stack.faucet, bob.address, 1000)  # bob would hold 1,000,599
            assert (too_rich.status, too_rich.reason) == (REJECTED, common_pb2.REJECT_REASON_COMPLIANCE)
            assert "kyc" in too_rich.detail
            assert admin(stack, "kyc", address_to_text(bob.address), "--attest").returncode == 0
            assert node.transfer(stack.faucet, bob.address, 1000).status == COMMITTED
            # Only a chain admin may send an administrative action: refused before ordering.
            body = TxBody(stack.chain_id, alice.address, node.next_nonce(alice.address), 1,
                          time.time_ns() // 1_000_000, SetKyc(alice.address, True))
            forged = refused(node.submit, sign_transaction(body, alice))
            assert (forged.status, forged.reason) == (REJECTED, common_pb2.REJECT_REASON_NOT_AUTHORIZED)
            last = flagged.receipt.height
    finally:
        cleared = admin(stack, "rules", "set", rules_file(""))  # other tests share this chain
        assert cleared.returncode == 0, cleared.stderr

    # The audit export shows the rule change (decoded) and the flag, and verifies.
    with httpx.Client(base_url=stack.url, timeout=60) as http:
        export = http.get("/v11/audit/export", params={"from": 1, "to": last}).text
    records = [json.loads(line) for line in export.splitlines() if line.strip()]
    bodies = [r["transaction"]["body"] for r in records if "transaction" in r]
    assert any("set_rules" in b.get("admin", {}) for b in bodies)
    assert any("set_kyc" in b.get("admin", {}) for b in bodies)
    flags = [r["transaction"]["receipt"]["compliance_rules"] for r in records if "transaction" in r]
    assert ["large"] in flags
    (tmp_path / "audit.ndjson").write_text(export)
    verified = cli("audit", "verify", tmp_path / "audit.ndjson", "--genesis", stack.data.genesis)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_rotating_the_leaders_key_on_the_live_chain(stack, tmp_path):
    with Client(stack.url) as node:
        leader = node.status().leader_id
        assert leader
        before = node.block().block.header.height
    created = cli("keys", "node-new", "--data-dir", stack.data.root, "--validator", leader, "--json")
    assert created.returncode == 0, created.stderr
    new_address = json.loads(created.stdout)["address"]
    rotated = cli("admin", "rotate-key", "--data-dir", stack.data.root, "--validator", leader,
                  "--key", stack.data.admin_key, "--passphrase-file", stack.data.keys / "passphrase", "--url", stack.url)
    assert rotated.returncode == 0, rotated.stdout + rotated.stderr
    assert "committed: tx" in rotated.stdout
    # The chain goes on: transfers commit, and blocks the old leader proposes carry its new key.
    receiver = generate_keypair()
    with Client(stack.url) as node:
        heights = [node.transfer(stack.faucet, receiver.address, 1).receipt.height for _ in range(5)]
        assert all(heights)
        proposers = {address_to_text(node.block(h).block.header.proposer) for h in heights}
        if node.status().leader_id == leader:
            assert proposers == {new_address}
    with httpx.Client(base_url=stack.url, timeout=60) as http:
        export = http.get("/v11/audit/export", params={"from": 1, "to": max(heights)}).text
    (tmp_path / "audit.ndjson").write_text(export)
    verified = cli("audit", "verify", tmp_path / "audit.ndjson", "--genesis", stack.data.genesis)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert max(heights) > before
