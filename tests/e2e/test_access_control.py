"""Access control as a client meets it, on two stacks.

`guarded` (API keys, submission allowlist 10.0.0.0/8, so the tests' 127.0.0.1 may not submit): every
REST and WebSocket route of the app and every gRPC method of the service descriptors, called with no
key and with reader, submitter and admin keys, answers as `serve_apps.auth` says — 401 /
UNAUTHENTICATED without a key (except the open routes), 403 / PERMISSION_DENIED below the route's
role, and otherwise neither; submissions are refused for the client's address while reads work, and
X-Forwarded-For does not change who the client is.

`secured` (API keys, a Redis-shared rate limit, an HTTPS certificate, allowlist 127.0.0.1 with
127.0.0.1 as a trusted proxy): a key of the right role submits and commits, a client over its rate
gets 429 / RESOURCE_EXHAUSTED with a retry hint, HTTPS accepts TLS 1.3 only, and a trusted proxy's
X-Forwarded-For decides the client's address."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import re
import ssl
import time
from pathlib import Path

import grpc
import httpx
import pytest
import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi.routing import APIWebSocketRoute, iter_route_contexts
from google.protobuf import message_factory
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from aurigraph.apikeys import Role, add_key
from aurigraph.client import ApiError, Client
from aurigraph.codec import decode_signed, encode_signed
from aurigraph.crypto import generate_keypair
from aurigraph.ledger import Transfer
from aurigraph.v1 import consensus_pb2, services_pb2, services_pb2_grpc, transaction_pb2
from serve_apps.auth import (
    OPEN_ROUTES,
    ROUTE_ROLES,
    SUBMISSION_ROUTES,
    grpc_route,
    rest_route,
    ws_route,
)
from serve_apps.rest.app import create_app
from tests.e2e.conftest import start_stack
from tests.redis_server import PrivateRedis

RATE_PER_S, BURST = 2, 30


def self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


# --- the role matrix and the allowlist refusing this client: one stack for all of it ------------

ALLOWED_ELSEWHERE = "10.0.0.0/8"  # the tests connect from 127.0.0.1: outside it
PATH_VALUES = {"tx_id": "00" * 64, "height": "1", "address": "00" * 32, "model": "load"}
KEYS = (None, *Role)  # no key, then each role from the lowest


def served_routes() -> list[tuple[str, str, str]]:
    """(rule name, method, path) of every REST and WebSocket route the gateway app serves."""
    app = create_app(service=None)  # built here only to list its routes
    out = []
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIWebSocketRoute):
            out.append((ws_route(context.path), "WS", context.path))
        else:
            out += [(rest_route(m, context.path), m, context.path) for m in sorted(set(context.methods) - {"HEAD"})]
    return out


def grpc_methods() -> list:
    return [m for s in services_pb2.DESCRIPTOR.services_by_name.values() for m in s.methods]


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m.group(1)], path)


def _quiet_s(want: str) -> float:
    """How long an open, quiet stream is waited on before it counts as admitted: briefly where the
    table admits the caller; where it refuses, long enough for the refusal to arrive on a loaded
    machine (a refused caller that is never refused still fails, as "admitted")."""
    return 3 if want in ("open", "admitted") else 30


def expected(route: str, role: Role | None) -> str:
    """What admission answers `role` (None: no key) on `route`: open, unauthenticated, role,
    allowlist (refused for the client's address) or admitted."""
    if route in OPEN_ROUTES:
        return "open"
    needs = ROUTE_ROLES[route]  # KeyError: a route without a rule (test_access.py says which)
    if role is None:
        return "unauthenticated"
    if role < needs:
        return "role"
    return "allowlist" if route in SUBMISSION_ROUTES else "admitted"


@pytest.fixture(scope="class")
def guarded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("guarded")
    keys_file = folder / "api_keys.json"
    keys = {role: add_key(keys_file, role.name.lower(), role) for role in Role}
    stack = start_stack(folder / "data", "--api-keys", str(keys_file), "--rate-limit", "0",
                        "--allow-submit", ALLOWED_ELSEWHERE)
    yield stack, keys
    stack.stop()


def signed_transfer(stack, key: str) -> bytes:
    with Client(stack.url, api_key=key) as node:  # reads only: the chain id and the nonce
        return encode_signed(node.sign(stack.faucet, Transfer(generate_keypair().address, 1)))


class TestGuarded:
    """Runs first, and its stack stops before `secured` starts (two cores)."""

    def test_every_rest_route_answers_each_role_as_the_table_says(self, guarded):
        stack, keys = guarded
        wrong = []
        with httpx.Client(base_url=stack.url, timeout=30) as http:
            for route, method, path in served_routes():
                if method == "WS":
                    continue
                for role in KEYS:
                    headers = {"x-api-key": keys[role]} if role else {}
                    if method == "POST":
                        headers["content-type"] = "application/json"
                    answer = http.request(method, concrete(path), headers=headers,
                                          content=b"{}" if method == "POST" else None)
                    detail = answer.json().get("detail", "") if answer.status_code in (401, 403) else ""
                    got = {401: "unauthenticated", 403: "allowlist" if "127.0.0.1" in detail else "role"}.get(
                        answer.status_code, "admitted")
                    want = expected(route, role)
                    if got != ("admitted" if want == "open" else want):
                        wrong.append(f"{route} as {role.name if role else 'no key'}: {answer.status_code} {detail}")
        assert not wrong, "\n".join(wrong)

    def test_every_websocket_route_answers_each_role_as_the_table_says(self, guarded):
        stack, keys = guarded

        async def attempt(path: str, key: str | None, quiet_s: float) -> str:
            headers = {"x-api-key": key} if key else {}
            try:
                async with connect(f"ws://127.0.0.1:{stack.http_port}{path}?from_height=1&format=json",
                                   additional_headers=headers) as ws:
                    with contextlib.suppress(TimeoutError):  # open and quiet for quiet_s: admitted too
                        await asyncio.wait_for(ws.recv(), quiet_s)
                    return "admitted"
            except ConnectionClosed as e:
                return {4401: "unauthenticated", 4403: "role"}.get(e.rcvd.code, f"closed {e.rcvd.code}")

        routes = [(route, path) for route, method, path in served_routes() if method == "WS"]
        assert routes, "the app serves the event stream"
        wrong = [f"{route} as {role.name if role else 'no key'}: {got}"
                 for route, path in routes for role in KEYS
                 if (got := asyncio.run(attempt(path, keys[role] if role else None,
                                                _quiet_s(expected(route, role))))) != expected(route, role)]
        assert not wrong, "\n".join(wrong)

    def test_every_grpc_method_answers_each_role_as_the_table_says(self, guarded):
        stack, keys = guarded
        wrong = []
        with grpc.insecure_channel(stack.grpc_target) as channel:
            for method in grpc_methods():
                route = grpc_route(method.containing_service.name, method.name)
                request = message_factory.GetMessageClass(method.input_type)()
                kind = {(False, False): channel.unary_unary, (False, True): channel.unary_stream,
                        (True, True): channel.stream_stream}[(method.client_streaming, method.server_streaming)]
                call = kind(f"/{method.containing_service.full_name}/{method.name}",
                            request_serializer=lambda m: m.SerializeToString(), response_deserializer=lambda b: b)
                for role in KEYS:
                    metadata = [("x-api-key", keys[role])] if role else []
                    code, details = grpc.StatusCode.OK, ""
                    try:
                        answer = call(iter([request]) if method.client_streaming else request, metadata=metadata,
                                      timeout=_quiet_s(expected(route, role)) if method.server_streaming else 30)
                        if method.server_streaming:
                            next(answer, None)
                    except grpc.RpcError as e:
                        code, details = e.code(), e.details() or ""
                    got = {grpc.StatusCode.UNAUTHENTICATED: "unauthenticated",
                           grpc.StatusCode.PERMISSION_DENIED: "allowlist" if "127.0.0.1" in details else "role"
                           }.get(code, "admitted")
                    want = expected(route, role)
                    if got != ("admitted" if want == "open" else want):
                        wrong.append(f"{route} as {role.name if role else 'no key'}: {code.name} {details}")
        assert not wrong, "\n".join(wrong)

    def test_outside_the_allowlist_submitting_is_refused_naming_the_client_and_reads_work(self, guarded):
        stack, keys = guarded
        raw = signed_transfer(stack, keys[Role.READER])
        signed = transaction_pb2.SignedTransaction.FromString(raw)
        submitter = {"x-api-key": keys[Role.SUBMITTER], "content-type": "application/x-protobuf"}
        with httpx.Client(base_url=stack.url, timeout=30) as http:
            batch = transaction_pb2.TransactionBatch(transactions=[raw]).SerializeToString()
            for path, body in (("/v11/transactions?wait=committed", raw), ("/v11/transactions/batch", batch)):
                refused = http.post(path, content=body, headers=submitter)
                assert refused.status_code == 403, refused.text
                assert refused.json()["code"] == "FORBIDDEN" and "127.0.0.1" in refused.json()["detail"]
            reader = {"x-api-key": keys[Role.READER]}
            assert http.get("/v11/consensus/status", headers=reader).status_code == 200
            assert http.get(f"/v11/accounts/{stack.faucet.address.hex()}", headers=reader).status_code == 200
        with grpc.insecure_channel(stack.grpc_target) as channel:
            stub = services_pb2_grpc.TransactionServiceStub(channel)
            for submit, request in ((stub.SubmitTransaction, transaction_pb2.SubmitRequest(transaction=signed)),
                                    (stub.BatchSubmitTransactions,
                                     transaction_pb2.BatchSubmitRequest(transactions=[signed]))):
                with pytest.raises(grpc.RpcError) as caught:
                    submit(request, metadata=[("x-api-key", keys[Role.SUBMITTER])], timeout=30)
                assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
                assert "127.0.0.1" in caught.value.details()
            status = services_pb2_grpc.ConsensusServiceStub(channel).GetStatus(
                consensus_pb2.GetConsensusStatusRequest(), metadata=[("x-api-key", keys[Role.READER])], timeout=30)
            assert status.height >= 0
        unknown = httpx.get(f"{stack.url}/v11/transactions/{decode_signed(raw).tx_id.hex()}", timeout=30,
                            headers={"x-api-key": keys[Role.READER]})
        assert unknown.status_code == 404, "the refused transaction never reached the node"

    def test_x_forwarded_for_does_not_change_the_client_without_a_trusted_proxy(self, guarded):
        stack, keys = guarded
        raw = signed_transfer(stack, keys[Role.READER])
        headers = {"x-api-key": keys[Role.SUBMITTER], "content-type": "application/x-protobuf",
                   "x-forwarded-for": "10.1.2.3"}
        refused = httpx.post(f"{stack.url}/v11/transactions", content=raw, headers=headers, timeout=30)
        assert refused.status_code == 403 and "127.0.0.1" in refused.json()["detail"], refused.text
        with grpc.insecure_channel(stack.grpc_target) as channel, pytest.raises(grpc.RpcError) as caught:
            services_pb2_grpc.TransactionServiceStub(channel).SubmitTransaction(
                transaction_pb2.SubmitRequest(transaction=transaction_pb2.SignedTransaction.FromString(raw)),
                metadata=[("x-api-key", keys[Role.SUBMITTER]), ("x-forwarded-for", "10.1.2.3")], timeout=30)
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED and "127.0.0.1" in caught.value.details()


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    folder = tmp_path_factory.mktemp("secured")
    keys_file = folder / "api_keys.json"
    keys = {role: add_key(keys_file, role.name.lower(), role) for role in Role}
    cert, key = self_signed(folder)
    limiter = PrivateRedis(folder)  # a Redis of its own: no other node's (or suite's) buckets in it
    limiter.start()
    stack = start_stack(folder / "data", "--api-keys", str(keys_file), "--rate-limit", str(RATE_PER_S),
                        "--rate-limit-burst", str(BURST), "--redis-url", limiter.url,
                        "--tls-cert", str(cert), "--tls-key", str(key),
                        "--allow-submit", "127.0.0.1", "--allow-submit", "::1", "--trusted-proxy", "127.0.0.1")
    stack.cert, stack.redis = cert, redis.Redis.from_url(limiter.url)
    yield stack, keys
    stack.stop()
    limiter.close()


def trust(stack) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(stack.cert))


