"""The `/v11` routes. Each parses its input, calls `GatewayService` / `NodeApi`, and renders the
`aurigraph.v1` message in the negotiated format (see `media.py`)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import PlainTextResponse, Response, StreamingResponse

from aurigraph.crypto import CryptoError, address_from_text
from aurigraph.indexer.queries import MAX_PAGE
from aurigraph.v1 import crypto_pb2, transaction_pb2
from serve_apps.errors import ApiFailure
from serve_apps.queries import MAX_RANGE_BLOCKS, parse_page
from serve_apps.rest.deps import Service
from serve_apps.rest.media import is_protobuf, parse, read_body, render

router = APIRouter(prefix="/v11")

TX_BODY_DOC = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "object", "description": "aurigraph.v1.SignedTransaction (JSON mapping)"}},
    "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}}}}}
BATCH_BODY_DOC = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "object", "description": "aurigraph.v1.BatchSubmitRequest (JSON mapping)"}},
    "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}}}}}
VERIFY_BODY_DOC = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "object", "description": "aurigraph.v1.VerifyRequest (JSON mapping)"}},
    "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}}}}}

Wait = Annotated[Literal["none", "committed"], Query(description="committed: answer when final (bounded)")]
TimeoutMs = Annotated[int | None, Query(ge=1, le=3_600_000, description="with wait=committed; capped by the server")]
TxId = Annotated[str, Path(description="transaction id, 128 hex digits", min_length=1, max_length=256)]
FromHeight = Annotated[int, Query(alias="from", ge=1, le=2**63 - 1, description="first height (default 1)")]
ToHeight = Annotated[int | None, Query(alias="to", ge=1, le=2**63 - 1, description="last height (default: the head)")]


def _hex_id(text: str) -> bytes:
    try:
        tx_id = bytes.fromhex(text)
    except ValueError:
        raise ApiFailure("BAD_REQUEST", "transaction id must be hexadecimal") from None
    if len(tx_id) != 64:
        raise ApiFailure("BAD_REQUEST", f"transaction id must be 64 bytes (128 hex digits), got {len(tx_id)}")
    return tx_id


def _address(text: str) -> bytes:
    if text.startswith("ag"):
        try:
            return address_from_text(text)
        except CryptoError as e:
            raise ApiFailure("BAD_REQUEST", f"address: {e}") from None
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise ApiFailure("BAD_REQUEST", "address must be 'ag…' text or 64 hex digits") from None
    if len(raw) != 32:
        raise ApiFailure("BAD_REQUEST", f"address must be 32 bytes, got {len(raw)}")
    return raw


@router.post("/transactions", tags=["transactions"], openapi_extra=TX_BODY_DOC,
             summary="Submit one signed transaction")
async def submit_transaction(request: Request, service: Service, wait: Wait = "none",
                             timeout_ms: TimeoutMs = None) -> Response:
    body = await read_body(request, service.settings.max_body_bytes)
    signed = parse(request, body, transaction_pb2.SignedTransaction())
    # The envelope is re-encoded canonically; the signed body bytes inside it are kept as they came.
    raw = body if is_protobuf(request) else signed.SerializeToString(deterministic=True)
    result = await service.submit_one(raw, wait == "committed", timeout_ms)
    committed = result.status == transaction_pb2.TRANSACTION_STATUS_COMMITTED
    return render(request, result, 200 if committed else 202)


@router.post("/transactions/batch", tags=["transactions"], openapi_extra=BATCH_BODY_DOC,
             summary="Submit up to 10,000 signed transactions; one result each, in order")
async def submit_batch(request: Request, service: Service, wait: Wait = "none",
                       timeout_ms: TimeoutMs = None) -> Response:
    body = await read_body(request, service.settings.max_batch_body_bytes)
    if is_protobuf(request):
        # BatchSubmitRequest's field 1 has TransactionBatch's wire shape: the transactions' exact bytes.
        wire = list(parse(request, body, transaction_pb2.TransactionBatch()).transactions)
    else:
        batch = parse(request, body, transaction_pb2.BatchSubmitRequest())
        wire = [t.SerializeToString(deterministic=True) for t in batch.transactions]
    return render(request, await service.submit_batch(wire, wait == "committed", timeout_ms))


@router.get("/transactions/{tx_id}", tags=["transactions"],
            summary="Status: pending, committed (receipt, height, confidence), rejected, dropped or unknown")
async def read_transaction(request: Request, service: Service, tx_id: TxId) -> Response:
    record = await service.transaction(_hex_id(tx_id))
    return render(request, record, 404 if record.status == transaction_pb2.TRANSACTION_STATUS_UNKNOWN else 200)


@router.get("/blocks/latest", tags=["blocks"], summary="The latest committed block")
async def read_latest_block(request: Request, service: Service) -> Response:
    return render(request, await service.block(None))


@router.get("/blocks/{height}", tags=["blocks"], summary="A committed block by height")
async def read_block(request: Request, service: Service,
                     height: Annotated[int, Path(ge=0, le=2**63 - 1)]) -> Response:
    return render(request, await service.block(height))


@router.get("/blocks", tags=["blocks"], summary=f"Headers and hashes of a range of blocks (at most "
            f"{MAX_RANGE_BLOCKS} an answer; next_from says where to go on)")
async def read_block_range(request: Request, service: Service, from_height: FromHeight = 1,
                           to_height: ToHeight = None) -> Response:
    return render(request, await service.queries.block_range(from_height, to_height))


@router.get("/audit/export", tags=["audit"], response_class=StreamingResponse,
            summary="The audit trail of a range of blocks as NDJSON aurigraph.v1.AuditRecord lines, each "
                    "verifiable against block hashes (aurigraph audit verify)")
async def export_audit(service: Service, from_height: FromHeight = 1,
                       to_height: ToHeight = None) -> Response:
    first, last = await service.queries.range(from_height, to_height)  # a bad range is a clean 4xx
    # The range promised, so a client can tell a complete export from one cut short.
    headers = {"X-Audit-From": str(first), "X-Audit-To": str(last)}
    return StreamingResponse(service.queries.audit_lines(first, last), media_type="application/x-ndjson",
                             headers=headers)


@router.get("/accounts/{address}/transactions", tags=["accounts"],
            summary="Transactions sent or received by an account, newest first (needs the PostgreSQL index)")
async def read_account_transactions(
        request: Request, service: Service, address: Annotated[str, Path(min_length=1, max_length=128)],
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
        before: Annotated[str | None, Query(max_length=64, description="next_page of the previous answer")] = None,
) -> Response:
    page = await service.queries.account_transactions(_address(address), limit, parse_page(before))
    return render(request, page, headers={"X-Index-Height": str(page.indexed_height)})


@router.get("/accounts/{address}", tags=["accounts"], summary="Balance and next nonce")
async def read_account(request: Request, service: Service,
                       address: Annotated[str, Path(min_length=1, max_length=128)]) -> Response:
    return render(request, await service.api.account(_address(address)))


@router.get("/compliance/rules", tags=["compliance"],
            summary="The compliance rules in force (set by admin transactions; `aurigraph admin rules`)")
async def read_compliance_rules(request: Request, service: Service) -> Response:
    return render(request, await service.api.compliance_rules())


@router.get("/consensus/status", tags=["consensus"],
            summary="Term, leader, commit and applied index, per-replica progress, batch knobs")
async def read_consensus_status(request: Request, service: Service) -> Response:
    return render(request, await service.api.consensus_status())


@router.get("/nodes", tags=["nodes"], summary="Validators: id, Ray node, role, stake, health, last heartbeat")
async def read_nodes(request: Request, service: Service) -> Response:
    return render(request, await service.api.nodes())


@router.post("/crypto/verify", tags=["crypto"], openapi_extra=VERIFY_BODY_DOC,
             summary="Verify up to 10,000 signatures server-side")
async def verify_signatures(request: Request, service: Service) -> Response:
    body = await read_body(request, service.settings.max_batch_body_bytes)
    return render(request, await service.api.verify(parse(request, body, crypto_pb2.VerifyRequest())))


@router.get("/crypto/kem-public-key", tags=["crypto"], summary="The node's ML-KEM-1024 public key")
async def read_kem_public_key(request: Request, service: Service) -> Response:
    return render(request, service.api.kem_public_key())


@router.get("/metrics", tags=["monitoring"], response_class=PlainTextResponse,
            summary="Prometheus text format")
async def read_metrics(service: Service) -> Response:
    await service.metrics.refresh(service.api)
    return Response(service.metrics.text(), media_type="text/plain; version=0.0.4")


@router.get("/health", tags=["monitoring"], summary="Liveness: 200 while the gateway answers (readiness in the body)")
async def read_health(request: Request, service: Service) -> Response:
    return render(request, await service.api.health())


@router.get("/ready", tags=["monitoring"], summary="Readiness: a leader exists and the pipeline accepts")
async def read_ready(request: Request, service: Service) -> Response:
    health = await service.api.health()
    return render(request, health, 200 if health.ready else 503, None if health.ready else {"Retry-After": "1"})
