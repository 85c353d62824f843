"""Direct TCP links between the replicas of one node, for consensus messages.

A Ray actor call costs about 0.35 ms of CPU in the caller and 0.5 ms in the callee on this kind of
machine (`docs/performance.md`), and a block took six or more of them between the replicas (appends
out, acknowledgements back, commit announcements): most of the CPU of a small block. Here each
replica listens on a TCP port of its Ray node's address; every other replica holds one connection
to it and writes length-prefixed frames (`ConsensusMessageBatch` bytes, as `receive` takes them)
without waiting for anything, as etcd's peers stream their messages.

A link is authenticated: the listener sends a fresh random challenge and admits only a sender
that answers with the HMAC of it under the node's link key (the supervisor makes one per start and
gives it to every replica with `connect`), so nothing outside the node can speak for a replica.
It is encrypted where Ray's own traffic is: with Ray's mutual TLS on (`RAY_USE_TLS=1`,
`docs/security.md`) a link is TLS with the same node certificate and CA, both ends presenting
their certificate and the sender checking that the listener's names its address; otherwise it is
plain TCP, as Ray's traffic then is.

Messages are allowed to be lost (Raft resends what a peer lacks): a frame for a link that is down
is kept only while its connection is being made (up to `PENDING_MAX_BYTES`), a frame for a peer
that does not read fast enough (`SEND_BUFFER_MAX_BYTES` unsent) is dropped, and a link that breaks
is made again at the next send, at most every `RECONNECT_PAUSE_S`, asking the peer (by a Ray call)
for its address, which changes when Ray restarts it. Snapshots still go by Ray calls, which report
their delivery (`ConsensusReplica._step`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import os
import secrets
import socket
import ssl
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger("aurigraph.replica")

LINK_TAG = b"aurigraph-replica-link-v1"
CHALLENGE_BYTES = 32
HEADER_BYTES = 4  # a frame's length, big-endian
FRAME_MAX_BYTES = 512 << 20  # a batch of appends of the largest blocks is far below this
SEND_BUFFER_MAX_BYTES = 64 << 20
PENDING_MAX_BYTES = 16 << 20
CONNECT_TIMEOUT_S = 2.0  # asking the peer for its address, connecting, and the handshake each
RECONNECT_PAUSE_S = 0.2
DEAD_PEER_S = 5.0  # a link whose sent data goes unacknowledged this long is broken


def _fail_fast(writer: asyncio.StreamWriter) -> None:
    """A link whose peer's machine vanished (no FIN, no RST) must break in seconds, not after TCP's
    ~15 minutes of retransmissions: Ray restarts the peer elsewhere and only a broken link asks
    for its new address. Keepalive probes an idle link; TCP_USER_TIMEOUT bounds unacknowledged data."""
    sock = writer.get_extra_info("socket")
    if sock is None:
        return
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for option, value in (("TCP_KEEPIDLE", 2), ("TCP_KEEPINTVL", 1), ("TCP_KEEPCNT", 3),
                          ("TCP_USER_TIMEOUT", int(DEAD_PEER_S * 1000))):
        if hasattr(socket, option):  # Linux; elsewhere the system's defaults
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)


def link_tls() -> tuple[ssl.SSLContext, ssl.SSLContext] | None:
    """(listener's, sender's) TLS contexts from Ray's TLS settings when Ray's TLS is on, else None."""
    if os.environ.get("RAY_USE_TLS", "0").lower() not in ("1", "true"):
        return None
    cert, key, ca = (os.environ[v] for v in ("RAY_TLS_SERVER_CERT", "RAY_TLS_SERVER_KEY", "RAY_TLS_CA_CERT"))
    contexts = []
    for purpose in (ssl.Purpose.CLIENT_AUTH, ssl.Purpose.SERVER_AUTH):
        context = ssl.create_default_context(purpose, cafile=ca)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(cert, key)
        context.verify_mode = ssl.CERT_REQUIRED
        contexts.append(context)
    return contexts[0], contexts[1]


def link_proof(key: bytes, challenge: bytes, node_id: int) -> bytes:
    """What the sender `node_id` answers to `challenge`: HMAC-SHA256 under the node's link key."""
    return hmac.new(key, LINK_TAG + challenge + node_id.to_bytes(4, "big"), hashlib.sha256).digest()


