"""Abusive HTTP against a running node: oversize and deeply nested bodies, bad media types, and
slow-loris clients. Each is refused quickly with its code (never a 500 or a RecursionError), and
a normal client is served all along.

Observed, and what the gateway does about it:
- Slow headers (a request line and headers trickled a byte at a time): the gateway replica's HTTP
  server is uvicorn, which has no timeout for incomplete headers — such connections stay open as
  long as the client keeps them, each holding one of the replica's `MAX_CONCURRENCY` (4096)
  connection slots but no request capacity: requests of other clients are served. A deployment
  exposed to the open internet should still put a proxy with a header timeout in front (as for TLS
  on gRPC, docs/gateway.md).
- Slow bodies (complete headers, then a body trickled in): the request does reach the routes and
  holds a request slot while the body arrives; 256 such clients once left every other request
  queued. `serve_apps/rest/media.py` receives at most `MAX_BODY_READS` bodies at once (more: 503
  UNAVAILABLE with Retry-After) and gives each `BODY_TIMEOUT_S` (408).
"""

from __future__ import annotations

import asyncio
import socket
import time

import httpx
import pytest

from serve_apps.rest.media import MAX_BODY_READS
from tests.adversarial.conftest import PROTOBUF

KIB, MIB = 1024, 1024 * 1024
BODY_LIMIT, BATCH_LIMIT = 128 * KIB, 96 * MIB


def refused(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text[:300]
    body = response.json()
    assert body["code"] == code and body["detail"], body
    return body


def timed(call, *args, **kwargs):
    """`call(*args, **kwargs)` and the seconds it took."""
    started = time.monotonic()
    response = call(*args, **kwargs)
    return response, time.monotonic() - started


def chunks(total: int, size: int = 64 * KIB):
    for start in range(0, total, size):
        yield b"\x00" * min(size, total - start)


@pytest.mark.parametrize("route, limit", [("/v11/transactions", BODY_LIMIT), ("/v11/transactions/batch", BATCH_LIMIT),
                                          ("/v11/crypto/verify", BATCH_LIMIT)])
def test_a_body_over_the_limit_is_413_declared_or_streamed(http, route, limit):
    r = http.post(route, content=b"\x00" * (limit + 1), headers={"content-type": PROTOBUF})
    assert f"body of {limit + 1} bytes, limit {limit}" in refused(r, 413, "PAYLOAD_TOO_LARGE")["detail"]
    # Chunked, without a Content-Length, and far over: cut off at the limit, not read to the end.
    r, elapsed_s = timed(http.post, route, content=chunks(limit + 64 * MIB), headers={"content-type": PROTOBUF})
    assert f"body larger than the limit of {limit} bytes" in refused(r, 413, "PAYLOAD_TOO_LARGE")["detail"]
    assert elapsed_s < 60  # cut off, not read to the end (64 MiB); generous for a loaded machine
    at_limit = http.post(route, content=b"\xff" * min(limit, BODY_LIMIT), headers={"content-type": PROTOBUF})
    refused(at_limit, 400, "MALFORMED")  # at the limit it is read, and parsed


@pytest.mark.parametrize("framing", [
    b"Content-Length: x2\r\n",
    b"Content-Length: -5\r\n",
    b"Content-Length: 2\r\nContent-Length: 3\r\n",
    b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n",
    b"Transfer-Encoding: chunked\r\n\r\nzz\r\n",
])
def test_broken_http_framing_is_400(stack, framing):
    """Framing an HTTP parser must refuse (request smuggling material): uvicorn answers 400 itself,
    before the gateway's routes."""
    with socket.create_connection(("127.0.0.1", stack.http_port), timeout=10) as sock:
        sock.sendall(b"POST /v11/transactions HTTP/1.1\r\nHost: x\r\n" + framing + b"\r\n{}")
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]


NESTINGS = {
    "arrays": lambda depth: b"[" * depth + b"]" * depth,
    "objects": lambda depth: b'{"a":' * depth + b"1" + b"}" * depth,
    "inside a field": lambda depth: b'{"transactions":' + b"[" * depth + b"]" * depth + b"}",
    "under an unknown field": lambda depth: b'{"x":' + b'{"a":' * depth + b"1" + b"}" * depth + b"}",
}


@pytest.mark.parametrize("shape", list(NESTINGS))
@pytest.mark.parametrize("route", ["/v11/transactions/batch", "/v11/crypto/verify"])
def test_deeply_nested_json_is_malformed_quickly(http, shape, route):
    for depth in (100_000, 900):  # past the recursion limit, and just under it
        r, elapsed_s = timed(http.post, route, content=NESTINGS[shape](depth),
                             headers={"content-type": "application/json"})
        assert "not a valid" in refused(r, 400, "MALFORMED")["detail"], (depth, r.text[:300])
        assert elapsed_s < 30  # refused, not parsed for minutes (generous for a loaded machine)
    single = http.post("/v11/transactions", content=NESTINGS[shape](100_000))
    refused(single, 413, "PAYLOAD_TOO_LARGE")  # a single transaction's body is small: refused by size
    refused(http.post("/v11/transactions", content=NESTINGS[shape](20_000)), 400, "MALFORMED")


