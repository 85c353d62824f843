"""Dependencies of the REST routes: the service, and admission (API key and role, submission
allowlist, rate limit) for every route of the app, by the route's entry in `serve_apps.auth`.

`admit_route` is installed once on the app (`create_app`), so a route gets it by existing; its
role comes from `ROUTE_ROLES`, never from the handler. WebSocket routes admit in their handler,
after accepting, so a refusal can carry its reason in the close frame (`stream.py`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from serve_apps.auth import presented_key, rest_route
from serve_apps.errors import ApiFailure
from serve_apps.service import GatewayService


def get_service(connection: HTTPConnection) -> GatewayService:
    return connection.app.state.service


async def _service(connection: HTTPConnection) -> GatewayService:
    """`get_service` as the routes' dependency. `async`: FastAPI runs a plain `def` dependency in
    its thread pool, a thread hop per request that was 15% of a gateway replica's CPU under
    single-transaction REST load."""
    return get_service(connection)


def client_of(connection: HTTPConnection, service: GatewayService) -> str:
    """The client's address (see `serve_apps.allowlist`): the socket peer of the connection,
    or the client a trusted proxy names in X-Forwarded-For."""
    peer = connection.client.host if connection.client else "unknown"
    forwarded = connection.headers.getlist("x-forwarded-for")
    return service.client_address(peer, ",".join(forwarded) if forwarded else None)


async def admit_route(connection: HTTPConnection) -> None:
    if connection.scope["type"] != "http":
        return  # WebSocket: admitted by its handler
    route = connection.scope.get("route")
    if route is None:
        raise ApiFailure("INTERNAL", "no route matched before admission")
    service = get_service(connection)
    key = presented_key(connection.headers.get("authorization"), connection.headers.get("x-api-key"))
    await service.admit(rest_route(connection.scope["method"], route.path), key, client_of(connection, service))


Service = Annotated[GatewayService, Depends(_service)]
