"""`WS /v11/stream`: committed transactions, rejections, blocks, leader changes and node status.

Query parameters: `kinds` (comma-separated: transaction_committed, transaction_rejected,
block_committed, leader_changed, node_status; default all), `account` (ag… address: only its
transactions), `from_height` (replay from this block height, then follow live; use the last
height you saw + 1 after a reconnect), `format` (`protobuf`, the default: binary frames of
`aurigraph.v1.Event`; `json`: text frames in the protobuf JSON mapping), `api_key` (or the
X-API-Key header) when keys are configured.

Closing codes: 4000 + the HTTP status of a refused request (4400 bad parameters, 4401/4403 API
key, 4429 rate limit, 4503 node unavailable) with the reason as close reason; 1008 with reason
`SLOW_CONSUMER: …` for a subscriber that fell too far behind or stopped reading.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Annotated

from fastapi import APIRouter, Header, Query, WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from aurigraph.codec.names import to_json_dict
from aurigraph.v1 import events_pb2
from serve_apps.auth import presented_key, ws_route
from serve_apps.errors import ApiFailure
from serve_apps.events import Filter, SlowConsumer
from serve_apps.rest.deps import client_of
from serve_apps.rest.routes import _address

router = APIRouter(prefix="/v11")
SEND_TIMEOUT_S = 10.0
# The stream is one-way. A few client frames (keep-alives) are ignored; a flood or a big frame is
# closed with 1008, since each frame the client sends is work for this replica.
CLIENT_FRAMES_PER_S = 1.0
CLIENT_FRAME_BURST = 10
MAX_CLIENT_FRAME_BYTES = 4096
KIND_NAMES = {k.removeprefix("EVENT_KIND_").lower(): v for k, v in events_pb2.EventKind.items() if v}


def parse_kinds(text: str | None) -> frozenset[int]:
    if not text:
        return frozenset()
    kinds = set()
    for name in (n.strip().lower() for n in text.split(",") if n.strip()):
        if name not in KIND_NAMES:
            raise ApiFailure("BAD_REQUEST", f"unknown event kind {name!r} (one of {', '.join(sorted(KIND_NAMES))})")
        kinds.add(KIND_NAMES[name])
    return frozenset(kinds)


@router.websocket("/stream")
async def stream_events(websocket: WebSocket, kinds: str | None = None, account: str | None = None,
                        from_height: Annotated[str | None, Query()] = None, format: str = "protobuf",
                        api_key: str | None = None,
                        x_api_key: Annotated[str | None, Header()] = None,
                        authorization: Annotated[str | None, Header()] = None) -> None:
    service = websocket.app.state.service
    await websocket.accept()
    try:
        if format not in ("protobuf", "json"):
            raise ApiFailure("BAD_REQUEST", "format must be protobuf or json")
        await service.admit(ws_route(websocket.scope["route"].path),
                            presented_key(authorization, x_api_key or api_key), client_of(websocket, service))
        flt = Filter(parse_kinds(kinds), _address(account) if account else b"")
        start = None
        if from_height is not None:
            if not (from_height.isascii() and from_height.isdecimal()) or len(from_height) > 19:
                raise ApiFailure("BAD_REQUEST", "from_height must be a non-negative integer")
            start = int(from_height)
        sub = await service.hub.subscribe(flt, start)
    except ApiFailure as e:
        await websocket.close(code=4000 + e.http_status, reason=f"{e.code}: {e.detail}"[:120])
        return
    closed = asyncio.get_running_loop().create_task(_until_closed(websocket))
    events = service.hub.events(sub)
    try:
        while True:
            # Wait for the next event or the client leaving, whichever is first: a client that goes
            # away while nothing happens must not leave its subscription behind.
            next_event = asyncio.ensure_future(anext(events))
            await asyncio.wait({next_event, closed}, return_when=asyncio.FIRST_COMPLETED)
            if not next_event.done():
                next_event.cancel()
                await asyncio.gather(next_event, return_exceptions=True)  # let it unwind before aclose
                return
            event = next_event.result()
            frame = event.SerializeToString() if format == "protobuf" else json.dumps(to_json_dict(event))
            send = asyncio.ensure_future(websocket.send_bytes(frame) if format == "protobuf"
                                         else websocket.send_text(frame))
            await asyncio.wait({send, closed}, timeout=SEND_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED)
            if not send.done():
                send.cancel()
                if closed.done():
                    return
                raise SlowConsumer(f"a frame could not be sent within {SEND_TIMEOUT_S:.0f} s")
            send.result()
    except SlowConsumer as e:
        service.metrics.stream_disconnects.inc()
        await _close(websocket, 1008, f"SLOW_CONSUMER: {e}")
    except ApiFailure as e:
        await _close(websocket, 4000 + e.http_status, f"{e.code}: {e.detail}")
    except (WebSocketDisconnect, StopAsyncIteration):
        pass
    finally:
        if closed.done() and not closed.cancelled() and closed.result():
            await _close(websocket, 1008, closed.result())
        closed.cancel()
        await events.aclose()
        service.hub.unsubscribe(sub)


async def _until_closed(websocket: WebSocket) -> str | None:
    """Reads (and ignores) client frames until the client goes away (None), or until it sends more
    than the stream tolerates: then the reason to close it with."""
    allowance, last = float(CLIENT_FRAME_BURST), time.monotonic()
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return None
            now = time.monotonic()
            allowance = min(CLIENT_FRAME_BURST, allowance + (now - last) * CLIENT_FRAMES_PER_S) - 1
            last = now
            if allowance < 0 or len(message.get("bytes") or message.get("text") or "") > MAX_CLIENT_FRAME_BYTES:
                return "POLICY: the stream takes no messages from the client"
    except (WebSocketDisconnect, RuntimeError):
        return None


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    if websocket.application_state != WebSocketState.DISCONNECTED:
        with contextlib.suppress(RuntimeError):  # closed meanwhile
            await websocket.close(code=code, reason=reason[:120])
