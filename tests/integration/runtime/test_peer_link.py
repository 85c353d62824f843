"""The replicas' direct links (actors/peer_link.py) over real sockets on 127.0.0.1: frames arrive
in order from an admitted sender, a sender without the node's key is refused, a link to a
listener that went away is made again to its new address, and a peer that does not read costs
dropped frames, never a blocked sender."""

from __future__ import annotations

import asyncio
import socket

from actors import peer_link
from actors.peer_link import LinkServer, PeerLink
from aurigraph.certs import issue_dev_certs, ray_tls_env

KEY = b"k" * 32


async def _until(predicate, timeout_s: float = 10.0) -> None:
    """Polls: what is awaited is the state of sockets and tasks, with nothing to signal it."""
    for _ in range(int(timeout_s / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise TimeoutError("condition not reached")


async def _listening(deliver) -> tuple[LinkServer, object]:
    """A listener on 127.0.0.1, and the `locate` a sender asks for its address."""
    server = LinkServer(KEY, deliver)
    address = await server.start("127.0.0.1")

    async def locate():
        return address

    return server, locate


def test_frames_from_an_admitted_sender_arrive_in_order():
    async def scenario():
        got = []
        server, locate = await _listening(lambda sender, frame: got.append((sender, frame)))

        link = PeerLink(7, KEY, 1, locate)
        frames = [bytes([i]) * (i * 1000) for i in range(50)]
        for frame in frames:  # the first ones wait for the connection, the rest go straight out
            link.send(frame)
        await _until(lambda: len(got) == len(frames))
        link.close()
        server.close()
        return got, frames, link.dropped

    got, frames, dropped = asyncio.run(scenario())
    assert got == [(7, f) for f in frames] and dropped == 0


def test_a_sender_without_the_key_is_refused():
    async def scenario():
        got = []
        server, locate = await _listening(lambda sender, frame: got.append(frame))

        stranger = PeerLink(7, b"x" * 32, 1, locate)
        stranger.send(b"vote for me")
        await _until(lambda: stranger._connecting is None)  # connected, then closed by the listener
        await _until(lambda: not stranger.up)
        honest = PeerLink(8, KEY, 1, locate)
        honest.send(b"append")
        await _until(lambda: got == [b"append"])
        for link in (stranger, honest):
            link.close()
        server.close()
        return got

    assert asyncio.run(scenario()) == [b"append"], "only the sender with the node's key was heard"


def test_a_link_is_made_again_to_the_listeners_new_address(monkeypatch):
    monkeypatch.setattr(peer_link, "RECONNECT_PAUSE_S", 0.05)

    async def scenario():
        got = []
        server = LinkServer(KEY, lambda sender, frame: got.append(frame))
        where = {"address": await server.start("127.0.0.1")}

        async def locate():
            return where["address"]

        link = PeerLink(2, KEY, 1, locate)
        link.send(b"one")
        await _until(lambda: got == [b"one"])
        server.close()  # the peer's process ends: Ray restarts it on another port
        await _until(lambda: not link.up)
        restarted = LinkServer(KEY, lambda sender, frame: got.append(frame))
        where["address"] = await restarted.start("127.0.0.1")
        async with asyncio.timeout(10):
            while b"two" not in got:  # frames sent while the link is down or in its pause are lost
                link.send(b"two")
                await asyncio.sleep(0.02)
        link.close()
        restarted.close()
        return got

    got = asyncio.run(scenario())
    assert got[0] == b"one" and set(got[1:]) == {b"two"}


def test_a_peer_that_does_not_read_costs_dropped_frames_not_a_blocked_sender(monkeypatch):
    monkeypatch.setattr(peer_link, "SEND_BUFFER_MAX_BYTES", 1 << 20)

    async def scenario():
        stalled = asyncio.Event()

        async def never_reads(reader, writer):
            writer.write(b"c" * peer_link.CHALLENGE_BYTES + peer_link.ADMITTED)  # admits anyone
            await stalled.wait()
            writer.close()

        server = await asyncio.start_server(never_reads, "127.0.0.1", 0)
        address = ("127.0.0.1", server.sockets[0].getsockname()[1])

        async def locate():
            return address

        link = PeerLink(2, KEY, 1, locate)
        link.send(b"first")
        await _until(lambda: link.up)
        for _ in range(400):  # 400 MiB offered to a peer that reads nothing
            link.send(b"x" * (1 << 20))
        dropped = link.dropped
        stalled.set()
        link.close()
        server.close()
        return dropped

    assert asyncio.run(scenario()) > 300


def test_with_rays_tls_on_a_link_is_mutual_tls_with_the_node_certificates(tmp_path, monkeypatch):
    issue_dev_certs(tmp_path / "ours", ["127.0.0.1"], nodes=2)
    issue_dev_certs(tmp_path / "theirs", ["127.0.0.1"], nodes=1)
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"

    def as_node(folder, name):
        for k, v in ray_tls_env(folder / f"{name}.pem", folder / f"{name}.key", folder / "ca.pem").items():
            monkeypatch.setenv(k, v)

    async def scenario():
        got = []
        as_node(ours, "node-0")
        server, locate = await _listening(lambda sender, frame: got.append((sender, frame)))

        as_node(ours, "node-1")  # a replica on another machine of this node: its own certificate
        link = PeerLink(2, KEY, 1, locate)
        link.send(b"over tls")
        await _until(lambda: got == [(2, b"over tls")])
        as_node(theirs, "node-0")  # the right link key, but a certificate of another CA
        outsider = PeerLink(3, KEY, 1, locate)
        outsider.send(b"outsider")
        monkeypatch.setenv("RAY_TLS_CA_CERT", str(ours / "ca.pem"))  # trusting our listener, still refused
        impostor = PeerLink(5, KEY, 1, locate)
        impostor.send(b"impostor")
        monkeypatch.setenv("RAY_USE_TLS", "0")  # and one without TLS at all
        plain = PeerLink(4, KEY, 1, locate)
        plain.send(b"plain")
        await _until(lambda: all(each._connecting is None for each in (outsider, impostor, plain)))
        await asyncio.sleep(0.2)
        await _until(lambda: not impostor.up)  # its handshake may have looked done before the listener refused it
        for each in (link, outsider, impostor, plain):
            each.close()
        server.close()
        return got, outsider.up, plain.up

    got, outsider_up, plain_up = asyncio.run(scenario())
    assert got == [(2, b"over tls")] and not outsider_up and not plain_up


def test_both_ends_of_a_link_give_up_on_a_silent_peer_in_seconds():
    """A peer whose machine vanished sends no FIN or RST: keepalive probes and TCP_USER_TIMEOUT
    (DEAD_PEER_S) break the link so it is made again to where Ray restarted the peer."""

    async def scenario():
        server, locate = await _listening(lambda sender, frame: None)

        link = PeerLink(2, KEY, 1, locate)
        link.send(b"x")
        await _until(lambda: link.up and server._senders)
        sockets = [link._writer.get_extra_info("socket"), next(iter(server._senders)).get_extra_info("socket")]
        options = [(s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
                    s.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT)) for s in sockets]
        link.close()
        server.close()
        return options

    assert asyncio.run(scenario()) == [(1, int(peer_link.DEAD_PEER_S * 1000))] * 2


def test_a_refused_sender_backs_off_instead_of_reconnecting_at_every_send():
    async def scenario():
        server = LinkServer(KEY, lambda sender, frame: None)
        address = await server.start("127.0.0.1")
        attempts = []

        async def locate():
            attempts.append(1)
            return address

        stranger = PeerLink(7, b"x" * 32, 1, locate)
        for _ in range(100):  # a send every 10 ms for a second, as a busy leader's would be
            stranger.send(b"frame")
            await asyncio.sleep(0.01)
        stranger.close()
        server.close()
        return len(attempts), stranger.dropped, stranger.up

    attempts, dropped, up = asyncio.run(scenario())
    # Pauses of 0.2, 0.4, 0.8 s after each refusal: 3 or 4 attempts in a second, not one per send.
    assert 2 <= attempts <= 5 and dropped >= 90 and not up, (attempts, dropped)


def test_a_senders_newer_link_supersedes_its_older_one():
    async def scenario():
        got = []
        server, locate = await _listening(lambda sender, frame: got.append(frame))

        old, new = PeerLink(2, KEY, 1, locate), PeerLink(2, KEY, 1, locate)
        old.send(b"old")
        await _until(lambda: got == [b"old"])
        new.send(b"new")  # the same sender, restarted: its old link is closed by the listener
        await _until(lambda: got == [b"old", b"new"] and not old.up)
        old.close()
        new.close()
        server.close()
        return got

    assert asyncio.run(scenario()) == [b"old", b"new"]
