"""The one table of access rules (`serve_apps.auth`) against what the gateway actually serves: every
REST and WebSocket route of the FastAPI app and every gRPC method of the service descriptors has
exactly one entry (a role, or open by design), and no entry names a route that does not exist.
A new route without an entry fails here (and is refused at run time: fail closed)."""

from __future__ import annotations

import inspect

import pytest
from fastapi.routing import APIWebSocketRoute, iter_route_contexts

from aurigraph.apikeys import Role
from aurigraph.v1 import services_pb2
from serve_apps.auth import (
    OPEN_ROUTES,
    ROUTE_ROLES,
    SUBMISSION_ROUTES,
    grpc_route,
    required_role,
    rest_route,
    ws_route,
)
from serve_apps.errors import ApiFailure
from serve_apps.grpc_ingress import ROUTES, GrpcMethods
from serve_apps.rest.app import create_app


def app_routes() -> dict[str, object]:
    """Every route the REST app serves, as `serve_apps.auth` names them, with its endpoint."""
    app = create_app(service=None)  # the service is only used per request
    out = {}
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIWebSocketRoute):
            out[ws_route(context.path)] = route.endpoint
        else:
            for method in sorted(set(context.methods) - {"HEAD"}):  # HEAD rides along with GET
                out[rest_route(method, context.path)] = route.endpoint
    return out


def grpc_methods() -> dict[str, str]:
    return {grpc_route(s.name, m.name): m.name
            for s in services_pb2.DESCRIPTOR.services_by_name.values() for m in s.methods}


def test_every_route_and_method_has_exactly_one_rule():
    served = set(app_routes()) | set(grpc_methods())
    assert not set(ROUTE_ROLES) & OPEN_ROUTES, "a route is either open or needs a role"
    assert served - set(ROUTE_ROLES) - OPEN_ROUTES == set(), "routes without an access rule"
    assert (set(ROUTE_ROLES) | OPEN_ROUTES) - served == set(), "rules for routes that do not exist"


def test_the_open_routes_are_the_probes_and_the_api_description():
    assert {"GET /v11/health", "GET /v11/ready", "gRPC /aurigraph.v1.MonitoringService/GetHealth",
                           "GET /api/openapi.json", "GET /api/docs", "GET /docs/oauth2-redirect"} == OPEN_ROUTES


def test_an_unknown_route_is_refused_not_opened():
    with pytest.raises(ApiFailure) as caught:
        required_role("DELETE /v11/everything")
    assert caught.value.code == "INTERNAL"
    assert required_role("GET /v11/health") is None and required_role("POST /v11/transactions") is Role.SUBMITTER


def test_grpc_method_names_are_unique_and_each_is_implemented():
    methods = grpc_methods()
    assert len(set(methods.values())) == len(methods), "the access table (ROUTES) finds a method by its name alone"
    assert set(ROUTES.values()) == set(methods)
    for name in methods.values():
        assert callable(getattr(GrpcMethods, name, None)), name


def _submits(function) -> bool:
    source = inspect.getsource(function)
    return any(call in source for call in ("service.submit_one(", "service.submit_batch(", "service.submit("))


def test_every_route_that_submits_is_under_the_allowlist():
    submitting = {route for route, endpoint in app_routes().items() if _submits(endpoint)}
    submitting |= {route for route, name in grpc_methods().items() if _submits(getattr(GrpcMethods, name))}
    assert submitting == SUBMISSION_ROUTES
    assert all(ROUTE_ROLES[route] >= Role.SUBMITTER for route in SUBMISSION_ROUTES)
