"""Codec for the optimizer's messages: registry versions, retrain results and anomaly flags
(`aurigraph.v1.models_pb2`, `events_pb2.AnomalyFlagged`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aurigraph.codec.names import to_json_dict
from aurigraph.v1 import events_pb2, models_pb2

if TYPE_CHECKING:  # no import at run time: `aurigraph.ml`'s API imports this module
    from aurigraph.ml.optimizer import Flag
    from aurigraph.ml.registry import ModelVersion


def _metrics(metrics: dict) -> dict[str, float]:
    """The numeric metrics (a registry entry may also hold text, e.g. a note)."""
    return {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def version_to_proto(v: ModelVersion, serving: bool) -> models_pb2.ModelVersion:
    window = v.data_window or {}
    return models_pb2.ModelVersion(
        name=v.name, version=v.version, checksum=v.checksum, created_ms=v.created_ms, source=v.source,
        metrics=_metrics(v.metrics), code_version=v.code_version, serving=serving,
        data=models_pb2.DataWindow(since_ms=int(window.get("since_ms", 0)), until_ms=int(window.get("until_ms", 0)),
                                   rows=int(window.get("rows", 0))))


def encode_versions(versions: list[tuple[ModelVersion, bool]]) -> bytes:
    """`ListModelsResponse` bytes from (version, serving) pairs."""
    return models_pb2.ListModelsResponse(versions=[version_to_proto(v, s) for v, s in versions]).SerializeToString()


def encode_change(serving: ModelVersion) -> bytes:
    return models_pb2.ModelChangeResponse(serving=version_to_proto(serving, True)).SerializeToString()


def encode_retrain(candidate: ModelVersion, candidate_metrics: dict, serving_metrics: dict, promoted: bool,
                   reason: str) -> bytes:
    return models_pb2.RetrainResponse(
        candidate=version_to_proto(candidate, promoted), candidate_metrics=_metrics(candidate_metrics),
        serving_metrics=_metrics(serving_metrics), promoted=promoted, reason=reason).SerializeToString()


def flag_to_proto(flag: Flag, sequence: int) -> events_pb2.AnomalyFlagged:
    return events_pb2.AnomalyFlagged(
        tx_id=flag.tx_id, sender=flag.sender, score=flag.score, model_version=f"anomaly v{flag.model_version}",
        height=flag.height, threshold=flag.threshold, flagged_at_ms=flag.at_ms, sequence=sequence)


def encode_flag(flag: Flag, sequence: int) -> bytes:
    return flag_to_proto(flag, sequence).SerializeToString()


def encode_anomalies(records: list[bytes], next_sequence: int, last_sequence: int) -> bytes:
    """`ListAnomaliesResponse` bytes from stored `AnomalyFlagged` records."""
    return models_pb2.ListAnomaliesResponse(
        anomalies=[events_pb2.AnomalyFlagged.FromString(r) for r in records],
        next_sequence=next_sequence, last_sequence=last_sequence).SerializeToString()


_MESSAGES = {"versions": models_pb2.ListModelsResponse, "change": models_pb2.ModelChangeResponse,
             "retrain": models_pb2.RetrainResponse, "anomalies": models_pb2.ListAnomaliesResponse}


def decode_json(kind: str, data: bytes) -> dict:
    """The protobuf JSON form of an optimizer answer (`kind`: versions, change, retrain, anomalies),
    with transaction ids and senders in hex rather than base64."""
    message = _MESSAGES[kind].FromString(data)
    result = to_json_dict(message)
    if kind == "anomalies":
        for flag, m in zip(result["anomalies"], message.anomalies):
            flag["tx_id"], flag["sender"] = m.tx_id.hex(), m.sender.hex()
    return result
