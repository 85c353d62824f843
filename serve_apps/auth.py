"""Admission by API key. Without a keys file every route is open (development); with one, every
route — REST, WebSocket and gRPC — needs a key whose role covers it (`aurigraph.apikeys`).
A presented key is hashed and compared against every stored digest in constant time.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from pathlib import Path

from aurigraph.apikeys import Role, key_digest, load_key_file
from serve_apps.errors import ApiFailure


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role


OPEN = Principal("anonymous", Role.ADMIN)  # when no keys are configured


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
