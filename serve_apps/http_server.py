"""REST and the WebSocket stream, served by each gateway replica itself (no Serve proxy in the way).

Serve's HTTP proxy is a Python hop of its own before the replica: under single-transaction load it
was the busiest process of a node (docs/performance.md). So each gateway replica runs uvicorn in
its own event loop on the node's HTTP port, on a socket bound with SO_REUSEPORT: `aurigraph up`
reserves the port before Ray starts (serve_apps/ports.py) and releases the reservation once the
server accepts a connection, and with several replicas on a machine the kernel spreads connections
over them. Serve still places, restarts and scales the replicas; it no longer carries their traffic.

HTTPS takes the certificate and key of the settings; TLS 1.3 only comes from the OpenSSL
configuration `aurigraph up` points `OPENSSL_CONF` at before Ray starts (serve_apps/gateway.py).
The client address is the socket peer: uvicorn reads no X-Forwarded-For (`proxy_headers` off); the
gateway reads it itself, from trusted proxies only (serve_apps/allowlist.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

import uvicorn

from serve_apps.settings import GatewaySettings

# Connections and requests in progress a replica holds at once (uvicorn's limit_concurrency); past it
# a request is answered 503 at once instead of queueing. Generous, since idle keep-alive connections
# count too: the scarce things have bounds of their own (body reads in rest/media.py, subscribers
# in events.py, batches in flight at the ingress).
MAX_CONCURRENCY = 4096
STOP_GRACE_S = 0.8  # with the gRPC server stopping alongside, inside the replica's 2 s of grace


class HttpServer:
    """One replica's uvicorn server on a socket of its own; `start` it, then `stop` it."""

    def __init__(self, app, settings: GatewaySettings) -> None:
        self._config = uvicorn.Config(
            app, ssl_certfile=str(settings.ssl_certfile) if settings.ssl_certfile else None,
            ssl_keyfile=str(settings.ssl_keyfile) if settings.ssl_keyfile else None,
            proxy_headers=False, server_header=False, access_log=False, log_config=None, lifespan="off",
            limit_concurrency=MAX_CONCURRENCY, timeout_graceful_shutdown=STOP_GRACE_S)
        self._server = uvicorn.Server(self._config)
        self._socket = _listening_socket(settings.http_host, settings.http_port)
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._server.serve(sockets=[self._socket]))
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises what stopped it
                raise RuntimeError("the gateway's HTTP server stopped while starting")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._task, STOP_GRACE_S + 0.5)
        self._socket.close()


def _listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock
