"""gRPC over TLS 1.3: the terminator of `serve_apps.grpc_tls` in front of a real gRPC server, then
the whole `aurigraph up` stack started with certificates from `aurigraph.certs` (HTTPS and gRPC
both TLS 1.3 only; the SDK over `grpcs://`)."""

from __future__ import annotations

import socket
import ssl
import time
from concurrent import futures

import grpc
import httpx
import pytest

from aurigraph.certs import issue_dev_certs
from aurigraph.client import Client
from aurigraph.crypto import generate_keypair
from aurigraph.v1 import consensus_pb2, services_pb2_grpc
from serve_apps.grpc_tls import TlsTerminator, loopback_source
from tests.e2e.conftest import start_stack

ECHO = "/test.Echo/Say"


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    issue_dev_certs(folder, ["127.0.0.1", "localhost"], nodes=0)
    return folder


@pytest.fixture(scope="module")
def echo_server():
    """A real gRPC server (plain text, like the gateway's behind the terminator) with one unary method that echoes the
    request and says who its peer was."""
    def say(request: bytes, context) -> bytes:
        return request + b" from " + context.peer().encode()

    server = grpc.server(futures.ThreadPoolExecutor(4))
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(
        "test.Echo", {"Say": grpc.unary_unary_rpc_method_handler(say)})])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield port
    server.stop(0)


@pytest.fixture
def terminator(certs, echo_server):
    t = TlsTerminator("127.0.0.1", 0, "127.0.0.1", echo_server, certs / "server.pem", certs / "server.key",
                      max_connections=3, handshake_timeout_s=1.0)
    t.start()
    assert t.port != 0  # the port the kernel picked
    yield t
    t.stop()


def _say(channel: grpc.Channel, text: bytes) -> bytes:
    return channel.unary_unary(ECHO)(text, timeout=10)


def test_a_grpc_client_over_tls_reaches_the_server(terminator, certs):
    credentials = grpc.ssl_channel_credentials((certs / "ca.pem").read_bytes())
    with grpc.secure_channel(f"127.0.0.1:{terminator.port}", credentials) as channel:
        assert _say(channel, b"hello").startswith(b"hello from ipv4:127.0.0.1:")  # a local client stays local
        big = b"x" * (3 * 1024 * 1024)  # larger than any buffer on the way: back-pressure, no loss
        assert _say(channel, big).startswith(big)


def test_tls_1_2_and_plain_text_are_refused(terminator, certs):
    old = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    old.maximum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_connection(("127.0.0.1", terminator.port), timeout=5) as raw, \
            pytest.raises(ssl.SSLError):  # an alert or EOF
        old.wrap_socket(raw, server_hostname="127.0.0.1")
    with grpc.insecure_channel(f"127.0.0.1:{terminator.port}") as channel, pytest.raises(grpc.RpcError) as caught:
        _say(channel, b"plain")
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    untrusted = grpc.ssl_channel_credentials()  # the system's roots: our dev CA is not among them
    with grpc.secure_channel(f"127.0.0.1:{terminator.port}", untrusted) as channel, \
            pytest.raises(grpc.RpcError) as caught:
        _say(channel, b"who are you")
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


def test_slow_handshakes_are_dropped_and_connections_are_bounded(terminator, certs):
    idle = [socket.create_connection(("127.0.0.1", terminator.port), timeout=5) for _ in range(3)]
    try:
        time.sleep(0.2)
        with socket.create_connection(("127.0.0.1", terminator.port), timeout=5) as over:
            assert _closed(over), "a connection over the bound is closed at once"
        started = time.monotonic()
        assert all(_closed(s) for s in idle)  # never sent a ClientHello: dropped after the timeout
        # Dropped by the handshake timeout, not by a test client giving up: well before 10 s more.
        assert time.monotonic() - started < terminator.handshake_timeout_s + 10
    finally:
        for s in idle:
            s.close()
    credentials = grpc.ssl_channel_credentials((certs / "ca.pem").read_bytes())
    with grpc.secure_channel(f"127.0.0.1:{terminator.port}", credentials) as channel:
        assert _say(channel, b"again").startswith(b"again")  # the slots are free again
    assert terminator.active == 0 or _eventually(lambda: terminator.active == 0)


def _closed(s: socket.socket) -> bool:
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True


def _eventually(check, timeout_s: float = 5) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def test_remote_clients_get_a_loopback_source_of_their_own():
    assert loopback_source("127.0.0.1") == loopback_source("::1") == "127.0.0.1"
    a, b = loopback_source("203.0.113.5"), loopback_source("2001:db8::1")
    assert a != b and a == loopback_source("203.0.113.5")
    for address in (a, b):
        first, second = (int(x) for x in address.split(".")[1:3])
        assert address.startswith("127.") and first >= 1, address  # never 127.0.x.x: never "local"
        assert second <= 255


# --- the whole stack --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stack(certs, tmp_path_factory):
    s = start_stack(tmp_path_factory.mktemp("tls-node"), "--rate-limit", "0",
                    "--tls-cert", str(certs / "server.pem"), "--tls-key", str(certs / "server.key"))
    yield s
    s.stop()


def test_the_sdk_over_grpcs_and_https(stack, certs):
    ca = str(certs / "ca.pem")
    to = generate_keypair().address
    for url in (f"grpcs://127.0.0.1:{stack.grpc_port}", f"https://127.0.0.1:{stack.http_port}"):
        with Client(url, verify=ca) as node:
            assert node.transfer(stack.faucet, to, 1).status == 2, url  # committed
    with Client(f"grpcs://127.0.0.1:{stack.grpc_port}", verify=ca) as node:
        assert node.account(to).balance == 2
    assert any(line.startswith(f"gRPC  grpcs://127.0.0.1:{stack.grpc_port}") for line in stack.output)


def test_the_stack_refuses_tls_1_2_and_plain_text(stack, certs):
    for port in (stack.grpc_port, stack.http_port):
        old = ssl.create_default_context(cafile=str(certs / "ca.pem"))
        old.maximum_version = ssl.TLSVersion.TLSv1_2
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, pytest.raises(ssl.SSLError):
            old.wrap_socket(raw, server_hostname="127.0.0.1")
        new = ssl.create_default_context(cafile=str(certs / "ca.pem"))
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
                new.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            assert tls.version() == "TLSv1.3"
    with grpc.insecure_channel(f"127.0.0.1:{stack.grpc_port}") as channel, pytest.raises(grpc.RpcError) as caught:
        services_pb2_grpc.ConsensusServiceStub(channel).GetStatus(consensus_pb2.GetConsensusStatusRequest(),
                                                                   timeout=10)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{stack.http_port}/v11/health", timeout=10)
