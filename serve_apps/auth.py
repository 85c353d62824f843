"""API keys and roles. Without a keys file every route is open (development); with one, every
route — REST, WebSocket and gRPC — needs a key whose role covers it.

The keys file holds no keys, only their SHA-256 digests (`aurigraph apikey new` writes it):

    {"keys": [{"name": "ops", "role": "admin", "sha256": "<hex>"}, ...]}

A presented key is hashed and compared against every stored digest in constant time.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from serve_apps.errors import ApiFailure


class Role(enum.IntEnum):
    """Each role includes the ones below it."""

    READER = 1  # queries, the event stream
    SUBMITTER = 2  # + submitting transactions, crypto helpers
    ADMIN = 3  # + membership changes

    @classmethod
    def parse(cls, text: str) -> Role:
        try:
            return cls[text.upper()]
        except KeyError:
            raise ValueError(f"unknown role {text!r} (reader, submitter, admin)") from None


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role


OPEN = Principal("anonymous", Role.ADMIN)  # when no keys are configured


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return "agk_" + secrets.token_urlsafe(32)


class ApiKeys:
    def __init__(self, entries: list[tuple[str, Role, bytes]]) -> None:
        self._entries = entries

    @property
    def enabled(self) -> bool:
        return bool(self._entries)

    @classmethod
    def load(cls, path: Path | None) -> ApiKeys:
        if path is None:
            return cls([])
        try:
            document = json.loads(Path(path).read_text())
            entries = [(e["name"], Role.parse(e["role"]), bytes.fromhex(e["sha256"])) for e in document["keys"]]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ValueError(f"API keys file {path}: {e}") from None
        if not entries:
            raise ValueError(f"API keys file {path} lists no keys")
        return cls(entries)

    def authenticate(self, presented: str | None, needs: Role) -> Principal:
        """The principal behind `presented`, if its role covers `needs`; else `ApiFailure`."""
        if not self._entries:
            return OPEN
        if not presented:
            raise ApiFailure("UNAUTHENTICATED", "an API key is required (header X-API-Key or Authorization: Bearer)")
        digest = hashlib.sha256(presented.encode()).digest()
        found = None
        for name, role, stored in self._entries:  # no early exit: the time does not depend on which key
            if hmac.compare_digest(digest, stored):
                found = Principal(name, role)
        if found is None:
            raise ApiFailure("UNAUTHENTICATED", "unknown API key")
        if found.role < needs:
            raise ApiFailure("FORBIDDEN", f"role {found.role.name.lower()} may not do this (needs {needs.name.lower()})")
        return found


def add_key(path: Path, name: str, role: Role) -> str:
    """Append a new key to the keys file (created if missing); returns the key, shown once."""
    document = json.loads(path.read_text()) if path.exists() else {"keys": []}
    if any(e["name"] == name for e in document["keys"]):
        raise ValueError(f"{path} already has a key named {name!r}")
    key = new_key()
    document["keys"].append({"name": name, "role": role.name.lower(), "sha256": key_digest(key)})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")
    path.chmod(0o600)
    return key


def presented_key(authorization: str | None, api_key: str | None) -> str | None:
    """The key from `X-API-Key`, or from `Authorization: Bearer <key>`."""
    if api_key:
        return api_key
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    return None
