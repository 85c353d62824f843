"""The `/v11/models` and `/v11/anomalies` routes: the optimizer's registry and audit log (readers),
retraining, promotion and rollback (admins). See `serve_apps/models.py` for the error mapping."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from aurigraph.v1 import models_pb2
from serve_apps.models import MAX_ANOMALIES, check_model_name
from serve_apps.rest.deps import Service
from serve_apps.rest.media import parse, read_body, render

router = APIRouter(prefix="/v11")
ModelName = Annotated[str, Path(description="load or anomaly", min_length=1, max_length=32)]
RETRAIN_BODY_DOC = {"requestBody": {"required": False, "content": {
    "application/json": {"schema": {"type": "object", "description": "aurigraph.v1.RetrainRequest (JSON mapping; "
                                                                     "name comes from the path)"}},
    "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}}}}}
MAX_RETRAIN_BODY_BYTES = 4096


@router.get("/models", tags=["models"], summary="Registered model versions, the serving ones marked")
async def list_models(request: Request, service: Service,
                      model: Annotated[str | None, Query(description="only this model")] = None) -> Response:
    return render(request, await service.models.list_models(check_model_name(model) if model else ""))


@router.post("/models/{model}/retrain", tags=["models"], openapi_extra=RETRAIN_BODY_DOC,
             summary="Train a candidate on the node's data (a Ray task), register it, and serve it if it beats "
                     "the serving version on the same holdout (admin; takes seconds to minutes)")
async def retrain_model(request: Request, service: Service, model: ModelName) -> Response:
    body = await read_body(request, MAX_RETRAIN_BODY_BYTES)
    retrain = parse(request, body, models_pb2.RetrainRequest()) if body else models_pb2.RetrainRequest()
    retrain.name = check_model_name(model)
    return render(request, await service.models.retrain(retrain))


@router.post("/models/{model}/promote", tags=["models"], summary="Serve a registered version (admin)")
async def promote_model(request: Request, service: Service, model: ModelName,
                        version: Annotated[int, Query(ge=1, le=2**31 - 1)]) -> Response:
    return render(request, await service.models.promote(check_model_name(model), version))


@router.post("/models/{model}/rollback", tags=["models"],
             summary="Serve the version that served before the current one (admin)")
async def rollback_model(request: Request, service: Service, model: ModelName) -> Response:
    return render(request, await service.models.rollback(check_model_name(model)))


@router.get("/anomalies", tags=["models"], summary="The anomaly audit log: committed transactions the anomaly "
            "model flagged, oldest first (next_sequence says where to go on)")
async def list_anomalies(request: Request, service: Service,
                         from_sequence: Annotated[int, Query(alias="from", ge=1, le=2**63 - 1)] = 1,
                         limit: Annotated[int, Query(ge=1, le=MAX_ANOMALIES)] = 1000) -> Response:
    return render(request, await service.models.anomalies(from_sequence, limit))
