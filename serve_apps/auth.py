"""Admission by API key, and the one table of what every route needs.

Without a keys file every route is open (development); with one, every route — REST, WebSocket and
gRPC — needs a key whose role covers it (`aurigraph.apikeys`), except the few in `OPEN_ROUTES`.
`ROUTE_ROLES` is the only place a route's role is written: the REST dependency, the WebSocket
handler and the gRPC wrapper all look it up by route (`rest_route`, `ws_route`, `grpc_route`), and
a route that is in neither table is refused (fail closed). `SUBMISSION_ROUTES` are the routes the
submission allowlist applies to (`serve_apps.allowlist`).

A presented key is hashed and compared against every stored digest in constant time.
"""

from __future__ import annotations

import hmac
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from aurigraph.apikeys import Role, key_digest, load_key_file
from serve_apps.errors import ApiFailure

GRPC_PACKAGE = "aurigraph.v1"


def rest_route(method: str, path: str) -> str:
    """`GET /v11/blocks/{height}`: the method and the route's path template (not the request's path)."""
    return f"{method.upper()} {path}"


def ws_route(path: str) -> str:
    return f"WS {path}"


def grpc_route(service: str, method: str) -> str:
    """`gRPC /aurigraph.v1.TransactionService/SubmitTransaction`: the method's wire path."""
    return f"gRPC /{GRPC_PACKAGE}.{service}/{method}"


_R, _S, _A = Role.READER, Role.SUBMITTER, Role.ADMIN
_TX, _CONSENSUS, _NODE, _MONITORING = "TransactionService", "ConsensusService", "NodeService", "MonitoringService"
_STORAGE, _CRYPTO, _MODEL = "StorageService", "CryptoService", "ModelService"

# The role each route needs (a role includes the ones below it). A new route must be added here,
# or to OPEN_ROUTES; tests/unit/serve_apps/test_access.py compares both with the app's routes and
# the gRPC service descriptors, and tests/e2e/test_access_control.py checks every entry over the wire.
ROUTE_ROLES: dict[str, Role] = {
    rest_route("POST", "/v11/transactions"): _S,
    rest_route("POST", "/v11/transactions/batch"): _S,
    rest_route("GET", "/v11/transactions/{tx_id}"): _R,
    rest_route("GET", "/v11/blocks/latest"): _R,
    rest_route("GET", "/v11/blocks/{height}"): _R,
    rest_route("GET", "/v11/blocks"): _R,
    rest_route("GET", "/v11/audit/export"): _R,
    rest_route("GET", "/v11/accounts/{address}/transactions"): _R,
    rest_route("GET", "/v11/accounts/{address}"): _R,
    rest_route("GET", "/v11/compliance/rules"): _R,
    rest_route("GET", "/v11/consensus/status"): _R,
    rest_route("GET", "/v11/nodes"): _R,
    rest_route("POST", "/v11/crypto/verify"): _S,
    rest_route("GET", "/v11/crypto/kem-public-key"): _R,
    rest_route("GET", "/v11/metrics"): _R,
    rest_route("GET", "/v11/models"): _R,
    rest_route("POST", "/v11/models/{model}/retrain"): _A,
    rest_route("POST", "/v11/models/{model}/promote"): _A,
    rest_route("POST", "/v11/models/{model}/rollback"): _A,
    rest_route("GET", "/v11/anomalies"): _R,
    ws_route("/v11/stream"): _R,
    grpc_route(_TX, "SubmitTransaction"): _S,
    grpc_route(_TX, "BatchSubmitTransactions"): _S,
    grpc_route(_TX, "SubmitTransactionStream"): _S,
    grpc_route(_TX, "StreamTransactions"): _R,
    grpc_route(_CONSENSUS, "GetStatus"): _R,
    grpc_route(_NODE, "ListNodes"): _R,
    grpc_route(_NODE, "JoinNode"): _A,
    grpc_route(_NODE, "LeaveNode"): _A,
    grpc_route(_MONITORING, "GetMetrics"): _R,
    grpc_route(_STORAGE, "GetBlock"): _R,
    grpc_route(_STORAGE, "GetTransaction"): _R,
    grpc_route(_STORAGE, "GetAccount"): _R,
    grpc_route(_STORAGE, "GetComplianceRules"): _R,
    grpc_route(_CRYPTO, "VerifySignatures"): _S,
    grpc_route(_CRYPTO, "GetKemPublicKey"): _R,
    grpc_route(_MODEL, "ListModels"): _R,
    grpc_route(_MODEL, "ListAnomalies"): _R,
    grpc_route(_MODEL, "RetrainModel"): _A,
    grpc_route(_MODEL, "PromoteModel"): _A,
    grpc_route(_MODEL, "RollbackModel"): _A,
}

