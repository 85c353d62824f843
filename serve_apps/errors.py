"""One error vocabulary for REST and gRPC: an `ApiFailure` carries a stable code, a detail, and
maps to an HTTP status and a gRPC status code. Handlers raise it; the REST layer renders it as an
`aurigraph.v1.ApiError` body, the gRPC layer as a status with `code: detail`.
"""

from __future__ import annotations

import grpc

from aurigraph.v1 import common_pb2

# code -> (HTTP status, gRPC status)
CODES: dict[str, tuple[int, grpc.StatusCode]] = {
    "BAD_REQUEST": (400, grpc.StatusCode.INVALID_ARGUMENT),
    "MALFORMED": (400, grpc.StatusCode.INVALID_ARGUMENT),
    "UNSUPPORTED_MEDIA_TYPE": (415, grpc.StatusCode.INVALID_ARGUMENT),
    "NOT_ACCEPTABLE": (406, grpc.StatusCode.INVALID_ARGUMENT),
    "PAYLOAD_TOO_LARGE": (413, grpc.StatusCode.RESOURCE_EXHAUSTED),
    "BATCH_TOO_LARGE": (413, grpc.StatusCode.INVALID_ARGUMENT),
    "REJECTED": (422, grpc.StatusCode.INVALID_ARGUMENT),
    "NOT_FOUND": (404, grpc.StatusCode.NOT_FOUND),
    "PRECONDITION_FAILED": (409, grpc.StatusCode.FAILED_PRECONDITION),
    "UNAUTHENTICATED": (401, grpc.StatusCode.UNAUTHENTICATED),
    "FORBIDDEN": (403, grpc.StatusCode.PERMISSION_DENIED),
    "RATE_LIMITED": (429, grpc.StatusCode.RESOURCE_EXHAUSTED),
    "UNAVAILABLE": (503, grpc.StatusCode.UNAVAILABLE),
    "TIMEOUT": (504, grpc.StatusCode.DEADLINE_EXCEEDED),
    "REQUEST_TIMEOUT": (408, grpc.StatusCode.DEADLINE_EXCEEDED),
    "NOT_IMPLEMENTED": (501, grpc.StatusCode.UNIMPLEMENTED),
    "METHOD_NOT_ALLOWED": (405, grpc.StatusCode.UNIMPLEMENTED),
    "INTERNAL": (500, grpc.StatusCode.INTERNAL),
}


class ApiFailure(Exception):
    def __init__(self, code: str, detail: str, *, reason: int = 0, retry_after_ms: int = 0) -> None:
        if code not in CODES:
            raise ValueError(f"unknown API error code {code!r}")
        super().__init__(f"{code}: {detail}")
        self.code, self.detail, self.reason, self.retry_after_ms = code, detail, reason, retry_after_ms

    @property
    def http_status(self) -> int:
        return CODES[self.code][0]

    @property
    def grpc_status(self) -> grpc.StatusCode:
        return CODES[self.code][1]

    def to_proto(self) -> common_pb2.ApiError:
        return common_pb2.ApiError(code=self.code, detail=self.detail, reason=self.reason,
                                   retry_after_ms=self.retry_after_ms)
