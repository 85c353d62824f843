"""Errors the SDK raises: what the gateway answered, in one shape for REST and gRPC."""

from __future__ import annotations


class ApiError(Exception):
    """The gateway refused a request. `code` is the stable `ApiError.code` (e.g. NOT_FOUND,
    RATE_LIMITED, UNAVAILABLE); `retry_after_ms` is set when trying again later may succeed."""

    def __init__(self, code: str, detail: str, *, status: int | str = 0, reason: int = 0,
                 retry_after_ms: int = 0) -> None:
        super().__init__(f"{code}: {detail}")
        self.code, self.detail, self.status = code, detail, status
        self.reason, self.retry_after_ms = reason, retry_after_ms


class TransactionRejected(ApiError):
    """A submitted transaction was rejected; `result` is its `aurigraph.v1.SubmitResponse`."""

    def __init__(self, result, detail: str, status: int | str = 422) -> None:
        super().__init__("REJECTED", detail, status=status, reason=result.reason)
        self.result = result