# Open by design, with or without keys: orchestrators' liveness/readiness probes, and the API's
# own description (no data in it). Not rate limited either.
OPEN_ROUTES: frozenset[str] = frozenset({
    rest_route("GET", "/v11/health"),
    rest_route("GET", "/v11/ready"),
    grpc_route(_MONITORING, "GetHealth"),
    rest_route("GET", "/api/openapi.json"),
    rest_route("GET", "/api/docs"),
    rest_route("GET", "/docs/oauth2-redirect"),  # FastAPI's Swagger UI helper page
})

# Routes that submit transactions: refused to clients outside the submission allowlist, when one
# is configured.
SUBMISSION_ROUTES: frozenset[str] = frozenset({
    rest_route("POST", "/v11/transactions"),
    rest_route("POST", "/v11/transactions/batch"),
    grpc_route(_TX, "SubmitTransaction"),
    grpc_route(_TX, "BatchSubmitTransactions"),
    grpc_route(_TX, "SubmitTransactionStream"),
})


def required_role(route: str) -> Role | None:
    """The role `route` needs; None for an open route. A route in neither table is refused: a
    forgotten entry must not mean an unprotected route."""
    if route in OPEN_ROUTES:
        return None
    try:
        return ROUTE_ROLES[route]
    except KeyError:
        raise ApiFailure("INTERNAL", f"no access rule for {route} (add it to serve_apps/auth.py ROUTE_ROLES)") from None


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role


OPEN = Principal("anonymous", Role.ADMIN)  # when no keys are configured
# Who the request being handled was admitted as (set by `GatewayService.admit`, in the request's
# task): what the audit notes of administrative actions name.
current_principal: ContextVar[Principal] = ContextVar("current_principal", default=OPEN)


class ApiKeys:
    def __init__(self, entries: list[tuple[str, Role, bytes]]) -> None:
        self._entries = entries

    @property
    def enabled(self) -> bool:
        return bool(self._entries)

    @classmethod
    def load(cls, path: Path | None) -> ApiKeys:
        return cls(load_key_file(path) if path is not None else [])

    def authenticate(self, presented: str | None, needs: Role) -> Principal:
        """The principal behind `presented`, if its role covers `needs`; else `ApiFailure`."""
        if not self._entries:
            return OPEN
        if not presented:
            raise ApiFailure("UNAUTHENTICATED", "an API key is required (header X-API-Key or Authorization: Bearer)")
        digest = key_digest(presented)
        found = None
        for name, role, stored in self._entries:  # no early exit: the time does not depend on which key
            if hmac.compare_digest(digest, stored):
                found = Principal(name, role)
        if found is None:
            raise ApiFailure("UNAUTHENTICATED", "unknown API key")
        if found.role < needs:
            raise ApiFailure("FORBIDDEN", f"role {found.role.name.lower()} may not do this (needs {needs.name.lower()})")
        return found


def presented_key(authorization: str | None, api_key: str | None) -> str | None:
    """The key from `X-API-Key`, or from `Authorization: Bearer <key>`."""
    if api_key:
        return api_key
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    return None
