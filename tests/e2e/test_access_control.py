"""A stack started with API keys, a Redis-shared rate limit and an HTTPS certificate: every route —
REST, WebSocket and gRPC — asks for a key of the right role, a client over its rate gets 429 /
RESOURCE_EXHAUSTED with a retry hint, and HTTPS accepts TLS 1.3 only."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
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
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from aurigraph.apikeys import Role, add_key
from aurigraph.client import ApiError, Client
from aurigraph.crypto import generate_keypair
from aurigraph.v1 import consensus_pb2, services_pb2_grpc
from tests.e2e.conftest import start_stack

RATE_PER_S, BURST = 2, 30


def self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
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


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    folder = tmp_path_factory.mktemp("secured")
    keys_file = folder / "api_keys.json"
    keys = {role: add_key(keys_file, role.name.lower(), role) for role in Role}
    cert, key = self_signed(folder)
    stack = start_stack(folder / "data", "--api-keys", str(keys_file), "--rate-limit", str(RATE_PER_S),
                        "--rate-limit-burst", str(BURST), "--redis-url", "redis://127.0.0.1:6379/0",
                        "--tls-cert", str(cert), "--tls-key", str(key))
    stack.cert = cert
    yield stack, keys
    stack.stop()


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
    for url in (https(stack), f"grpc://{stack.grpc_target}"):
        with Client(url, api_key=keys[Role.SUBMITTER], verify=str(stack.cert)) as node:
            assert node.transfer(stack.faucet, to, 1).status == 2
        with Client(url, api_key=keys[Role.READER], verify=str(stack.cert)) as node:
            with pytest.raises(ApiError) as caught:
                node.transfer(stack.faucet, to, 1)
            assert caught.value.code == "FORBIDDEN"


def test_grpc_without_a_key_is_unauthenticated(secured):
    stack, _ = secured
    with grpc.insecure_channel(stack.grpc_target) as channel:
        with pytest.raises(grpc.RpcError) as caught:
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
    redis.Redis.from_url("redis://127.0.0.1:6379/0").delete(f"aurigraph:ratelimit:{name}")
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
    assert redis.Redis.from_url("redis://127.0.0.1:6379/0").exists(f"aurigraph:ratelimit:{name}")
    time.sleep(1.5)  # the bucket refills at RATE_PER_S
    with httpx.Client(base_url=https(stack), timeout=30, headers={"x-api-key": keys[Role.READER]},
                      verify=trust(stack)) as http:
        assert http.get("/v11/consensus/status").status_code == 200


def test_guessing_keys_is_rate_limited_too(secured):
    stack, _ = secured
    with httpx.Client(base_url=https(stack), timeout=30, verify=trust(stack)) as http:
        codes = [http.get("/v11/nodes", headers={"x-api-key": f"agk_guess{i}"}).status_code for i in range(BURST + 10)]
    assert codes[0] == 401 and codes[-1] == 429, codes
