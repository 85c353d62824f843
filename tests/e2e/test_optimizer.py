"""The AI optimizer as its users meet it, on a stack started with `--optimizer --anomaly-hold` and
API keys: the model registry over REST and gRPC (readers list, admins promote / roll back /
retrain, every refusal a 4xx), a flagged transaction as an ANOMALY event, in the audit log and in
`aurigraph models anomalies`, and the hold policy — the flagged sender refused with held_for_review
until `aurigraph models release`."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import subprocess
import time

import grpc
import httpx
import pytest
from websockets.asyncio.client import connect

from aurigraph.apikeys import Role, add_key
from aurigraph.client import Client
from aurigraph.codec import encode_signed
from aurigraph.crypto import KeyPair, address_to_text, generate_keypair
from aurigraph.ledger import Transfer
from aurigraph.v1 import events_pb2, models_pb2, services_pb2_grpc
from tests.e2e.conftest import EXE, ROOT, start_stack, stream_subscribers, until_stream_subscribers

# The shipped anomaly model scores a probability, and a few normal transactions score below 1e-6;
# a threshold this close to 0 flags every transaction (a float32 sigmoid reaches it only for inputs
# far beyond anything the features produce).
THRESHOLD = 1e-12
DEADLINE_S = 60.0
PROTOBUF = "application/x-protobuf"


@pytest.fixture(scope="module")
def optimizer(tmp_path_factory):
    """The stack with the optimizer and the hold policy, and its admin and reader keys."""
    folder = tmp_path_factory.mktemp("optimizer")
    keys_file = folder / "api_keys.json"
    keys = {role: add_key(keys_file, role.name.lower(), role) for role in (Role.ADMIN, Role.READER)}
    stack = start_stack(folder / "data", "--optimizer", "--anomaly-hold", "--anomaly-threshold", str(THRESHOLD),
                        "--api-keys", str(keys_file), "--rate-limit", "0")
    yield stack, keys
    stack.stop()


@pytest.fixture(scope="module")
def sender(optimizer) -> KeyPair:
    """A funded account of the tests' own. Every transaction is flagged, so the faucet is held after
    this one transfer: the tests send from this account, never from the faucet again."""
    stack, keys = optimizer
    key = generate_keypair()
    with Client(stack.url, api_key=keys[Role.ADMIN]) as node:
        node.transfer(stack.faucet, key.address, 1_000_000)
    return key


def http(stack, key: str) -> httpx.Client:
    return httpx.Client(base_url=stack.url, timeout=120, headers={"x-api-key": key})


def aurigraph_models(stack, *args) -> subprocess.CompletedProcess:
    """`aurigraph models …` against the running node over Ray, as an operator runs it."""
    address = re.search(r"--address (\S+)", "".join(stack.output)).group(1)
    done = subprocess.run([EXE, "models", *map(str, args), "--address", address, "--data-dir", str(stack.data.root)],
                          check=False, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def submit(stack, key: str, tx_bytes: bytes) -> httpx.Response:
    """One signed transaction over REST, waiting for its commit; JSON answers."""
    with http(stack, key) as h:
        return h.post("/v11/transactions", params={"wait": "committed"}, content=tx_bytes,
                      headers={"content-type": PROTOBUF, "accept": "application/json"})


def signed_transfer(stack, key: str, sender: KeyPair) -> bytes:
    with Client(stack.url, api_key=key) as node:
        return encode_signed(node.sign(sender, Transfer(generate_keypair().address, 5)))


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def test_readers_list_the_shipped_versions_serving_over_rest_and_grpc(optimizer):
    stack, keys = optimizer
    with http(stack, keys[Role.READER]) as h:
        listed = h.get("/v11/models")
        only_load = h.get("/v11/models", params={"model": "load"})
    assert listed.status_code == 200 and listed.headers["content-type"].startswith("application/json")
    versions = listed.json()["versions"]
    assert {(v["name"], v["version"]) for v in versions if v["serving"]} == {("load", 1), ("anomaly", 1)}
    assert {v["name"] for v in only_load.json()["versions"]} == {"load"}

    with grpc.insecure_channel(stack.grpc_target) as channel:
        reply = services_pb2_grpc.ModelServiceStub(channel).ListModels(
            models_pb2.ListModelsRequest(), metadata=(("x-api-key", keys[Role.READER]),), timeout=30)
    assert {(v.name, v.version, v.serving) for v in reply.versions} == \
        {(v["name"], v["version"], v["serving"]) for v in versions}


@pytest.mark.parametrize("role, method, path, params, body, status, code", [
    (Role.READER, "POST", "/v11/models/load/retrain", {}, b"", 403, "FORBIDDEN"),
    (Role.READER, "POST", "/v11/models/load/promote", {"version": 1}, None, 403, "FORBIDDEN"),
    (Role.READER, "POST", "/v11/models/anomaly/rollback", {}, None, 403, "FORBIDDEN"),
    (Role.READER, "GET", "/v11/models", {"model": "nope"}, None, 404, "NOT_FOUND"),
    (Role.ADMIN, "POST", "/v11/models/nope/promote", {"version": 1}, None, 404, "NOT_FOUND"),
    (Role.ADMIN, "POST", "/v11/models/nope/rollback", {}, None, 404, "NOT_FOUND"),
    (Role.ADMIN, "POST", "/v11/models/nope/retrain", {}, None, 404, "NOT_FOUND"),
    (Role.ADMIN, "POST", "/v11/models/load/promote", {"version": 99}, None, 404, "NOT_FOUND"),
    (Role.ADMIN, "POST", "/v11/models/load/rollback", {}, None, 409, "PRECONDITION_FAILED"),
    (Role.ADMIN, "POST", "/v11/models/load/retrain", {}, b"{not json", 400, "MALFORMED"),
    (Role.ADMIN, "POST", "/v11/models/load/retrain", {}, b'{"promote": "yes"}', 400, "MALFORMED"),
    (Role.ADMIN, "POST", "/v11/models/load/retrain", {}, b'{"since_ms": -1}', 400, "MALFORMED"),
    (Role.ADMIN, "POST", "/v11/models/load/promote", {"version": 0}, None, 400, "BAD_REQUEST"),
    (Role.ADMIN, "POST", "/v11/models/load/promote", {"version": -1}, None, 400, "BAD_REQUEST"),
    (Role.ADMIN, "POST", "/v11/models/load/promote", {"version": "x"}, None, 400, "BAD_REQUEST"),
    (Role.ADMIN, "POST", "/v11/models/load/promote", {}, None, 400, "BAD_REQUEST"),
    (Role.READER, "GET", "/v11/anomalies", {"from": 0}, None, 400, "BAD_REQUEST"),
    (Role.READER, "GET", "/v11/anomalies", {"limit": 10_001}, None, 400, "BAD_REQUEST"),
])
def test_refusals_are_the_right_4xx(optimizer, role, method, path, params, body, status, code):
    stack, keys = optimizer
    with http(stack, keys[role]) as h:
        answer = h.request(method, path, params=params, content=body, headers={"content-type": "application/json"})
    assert (answer.status_code, answer.json()["code"]) == (status, code), answer.text


def test_retrain_on_too_little_data_says_how_much_it_needs(optimizer):
    stack, keys = optimizer
    with http(stack, keys[Role.ADMIN]) as h:
        answer = h.post("/v11/models/load/retrain", json={"since_ms": "0", "promote": True})
    assert (answer.status_code, answer.json()["code"]) == (409, "PRECONDITION_FAILED"), answer.text
    found = re.search(r"not enough data: (\d+) windows, need at least (\d+)", answer.json()["detail"])
    assert found and int(found.group(1)) < int(found.group(2)), answer.text
    with http(stack, keys[Role.READER]) as h:
        versions = h.get("/v11/models", params={"model": "load"}).json()["versions"]
    assert [(v["version"], v["serving"]) for v in versions] == [(1, True)], "nothing registered"


def test_admins_promote_the_serving_version_and_grpc_maps_refusals(optimizer):
    stack, keys = optimizer
    with http(stack, keys[Role.ADMIN]) as h:
        promoted = h.post("/v11/models/anomaly/promote", params={"version": 1})
        listed = h.get("/v11/models", params={"model": "anomaly"})
    assert promoted.status_code == 200, promoted.text
    assert (promoted.json()["serving"]["version"], promoted.json()["serving"]["name"]) == (1, "anomaly")
    assert [(v["version"], v["serving"]) for v in listed.json()["versions"]] == [(1, True)]

    admin, reader = (("x-api-key", keys[Role.ADMIN]),), (("x-api-key", keys[Role.READER]),)
    with grpc.insecure_channel(stack.grpc_target) as channel:
        models = services_pb2_grpc.ModelServiceStub(channel)
        serving = models.PromoteModel(models_pb2.PromoteModelRequest(name="load", version=1), metadata=admin,
                                      timeout=30).serving
        assert (serving.name, serving.version, serving.serving) == ("load", 1, True)
        refused = [
            (models.PromoteModel, models_pb2.PromoteModelRequest(name="load", version=99), admin,
             grpc.StatusCode.NOT_FOUND),
            (models.PromoteModel, models_pb2.PromoteModelRequest(name="load", version=0), admin,
             grpc.StatusCode.INVALID_ARGUMENT),
            (models.PromoteModel, models_pb2.PromoteModelRequest(name="nope", version=1), admin,
             grpc.StatusCode.NOT_FOUND),
            (models.RollbackModel, models_pb2.RollbackModelRequest(name="load"), admin,
             grpc.StatusCode.FAILED_PRECONDITION),
            (models.RollbackModel, models_pb2.RollbackModelRequest(name="load"), reader,
             grpc.StatusCode.PERMISSION_DENIED),
            (models.RetrainModel, models_pb2.RetrainRequest(name="nope"), admin, grpc.StatusCode.NOT_FOUND),
        ]
        for call, request, metadata, status in refused:
            with pytest.raises(grpc.RpcError) as caught:
                call(request, metadata=metadata, timeout=30)
            assert caught.value.code() == status, (request, caught.value.details())

    # Each promotion was committed to the chain first, signed by the chain's admin key and naming the
    # API key that asked; the refused ones (unknown version, nothing to roll back to) were not.
    with http(stack, keys[Role.READER]) as h:
        head = h.get("/v11/blocks/latest").json()["block"]["header"]["height"]
        export = h.get("/v11/audit/export", params={"from": 1, "to": head}).text
    notes = [r["transaction"]["body"]["admin"]["note"] for r in map(json.loads, export.splitlines())
             if "note" in r.get("transaction", {}).get("body", {}).get("admin", {})]
    assert [(n["kind"], n["detail"], n["principal"]) for n in notes] == [
        ("model_promotion", "serve the anomaly model v1", "admin"),
        ("model_promotion", "serve the load model v1", "admin"),
    ]


def test_a_flagged_transaction_is_an_event_in_the_audit_log_and_the_cli(optimizer, sender):
    stack, keys = optimizer
    url = (f"ws://127.0.0.1:{stack.http_port}/v11/stream?kinds=anomaly&account={address_to_text(sender.address)}"
           f"&api_key={keys[Role.READER]}")

    async def scenario():
        before = stream_subscribers(stack, keys[Role.READER])
        async with connect(url) as ws:
            # Subscribed (and so following the audit log from its end: serve_apps/events.py) before the transaction.
            await asyncio.to_thread(until_stream_subscribers, stack, before + 1, api_key=keys[Role.READER])
            with Client(stack.url, api_key=keys[Role.ADMIN]) as node:
                result = await asyncio.to_thread(node.transfer, sender, generate_keypair().address, 5)
            return result, events_pb2.Event.FromString(await asyncio.wait_for(ws.recv(), DEADLINE_S))

    result, event = asyncio.run(scenario())
    assert event.WhichOneof("payload") == "anomaly"
    flag = event.anomaly
    assert (flag.tx_id, flag.sender, flag.height) == (result.tx_id, sender.address, result.receipt.height)
    assert flag.score > flag.threshold and flag.threshold == pytest.approx(THRESHOLD)

    with http(stack, keys[Role.READER]) as h:
        log = h.get("/v11/anomalies", params={"from": 1, "limit": 1000}).json()
    logged = [a for a in log["anomalies"] if a["tx_id"] == b64(result.tx_id)]
    assert len(logged) == 1, log
    assert logged[0]["sender"] == b64(sender.address) and logged[0]["score"] > THRESHOLD
    assert int(logged[0]["sequence"]) == flag.sequence

    listed = json.loads(aurigraph_models(stack, "anomalies", "--json").stdout)
    assert [(a["sender"], a["score"]) for a in listed["anomalies"] if a["tx_id"] == result.tx_id.hex()] == \
        [(sender.address.hex(), pytest.approx(flag.score))]


def test_a_flagged_sender_is_held_until_released(optimizer, sender):
    stack, keys = optimizer
    # Its last transaction was flagged (or this first one will be): the hold reaches the ingress
    # within an optimizer round, so what is sent before then still commits.
    deadline = time.monotonic() + DEADLINE_S
    while (held := submit(stack, keys[Role.ADMIN], signed_transfer(stack, keys[Role.ADMIN], sender))).status_code != 422:
        assert held.status_code == 200, held.text
        assert time.monotonic() < deadline, "the sender was never held"
        time.sleep(0.5)
    assert held.json()["status"] == "TRANSACTION_STATUS_REJECTED"
    assert held.json()["reason"] == "REJECT_REASON_HELD_FOR_REVIEW", held.text

    released = aurigraph_models(stack, "release", address_to_text(sender.address), "--json")
    assert json.loads(released.stdout) == {"released": True}

    deadline = time.monotonic() + DEADLINE_S
    while (after := submit(stack, keys[Role.ADMIN], signed_transfer(stack, keys[Role.ADMIN], sender))).status_code != 200:
        assert after.status_code == 422 and after.json()["reason"] == "REJECT_REASON_HELD_FOR_REVIEW", after.text
        assert time.monotonic() < deadline, "the release never reached the ingress"
        time.sleep(0.5)
    assert after.json()["status"] == "TRANSACTION_STATUS_COMMITTED"
