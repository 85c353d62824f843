"""Range and history queries against `aurigraph up`: block ranges and the audit export (always
on, from the node's archive), and account histories — refused clearly without PostgreSQL, served
from the index with it, and still complete after the indexer's PostgreSQL sessions are killed."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import time
import uuid

import asyncpg
import httpx
import pytest

from aurigraph.client import Client
from aurigraph.codec.audit import AuditFailure, verify_audit
from aurigraph.crypto import address_to_text, generate_keypair
from aurigraph.indexer.pg import APPLICATION_NAME, drop_schema
from aurigraph.ledger import Transfer
from aurigraph.v1 import transaction_pb2
from tests.e2e.conftest import EXE, start_stack
from tests.integration.conftest import DSN

COMMITTED = transaction_pb2.TRANSACTION_STATUS_COMMITTED


def _send(stack, count: int) -> tuple[bytes, list]:
    """`count` committed transfers from the faucet to a new account; its address and the results."""
    to = generate_keypair().address
    with Client(stack.url) as node:
        nonce = node.next_nonce(stack.faucet.address)
        txs = [node.sign(stack.faucet, Transfer(to, 1 + i), nonce=nonce + i) for i in range(count)]
        results = node.submit_until_final(txs)
    assert all(r.status == COMMITTED for r in results)
    return to, results


def test_block_range_and_audit_export_verify_against_the_genesis(stack):
    _send(stack, 5)
    with httpx.Client(base_url=stack.url, timeout=30) as http:
        head = int(http.get("/v11/blocks/latest").json()["block"]["header"]["height"])
        page = http.get("/v11/blocks", params={"from": 1, "to": head}).json()
        assert [int(b["header"]["height"]) for b in page["blocks"]] == list(range(1, min(head, 100) + 1))
        export = http.get("/v11/audit/export", params={"from": 1, "to": head})
        assert export.status_code == 200 and export.headers["content-type"].startswith("application/x-ndjson")
        assert (export.headers["x-audit-from"], export.headers["x-audit-to"]) == ("1", str(head))
        summary = verify_audit(export.text.splitlines(keepends=True), stack.data.load_genesis())
        assert (summary.first_height, summary.last_height, summary.first_parent_checked) == (1, head, True)
        assert summary.transactions >= 5
        lines = export.text.splitlines(keepends=True)
        record = json.loads(lines[1])  # the first transaction: change one byte of its signed body
        body = bytearray(base64.b64decode(record["transaction"]["transaction"]["body"]))
        body[-1] ^= 1
        record["transaction"]["transaction"]["body"] = base64.b64encode(bytes(body)).decode()
        lines[1] = json.dumps(record) + "\n"
        with pytest.raises(AuditFailure, match="line 2"):
            verify_audit(lines, stack.data.load_genesis())
        for params, status in [({"from": 0}, 400), ({"from": 3, "to": 2}, 400), ({"to": head + 1000}, 404),
                               ({"from": "x"}, 400)]:
            answer = http.get("/v11/audit/export", params=params)
            assert answer.status_code == status, (params, answer.text)


def test_account_history_without_postgresql_says_how_to_enable_it(stack):
    nobody = address_to_text(bytes(32))
    answer = httpx.get(f"{stack.url}/v11/accounts/{nobody}/transactions", timeout=10)
    assert answer.status_code == 501
    assert answer.json()["code"] == "NOT_IMPLEMENTED" and "--postgres-dsn" in answer.json()["detail"]


@pytest.fixture(scope="module")
def indexed_stack(tmp_path_factory):
    schema = f"e2e_{uuid.uuid4().hex[:10]}"
    s = start_stack(tmp_path_factory.mktemp("indexed-node"), "--rate-limit", "0", "--postgres-dsn", DSN,
                    "--postgres-schema", schema)
    s.schema = schema
    yield s
    s.stop()
    asyncio.run(drop_schema(DSN, schema))


def _history(stack, address: bytes, **params) -> httpx.Response:
    return httpx.get(f"{stack.url}/v11/accounts/{address_to_text(address)}/transactions", params=params, timeout=10)


def _wait_indexed(stack, address: bytes, height: int) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        answer = _history(stack, address, limit=1000)
        if answer.status_code == 200 and int(answer.headers["X-Index-Height"]) >= height:
            return answer.json()
        time.sleep(0.3)
    raise AssertionError(f"not indexed to height {height}: {answer.status_code} {answer.text}")


async def _kill_indexer_sessions(schema: str) -> int:
    """Terminate this stack's indexer sessions (only its schema's: another node may share the server)."""
    conn = await asyncpg.connect(DSN)
    try:
        return len(await conn.fetch("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                    "WHERE application_name = $1 AND pid <> pg_backend_pid()",
                                    f"{APPLICATION_NAME}:{schema}"))
    finally:
        await conn.close()


def test_account_history_from_the_index_pages_newest_first(indexed_stack):
    to, results = _send(indexed_stack, 12)
    body = _wait_indexed(indexed_stack, to, max(r.receipt.height for r in results))
    assert [t["tx_id"] for t in body["transactions"]] == [
        t["tx_id"] for t in sorted(body["transactions"], key=lambda t: (-int(t["height"]), -int(t["position"])))]
    amounts = sorted(int(t["transfer"]["amount"]) for t in body["transactions"])
    assert amounts == list(range(1, 13))
    first = _history(indexed_stack, to, limit=5).json()
    second = _history(indexed_stack, to, limit=5, before=first["next_page"]).json()
    assert [t["tx_id"] for t in first["transactions"] + second["transactions"]] == [
        t["tx_id"] for t in body["transactions"][:10]]
    assert _history(indexed_stack, to, before="nope").status_code == 400
    assert _history(indexed_stack, to, limit=0).status_code == 400
    metrics = httpx.get(f"{indexed_stack.url}/v11/metrics", timeout=10).text
    assert "aurigraph_index_height" in metrics and "aurigraph_index_lag_blocks" in metrics


def test_indexer_resumes_after_its_postgresql_sessions_are_killed(indexed_stack):
    to, before = _send(indexed_stack, 3)
    _wait_indexed(indexed_stack, to, max(r.receipt.height for r in before))
    assert asyncio.run(_kill_indexer_sessions(indexed_stack.schema)) >= 1
    _, during = _send(indexed_stack, 3)  # committed while the indexer reconnects
    more, after = _send(indexed_stack, 3)
    body = _wait_indexed(indexed_stack, more, max(r.receipt.height for r in after))
    assert len(body["transactions"]) == 3

    async def counts():
        conn = await asyncpg.connect(DSN)
        try:
            schema = indexed_stack.schema
            ids = [r.tx_id for r in before + during + after]
            return await conn.fetchval(f'SELECT count(*) FROM "{schema}".transactions WHERE tx_id = ANY($1)', ids)
        finally:
            await conn.close()
    assert asyncio.run(counts()) == 9, "every committed transaction indexed exactly once"


def test_audit_cli_exports_and_verifies(stack, tmp_path):
    _send(stack, 2)
    path = tmp_path / "audit.ndjson"
    export = subprocess.run([EXE, "audit", "export", "--url", stack.url, "-o", str(path)], capture_output=True,
                            text=True, timeout=120, check=False)
    assert export.returncode == 0 and "exported" in export.stderr, export.stderr
    verify = subprocess.run([EXE, "audit", "verify", str(path), "--genesis", str(stack.data.genesis)],
                            capture_output=True, text=True, timeout=120, check=False)
    assert verify.returncode == 0 and verify.stdout.startswith("OK: blocks 1..") and "linked to the genesis" in \
        verify.stdout, verify.stdout + verify.stderr
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:1] + lines[2:]))  # a transaction left out
    verify = subprocess.run([EXE, "audit", "verify", str(path), "--genesis", str(stack.data.genesis)],
                            capture_output=True, text=True, timeout=120, check=False)
    assert verify.returncode == 1 and verify.stderr.startswith("FAILED: line "), verify.stderr
