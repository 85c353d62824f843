"""WebSocket floods against `WS /v11/stream`: many subscribers at once, a client sending frames (a
flood, a huge one), a client that never reads. The node keeps committing, other subscribers keep
getting their events, REST keeps answering.

What the gateway does (serve_apps/events.py, serve_apps/rest/stream.py):
- a subscriber holds a connection and a task of the gateway replica for as long as it stays;
  past `MAX_SUBSCRIBERS` (128) new ones are closed 4503 UNAVAILABLE, so idle subscribers cannot
  leave REST and gRPC callers queued (before: 300 subscribers, and /v11/metrics timed out);
- the stream is one-way: a burst of client frames is tolerated, a flood or a frame over 4 KiB is
  closed 1008 POLICY (before: a 64 KiB-frame flood slowed a commit from 0.1 s to 8 s); a frame
  over 16 MiB is closed 1009 by uvicorn's limit before the gateway sees it.
- a subscriber that never reads: see the xfail below — it is still not seen as a slow consumer.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from aurigraph.client import Client
from aurigraph.codec import encode_signed
from aurigraph.crypto import address_to_text, generate_keypair
from serve_apps.events import MAX_SUBSCRIBERS
from tests.adversarial.conftest import PROTOBUF, Sender, fund, wait_until
from tests.adversarial.wire import blob
from tests.e2e.conftest import stream_subscribers, until_stream_subscribers
from tests.e2e.test_stream import ws_url

OPEN_TIMEOUT_S = 30


def subscribers(stack) -> float:
    text = httpx.get(f"{stack.url}/v11/metrics", timeout=10).text
    return float(next(line.split()[1] for line in text.splitlines() if line.startswith("aurigraph_stream_subscribers ")))


def commit_one(stack) -> int:
    """A fresh transfer from the faucet, waited; its height."""
    with Client(stack.url) as node:
        return node.transfer(stack.faucet, generate_keypair().address, 1).receipt.height


async def first_frame(ws, timeout_s: float = 20):
    """The next frame, or the close it got instead."""
    try:
        return await asyncio.wait_for(ws.recv(), timeout_s)
    except ConnectionClosed as e:
        return e.rcvd


def test_a_crowd_of_subscribers_is_capped_and_rest_keeps_answering(stack, witness):
    crowd = MAX_SUBSCRIBERS + 30

    async def scenario():
        url = ws_url(stack, kinds="block_committed", format="json")
        conns = await asyncio.gather(*(connect(url, open_timeout=OPEN_TIMEOUT_S) for _ in range(crowd)))
        try:
            await asyncio.to_thread(until_stream_subscribers, stack, MAX_SUBSCRIBERS)  # every one it admits is live
            started = time.monotonic()
            health = await asyncio.to_thread(httpx.get, f"{stack.url}/v11/health", timeout=10)
            health_s = time.monotonic() - started
            height = await asyncio.to_thread(commit_one, stack)
            firsts = await asyncio.gather(*(first_frame(c) for c in conns))
            return health, health_s, height, firsts
        finally:
            await asyncio.gather(*(c.close() for c in conns))

    health, health_s, height, firsts = asyncio.run(scenario())
    assert health.status_code == 200 and health_s < 8, health_s  # answered, not starved (generous bound)
    events = [json.loads(f) for f in firsts if isinstance(f, str)]
    refusals = [f for f in firsts if not isinstance(f, str)]
    assert len(events) == MAX_SUBSCRIBERS and len(refusals) == crowd - MAX_SUBSCRIBERS, refusals[:3]
    assert all(int(e["block_committed"]["height"]) <= height for e in events)
    assert all(r.code == 4503 and r.reason.startswith("UNAVAILABLE:") for r in refusals), refusals[:3]
    assert wait_until(lambda: subscribers(stack) == 0), "everyone who left is unsubscribed"
    witness.check()


def test_a_client_flooding_frames_is_closed_and_others_still_get_events(stack):
    async def flood(frame: bytes | str) -> tuple[object, int, float]:
        async with connect(ws_url(stack, kinds="block_committed"), max_size=None) as ws:
            sent, started = 0, time.monotonic()
            try:
                while time.monotonic() - started < 60:  # (closed after a few frames; 60 s: a loaded machine)
                    await ws.send(frame)
                    sent += 1
                    if sent % 64 == 0:
                        await asyncio.sleep(0)  # let the connection read the server's close
            except ConnectionClosed as e:
                return e.rcvd, sent, time.monotonic() - started
            return None, sent, time.monotonic() - started

    async def scenario():
        async with connect(ws_url(stack, kinds="block_committed", format="json")) as watcher, \
                connect(ws_url(stack, kinds="block_committed", format="json")) as chatty:
            for _ in range(5):  # a few keep-alive frames are fine
                await chatty.send("ping")
            big = asyncio.create_task(flood(b"x" * 65536))
            small = asyncio.create_task(flood("ping"))
            height = await asyncio.to_thread(commit_one, stack)
            seen = json.loads(await first_frame(watcher))
            tolerated = json.loads(await first_frame(chatty))
            return await big, await small, height, seen, tolerated

    big, small, height, seen, tolerated = asyncio.run(scenario())
    for close, sent, seconds in (big, small):
        assert close is not None and close.code == 1008 and close.reason.startswith("POLICY:"), (close, sent, seconds)
    assert int(seen["block_committed"]["height"]) <= height
    assert int(tolerated["block_committed"]["height"]) <= height


def test_a_frame_over_16_mib_is_closed_1009(stack):
    async def scenario():
        async with connect(ws_url(stack), max_size=None) as ws:
            await ws.send(b"x" * (16 * 1024 * 1024 + 1))
            return await first_frame(ws)

    close = asyncio.run(scenario())
    assert close.code == 1009, close


def _stalled_socket(stack) -> socket.socket:
    """A connected socket with a tiny receive buffer, for a client that never reads."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", stack.http_port))
    sock.setblocking(False)
    return sock