def https(stack) -> str:
    return f"https://127.0.0.1:{stack.http_port}"


def test_https_only_with_tls_1_3(secured):
    stack, _ = secured
    assert httpx.get(f"{https(stack)}/v11/health", verify=trust(stack), timeout=10).status_code == 200
    old = ssl.create_default_context(cafile=str(stack.cert))
    old.maximum_version = ssl.TLSVersion.TLSv1_2
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{https(stack)}/v11/health", verify=old, timeout=10)
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{stack.http_port}/v11/health", timeout=10)  # no plain HTTP


def test_rest_needs_a_key_of_the_right_role(secured):
    stack, keys = secured
    with httpx.Client(base_url=https(stack), timeout=30, verify=trust(stack)) as http:
        # liveness and readiness stay open for orchestrators' probes
        assert http.get("/v11/health").status_code == 200 and http.get("/v11/ready").status_code == 200
        assert http.get("/v11/consensus/status").status_code == 401
        assert http.get("/v11/consensus/status", headers={"x-api-key": "agk_nope"}).json()["code"] == "UNAUTHENTICATED"
        assert http.get("/v11/consensus/status", headers={"x-api-key": keys[Role.READER]}).status_code == 200
        refused = http.post("/v11/transactions", content=b"{}", headers={"x-api-key": keys[Role.READER]})
        assert refused.status_code == 403 and refused.json()["code"] == "FORBIDDEN"
        bearer = http.get("/v11/nodes", headers={"authorization": f"Bearer {keys[Role.ADMIN]}"})
        assert bearer.status_code == 200


