"""The model registry: every trained version of each model, which one serves, and its history.

Layout (one folder, by default `<data dir>/models`; the optimizer actor is its only writer while
the node runs, the `aurigraph models` commands go through that actor):

    <name>/versions/000001/model.npz    the artifact: a `DenseNet` (`aurigraph.ml.forward`)
    <name>/versions/000001/meta.json    version, BLAKE3 of model.npz, metrics, data window, code
                                         version, source ("shipped", "retrain", ...), created_ms
    <name>/serving.json                 {"history": [1, 3, 4]}: the last one serves; a rollback
                                         drops it and the one before serves again

A version is written into a temporary folder and renamed into place, and `serving.json` is
replaced atomically, so a crash leaves either the old or the new state, never half of one.
`load` checks the artifact against the checksum in its metadata and decodes it completely before
returning: a corrupt or missing file raises `ModelUnavailable` with the reason, and the caller
falls back (the optimizer to fixed settings).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import blake3

from aurigraph import __version__
from aurigraph.ml.forward import DenseNet
from aurigraph.storage.durable import fsync_dir, replace_file

MODEL_NAMES = ("load", "anomaly")
_VERSION_DIR = re.compile(r"^\d{6}$")


class ModelUnavailable(Exception):
    """No usable model: none registered, or its artifact is missing or corrupt (the reason says)."""


class UnknownVersion(ValueError):
    """The model has no such version."""


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: int
    checksum: str
    created_ms: int
    source: str
    metrics: dict = field(default_factory=dict)
    data_window: dict = field(default_factory=dict)
    code_version: str = ""

    def to_dict(self) -> dict:
        return {"name": self.name, "version": self.version, "checksum": self.checksum,
                "created_ms": self.created_ms, "source": self.source, "metrics": self.metrics,
                "data_window": self.data_window, "code_version": self.code_version}


def check_name(name: str) -> str:
    if name not in MODEL_NAMES:
        raise ValueError(f"unknown model {name!r} (one of: {', '.join(MODEL_NAMES)})")
    return name


class ModelRegistry:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _versions_dir(self, name: str) -> Path:
        return self.root / check_name(name) / "versions"

    def register(self, name: str, artifact: bytes, *, metrics: dict, data_window: dict, source: str) -> ModelVersion:
        """Store a new version (not serving yet: `promote` it). The artifact must decode."""
        DenseNet.from_bytes(artifact)  # never register what cannot be served
        folder = self._versions_dir(name)
        folder.mkdir(parents=True, exist_ok=True)
        existing = [v.version for v in self.versions(name)]
        version = ModelVersion(name, (max(existing) + 1) if existing else 1, blake3.blake3(artifact).hexdigest(),
                               time.time_ns() // 1_000_000, source, metrics, data_window, __version__)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=folder))
        (staging / "model.npz").write_bytes(artifact)
        (staging / "meta.json").write_text(json.dumps(version.to_dict(), indent=2, sort_keys=True))
        for f in ("model.npz", "meta.json"):
            with open(staging / f, "rb") as fh:
                os.fsync(fh.fileno())
        os.rename(staging, folder / f"{version.version:06d}")
        fsync_dir(folder)
        return version

    def versions(self, name: str) -> list[ModelVersion]:
        """Every registered version, oldest first (unreadable metadata is skipped)."""
        folder = self._versions_dir(name)
        if not folder.is_dir():
            return []
        found = []
        for entry in sorted(folder.iterdir()):
            if _VERSION_DIR.match(entry.name):
                try:
                    found.append(ModelVersion(**json.loads((entry / "meta.json").read_text())))
                except (OSError, ValueError, TypeError):
                    continue
        return found

    def _history(self, name: str) -> list[int]:
        path = self.root / check_name(name) / "serving.json"
        try:
            return [int(v) for v in json.loads(path.read_text())["history"]]
        except FileNotFoundError:
            return []
        except (ValueError, KeyError, TypeError) as e:
            raise ModelUnavailable(f"{name}: {path} is unreadable ({e})") from None

    def _set_history(self, name: str, history: list[int]) -> None:
        replace_file(self.root / name / "serving.json", json.dumps({"history": history}).encode())

    def serving(self, name: str) -> ModelVersion | None:
        history = self._history(name)
        return self.version(name, history[-1]) if history else None

    def version(self, name: str, version: int) -> ModelVersion:
        found = next((v for v in self.versions(name) if v.version == version), None)
        if found is None:
            raise UnknownVersion(f"{name}: no version {version}")
        return found

    def promote(self, name: str, version: int) -> ModelVersion:
        """Make `version` the serving one (it must load); the current one stays in the history."""
        chosen = self.version(name, version)
        self.load(name, version)
        history = self._history(name)
        if not history or history[-1] != version:
            self._set_history(name, [*history, version])
        return chosen

    def rollback_target(self, name: str) -> ModelVersion:
        """The version a rollback would serve (ValueError if none)."""
        history = self._history(name)
        if len(history) < 2:
            raise ValueError(f"{name}: nothing to roll back to (serving history: {history or 'empty'})")
        return self.version(name, history[-2])

    def rollback(self, name: str) -> ModelVersion:
        """Serve the version that served before the current one."""
        target = self.rollback_target(name)
        self.load(name, target.version)
        self._set_history(name, self._history(name)[:-1])
        return target

    def load(self, name: str, version: int | None = None) -> tuple[ModelVersion, DenseNet]:
        """The serving version (or `version`) and its decoded model; `ModelUnavailable` if there is
        none or its artifact is missing, altered or undecodable."""
        meta, artifact = self.artifact(name, version)
        try:
            return meta, DenseNet.from_bytes(artifact)
        except ValueError as e:
            raise ModelUnavailable(f"{name} v{meta.version}: its model.npz is not a valid model ({e})") from None

    def artifact(self, name: str, version: int | None = None) -> tuple[ModelVersion, bytes]:
        """The serving version (or `version`) and its artifact bytes, checked against the checksum;
        `ModelUnavailable` if there is none or the file is missing or altered."""
        meta = self.serving(name) if version is None else self.version(name, version)
        if meta is None:
            raise ModelUnavailable(f"{name}: no serving version in {self.root}")
        path = self._versions_dir(name) / f"{meta.version:06d}" / "model.npz"
        try:
            artifact = path.read_bytes()
        except OSError as e:
            raise ModelUnavailable(f"{name} v{meta.version}: cannot read {path} ({e.strerror})") from None
        if blake3.blake3(artifact).hexdigest() != meta.checksum:
            raise ModelUnavailable(f"{name} v{meta.version}: {path} does not match its checksum (corrupt)")
        return meta, artifact

    def seed_from(self, shipped: Path) -> list[ModelVersion]:
        """Register and promote the artifacts shipped in `shipped/<name>/` (model.npz, meta.json)
        for each model this registry has no version of; returns what it added."""
        added = []
        for name in MODEL_NAMES:
            source = Path(shipped) / name
            if self.versions(name) or not (source / "model.npz").exists():
                continue
            meta = json.loads((source / "meta.json").read_text())
            v = self.register(name, (source / "model.npz").read_bytes(), metrics=meta.get("metrics", {}),
                              data_window=meta.get("data_window", {}), source="shipped")
            added.append(self.promote(name, v.version))
        return added