@pytest.fixture(scope="module")
def stalled_run(stack, http):
    """3,000 transfers committed in one batch while two subscribers follow their sender: one reads,
    one never reads (a tiny receive buffer, and no `recv`) until the batch is committed."""
    sender = Sender(stack.chain_id, fund(stack, http, 10**7), 0)
    txs = [sender.transfer(amount=1) for _ in range(3000)]
    url = ws_url(stack, account=address_to_text(sender.key.address), kinds="transaction_committed", format="json")

    async def scenario():
        before = stream_subscribers(stack)
        stalled = await connect(url, sock=_stalled_socket(stack), max_queue=1, max_size=None)
        async with connect(url, max_size=None) as reader:
            await asyncio.to_thread(until_stream_subscribers, stack, before + 2)  # both live before the batch
            body = b"".join(blob(1, encode_signed(t)) for t in txs)  # a TransactionBatch
            r = await asyncio.to_thread(httpx.post, f"{stack.url}/v11/transactions/batch",
                                        params={"wait": "committed"}, content=body,
                                        headers={"content-type": PROTOBUF}, timeout=120)
            read = [json.loads(await first_frame(reader, 30)) for _ in range(len(txs))]
        drained, close = 0, None
        try:
            while True:
                await asyncio.wait_for(stalled.recv(), 3)
                drained += 1
        except ConnectionClosed as e:
            close = e.rcvd
        except TimeoutError:
            await stalled.close()
        return r, read, drained, close

    response, read, drained, close = asyncio.run(scenario())
    return txs, response, read, drained, close


def test_a_subscriber_that_never_reads_does_not_hold_up_the_node(stalled_run, witness):
    txs, response, read, _drained, _close = stalled_run
    results = response.json()["results"]
    assert response.status_code == 200 and all(r["status"] == "TRANSACTION_STATUS_COMMITTED" for r in results)
    assert [e["transaction_committed"]["receipt"]["tx_id"] for e in read] == [r["tx_id"] for r in results], (
        "the reading subscriber got every transaction, once, in order")
    witness.acknowledged(txs[-1].tx_id, int(results[-1]["receipt"]["height"]))
    witness.check()


@pytest.mark.xfail(strict=True, reason=(
    "a client that stops reading is never seen as slow: its frames are taken by the sending side "
    "instead of the client being closed 1008 SLOW_CONSUMER after --stream-queue-events (1024 here) or 10 s. "
    "Once Serve's proxy buffered them without bound (ray.serve._private.http_util.MessageQueue); the "
    "gateway replica now serves the WebSocket itself (uvicorn) and it still fails: where the frames go "
    "now is not yet investigated (docs/security.md, Limits)"))
def test_a_subscriber_that_never_reads_is_cut_off(stalled_run):
    txs, _response, _read, drained, close = stalled_run
    assert close is not None and close.code == 1008 and "SLOW_CONSUMER" in close.reason, (
        f"still open after {drained} of {len(txs)} events were buffered for it")
    assert drained < len(txs)
