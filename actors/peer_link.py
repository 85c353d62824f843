"""Direct TCP links between the replicas of one node, for consensus messages.

A Ray actor call costs about 0.35 ms of CPU in the caller and 0.5 ms in the callee on this kind of
machine (`docs/performance.md`), and a block took six or more of them between the replicas (appends
out, acknowledgements back, commit announcements): most of the CPU of a small block. Here each
replica listens on a TCP port of its Ray node's address; every other replica holds one connection
to it and writes length-prefixed frames (`ConsensusMessageBatch` bytes, as `receive` takes them)
without waiting for anything, as etcd's peers stream their messages.

A link is authenticated: the listener sends a fresh random challenge and admits only a sender
that answers with the HMAC of it under the node's link key (the supervisor makes one per start and
gives it to every replica it creates; Ray gives it again to a replica it restarts), and answers
`ADMITTED`, which the sender waits for before it sends anything.
It is encrypted where Ray's own traffic is: with Ray's mutual TLS on (`RAY_USE_TLS=1`,
`docs/security.md`) a link is TLS with the same node certificate and CA, both ends presenting
their certificate and the sender checking that the listener's names its address; otherwise it is
plain TCP, as Ray's traffic then is.

Messages are allowed to be lost (Raft resends what a peer lacks): a frame for a link that is down
is kept only while its connection is being made (up to `PENDING_MAX_BYTES`), a frame for a peer
that does not read fast enough (`SEND_BUFFER_MAX_BYTES` unsent) is dropped, and a link that breaks
is made again at the next send after a pause (`RECONNECT_PAUSE_S`, doubling while attempts fail),
asking the peer (by a Ray call) for its address, which changes when Ray restarts it. Snapshots still go by Ray calls, which report
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
RECONNECT_MAX_PAUSE_S = 2.0
# A link whose sent data goes unacknowledged this long is broken. Longer than any stall of a live
# replica's loop (a full receive buffer behind a stalled loop counts too, on recent Linux kernels).
DEAD_PEER_S = 30.0
ADMITTED = b"\x01"  # the listener's answer to a good proof


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


def _write_frame(writer: asyncio.StreamWriter, frame: bytes) -> None:
    writer.writelines((len(frame).to_bytes(HEADER_BYTES, "big"), frame))


def link_proof(key: bytes, challenge: bytes, node_id: int) -> bytes:
    """What the sender `node_id` answers to `challenge`: HMAC-SHA256 under the node's link key."""
    return hmac.new(key, LINK_TAG + challenge + node_id.to_bytes(4, "big"), hashlib.sha256).digest()


class LinkServer:
    """A replica's listener: hands every frame of an admitted sender to `deliver(sender, frame)`.
    A sender's newer link supersedes its older one, whose frames still buffered are not delivered
    (so a sender's frames never arrive out of order)."""

    def __init__(self, key: bytes, deliver: Callable[[int, bytes], None]) -> None:
        self._key, self._deliver = key, deliver
        self._server: asyncio.Server | None = None
        self._senders: set[asyncio.StreamWriter] = set()
        self._current: dict[int, asyncio.StreamWriter] = {}  # sender -> its newest admitted link
        self.address: tuple[str, int] | None = None

    async def start(self, host: str) -> tuple[str, int]:
        """Listen on an ephemeral port of `host`; raises if it cannot (and can be tried again)."""
        if self._server is None:
            tls = link_tls()
            server = await asyncio.start_server(self._serve, host, 0, ssl=tls[0] if tls else None)
            self._server, self.address = server, (host, server.sockets[0].getsockname()[1])
        return self.address

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._senders.add(writer)
        sender = None
        try:
            _fail_fast(writer)
            challenge = secrets.token_bytes(CHALLENGE_BYTES)
            writer.write(challenge)
            hello = await asyncio.wait_for(reader.readexactly(4 + 32), CONNECT_TIMEOUT_S)
            claimed = int.from_bytes(hello[:4], "big")
            if not hmac.compare_digest(hello[4:], link_proof(self._key, challenge, claimed)):
                _refusals.warn("replica link refused from %s: wrong proof", writer.get_extra_info("peername"))
                return
            sender = claimed
            previous = self._current.get(sender)
            self._current[sender] = writer
            if previous is not None:
                previous.close()
            writer.write(ADMITTED)
            while True:
                size = int.from_bytes(await reader.readexactly(HEADER_BYTES), "big")
                if size > FRAME_MAX_BYTES:
                    log.warning("replica link from %d closed: a frame of %d bytes", sender, size)
                    return
                frame = await reader.readexactly(size)
                if self._current.get(sender) is not writer:
                    return  # superseded: what it still buffers came before the newer link's frames
                self._deliver(sender, frame)
        except (asyncio.IncompleteReadError, OSError, TimeoutError):
            return  # the sender went away (or never finished its handshake): it connects again
        except Exception:  # a frame that does not decode: a bug in the sender; it connects again
            log.exception("replica link from %s closed: its frame failed", sender)
        finally:
            self._senders.discard(writer)
            if sender is not None and self._current.get(sender) is writer:
                del self._current[sender]
            writer.close()

    def close(self) -> None:
        """Stop listening and end every sender's link."""
        if self._server is not None:
            self._server.close()
        for writer in self._senders:
            writer.close()


