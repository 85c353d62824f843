"""The models API for data scientists and the `aurigraph models` commands: list, retrain, promote,
roll back, read the anomaly log, and fetch the feature dataset of a running node — from any Python
session that can reach its Ray cluster. No notebook needed:

    import aurigraph.ml as ml
    ml.connect("HEAD_IP:6380", data_dir="/srv/aurigraph")   # or already inside ray.init(...)
    ml.list_models()
    result = ml.retrain("load", since_ms=...)               # trained as a Ray task on the cluster
    ml.rollback("load")
    data = ml.dataset()                                     # NumPy arrays, or export_dataset("f.npz")

Every call goes to the node's optimizer actor; answers are plain dicts (the protobuf JSON form).
`OptimizerUnavailable` says when there is no node, or it runs without `--optimizer`.
"""

from __future__ import annotations

import getpass
import socket
from pathlib import Path

from aurigraph.codec.models import decode_json
from aurigraph.storage.feature_store import save_npz

RETRAIN_TIMEOUT_S = 1800.0
CALL_TIMEOUT_S = 60.0


class OptimizerUnavailable(RuntimeError):
    """No optimizer to talk to: Ray unreachable, no node, or a node without `--optimizer`."""


def connect(address: str | None = None, data_dir: Path | str | None = None) -> None:
    """Connect this process to the node's Ray cluster (`address` as `aurigraph up` printed it, or
    "auto"); `data_dir` holds the cluster's Ray token. Not needed inside a Ray session already."""
    if data_dir is not None:
        from aurigraph.node.datadir import DataDir
        from aurigraph.node.ray_auth import configure_ray_auth

        configure_ray_auth(DataDir(Path(data_dir)), local=False)  # before Ray is imported
    from actors.launcher import connect_ray

    try:
        connect_ray(address)
    except Exception as e:  # noqa: BLE001 — Ray raises many types for an unreachable or refusing cluster
        raise OptimizerUnavailable(f"cannot connect to Ray at {address}: {e}") from None


def _optimizer():
    import ray

    from actors.supervisor import NAMESPACE, OPTIMIZER_NAME

    if not ray.is_initialized():
        connect("auto")
    try:
        return ray.get_actor(OPTIMIZER_NAME, namespace=NAMESPACE)
    except ValueError:
        raise OptimizerUnavailable("no optimizer runs on this Ray cluster: start the node with "
                                   "`aurigraph up --optimizer`") from None


def _call(method: str, *args, timeout_s: float = CALL_TIMEOUT_S):
    """Call the optimizer; its ValueError / RuntimeError (a bad name, too little data, a retrain
    already running) come back as themselves."""
    import ray

    try:
        return ray.get(getattr(_optimizer(), method).remote(*args), timeout=timeout_s)
    except ray.exceptions.RayTaskError as e:
        if isinstance(e.cause, (ValueError, RuntimeError)):
            raise e.cause from None
        raise
    except ray.exceptions.RayActorError as e:
        raise OptimizerUnavailable(f"the optimizer is not available: {e}") from None


def _principal() -> str:
    """Who the audit note of a model change names when it comes through this API (no API key)."""
    return f"aurigraph.ml ({getpass.getuser()}@{socket.gethostname()})"


def status() -> dict:
    """Serving versions, fallbacks, knobs in force, inference cost, counts."""
    return _call("status")


def list_models(name: str = "") -> list[dict]:
    return decode_json("versions", _call("models", name)).get("versions", [])


def retrain(name: str, since_ms: int = 0, promote: bool = False, seed: int = 0) -> dict:
    """Train a candidate on the node's features from `since_ms`, compare it with the serving
    version on the same holdout, register it, and serve it if better (or if `promote`)."""
    return decode_json("retrain", _call("retrain", name, since_ms, promote, seed, _principal(),
                                        timeout_s=RETRAIN_TIMEOUT_S))


def promote(name: str, version: int) -> dict:
    return decode_json("change", _call("promote", name, version, _principal()))["serving"]


def rollback(name: str) -> dict:
    return decode_json("change", _call("rollback", name, _principal()))["serving"]


def anomalies(from_sequence: int = 1, limit: int = 0) -> dict:
    """{"anomalies": [...], "next_sequence": n} from the audit log."""
    return decode_json("anomalies", _call("anomalies", from_sequence, limit))


def release(sender: bytes) -> bool:
    """Stop holding `sender` (the hold policy); False if it was not held."""
    return _call("release", sender)


def dataset(since_ms: int = 0) -> dict:
    """The node's feature rows from `since_ms` on, as NumPy arrays (`FeatureStore.dataset`)."""
    return _call("dataset", since_ms, timeout_s=RETRAIN_TIMEOUT_S)


def export_dataset(path: Path | str, since_ms: int = 0) -> dict:
    """Save `dataset(since_ms)` as an .npz here; returns the row counts."""
    return save_npz(Path(path), dataset(since_ms))
