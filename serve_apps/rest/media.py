"""Content negotiation for protobuf messages over HTTP.

Requests: `Content-Type: application/x-protobuf` (binary) or JSON (the protobuf JSON mapping; the
default when the header is missing). Responses: protobuf when `Accept` names
`application/x-protobuf`, else JSON with the proto field names and every field present.
Bodies are read with a size limit: a larger one is refused with 413 before it is all read.
"""

from __future__ import annotations

import json

from fastapi import Request
from fastapi.responses import Response
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message

from aurigraph.codec.names import to_json_dict
from serve_apps.errors import ApiFailure

PROTOBUF = "application/x-protobuf"
JSON = "application/json"


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
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiFailure("PAYLOAD_TOO_LARGE", f"body larger than the limit of {limit} bytes")
        chunks.append(chunk)
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