def test_deeply_nested_protobuf_groups_are_malformed(http):
    """Protobuf's own nesting: unknown start-group tags 100,000 deep (upb stops at 100)."""
    groups = b"\x7b" * 100_000 + b"\x7c" * 100_000  # field 15, start / end group
    for route in ("/v11/transactions/batch", "/v11/crypto/verify"):
        r, elapsed_s = timed(http.post, route, content=groups, headers={"content-type": PROTOBUF})
        assert "Wire format was corrupt" in refused(r, 400, "MALFORMED")["detail"] and elapsed_s < 30
    r = http.post("/v11/transactions", content=groups[:BODY_LIMIT // 2] + groups[-BODY_LIMIT // 2:],
                  headers={"content-type": PROTOBUF})
    refused(r, 400, "MALFORMED")


@pytest.mark.parametrize("content, content_type, status, code", [
    (b"{}", "text/plain", 415, "UNSUPPORTED_MEDIA_TYPE"),
    (b"{}", "application/xml", 415, "UNSUPPORTED_MEDIA_TYPE"),
    (b"\x0a\x00", "multipart/form-data; boundary=x", 415, "UNSUPPORTED_MEDIA_TYPE"),
    (b'{"transactions": "nope"}', "application/json", 400, "MALFORMED"),
    (b"\xff\xfe{\x00}\x00", "application/json", 400, "MALFORMED"),
    (b'{"transactions": []} trailing', "application/json", 400, "MALFORMED"),
    (b'{"transactions": [], "transactions": []}', "application/json", 400, "MALFORMED"),
])
def test_bad_json_and_wrong_media_types_are_4xx(http, content, content_type, status, code):
    refused(http.post("/v11/transactions/batch", content=content, headers={"content-type": content_type}), status, code)


def test_a_batch_entry_that_is_not_a_transaction_is_rejected_alone(http):
    r = http.post("/v11/transactions/batch", content=b'{"transactions": [{"body": "!!!"}, {}]}')
    assert r.status_code == 200, r.text
    assert [(x["status"], x["reason"]) for x in r.json()["results"]] == [
        ("TRANSACTION_STATUS_REJECTED", "REJECT_REASON_MALFORMED")] * 2


async def _trickle(port: int, head: bytes, seconds: float, outcome: dict) -> None:
    """Send `head`, then one more byte a second; note what the server does with the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head)
        await writer.drain()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                answer = await asyncio.wait_for(reader.read(64), 1.0)
            except TimeoutError:
                writer.write(b"a")
                await writer.drain()
                continue
            status = answer.split(b"\r\n")[0].decode() if answer else "closed"
            outcome[status] = outcome.get(status, 0) + 1
            return
        outcome["still open"] = outcome.get("still open", 0) + 1
    except ConnectionError:
        outcome["reset"] = outcome.get("reset", 0) + 1
    finally:
        writer.close()


def _status_of_a_normal_request(url: str) -> tuple[int, float]:
    r, elapsed_s = timed(httpx.get, f"{url}/v11/consensus/status", timeout=10)
    return r.status_code, elapsed_s


async def _normal_requests(url: str, count: int) -> list[tuple[int, float]]:
    """`count` requests of an ordinary client, half a second apart: (status, seconds) each."""
    out = []
    for _ in range(count):
        out.append(await asyncio.to_thread(_status_of_a_normal_request, url))
        await asyncio.sleep(0.5)
    return out


def test_slow_loris_headers_do_not_stop_other_clients(stack):
    async def scenario():
        outcome: dict = {}
        head = b"POST /v11/transactions HTTP/1.1\r\nHost: x\r\nX-Slow: "
        clients = [asyncio.create_task(_trickle(stack.http_port, head, 12, outcome)) for _ in range(300)]
        await asyncio.sleep(1)
        normal = await _normal_requests(stack.url, 4)
        await asyncio.gather(*clients)
        return outcome, normal

    outcome, normal = asyncio.run(scenario())
    # Served while the attack lasts (12 s), not queued behind it; the bound is generous for loaded machines.
    assert all(status == 200 and elapsed_s < 8 for status, elapsed_s in normal), normal
    assert outcome == {"still open": 300}, outcome  # uvicorn does not time out incomplete headers


def test_slow_bodies_hold_a_bounded_share_of_the_gateway(stack, witness):
    async def scenario():
        outcome: dict = {}
        head = (b"POST /v11/transactions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 100000\r\n\r\n{")
        clients = [asyncio.create_task(_trickle(stack.http_port, head, 12, outcome)) for _ in range(MAX_BODY_READS + 40)]
        await asyncio.sleep(1.5)
        normal = await _normal_requests(stack.url, 4)
        await asyncio.gather(*clients)
        return outcome, normal

    outcome, normal = asyncio.run(scenario())
    # Served while the attack lasts (12 s), not queued behind it; the bound is generous for loaded machines.
    assert all(status == 200 and elapsed_s < 8 for status, elapsed_s in normal), normal
    assert outcome == {"still open": MAX_BODY_READS, "HTTP/1.1 503 Service Unavailable": 40}, outcome
    witness.check()
