"""`WS /v11/stream` over a real WebSocket: formats, filters, resuming from a height, refusals."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from aurigraph.client import Client
from aurigraph.crypto import address_to_text, generate_keypair
from aurigraph.v1 import events_pb2
from tests.e2e.conftest import stream_subscribers, until_stream_subscribers


def ws_url(stack, **params) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"ws://127.0.0.1:{stack.http_port}/v11/stream" + (f"?{query}" if query else "")


async def collect(url: str, until, timeout_s: float = 30.0) -> list:
    frames = []
    async with connect(url, max_size=2**24) as ws:
        deadline = time.monotonic() + timeout_s
        while not until(frames):
            frames.append(await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.monotonic())))
    return frames


@pytest.fixture(scope="module")
def history(stack):
    """Two committed transfers from the faucet to a fresh account, and the height of the second."""
    recipient = generate_keypair().address
    with Client(stack.url) as node:
        first = node.transfer(stack.faucet, recipient, 5)
        second = node.transfer(stack.faucet, recipient, 6)
    return recipient, first, second


def test_resume_from_a_height_replays_then_follows_live_json(stack, history):
    _recipient, first, _second = history
    frames = asyncio.run(collect(ws_url(stack, format="json", from_height=first.receipt.height,
                                        kinds="transaction_committed,block_committed"),
                                 lambda fs: sum('"block_committed"' in f for f in fs) >= 2))
    events = [json.loads(f) for f in frames]
    assert [int(e["sequence"]) for e in events] == list(range(1, len(events) + 1))
    heights = [int(e["block_committed"]["height"]) for e in events if "block_committed" in e]
    assert heights[0] == first.receipt.height and heights == sorted(heights), "in order, from the asked height"
    assert all(set(e) & {"transaction_committed", "block_committed"} for e in events)


def test_account_filter_and_protobuf_frames(stack, history):
    recipient, first, second = history
    frames = asyncio.run(collect(ws_url(stack, account=address_to_text(recipient), from_height=1),
                                 lambda fs: len([f for f in fs if events_pb2.Event.FromString(f).HasField(
                                     "transaction_committed")]) >= 2))
    events = [events_pb2.Event.FromString(f) for f in frames]
    txs = [e.transaction_committed.receipt.tx_id for e in events if e.HasField("transaction_committed")]
    assert txs == [first.tx_id, second.tx_id], "only the account's transactions, exactly once each, in order"


def test_live_events_arrive_as_transactions_commit(stack):
    recipient = generate_keypair().address

    async def scenario():
        before = stream_subscribers(stack)
        async with connect(ws_url(stack, format="json", account=address_to_text(recipient))) as ws:
            await asyncio.to_thread(until_stream_subscribers, stack, before + 1)  # subscribed before the transaction exists
            result = await asyncio.to_thread(lambda: Client(stack.url).transfer(stack.faucet, recipient, 7))
            event = json.loads(await asyncio.wait_for(ws.recv(), 30))
            return result, event

    result, event = asyncio.run(scenario())
    assert event["transaction_committed"]["receipt"]["height"] == str(result.receipt.height)


@pytest.mark.parametrize("params, code, word", [
    ({"kinds": "bogus"}, 4400, "unknown event kind"),
    ({"format": "xml"}, 4400, "format"),
    ({"account": "ag12"}, 4400, "address"),
    ({"from_height": "-3"}, 4400, "from_height"),
    ({"from_height": "0"}, 4400, "from_height"),
])
def test_bad_subscriptions_are_closed_with_a_reason(stack, params, code, word):
    async def attempt():
        async with connect(ws_url(stack, **params)) as ws:
            await asyncio.wait_for(ws.recv(), 10)

    with pytest.raises(ConnectionClosed) as caught:
        asyncio.run(attempt())
    assert caught.value.rcvd.code == code and word in caught.value.rcvd.reason


def test_a_client_that_leaves_while_nothing_happens_is_unsubscribed(stack):
    # Counted from before: an earlier test's gRPC stream may stay subscribed (Serve 2.60's gRPC proxy
    # can miss a cancellation: docs/gateway.md, limits); this client's own subscription must go.
    before = stream_subscribers(stack)

    async def visit():
        async with connect(ws_url(stack, kinds="leader_changed")):
            return await asyncio.to_thread(until_stream_subscribers, stack, before + 1)

    assert asyncio.run(visit()) >= before + 1
    deadline = time.monotonic() + 30
    while stream_subscribers(stack) > before and time.monotonic() < deadline:
        time.sleep(0.5)
    assert stream_subscribers(stack) <= before
