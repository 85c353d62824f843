"""The FastAPI app of one gateway replica: routes, the stream, and error mapping.

Every error is an `aurigraph.v1.ApiError` body (JSON or protobuf, as negotiated) with its HTTP
status; `Retry-After` (seconds) accompanies 429 and 503. A rejected single transaction answers
422 with its `SubmitResponse` (status, reason, detail, tx id).
"""

from __future__ import annotations

import logging
import math

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from aurigraph import telemetry
from serve_apps.errors import ApiFailure
from serve_apps.rest import models, routes, stream
from serve_apps.rest.deps import admit_route
from serve_apps.rest.media import render
from serve_apps.service import GatewayService, RejectedFailure

log = logging.getLogger("aurigraph.gateway")
REQUEST_ID_HEADER = "X-Request-Id"  # the client's (if usable), else one the gateway made; on every answer
REQUEST_ID_KEY = REQUEST_ID_HEADER.lower().encode("latin-1")  # as ASGI spells header names
HTTP_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE"}


def _failure_response(request: Request, e: ApiFailure):
    headers = {"Retry-After": str(max(1, math.ceil(e.retry_after_ms / 1000)))} if e.retry_after_ms else None
    if isinstance(e, RejectedFailure):
        return render(request, e.result, e.http_status, headers)
    return render(request, e.to_proto(), e.http_status, headers)


class RequestIds:
    """Every HTTP request: its request id (the client's if usable, else a new one) in a telemetry
    span and on the answer, and the request counted by route and status. A plain ASGI middleware:
    Starlette's `BaseHTTPMiddleware` (`@app.middleware`) runs each request in a task group with
    memory streams, 15% of a gateway replica's CPU under single-transaction REST load."""

    def __init__(self, app, service: GatewayService) -> None:
        self.app, self.service = app, service

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = next((v.decode("latin-1") for k, v in scope["headers"] if k == REQUEST_ID_KEY), None)
        rid = telemetry.new_request_id(offered)
        status = 500

        async def send_with_id(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (REQUEST_ID_KEY, rid.encode("latin-1"))]
            await send(message)

        try:
            with telemetry.span(f"{scope['method']} {scope['path']}", {"request_id": rid}):
                await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            self.service.metrics.requests.labels("rest", getattr(route, "path", "unmatched"), status).inc()


def create_app(service: GatewayService) -> FastAPI:
    # Every route is admitted by its entry in serve_apps/auth.py (roles, open routes, allowlist).
    app = FastAPI(title="Aurigraph DLT gateway", version="11", docs_url="/api/docs",
                  openapi_url="/api/openapi.json", redoc_url=None, dependencies=[Depends(admit_route)])
    app.state.service = service
    app.include_router(routes.router)
    app.include_router(models.router)
    app.include_router(stream.router)

    app.add_middleware(RequestIds, service=service)

    @app.exception_handler(ApiFailure)
    async def on_failure(request: Request, e: ApiFailure):
        return _failure_response(request, e)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, e: RequestValidationError):
        problems = "; ".join(f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg')}" for err in e.errors())
        return _failure_response(request, ApiFailure("BAD_REQUEST", problems[:500]))

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, e: StarletteHTTPException):
        code = HTTP_CODES.get(e.status_code, "BAD_REQUEST" if e.status_code < 500 else "INTERNAL")
        return _failure_response(request, ApiFailure(code, str(e.detail)))

    @app.exception_handler(Exception)
    async def on_bug(request: Request, e: Exception):
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=e)
        return _failure_response(request, ApiFailure("INTERNAL", f"internal error ({type(e).__name__})"))

    return app
