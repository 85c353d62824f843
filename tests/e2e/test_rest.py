"""Every REST route over real HTTP against `aurigraph up`'s stack: answers, formats, and errors.
No request from a client may get a 500 or hang; every refusal is an `ApiError` with its code."""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass

import httpx
import pytest

from aurigraph.codec import encode_signed, sign_transaction, signed_to_json
from aurigraph.crypto import Scheme, address_to_text, generate_keypair
from aurigraph.ledger import Transfer, TxBody
from aurigraph.v1 import block_pb2, common_pb2, transaction_pb2

PROTOBUF = "application/x-protobuf"


@pytest.fixture(scope="module")
def http(stack):
    with httpx.Client(base_url=stack.url, timeout=60) as client:
        yield client


@pytest.fixture
def sender(stack, http):
    """A fresh account funded by the faucet (committed), with its next nonce tracked here."""
    return Sender(stack.chain_id, fund(stack, http), 0)


def fund(stack, http, amount: int = 10**9):
    key = generate_keypair()
    nonce = int(http.get(f"/v11/accounts/{stack.faucet.address.hex()}").json()["nonce"])
    tx = Sender(stack.chain_id, stack.faucet, nonce).transfer(to=key.address, amount=amount)
    r = http.post("/v11/transactions", params={"wait": "committed"}, content=encode_signed(tx),
                  headers={"content-type": PROTOBUF})
    assert r.status_code == 200, r.text
    return key


