"""TLS 1.3 in front of the gateway's gRPC servers: a small TLS terminator that forwards bytes.

gRPC's Python server takes no minimum TLS version, so with certificates configured the gateway
replicas serve gRPC in plain text on an internal port on 127.0.0.1 (serve_apps/grpc_server.py) and
`start_gateway` runs this terminator on the public gRPC port:

    client ──TLS 1.3 (h2)──► TlsTerminator (public port) ──TCP──► gateway gRPC servers (127.0.0.1, internal port)

It accepts TLS 1.3 only (`minimum_version`), offers ALPN `h2`, and forwards the decrypted bytes
both ways with back-pressure (`drain()`); a connection ends on both sides when either side ends.
Bounded: at most `max_connections` connections at once (handshakes included: a connection over
the bound is closed at once), and a handshake not done within `handshake_timeout_s` is dropped,
so slow TLS clients cannot hold the slots. A connection idle after its handshake is gRPC's to end
(its server closes a connection that sends no HTTP/2 preface within its own handshake timeout).

It runs in the process that starts the gateway (`aurigraph up`), on an event loop of its own in a
daemon thread: it lives exactly as long as the node's gateway, and `stop_gateway` stops it.

The gateway sees the terminator, not the client, as the peer of a gRPC call, and keys the rate
limit of anonymous clients and the submission allowlist by that peer. So the terminator connects
from 127.0.0.1 for a client on this machine only; on Linux (where all of 127.0.0.0/8 is the
loopback) a remote client gets a 127.x.y.z of its own (`loopback_source`): one rate-limit bucket
per client, and never mistaken for a local one. The gateway cannot tell remote TLS clients' real
addresses (docs/security.md, limits).

    t = TlsTerminator("0.0.0.0", 9000, "127.0.0.1", 9443, cert, key)
    t.start()      # listening when it returns (t.port: the port, also after port 0); OSError if taken
    ...
    t.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import logging
import socket
import ssl
import sys
import threading
from pathlib import Path

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 1024
HANDSHAKE_TIMEOUT_S = 10.0
CHUNK_BYTES = 64 * 1024


def server_context(certfile: Path, keyfile: Path) -> ssl.SSLContext:
    """TLS 1.3 only, HTTP/2 by ALPN (what gRPC clients offer)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.load_cert_chain(str(certfile), str(keyfile))
    context.set_alpn_protocols(["h2"])
    return context


def loopback_source(peer_host: str) -> str | None:
    """The source address of the backend connection for a client at `peer_host`: 127.0.0.1 for a
    client on this machine; for any other client, on Linux, a 127.x.y.z of its own with x >= 1,
    so a remote client never looks local to the gateway (an allowlist or trusted-proxy entry
    `127.0.0.1` does not let it in); None (the system's choice, 127.0.0.1) elsewhere."""
    try:
        if ipaddress.ip_address(peer_host.split("%", 1)[0]).is_loopback:
            return "127.0.0.1"
    except ValueError:
        pass
    if not sys.platform.startswith("linux"):
        return None
    h = hashlib.blake2b(peer_host.encode(), digest_size=3).digest()
    return f"127.{1 + h[0] % 254}.{h[1]}.{1 + h[2] % 254}"  # never in 127.0.0.0/16, never a .0/.255 host


class TlsTerminator:
    """TLS 1.3 on `host:port`, forwarding to `backend_host:backend_port` (see the module doc)."""

    def __init__(self, host: str, port: int, backend_host: str, backend_port: int, certfile: Path, keyfile: Path,
                 *, max_connections: int = MAX_CONNECTIONS, handshake_timeout_s: float = HANDSHAKE_TIMEOUT_S) -> None:
        self.host, self.port = host, port
        self.backend = (backend_host, backend_port)
        self.context = server_context(certfile, keyfile)  # raises here on a bad certificate or key
        self.max_connections = max_connections
        self.handshake_timeout_s = handshake_timeout_s
        self.active = 0  # connections open now, handshaking included (event-loop thread only)
        self._listener: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task] = set()

    def start(self) -> None:
        """Listen (raises OSError here if the port is taken; port 0: any free port, in `port`
        afterwards) and serve from a daemon thread. SO_REUSEPORT, so that it takes over a port
        that `aurigraph up` reserved (serve_apps/ports.py)."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        self._listener = socket.create_server((self.host, self.port), family=family, backlog=1024,
                                              reuse_port=True)
        self.port = self._listener.getsockname()[1]
        self._listener.setblocking(False)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="grpc-tls-terminator", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting, end every connection, and return when the thread is gone."""
        if self._loop is None or self._thread is None or not self._thread.is_alive():
            return
        self._loop.call_soon_threadsafe(self._cancel_all)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._accept_forever())
        except asyncio.CancelledError:
            pass
        finally:
            self._loop.run_until_complete(asyncio.gather(*self._tasks, return_exceptions=True))
            self._listener.close()
            self._loop.close()

    def _cancel_all(self) -> None:
        for task in asyncio.all_tasks(self._loop):
            task.cancel()

    async def _accept_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            conn, _ = await loop.sock_accept(self._listener)
            if self.active >= self.max_connections:
                conn.close()  # over the bound: closed at once, handshaking connections counted
                continue
            self.active += 1
            task = loop.create_task(self._connection(conn))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _connection(self, conn: socket.socket) -> None:
        writer = None
        try:
            peer = conn.getpeername()
            # The TLS layer is set up on the accepted socket before any byte is read from it, and
            # the timeout covers the whole handshake however slowly its bytes arrive.
            reader = asyncio.StreamReader(limit=CHUNK_BYTES)
            protocol = asyncio.StreamReaderProtocol(reader)
            loop = asyncio.get_running_loop()
            transport, _ = await asyncio.wait_for(
                loop.connect_accepted_socket(lambda: protocol, conn, ssl=self.context,
                                             ssl_handshake_timeout=self.handshake_timeout_s),
                self.handshake_timeout_s + 1)
            writer = asyncio.StreamWriter(transport, protocol, reader, loop)
            backend_r, backend_w = await self._open_backend(peer[0])
            try:
                await _splice(reader, writer, backend_r, backend_w)
            finally:
                if not backend_w.transport.is_closing():
                    backend_w.transport.abort()
        except (OSError, ssl.SSLError, TimeoutError) as e:
            log.debug("gRPC TLS connection ended: %r", e)
        finally:
            self.active -= 1
            if writer is None:
                conn.close()
            elif not writer.transport.is_closing():  # else a clean close (close_notify) is under way
                writer.transport.abort()

    async def _open_backend(self, peer_host: str):
        source = loopback_source(peer_host) if self.backend[0] == "127.0.0.1" else None
        if source is None:
            return await asyncio.open_connection(*self.backend)
        return await asyncio.open_connection(*self.backend, local_addr=(source, 0))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(CHUNK_BYTES):
        writer.write(data)
        await writer.drain()  # back-pressure: read no more than the other side takes


async def _splice(a_r, a_w, b_r, b_w) -> None:
    """Forward both ways until either side ends (EOF, error or reset), then end both."""
    tasks = {asyncio.create_task(_pipe(a_r, b_w)), asyncio.create_task(_pipe(b_r, a_w))}
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                log.debug("gRPC TLS pipe ended: %s", task.exception())
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for w in (a_w, b_w):
            with contextlib.suppress(Exception):
                w.close()