def test_the_sdk_with_a_submitter_key_over_rest_and_grpc(secured):
    stack, keys = secured
    to = generate_keypair().address
    for url in (https(stack), f"grpcs://{stack.grpc_target}"):  # with certificates, gRPC is TLS too
        with Client(url, api_key=keys[Role.SUBMITTER], verify=str(stack.cert)) as node:
            assert node.transfer(stack.faucet, to, 1).status == 2
        with Client(url, api_key=keys[Role.READER], verify=str(stack.cert)) as node:
            with pytest.raises(ApiError) as caught:
                node.transfer(stack.faucet, to, 1)
            assert caught.value.code == "FORBIDDEN"


def test_inside_the_allowlist_submit_commits_and_a_trusted_proxy_names_the_client(secured):
    stack, keys = secured
    submitter = {"x-api-key": keys[Role.SUBMITTER], "content-type": "application/x-protobuf"}
    with httpx.Client(base_url=https(stack), timeout=60, verify=trust(stack)) as http:
        with Client(https(stack), api_key=keys[Role.READER], verify=str(stack.cert)) as node:
            first = encode_signed(node.sign(stack.faucet, Transfer(generate_keypair().address, 1)))
        committed = http.post("/v11/transactions?wait=committed", content=first, headers=submitter)
        assert committed.status_code == 200 and committed.json()["status"] == "TRANSACTION_STATUS_COMMITTED"
        # 127.0.0.1 is a trusted proxy here: the client is whom it names, and 192.0.2.7 may not submit
        with Client(https(stack), api_key=keys[Role.READER], verify=str(stack.cert)) as node:
            second = encode_signed(node.sign(stack.faucet, Transfer(generate_keypair().address, 1)))
        proxied = {**submitter, "x-forwarded-for": "192.0.2.7"}
        refused = http.post("/v11/transactions", content=second, headers=proxied)
        assert refused.status_code == 403 and "192.0.2.7" in refused.json()["detail"], refused.text
        reads = http.get("/v11/consensus/status", headers={"x-api-key": keys[Role.READER], "x-forwarded-for": "192.0.2.7"})
        assert reads.status_code == 200, "other routes do not look at the allowlist"
    with grpc.secure_channel(stack.grpc_target, grpc.ssl_channel_credentials(stack.cert.read_bytes())) as channel, \
            pytest.raises(grpc.RpcError) as caught:
        services_pb2_grpc.TransactionServiceStub(channel).SubmitTransaction(
            transaction_pb2.SubmitRequest(transaction=transaction_pb2.SignedTransaction.FromString(second)),
            metadata=[("x-api-key", keys[Role.SUBMITTER]), ("x-forwarded-for", "192.0.2.7")], timeout=30)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED and "192.0.2.7" in caught.value.details()


def test_grpc_without_a_key_is_unauthenticated(secured):
    stack, _ = secured
    with grpc.secure_channel(stack.grpc_target, grpc.ssl_channel_credentials(stack.cert.read_bytes())) as channel, \
            pytest.raises(grpc.RpcError) as caught:
        services_pb2_grpc.ConsensusServiceStub(channel).GetStatus(consensus_pb2.GetConsensusStatusRequest(),
                                                                   timeout=10)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_the_stream_needs_a_key(secured):
    stack, keys = secured

    tls = ssl.create_default_context(cafile=str(stack.cert))

    async def attempt(params: str):
        async with connect(f"wss://127.0.0.1:{stack.http_port}/v11/stream?format=json&from_height=1{params}",
                           ssl=tls) as ws:
            return await asyncio.wait_for(ws.recv(), 20)

    with pytest.raises(ConnectionClosed) as caught:
        asyncio.run(attempt(""))
    assert caught.value.rcvd.code == 4401
    assert "block_committed" in asyncio.run(attempt(f"&api_key={keys[Role.READER]}&kinds=block_committed"))


def test_over_the_rate_a_client_gets_429_with_retry_after_shared_through_redis(secured):
    stack, keys = secured
    name = "reader"
    stack.redis.delete(f"aurigraph:ratelimit:{name}")
    with httpx.Client(base_url=https(stack), timeout=30, headers={"x-api-key": keys[Role.READER]},
                      verify=trust(stack)) as http:
        started, allowed = time.monotonic(), 0
        for _ in range(10 * BURST):
            limited = http.get("/v11/consensus/status")
            if limited.status_code != 200:
                break
            allowed += 1
        elapsed_s = time.monotonic() - started
    assert BURST <= allowed <= BURST + RATE_PER_S * elapsed_s + 1, (allowed, elapsed_s)
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert limited.json()["code"] == "RATE_LIMITED" and limited.json()["retry_after_ms"] > 0
    assert stack.redis.exists(f"aurigraph:ratelimit:{name}")
    time.sleep(1.5)  # the bucket refills at RATE_PER_S
    with httpx.Client(base_url=https(stack), timeout=30, headers={"x-api-key": keys[Role.READER]},
                      verify=trust(stack)) as http:
        assert http.get("/v11/consensus/status").status_code == 200