class LinkServer:
    """A replica's listener: hands every frame of an admitted sender to `deliver(sender, frame)`."""

    def __init__(self, key: bytes, deliver: Callable[[int, bytes], None]) -> None:
        self._key, self._deliver = key, deliver
        self._server: asyncio.Server | None = None
        self._senders: set[asyncio.StreamWriter] = set()
        self.address: tuple[str, int] | None = None

    async def start(self, host: str) -> tuple[str, int]:
        if self._server is None:
            tls = link_tls()
            self._server = await asyncio.start_server(self._serve, host, 0, ssl=tls[0] if tls else None)
            self.address = (host, self._server.sockets[0].getsockname()[1])
        return self.address

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._senders.add(writer)
        _fail_fast(writer)
        try:
            challenge = secrets.token_bytes(CHALLENGE_BYTES)
            writer.write(challenge)
            hello = await asyncio.wait_for(reader.readexactly(4 + 32), CONNECT_TIMEOUT_S)
            sender = int.from_bytes(hello[:4], "big")
            if not hmac.compare_digest(hello[4:], link_proof(self._key, challenge, sender)):
                log.warning("replica link refused from %s: wrong proof", writer.get_extra_info("peername"))
                return
            while True:
                size = int.from_bytes(await reader.readexactly(HEADER_BYTES), "big")
                if size > FRAME_MAX_BYTES:
                    log.warning("replica link from %d closed: a frame of %d bytes", sender, size)
                    return
                self._deliver(sender, await reader.readexactly(size))
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError, ssl.SSLError):
            return  # the sender went away (or never finished its handshake): it connects again
        finally:
            self._senders.discard(writer)
            writer.close()

    def close(self) -> None:
        """Stop listening and end every sender's link."""
        if self._server is not None:
            self._server.close()
        for writer in self._senders:
            writer.close()


class PeerLink:
    """One replica's link to one peer. `send` never waits; `locate` asks the peer (a Ray call)
    for its listener's address, or None while it has none."""

    def __init__(self, node_id: int, key: bytes, peer: int,
                 locate: Callable[[], Awaitable[tuple[str, int] | None]]) -> None:
        self.node_id, self.peer, self.locate = node_id, peer, locate
        self._key = key
        self._writer: asyncio.StreamWriter | None = None
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._connecting: asyncio.Task | None = None
        self._watcher: asyncio.Task | None = None  # the loop holds tasks weakly
        self._retry_at = 0.0
        self.dropped = 0  # frames not sent: link down, or the peer not reading

    @property
    def up(self) -> bool:
        return self._writer is not None and not self._writer.is_closing()

    def send(self, frame: bytes) -> None:
        if self.up:
            if self._writer.transport.get_write_buffer_size() > SEND_BUFFER_MAX_BYTES:
                self.dropped += 1
                return
            self._writer.writelines((len(frame).to_bytes(HEADER_BYTES, "big"), frame))
            return
        if self._connecting is None and time.monotonic() < self._retry_at:
            self.dropped += 1
            return
        if self._pending_bytes + len(frame) > PENDING_MAX_BYTES:
            self.dropped += 1
            return
        self._pending.append(frame)
        self._pending_bytes += len(frame)
        if self._connecting is None:
            self._connecting = asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        writer = None
        try:
            address = await asyncio.wait_for(self.locate(), CONNECT_TIMEOUT_S)
            if address is None:
                raise ConnectionError("it has no listener yet")
            tls = link_tls()
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(*address, ssl=tls[1] if tls else None,
                                        server_hostname=address[0] if tls else None), CONNECT_TIMEOUT_S)
            _fail_fast(writer)
            challenge = await asyncio.wait_for(reader.readexactly(CHALLENGE_BYTES), CONNECT_TIMEOUT_S)
            writer.write(self.node_id.to_bytes(4, "big") + link_proof(self._key, challenge, self.node_id))
            self._writer = writer
            for frame in self._pending:
                writer.writelines((len(frame).to_bytes(HEADER_BYTES, "big"), frame))
            self._watcher = asyncio.get_running_loop().create_task(self._watch(reader, writer))
        except Exception as e:  # noqa: BLE001 - any failure: drop what waited, try again after the pause
            if writer is not None:
                writer.close()
            self.dropped += len(self._pending)
            self._retry_at = time.monotonic() + RECONNECT_PAUSE_S
            log.info("replica %d: link to replica %d not made (%s: %s)", self.node_id, self.peer, type(e).__name__, e)
        finally:
            self._pending, self._pending_bytes, self._connecting = [], 0, None

    async def _watch(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """The listener never writes after its challenge: a read returns when the link breaks."""
        with contextlib.suppress(ConnectionError, OSError):
            await reader.read(1)
        writer.close()
        if self._writer is writer:
            self._writer = None

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._connecting is not None:
            self._connecting.cancel()
