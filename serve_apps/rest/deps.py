"""Dependencies of the REST routes: the service, and admission by role (API key + rate limit)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from aurigraph.apikeys import Role
from serve_apps.auth import Principal, presented_key
from serve_apps.service import GatewayService


def get_service(request: Request) -> GatewayService:
    return request.app.state.service


def _admission(needs: Role):
    async def admit(request: Request, service: Annotated[GatewayService, Depends(get_service)],
                    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
                    x_api_key: Annotated[str | None, Header(include_in_schema=False)] = None) -> Principal:
        peer = request.client.host if request.client else "unknown"
        return await service.admit(presented_key(authorization, x_api_key), peer, needs)
    return admit


Service = Annotated[GatewayService, Depends(get_service)]
Reader = Annotated[Principal, Depends(_admission(Role.READER))]
Submitter = Annotated[Principal, Depends(_admission(Role.SUBMITTER))]
Admin = Annotated[Principal, Depends(_admission(Role.ADMIN))]