def test_a_submit_stream_is_rate_limited_per_transaction_and_goes_on(secured):
    stack, keys = secured
    stack.redis.delete("aurigraph:ratelimit:submitter")
    requests = [transaction_pb2.SubmitRequest()] * (10 * BURST)  # no transaction: charged, then rejected
    with grpc.secure_channel(stack.grpc_target, grpc.ssl_channel_credentials(stack.cert.read_bytes())) as channel:
        started = time.monotonic()
        answers = list(services_pb2_grpc.TransactionServiceStub(channel).SubmitTransactionStream(
            iter(requests), metadata=[("x-api-key", keys[Role.SUBMITTER])], timeout=60))
        elapsed_s = time.monotonic() - started
    assert sorted(a.sequence for a in answers) == list(range(len(requests))), "one answer per request"
    limited = [a for a in answers if a.code == "RATE_LIMITED"]
    admitted = len(answers) - len(limited)
    assert BURST <= admitted <= BURST + RATE_PER_S * elapsed_s + 1, (admitted, elapsed_s)
    assert all(a.retry_after_ms > 0 and a.grpc_status == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0] for a in limited)
    assert {a.code for a in answers if a.code != "RATE_LIMITED"} == {"REJECTED"}


def test_guessing_keys_is_rate_limited_too(secured):
    stack, _ = secured
    # This address's bucket of refused requests is shared through Redis: earlier tests drew from it.
    stack.redis.delete("aurigraph:ratelimit:peer:127.0.0.1")
    with httpx.Client(base_url=https(stack), timeout=30, verify=trust(stack)) as http:
        started, codes = time.monotonic(), []
        while len(codes) < 10 * BURST and 429 not in codes:
            codes.append(http.get("/v11/nodes", headers={"x-api-key": f"agk_guess{len(codes)}"}).status_code)
        elapsed_s = time.monotonic() - started
    # Refused guesses drain the address's bucket like any request (however slowly this machine sends them).
    assert codes[0] == 401 and codes[-1] == 429, codes
    assert set(codes[:-1]) == {401} and BURST <= len(codes) - 1 <= BURST + RATE_PER_S * elapsed_s + 1, codes
