"""Content negotiation for protobuf messages over HTTP.

Requests: `Content-Type: application/x-protobuf` (binary) or JSON (the protobuf JSON mapping; the
default when the header is missing). Responses: protobuf when `Accept` names
`application/x-protobuf`, else JSON with the proto field names and every field present.
Bodies are read with a size limit: a larger one is refused with 413 before it is all read. A body
that trickles in holds one of the replica's concurrent requests (256, gateway.py) until it is all
there, so slow clients are bounded: at most `MAX_BODY_READS` bodies are received at once (more are
refused with 503 and Retry-After), and one that has not arrived within `BODY_TIMEOUT_S` gets 408.
"""

from __future__ import annotations

import asyncio
import json

from fastapi import Request
from fastapi.responses import Response
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from starlette.requests import ClientDisconnect

from aurigraph.codec.names import to_json_dict
from serve_apps.errors import ApiFailure

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
MAX_BODY_READS = 64
BODY_TIMEOUT_S = 60.0
_body_reads = 0  # bodies being received now, in this replica


def wants_protobuf(request: Request) -> bool:
    return PROTOBUF in request.headers.get("accept", "")


def is_protobuf(request: Request) -> bool:
    content_type = request.headers.get("content-type", JSON).split(";")[0].strip().lower()
    if content_type == PROTOBUF:
        return True
    if content_type in (JSON, "") or content_type.endswith("+json"):
        return False
    raise ApiFailure("UNSUPPORTED_MEDIA_TYPE", f"Content-Type {content_type!r}: use {JSON} or {PROTOBUF}")


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise ApiFailure("PAYLOAD_TOO_LARGE", f"body of {declared} bytes, limit {limit}")
        except ValueError:
            raise ApiFailure("BAD_REQUEST", "Content-Length is not a number") from None
    global _body_reads
    if _body_reads >= MAX_BODY_READS:
        raise ApiFailure("UNAVAILABLE", f"{_body_reads} request bodies are being received, the most at once",
                         retry_after_ms=1000)
    _body_reads += 1
    chunks, size = [], 0
    try:
        async with asyncio.timeout(BODY_TIMEOUT_S):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise ApiFailure("PAYLOAD_TOO_LARGE", f"body larger than the limit of {limit} bytes")
                chunks.append(chunk)
    except TimeoutError:
        raise ApiFailure("REQUEST_TIMEOUT", f"the body did not arrive within {BODY_TIMEOUT_S:g} s") from None
    except ClientDisconnect:  # nobody is left to answer; not a server error either
        raise ApiFailure("BAD_REQUEST", "the client went away before its body arrived") from None
    finally:
        _body_reads -= 1
    return b"".join(chunks)


def parse(request: Request, body: bytes, message: Message) -> Message:
    """Fill `message` from a JSON or protobuf body; `ApiFailure(MALFORMED)` if it does not parse."""
    if is_protobuf(request):
        try:
            message.ParseFromString(body)
        except (DecodeError, RuntimeError, ValueError) as e:
            raise ApiFailure("MALFORMED", f"body is not a valid {message.DESCRIPTOR.name}: {e}") from None
        return message
    if not body:
        raise ApiFailure("MALFORMED", f"empty body: expected a {message.DESCRIPTOR.name} as JSON")
    try:
        json_format.Parse(body, message)
    except (json_format.ParseError, UnicodeDecodeError, ValueError, TypeError, RecursionError) as e:
        raise ApiFailure("MALFORMED", f"body is not a valid {message.DESCRIPTOR.name} in JSON: "
                                      f"{str(e).splitlines()[0][:300]}") from None
    return message


def render(request: Request, message: Message, status_code: int = 200, headers: dict | None = None) -> Response:
    if wants_protobuf(request):
        return Response(message.SerializeToString(), status_code, headers, media_type=PROTOBUF)
    return Response(json.dumps(to_json_dict(message)), status_code, headers, media_type=JSON)