class _OncePerInterval:
    """A warning logged at most once per `interval_s` (refused links can come fast)."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s, self._last = interval_s, -interval_s

    def warn(self, message: str, *args) -> None:
        if time.monotonic() - self._last >= self.interval_s:
            self._last = time.monotonic()
            log.warning(message, *args)


_refusals = _OncePerInterval(60.0)


class PeerLink:
    """One replica's link to one peer. `send` never waits; `locate` asks the peer (a Ray call)
    for its listener's address, or None while it has none. After a failed attempt, or a link
    that broke, the next attempt waits `RECONNECT_PAUSE_S`, doubling up to `RECONNECT_MAX_PAUSE_S`
    while attempts keep failing; frames sent meanwhile are dropped."""

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
        self._pause_s = RECONNECT_PAUSE_S
        self._failing = False  # the last attempt failed: say so once, not at every retry
        self.dropped = 0  # frames not sent: link down, or the peer not reading
        self._used = False

    @property
    def up(self) -> bool:
        return self._writer is not None and not self._writer.is_closing()

    @property
    def used(self) -> bool:
        """Whether anything was ever sent on it: followers send nothing to each other outside
        elections, so a link between two of them may never be made, and that is no fault."""
        return self._used


    def send(self, frame: bytes) -> None:
        self._used = True
        if self.up:
            if self._writer.transport.get_write_buffer_size() > SEND_BUFFER_MAX_BYTES:
                self.dropped += 1
                return
            _write_frame(self._writer, frame)
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
            if await asyncio.wait_for(reader.readexactly(len(ADMITTED)), CONNECT_TIMEOUT_S) != ADMITTED:
                raise ConnectionError("the listener did not admit this replica")
        except Exception as e:  # noqa: BLE001 - any failure: drop what waited, try again after the pause
            if writer is not None:
                writer.close()
            self.dropped += len(self._pending)
            self._back_off()
            if not self._failing:
                self._failing = True
                log.info("replica %d: no link to replica %d (%s: %s); retrying", self.node_id, self.peer,
                         type(e).__name__, e)
            return
        except BaseException:  # cancelled (closing): the half-made link goes too
            if writer is not None:
                writer.close()
            raise
        finally:
            pending, self._pending, self._pending_bytes, self._connecting = self._pending, [], 0, None
        self._writer, self._pause_s = writer, RECONNECT_PAUSE_S
        if self._failing:
            self._failing = False
            log.info("replica %d: link to replica %d made", self.node_id, self.peer)
        for frame in pending:
            _write_frame(writer, frame)
        self._watcher = asyncio.get_running_loop().create_task(self._watch(reader, writer))

    def _back_off(self) -> None:
        self._retry_at = time.monotonic() + self._pause_s
        self._pause_s = min(self._pause_s * 2, RECONNECT_MAX_PAUSE_S)

    async def _watch(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """The listener writes nothing after admitting: a read returns when the link breaks."""
        with contextlib.suppress(OSError):
            await reader.read(1)
        writer.close()
        if self._writer is writer:
            self._writer = None
            self._back_off()  # the peer restarting (or refusing): not at once, not at every send

    def close(self) -> None:
        for task in (self._connecting, self._watcher):
            if task is not None:
                task.cancel()
        if self._writer is not None:
            self._writer.close()
