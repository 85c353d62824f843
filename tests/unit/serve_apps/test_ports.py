"""Port reservations (serve_apps/ports.py): a reserved port is the reserver's alone until a
SO_REUSEPORT listener (as the gateway's servers bind) takes it over; port 0 resolves to the kernel's pick."""

from __future__ import annotations

import socket
import threading

import pytest

from serve_apps import ports
from serve_apps.ports import ANY_HOST, PortInUseError, reserve_gateway_ports, reserve_port, wait_listening
from serve_apps.settings import GatewaySettings


def _bind(host: str, port: int, *, reuse_addr: bool = False, reuse_port: bool = False) -> socket.socket:
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    if reuse_addr:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        s.bind((host, port))
    except OSError:
        s.close()
        raise
    return s


def test_a_reserved_port_is_taken_by_no_other_bind():
    with reserve_port("127.0.0.1", 0) as reserved:
        assert reserved.port != 0
        for options in ({}, {"reuse_addr": True}):
            with pytest.raises(OSError):
                _bind("127.0.0.1", reserved.port, **options)
        with pytest.raises(OSError):
            _bind("0.0.0.0", reserved.port, reuse_addr=True)
        # The kernel's own picks never land on it.
        picked = [_bind("127.0.0.1", 0) for _ in range(200)]
        try:
            assert reserved.port not in {s.getsockname()[1] for s in picked}
        finally:
            for s in picked:
                s.close()


def test_a_reuseport_listener_takes_it_over_and_gets_every_connection():
    reserved = reserve_port("127.0.0.1", 0)
    with _bind("127.0.0.1", reserved.port, reuse_addr=True, reuse_port=True) as server:
        server.listen()
        wait_listening("127.0.0.1", reserved.port, timeout_s=5)
        reserved.release()
        reserved.release()  # twice is harmless
        for _ in range(20):  # the reservation never listened: nothing was queued on it
            with socket.create_connection(("127.0.0.1", reserved.port), timeout=5):
                conn, _ = server.accept()
                conn.close()


def test_an_explicit_port_that_something_listens_on_is_refused_with_its_number():
    with socket.create_server(("127.0.0.1", 0)) as other:
        port = other.getsockname()[1]
        with pytest.raises(PortInUseError, match=f"127.0.0.1:{port} is not free"):
            reserve_port("127.0.0.1", port)
    # A reuseport listener (a stale gateway replica, say) would share it silently: refused too.
    with _bind("127.0.0.1", 0, reuse_addr=True, reuse_port=True) as stale:
        stale.listen()
        with pytest.raises(PortInUseError):
            reserve_port("127.0.0.1", stale.getsockname()[1])


def test_an_explicit_free_port_is_reserved_as_given():
    with reserve_port("127.0.0.1", 0) as first:
        port = first.port
    with reserve_port("127.0.0.1", port) as again:
        assert again.port == port


def test_wait_listening_names_the_port_when_nothing_answers():
    with reserve_port("127.0.0.1", 0) as reserved, \
            pytest.raises(TimeoutError, match=f"nothing listens on 127.0.0.1:{reserved.port}"):
        wait_listening("127.0.0.1", reserved.port, timeout_s=0.3)


def test_wait_listening_returns_once_a_late_server_listens():
    reserved = reserve_port("127.0.0.1", 0)
    server = _bind("127.0.0.1", reserved.port, reuse_addr=True, reuse_port=True)
    threading.Timer(0.3, server.listen).start()
    try:
        wait_listening("127.0.0.1", reserved.port, timeout_s=30)
    finally:
        server.close()
        reserved.release()


@pytest.mark.parametrize("tls", [False, True])
def test_the_gateway_ports_resolve_to_the_kernels_picks(tmp_path, tls):
    files = {"ssl_certfile": tmp_path / "c.pem", "ssl_keyfile": tmp_path / "k.pem"} if tls else {}
    settings = GatewaySettings(http_port=0, grpc_port=0, **files)
    resolved, reservations = reserve_gateway_ports(settings)
    try:
        ports = [r.port for r in reservations]
        assert len(ports) == (3 if tls else 2) and len(set(ports)) == len(ports) and 0 not in ports
        assert resolved.http_port == ports[0] and resolved.grpc_port == ports[1]
        assert (resolved.grpc_internal_port == ports[2]) if tls else resolved.grpc_internal_port == 0
        # Where the gateway's own gRPC servers listen: all interfaces, or loopback behind the TLS terminator.
        assert (reservations[-1].host, reservations[-1].port) == resolved.grpc_listen
        assert reservations[-1].host == ("127.0.0.1" if tls else ANY_HOST)
    finally:
        for r in reservations:
            r.release()


def test_no_grpc_reserves_only_the_http_port():
    resolved, reservations = reserve_gateway_ports(GatewaySettings(http_port=0, grpc_port=None))
    try:
        assert [r.port for r in reservations] == [resolved.http_port] and resolved.grpc_port is None
    finally:
        reservations[0].release()


def test_a_port_in_use_releases_what_was_already_reserved(monkeypatch):
    made = []
    real = ports.reserve_port
    monkeypatch.setattr(ports, "reserve_port", lambda host, port: made.append(real(host, port)) or made[-1])
    with socket.create_server(("127.0.0.1", 0)) as other:
        taken = other.getsockname()[1]
        with pytest.raises(PortInUseError, match=f":{taken} is not free"):
            reserve_gateway_ports(GatewaySettings(http_port=0, grpc_port=taken))
    assert len(made) == 1 and made[0].released  # the HTTP port's reservation, made first, was closed
