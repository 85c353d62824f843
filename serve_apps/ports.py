"""The gateway's listening ports, without a race: reserve before Ray starts, hand over, release.

The gateway replicas bind the HTTP and gRPC ports themselves, in other processes, seconds after
`aurigraph up` has decided on them; Ray starts in between, and its processes bind random ports as
they start. A port found free and only then handed over can be taken in that gap. So `aurigraph up`
reserves each port before Ray starts: a socket bound to it with SO_REUSEPORT that never listens.

- The kernel gives a reserved port to nobody else: no `bind(..., 0)` lands on it, and a bind
  without SO_REUSEPORT fails.
- The gateway replicas' servers (serve_apps/http_server.py, grpc_server.py) bind with SO_REUSEPORT,
  so they bind it all the same, as the same user.
- A socket that never listens is given no connections, so nothing is lost to the reservation,
  and it is released once a server accepts a connection on the port.

Port 0 reserves a port that the kernel picks: that is how `--http-port 0` / `--grpc-port 0` give
a node that cannot collide with anything, reporting the ports it got (`aurigraph up` prints them
and writes them to `<data-dir>/endpoints.json`).

A port given explicitly is first bound once without SO_REUSEPORT, so a port that something else
listens on (even a stale gateway replica, which would share it silently) is refused at once, with
its number, before anything starts.

    with reserve_port("127.0.0.1", 0) as http:
        start_servers(http.port)      # listening when it returns
    # released here
"""

from __future__ import annotations

import socket
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # settings name ANY_HOST from here
    from serve_apps.settings import GatewaySettings


def _any_host() -> str:
    """All interfaces (`[::]`, dual stack) where IPv6 exists, as the gateway's gRPC servers bind them."""
    try:
        with socket.socket(socket.AF_INET6):
            return "::"
    except OSError:
        return "0.0.0.0"  # nosec B104  # all interfaces on a machine without IPv6: the gRPC port's purpose


ANY_HOST = _any_host()


class PortInUseError(OSError):
    """The port is taken: the message names host and port."""


class PortReservation:
    """One reserved TCP port (see the module doc); `port` is the number the kernel gave."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        if port:
            _check_free(host, port)
        # SO_REUSEADDR only for a port given explicitly: there connections of an earlier run in
        # TIME_WAIT must not block it (the gateway's servers set it too). Without it, even a socket that
        # sets SO_REUSEADDR cannot bind a reserved port; the kernel's pick (port 0) has no TIME_WAIT.
        self._socket: socket.socket | None = _bound(host, port, reuse_addr=bool(port), reuse_port=True)
        self.port: int = self._socket.getsockname()[1]

    @property
    def released(self) -> bool:
        return self._socket is None

    def release(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def __enter__(self) -> PortReservation:
        return self

    def __exit__(self, *_) -> None:
        self.release()


def reserve_port(host: str, port: int) -> PortReservation:
    """Reserve `host:port` (0: any free port); raises PortInUseError naming it when it is taken."""
    return PortReservation(host, port)


def wait_listening(host: str, port: int, timeout_s: float) -> None:
    """Return once a connection to `host:port` (a wildcard host: this machine's loopback) is
    accepted: a reservation never listens, so it is the server's own socket that answers. Raises
    TimeoutError naming the port when nothing does within `timeout_s`."""
    target = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host  # nosec B104  # compared, not bound
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection((target, port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port} after {timeout_s:g} s") from None
            time.sleep(0.05)


def reserve_gateway_ports(settings: GatewaySettings) -> tuple[GatewaySettings, list[PortReservation]]:
    """Reserve every port the gateway will listen on (call before Ray starts: serve_apps/ports.py).
    Returns the settings with the ports the kernel gave in place of each 0, and the reservations,
    which `serve_apps.gateway.start_gateway` releases once something listens on each (and a caller
on every way out: releasing twice is harmless). Raises PortInUseError naming the port."""
    reservations: list[PortReservation] = []
    try:
        def reserve(host: str, port: int) -> int:
            reservations.append(reserve_port(host, port))
            return reservations[-1].port

        update = {"http_port": reserve(settings.http_host, settings.http_port)}
        if settings.grpc_port is not None:
            if settings.tls:  # the terminator on grpc_port; the gateway's gRPC server on loopback behind it
                update["grpc_port"] = reserve(settings.http_host, settings.grpc_port)
                update["grpc_internal_port"] = reserve("127.0.0.1", settings.grpc_internal_port)
            else:
                update["grpc_port"] = reserve(ANY_HOST, settings.grpc_port)
    except PortInUseError:
        for r in reservations:
            r.release()
        raise
    return settings.model_copy(update=update), reservations


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _bound(host: str, port: int, *, reuse_addr: bool, reuse_port: bool) -> socket.socket:
    s = socket.socket(_family(host), socket.SOCK_STREAM)
    try:
        if reuse_addr:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        s.bind((host, port))
    except OSError as e:
        s.close()
        raise PortInUseError(e.errno, f"{host}:{port} is not free ({e.strerror})") from None
    return s


def _check_free(host: str, port: int) -> None:
    _bound(host, port, reuse_addr=True, reuse_port=False).close()
