"""The optimizer's models over the API (REST `/v11/models…`, `/v11/anomalies`; gRPC ModelService):
a thin client of the node's optimizer actor, with its errors mapped to API errors.

A node without the optimizer answers NOT_IMPLEMENTED with how to turn it on; an optimizer that is
down or restarting, UNAVAILABLE with a retry hint; an unknown version, NOT_FOUND; a refusal (too
little data to train on, nothing to roll back to, a retrain already running), PRECONDITION_FAILED.
"""

from __future__ import annotations

import asyncio

import ray

from actors.supervisor import OPTIMIZER_NAME
from aurigraph.ml.registry import MODEL_NAMES, UnknownVersion
from aurigraph.v1 import models_pb2
from serve_apps.auth import current_principal
from serve_apps.errors import ApiFailure

CALL_TIMEOUT_S = 10.0
RETRAIN_TIMEOUT_S = 1800.0
RETRY_AFTER_MS = 2000
MAX_ANOMALIES = 10_000


class ModelsService:
    def __init__(self, namespace: str) -> None:
        self.namespace = namespace

    def _optimizer(self):
        try:
            return ray.get_actor(OPTIMIZER_NAME, namespace=self.namespace)
        except ValueError:
            raise ApiFailure("NOT_IMPLEMENTED", "this node runs without the optimizer (start it with "
                                                "`aurigraph up --optimizer`)") from None

    async def _call(self, method: str, *args, timeout_s: float = CALL_TIMEOUT_S) -> bytes:
        try:
            return await asyncio.wait_for(getattr(self._optimizer(), method).remote(*args), timeout_s)
        except ray.exceptions.RayTaskError as e:
            if isinstance(e.cause, UnknownVersion):
                raise ApiFailure("NOT_FOUND", str(e.cause)) from None
            if isinstance(e.cause, (ValueError, RuntimeError)):
                raise ApiFailure("PRECONDITION_FAILED", str(e.cause)) from None
            raise
        except (ray.exceptions.RayError, TimeoutError) as e:
            raise ApiFailure("UNAVAILABLE", f"the optimizer did not answer ({type(e).__name__})",
                             retry_after_ms=RETRY_AFTER_MS) from None

    async def list_models(self, name: str) -> models_pb2.ListModelsResponse:
        return models_pb2.ListModelsResponse.FromString(await self._call("models", name))

    async def retrain(self, request: models_pb2.RetrainRequest) -> models_pb2.RetrainResponse:
        reply = await self._call("retrain", request.name, request.since_ms, request.promote, 0,
                                 current_principal.get().name, timeout_s=RETRAIN_TIMEOUT_S)
        return models_pb2.RetrainResponse.FromString(reply)

    async def promote(self, name: str, version: int) -> models_pb2.ModelChangeResponse:
        if version < 1:
            raise ApiFailure("BAD_REQUEST", "version must be 1 or more")
        return models_pb2.ModelChangeResponse.FromString(
            await self._call("promote", name, version, current_principal.get().name))

    async def rollback(self, name: str) -> models_pb2.ModelChangeResponse:
        return models_pb2.ModelChangeResponse.FromString(
            await self._call("rollback", name, current_principal.get().name))

    async def anomalies(self, from_sequence: int, limit: int) -> models_pb2.ListAnomaliesResponse:
        if limit > MAX_ANOMALIES:
            raise ApiFailure("BAD_REQUEST", f"limit must be at most {MAX_ANOMALIES}")
        return models_pb2.ListAnomaliesResponse.FromString(await self._call("anomalies", from_sequence, limit))


def check_model_name(name: str) -> str:
    if name not in MODEL_NAMES:
        raise ApiFailure("NOT_FOUND", f"no model {name!r} ({', '.join(MODEL_NAMES)})")
    return name
