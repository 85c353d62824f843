"""API key files and roles, shared by the gateway (which checks keys) and the CLI (which makes them).

The file holds no keys, only their SHA-256 digests (`aurigraph apikey new` appends one and
prints the key once):

    {"keys": [{"name": "ops", "role": "admin", "sha256": "<hex>"}, ...]}
"""

from __future__ import annotations

import enum
import hashlib
import json
import os
import secrets
from pathlib import Path


class Role(enum.IntEnum):
    """Each role includes the ones below it."""

    READER = 1  # queries, the event stream
    SUBMITTER = 2  # + submitting transactions, crypto helpers
    ADMIN = 3  # + model retrain / promote / rollback, membership (serve_apps.auth.ROUTE_ROLES)

    @classmethod
    def parse(cls, text: str) -> Role:
        try:
            return cls[text.upper()]
        except KeyError:
            raise ValueError(f"unknown role {text!r} (reader, submitter, admin)") from None


def key_digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def load_key_file(path: Path) -> list[tuple[str, Role, bytes]]:
    """(name, role, SHA-256 digest) of every key; `ValueError` naming the problem."""
    try:
        document = json.loads(Path(path).read_text())
        entries = [(e["name"], Role.parse(e["role"]), bytes.fromhex(e["sha256"])) for e in document["keys"]]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise ValueError(f"API keys file {path}: {e}") from None
    if not entries:
        raise ValueError(f"API keys file {path} lists no keys")
    if any(len(digest) != 32 for _, _, digest in entries):
        raise ValueError(f"API keys file {path}: every sha256 must be 64 hex digits")
    return entries


def add_key(path: Path, name: str, role: Role) -> str:
    """Append a new key (file created 0600 if missing); returns the key, to be shown once."""
    path = Path(path)
    document = json.loads(path.read_text()) if path.exists() else {"keys": []}
    if any(e.get("name") == name for e in document["keys"]):
        raise ValueError(f"{path} already has a key named {name!r}")
    key = "agk_" + secrets.token_urlsafe(32)
    document["keys"].append({"name": name, "role": role.name.lower(), "sha256": key_digest(key).hex()})
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(json.dumps(document, indent=2) + "\n")
    return key