@dataclass
class Sender:
    chain_id: str
    key: object
    nonce: int

    def transfer(self, to: bytes | None = None, amount: int = 10, **overrides):
        """A signed transfer with the next nonce (which it then counts as used) unless overridden."""
        nonce = overrides.pop("nonce", None)
        if nonce is None:
            nonce, self.nonce = self.nonce, self.nonce + 1
        body = TxBody(overrides.pop("chain_id", self.chain_id), self.key.address, nonce, overrides.pop("fee", 1),
                      overrides.pop("timestamp_ms", time.time_ns() // 1_000_000),
                      Transfer(to or generate_keypair().address, amount))
        return sign_transaction(body, self.key)


def error_of(response) -> dict:
    body = response.json()
    assert set(body) >= {"code", "detail"}, body
    return body


def test_submit_json_and_wait_for_the_commit(http, sender):
    tx = sender.transfer()
    r = http.post("/v11/transactions", params={"wait": "committed"}, content=signed_to_json(tx),
                  headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "TRANSACTION_STATUS_COMMITTED"
    assert base64.b64decode(body["tx_id"]) == tx.tx_id and int(body["receipt"]["height"]) >= 1
    again = http.post("/v11/transactions", params={"wait": "committed"}, content=signed_to_json(tx))
    assert again.status_code == 200 and again.json()["status"] == "TRANSACTION_STATUS_COMMITTED", "idempotent by id"


def test_submit_protobuf_without_waiting_then_read_its_status(http, sender):
    tx = sender.transfer()
    r = http.post("/v11/transactions", content=encode_signed(tx), headers={"content-type": PROTOBUF, "accept": PROTOBUF})
    assert r.status_code in (200, 202) and r.headers["content-type"] == PROTOBUF
    result = transaction_pb2.SubmitResponse.FromString(r.content)
    assert result.tx_id == tx.tx_id
    deadline = time.monotonic() + 30
    while True:
        record = http.get(f"/v11/transactions/{tx.tx_id.hex()}").json()
        if record["status"] == "TRANSACTION_STATUS_COMMITTED" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert record["status"] == "TRANSACTION_STATUS_COMMITTED"
    assert int(record["receipt"]["height"]) >= 1 and 0 < record["confidence"] <= 1
    assert base64.b64decode(record["transaction"]["body"]) == tx.body_bytes, "the stored bytes are the signed bytes"


@pytest.mark.parametrize("case, reason", [
    ("bad_signature", "REJECT_REASON_BAD_SIGNATURE"),
    ("wrong_chain", "REJECT_REASON_WRONG_CHAIN"),
    ("replay", "REJECT_REASON_NONCE_REPLAY"),
    ("fee_too_low", "REJECT_REASON_FEE_TOO_LOW"),
    ("bad_timestamp", "REJECT_REASON_BAD_TIMESTAMP"),
])
def test_bad_transactions_are_422_with_their_reason(http, sender, case, reason):
    if case == "replay":
        first = http.post("/v11/transactions", params={"wait": "committed"}, content=encode_signed(sender.transfer()),
                          headers={"content-type": PROTOBUF})
        assert first.status_code == 200, first.text
    if case == "bad_signature":
        tx = sender.transfer()
        wire = encode_signed(tx)
        m = transaction_pb2.SignedTransaction.FromString(wire)
        m.signature = bytes([m.signature[0] ^ 1]) + m.signature[1:]
        wire = m.SerializeToString(deterministic=True)
    else:
        overrides = {"wrong_chain": {"chain_id": "another-chain"}, "replay": {"nonce": 0},
                     "fee_too_low": {"fee": 0}, "bad_timestamp": {"timestamp_ms": 1}}[case]
        wire = encode_signed(sender.transfer(**overrides))
    # A replayed nonce is refused only when ordered: the wait allows for a slow, loaded machine.
    r = http.post("/v11/transactions", params={"wait": "committed", "timeout_ms": 30_000}, content=wire,
                  headers={"content-type": PROTOBUF})
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["status"] == "TRANSACTION_STATUS_REJECTED" and body["reason"] == reason and body["detail"]
    record = http.get(f"/v11/transactions/{body_id(body)}").json()
    if case == "wrong_chain":  # rejected before ordering, signed by its sender: remembered
        assert record["status"] == "TRANSACTION_STATUS_REJECTED" and record["reason"] == reason
    if case == "bad_signature":  # not the sender's: not remembered, or anyone could "reject" its body
        assert record["status"] == "TRANSACTION_STATUS_UNKNOWN"


def body_id(body: dict) -> str:
    return base64.b64decode(body["tx_id"]).hex()


@pytest.mark.parametrize("content, content_type, code", [
    (b"\xff\x00garbage", PROTOBUF, "MALFORMED"),
    (b"{not json", "application/json", "MALFORMED"),
    (b'{"body": 5}', "application/json", "MALFORMED"),
    (b'{"nope": "x"}', "application/json", "MALFORMED"),
    (b"", "application/json", "MALFORMED"),
    (b"hello", "text/plain", "UNSUPPORTED_MEDIA_TYPE"),
    (b"[" * 100_000, "application/json", "MALFORMED"),
])
def test_malformed_bodies_are_4xx(http, content, content_type, code):
    r = http.post("/v11/transactions", content=content, headers={"content-type": content_type})
    assert 400 <= r.status_code < 500 and error_of(r)["code"] == code, r.text


def test_an_empty_protobuf_envelope_is_rejected_as_malformed(http):
    r = http.post("/v11/transactions", content=b"", headers={"content-type": PROTOBUF})
    assert r.status_code == 422 and r.json()["reason"] == "REJECT_REASON_MALFORMED"


def test_oversize_bodies_are_413(http):
    r = http.post("/v11/transactions", content=b"x" * (129 * 1024), headers={"content-type": PROTOBUF})
    assert r.status_code == 413 and error_of(r)["code"] == "PAYLOAD_TOO_LARGE"


def test_batch_gives_one_result_per_transaction_in_order(http, sender):
    good = [sender.transfer() for _ in range(20)]
    bad = sender.transfer(chain_id="elsewhere", nonce=99)
    batch = transaction_pb2.BatchSubmitRequest(
        transactions=[transaction_pb2.SignedTransaction.FromString(encode_signed(t)) for t in [*good[:10], bad, *good[10:]]])
    r = http.post("/v11/transactions/batch", params={"wait": "committed"}, content=batch.SerializeToString(),
                  headers={"content-type": PROTOBUF, "accept": PROTOBUF})
    assert r.status_code == 200, r.text
    results = transaction_pb2.BatchSubmitResponse.FromString(r.content).results
    assert [x.tx_id for x in results] == [t.tx_id for t in [*good[:10], bad, *good[10:]]]
    assert results[10].status == transaction_pb2.TRANSACTION_STATUS_REJECTED
    assert all(x.status == transaction_pb2.TRANSACTION_STATUS_COMMITTED for i, x in enumerate(results) if i != 10)
    as_json = http.post("/v11/transactions/batch", content=json.dumps(
        {"transactions": [json.loads(signed_to_json(t)) for t in good[:3]]}))
    assert as_json.status_code == 200 and len(as_json.json()["results"]) == 3


def test_batch_limits(http):
    empty = http.post("/v11/transactions/batch", content=b"", headers={"content-type": PROTOBUF})
    assert empty.status_code == 400 and error_of(empty)["code"] == "BAD_REQUEST"
    too_many = transaction_pb2.TransactionBatch(transactions=[b"\x0a\x00"] * 10_001).SerializeToString()
    r = http.post("/v11/transactions/batch", content=too_many, headers={"content-type": PROTOBUF})
    assert r.status_code == 413 and error_of(r)["code"] == "BATCH_TOO_LARGE"


def test_transaction_lookup_errors(http):
    unknown = http.get(f"/v11/transactions/{'ab' * 64}")
    assert unknown.status_code == 404 and unknown.json()["status"] == "TRANSACTION_STATUS_UNKNOWN"
    for bad in ("zz", "ab" * 10, "ab" * 200):
        r = http.get(f"/v11/transactions/{bad}")
        assert r.status_code == 400 and error_of(r)["code"] == "BAD_REQUEST", bad


def test_blocks_latest_by_height_genesis_and_errors(stack, http):
    latest = http.get("/v11/blocks/latest", headers={"accept": PROTOBUF})
    assert latest.status_code == 200
    record = block_pb2.BlockRecord.FromString(latest.content)
    height = record.block.header.height
    assert height >= 1 and len(record.hash) == 64 and record.block.signatures
    assert len(record.receipts) == record.block.header.tx_count
    same = block_pb2.BlockRecord.FromString(http.get(f"/v11/blocks/{height}", headers={"accept": PROTOBUF}).content)
    assert same.hash == record.hash
    genesis = http.get("/v11/blocks/0").json()
    assert genesis["block"]["header"]["chain_id"] == stack.chain_id and genesis["block"]["header"]["height"] == "0"
    assert http.get(f"/v11/blocks/{height + 10_000}").status_code == 404
    for bad in ("-1", "x", "1.5", str(2**64)):
        r = http.get(f"/v11/blocks/{bad}")
        assert r.status_code == 400 and error_of(r)["code"] == "BAD_REQUEST", bad


def test_accounts_by_text_or_hex_address(stack, http):
    text = address_to_text(stack.faucet.address)
    by_text = http.get(f"/v11/accounts/{text}").json()
    by_hex = http.get(f"/v11/accounts/{stack.faucet.address.hex()}").json()
    assert by_text == by_hex and int(by_text["balance"]) > 0
    fresh = http.get(f"/v11/accounts/{generate_keypair(Scheme.ED25519).address.hex()}").json()
    assert fresh["balance"] == "0" and fresh["nonce"] == "0"
    for bad in ("ag123", text[:-1] + ("0" if text[-1] != "0" else "1"), "zz" * 32, "ab" * 31):
        r = http.get(f"/v11/accounts/{bad}")
        assert r.status_code == 400 and error_of(r)["code"] == "BAD_REQUEST", bad


def test_consensus_status_and_nodes(http):
    status = http.get("/v11/consensus/status").json()
    assert int(status["leader_id"]) in (1, 2, 3) and int(status["term"]) >= 1
    assert len(status["replicas"]) == 3 and int(status["knobs"]["max_batch_txs"]) == 10_000
    nodes = http.get("/v11/nodes").json()["nodes"]
    assert [int(n["validator"]["id"]) for n in nodes] == [1, 2, 3]
    assert sum(n["role"] == "NODE_ROLE_LEADER" for n in nodes) == 1
    assert all(n["health"] == "NODE_HEALTH_UP" and n["ray_node_id"] and int(n["last_heartbeat_ms"]) > 0 for n in nodes)


def test_health_ready_and_metrics(http):
    assert http.get("/v11/health").json()["live"] is True
    ready = http.get("/v11/ready")
    assert ready.status_code == 200 and ready.json()["ready"] is True
    text = http.get("/v11/metrics").text
    for name in ("aurigraph_block_height", "aurigraph_gateway_transactions_total", "aurigraph_finality_seconds_bucket",
                 "aurigraph_gateway_rejections_total", "aurigraph_pending_transactions", "aurigraph_actor_up",
                 "aurigraph_ingress_inflight_batches", "aurigraph_gateway_requests_total",
                 "aurigraph_replica_link_dropped_frames"):
        assert name in text, name

    def links_up() -> list[str]:  # from the supervisor's health round, once a second
        return [line for line in http.get("/v11/metrics").text.splitlines()
                if line.startswith("aurigraph_replica_link_up{")]

    deadline = time.monotonic() + 30
    while not ((lines := links_up()) and all(line.endswith(" 1.0") for line in lines)) and time.monotonic() < deadline:
        time.sleep(0.5)
    # The leader's links to both followers and theirs to it at least; two followers send each other
    # nothing outside elections, so a link between them is reported only once used.
    assert 4 <= len(lines) <= 6 and all(line.endswith(" 1.0") for line in lines), lines


def test_requests_are_counted_by_route_and_status(http):
    def count(route: str, status: int) -> float:
        wanted = f'aurigraph_gateway_requests_total{{api="rest",route="{route}",status="{status}"}}'
        lines = [line for line in http.get("/v11/metrics").text.splitlines() if line.startswith(wanted)]
        return float(lines[0].rsplit(" ", 1)[1]) if lines else 0.0

    health, missing = count("/v11/health", 200), count("unmatched", 404)
    for _ in range(3):
        http.get("/v11/health")
    assert http.get("/v11/no-such-route").status_code == 404
    assert count("/v11/health", 200) == health + 3 and count("unmatched", 404) == missing + 1


def test_crypto_helpers(stack, http):
    tx = Sender(stack.chain_id, stack.faucet, 0).transfer()
    item = {"signature": {"scheme": "SIGNATURE_SCHEME_ED25519", "public_key": base64.b64encode(tx.public_key).decode(),
                          "signature": base64.b64encode(tx.signature).decode()},
            "message": base64.b64encode(tx.verify_item()[2]).decode()}
    forged = json.loads(json.dumps(item))
    forged["message"] = base64.b64encode(b"something else").decode()
    r = http.post("/v11/crypto/verify", content=json.dumps({"checks": [item, forged]}))
    assert r.status_code == 200 and r.json()["valid"] == [True, False]
    kem = http.get("/v11/crypto/kem-public-key").json()
    assert kem["algorithm"] == "ML-KEM-1024" and len(base64.b64decode(kem["public_key"])) == 1568


def test_unknown_routes_and_methods(http):
    assert error_of(http.get("/v11/nope"))["code"] == "NOT_FOUND"
    r = http.delete("/v11/blocks/latest")
    assert r.status_code == 405 and error_of(r)["code"] == "METHOD_NOT_ALLOWED"
    r = http.post("/v11/transactions", params={"wait": "forever"}, content=b"{}")
    assert r.status_code == 400 and error_of(r)["code"] == "BAD_REQUEST"


def test_openapi_docs_are_served(http):
    assert http.get("/api/docs").status_code == 200
    paths = http.get("/api/openapi.json").json()["paths"]
    for path in ("/v11/transactions", "/v11/transactions/batch", "/v11/transactions/{tx_id}", "/v11/blocks/{height}",
                 "/v11/blocks/latest", "/v11/accounts/{address}", "/v11/consensus/status", "/v11/nodes",
                 "/v11/metrics", "/v11/health", "/v11/ready"):
        assert path in paths, path


def test_errors_in_protobuf_when_asked(http):
    r = http.get("/v11/blocks/99999999", headers={"accept": PROTOBUF})
    assert r.status_code == 404 and common_pb2.ApiError.FromString(r.content).code == "NOT_FOUND"


def test_a_request_id_is_echoed_and_follows_the_request_into_the_actors_logs(stack, http, sender):
    rid = f"e2e-{uuid.uuid4().hex}"
    m = transaction_pb2.SignedTransaction.FromString(encode_signed(sender.transfer()))
    m.signature = bytes([m.signature[0] ^ 1]) + m.signature[1:]
    r = http.post("/v11/transactions", content=m.SerializeToString(deterministic=True),
                  headers={"content-type": PROTOBUF, "x-request-id": rid})
    assert r.status_code == 422 and r.headers["x-request-id"] == rid
    assert http.get("/v11/health").headers["x-request-id"]  # made up when the client sends none
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # Ray forwards the actors' log lines to `aurigraph up`'s output
        lines = [line for line in list(stack.output) if rid in line]
        if lines:
            break
        time.sleep(0.2)
    entry = json.loads(lines[0][lines[0].index("{"):])
    assert entry["request_id"] == rid and entry["component"] == "ingress" and "1 rejected" in entry["msg"]
