"""The gRPC services of `protos/aurigraph/v1/services.proto`, as methods of the gateway
deployment, which serves them from its own gRPC server (serve_apps/grpc_server.py).

Each method admits the call by its entry in `serve_apps.auth` (API key from `x-api-key` or
`authorization: Bearer` metadata and its role, the submission allowlist by client address — the
gRPC peer, see `serve_apps.allowlist` — and the rate limit), calls `GatewayService` / `NodeApi`,
and maps an `ApiFailure` to its gRPC status with `CODE: detail` as details; `retry-after-ms`
trailing metadata accompanies UNAVAILABLE and RESOURCE_EXHAUSTED answers that can be retried, and
a rejected `SubmitTransaction` carries its `SubmitResponse` in `aurigraph-submit-response-bin`
trailing metadata. `SubmitTransactionStream` answers each transaction on the stream instead
(`SubmitStreamResponse`, the same code and detail), and only a refused call ends it with a status.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time

import grpc

from aurigraph import telemetry
from aurigraph.v1 import (
    block_pb2,
    consensus_pb2,
    crypto_pb2,
    events_pb2,
    models_pb2,
    monitoring_pb2,
    node_pb2,
    services_pb2,
    services_pb2_grpc,
    transaction_pb2,
)
from serve_apps.allowlist import grpc_peer_host
from serve_apps.auth import grpc_route, presented_key
from serve_apps.errors import ApiFailure
from serve_apps.events import Filter, SlowConsumer
from serve_apps.models import check_model_name
from serve_apps.service import RejectedFailure

log = logging.getLogger("aurigraph.gateway")
SUBMIT_RESPONSE_METADATA = "aurigraph-submit-response-bin"
# Transactions of one SubmitTransactionStream call being worked on at once; more wait unread.
STREAM_MAX_IN_FLIGHT = 1024

SERVICES = ("TransactionService", "ConsensusService", "NodeService", "MonitoringService", "StorageService",
            "CryptoService", "ModelService")


class MalformedRequest:
    """Stands in for a request whose bytes did not parse, so the method answers INVALID_ARGUMENT
    with the reason instead of gRPC's own INTERNAL "Exception deserializing request"."""

    def __init__(self, message: str, error: str) -> None:
        self.message, self.error = message, error


def _lenient(handler):
    parse = handler.request_deserializer
    name = getattr(parse, "__self__", None)

    def deserialize(data: bytes):
        try:
            return parse(data)
        except Exception as e:  # noqa: BLE001 - any parse failure of client bytes is a malformed request
            return MalformedRequest(getattr(name, "__name__", "request"), f"{type(e).__name__}: {e}"[:300])
    return handler._replace(request_deserializer=deserialize)


class _LenientServer:
    """Hands the generated registrations to a gRPC server with request parsing that never raises."""

    def __init__(self, server) -> None:
        self._server = server

    def add_generic_rpc_handlers(self, handlers) -> None:
        for h in handlers:
            h._method_handlers = {k: _lenient(v) for k, v in h._method_handlers.items()}
        self._server.add_generic_rpc_handlers(handlers)

    def add_registered_method_handlers(self, service: str, handlers: dict) -> None:
        if hasattr(self._server, "add_registered_method_handlers"):
            self._server.add_registered_method_handlers(service, {k: _lenient(v) for k, v in handlers.items()})


def add_services(servicer, server) -> None:
    """Register every Aurigraph service of `servicer` (the gateway replica) on `server`."""
    lenient = _LenientServer(server)
    for name in SERVICES:
        getattr(services_pb2_grpc, f"add_{name}Servicer_to_server")(servicer, lenient)


def _fail(context, e: ApiFailure) -> None:
    context.set_code(e.grpc_status)
    context.set_details(f"{e.code}: {e.detail}")
    trailing = [("retry-after-ms", str(e.retry_after_ms))] if e.retry_after_ms else []
    if isinstance(e, RejectedFailure):  # the whole SubmitResponse (tx id, reason), as for REST's 422
        trailing.append((SUBMIT_RESPONSE_METADATA, e.result.SerializeToString()))
    if trailing:
        context.set_trailing_metadata(trailing)


# Method name -> its route in serve_apps.auth (method names are unique across the services).
ROUTES = {m.name: grpc_route(s.name, m.name)
          for s in services_pb2.DESCRIPTOR.services_by_name.values() for m in s.methods}


def _client(service, context) -> str:
    """Who calls: the gRPC peer without its port (a client must not get a fresh rate-limit bucket
    with every new connection), or whom a trusted proxy names in `x-forwarded-for` metadata."""
    forwarded = [v for k, v in context.invocation_metadata() if k.lower() == "x-forwarded-for" and isinstance(v, str)]
    return service.client_address(grpc_peer_host(context.peer()), ",".join(forwarded) if forwarded else None)


async def _admit(service, method_name: str, context, charge: bool = True):
    """Admission of one call (see `GatewayService.admit`)."""
    md = _metadata(context)
    route = ROUTES.get(method_name, f"gRPC {method_name}")
    return await service.admit(route, presented_key(md.get("authorization"), md.get("x-api-key")),
                               _client(service, context), charge)


def _metadata(context) -> dict[str, str]:
    return {k.lower(): v for k, v in context.invocation_metadata() if isinstance(v, str)}


def rpc(empty):
    """Admission (by the method's route in `serve_apps.auth`) and error mapping around one unary
    method; `empty` is its response type."""
    def wrap(method):
        @functools.wraps(method)
        async def handler(self, request, grpc_context):
            rid = telemetry.new_request_id(_metadata(grpc_context).get("x-request-id"))
            with telemetry.span(method.__name__, {"request_id": rid}):
                return await _handle(self, method, request, grpc_context)

        async def _handle(self, method, request, grpc_context):
            try:
                if isinstance(request, MalformedRequest):
                    raise ApiFailure("MALFORMED", f"{request.message} does not parse: {request.error}")
                await _admit(self.service, method.__name__, grpc_context)
                response = await method(self, request, grpc_context)
                self.service.metrics.requests.labels("grpc", method.__name__, "OK").inc()
                return response
            except ApiFailure as e:
                self.service.metrics.requests.labels("grpc", method.__name__, e.grpc_status.name).inc()
                _fail(grpc_context, e)
                return empty()
        return handler
    return wrap


class GrpcMethods:
    """Mixed into the gateway deployment, which provides `self.service` (a `GatewayService`)."""

    # --- TransactionService ---------------------------------------------------------------------

    @rpc(transaction_pb2.SubmitResponse)
    async def SubmitTransaction(self, request: transaction_pb2.SubmitRequest, grpc_context):
        raw = request.transaction.SerializeToString(deterministic=True)
        return await self.service.submit_one(raw, request.wait_committed, request.timeout_ms or None)

    @rpc(transaction_pb2.BatchSubmitResponse)
    async def BatchSubmitTransactions(self, request: transaction_pb2.BatchSubmitRequest, grpc_context):
        wire = [t.SerializeToString(deterministic=True) for t in request.transactions]
        return await self.service.submit_batch(wire, request.wait_committed, request.timeout_ms or None)

    async def SubmitTransactionStream(self, requests, grpc_context):
        """Each request answered once, when final, in the order answers are ready (services.proto).
        The call is admitted once (key, role, allowlist); each transaction then takes a token of
        the rate limit and goes through `submit_one` like a unary submit, at most
        `STREAM_MAX_IN_FLIGHT` at a time (the rest wait unread: gRPC's flow control pushes back on
        the client). A refused transaction is answered with its code; the stream goes on."""
        method = "SubmitTransactionStream"
        telemetry.new_request_id(_metadata(grpc_context).get("x-request-id"))
        try:
            principal = await _admit(self.service, method, grpc_context, charge=False)
        except ApiFailure as e:
            self.service.metrics.requests.labels("grpc", method, e.grpc_status.name).inc()
            _fail(grpc_context, e)
            return
        client = _client(self.service, grpc_context)
        takes = self.service.takes(principal, client)  # the stream's tokens are taken in rounds
        answers: asyncio.Queue = asyncio.Queue()  # None: every request was read and answered
        slots = asyncio.Semaphore(STREAM_MAX_IN_FLIGHT)

        async def answer(sequence: int, request) -> None:
            try:
                if isinstance(request, MalformedRequest):
                    raise ApiFailure("MALFORMED", f"{request.message} does not parse: {request.error}")
                await self.service.charge(principal, client, takes)
                raw = request.transaction.SerializeToString(deterministic=True)
                result = await self.service.submit_one(raw, request.wait_committed, request.timeout_ms or None)
                self.service.metrics.requests.labels("grpc", method, "OK").inc()
                answers.put_nowait(transaction_pb2.SubmitStreamResponse(sequence=sequence, result=result))
            except ApiFailure as e:
                self.service.metrics.requests.labels("grpc", method, e.grpc_status.name).inc()
                answers.put_nowait(transaction_pb2.SubmitStreamResponse(
                    sequence=sequence, result=e.result if isinstance(e, RejectedFailure) else None, code=e.code,
                    detail=e.detail, grpc_status=e.grpc_status.value[0], retry_after_ms=e.retry_after_ms))
            except Exception:  # a bug: this request is answered INTERNAL (as a unary call would be); the stream goes on
                log.exception("SubmitTransactionStream: request %d failed", sequence)
                self.service.metrics.requests.labels("grpc", method, "INTERNAL").inc()
                answers.put_nowait(transaction_pb2.SubmitStreamResponse(
                    sequence=sequence, code="INTERNAL", detail="internal error (logged by the gateway)",
                    grpc_status=grpc.StatusCode.INTERNAL.value[0]))
            finally:
                slots.release()

        async def read() -> None:
            tasks: set[asyncio.Task] = set()
            try:
                sequence = 0
                async for request in requests:
                    await slots.acquire()
                    task = asyncio.create_task(answer(sequence, request))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                    sequence += 1
                await asyncio.gather(*tasks)
            finally:
                for task in tasks:
                    task.cancel()
                answers.put_nowait(None)

        reader = asyncio.create_task(read())
        try:
            while (response := await answers.get()) is not None:
                yield response
            reader.result()  # the request stream's own failure, if it had one
        finally:
            reader.cancel()

    async def StreamTransactions(self, request: transaction_pb2.StreamTransactionsRequest, grpc_context):
        """Committed transactions from `from_height` (0: from now on), then live; `account` filters."""
        sub = None
        try:
            if isinstance(request, MalformedRequest):
                raise ApiFailure("MALFORMED", f"{request.message} does not parse: {request.error}")
            await _admit(self.service, "StreamTransactions", grpc_context)
            if request.account and len(request.account) != 32:
                raise ApiFailure("BAD_REQUEST", f"account must be 32 bytes, got {len(request.account)}")
            flt = Filter(frozenset({events_pb2.EVENT_KIND_TRANSACTION_COMMITTED}), request.account)
            sub = await self.service.hub.subscribe(flt, request.from_height or None)
            async for event in self.service.hub.events(sub):
                yield event.transaction_committed
        # The stream ends with the status set on the context (returning, not raising, which gRPC
        # would report as an unexpected error), so a refused or cut-off stream is not mistaken for
        # an empty one.
        except SlowConsumer as e:
            self.service.metrics.stream_disconnects.inc()
            _fail(grpc_context, ApiFailure("RATE_LIMITED", f"SLOW_CONSUMER: {e}"))
        except ApiFailure as e:
            _fail(grpc_context, e)
        finally:
            if sub is not None:
                self.service.hub.unsubscribe(sub)

    # --- queries --------------------------------------------------------------------------------

    @rpc(consensus_pb2.ConsensusStatus)
    async def GetStatus(self, request, grpc_context):
        return await self.service.api.consensus_status()

    @rpc(node_pb2.ListNodesResponse)
    async def ListNodes(self, request, grpc_context):
        return await self.service.api.nodes()

    @rpc(node_pb2.NodeChangeResponse)
    async def JoinNode(self, request, grpc_context):
        raise ApiFailure("NOT_IMPLEMENTED", "membership changes at runtime are not supported yet: the node "
                                            "runs its genesis validator set")

    @rpc(node_pb2.NodeChangeResponse)
    async def LeaveNode(self, request, grpc_context):
        raise ApiFailure("NOT_IMPLEMENTED", "membership changes at runtime are not supported yet: the node "
                                            "runs its genesis validator set")

    @rpc(monitoring_pb2.HealthResponse)  # open (OPEN_ROUTES), like REST /v11/health: for probes
    async def GetHealth(self, request, grpc_context):
        return await self.service.api.health()

    @rpc(monitoring_pb2.MetricsSnapshot)
    async def GetMetrics(self, request, grpc_context):
        await self.service.metrics.refresh(self.service.api)
        return self.service.metrics.snapshot(time.time_ns() // 1_000_000)

    @rpc(block_pb2.BlockRecord)
    async def GetBlock(self, request: block_pb2.GetBlockRequest, grpc_context):
        which = request.WhichOneof("selector")
        if which is None:
            raise ApiFailure("BAD_REQUEST", "give a height or latest=true")
        return await self.service.block(request.height if which == "height" else None)

    @rpc(transaction_pb2.TransactionRecord)
    async def GetTransaction(self, request: transaction_pb2.GetTransactionRequest, grpc_context):
        if len(request.tx_id) != 64:
            raise ApiFailure("BAD_REQUEST", f"tx_id must be 64 bytes, got {len(request.tx_id)}")
        record = await self.service.transaction(request.tx_id)
        if record.status == transaction_pb2.TRANSACTION_STATUS_UNKNOWN:
            raise ApiFailure("NOT_FOUND", "unknown transaction")
        return record

    @rpc(block_pb2.Account)
    async def GetAccount(self, request: block_pb2.GetAccountRequest, grpc_context):
        if len(request.address) != 32:
            raise ApiFailure("BAD_REQUEST", f"address must be 32 bytes, got {len(request.address)}")
        return await self.service.api.account(request.address)

    @rpc(transaction_pb2.ComplianceRules)
    async def GetComplianceRules(self, request, grpc_context):
        return await self.service.api.compliance_rules()

    @rpc(crypto_pb2.VerifyResponse)
    async def VerifySignatures(self, request: crypto_pb2.VerifyRequest, grpc_context):
        return await self.service.api.verify(request)

    @rpc(crypto_pb2.KemPublicKey)
    async def GetKemPublicKey(self, request, grpc_context):
        return self.service.api.kem_public_key()

    # --- models (the optimizer) -------------------------------------------------------------------

    @rpc(models_pb2.ListModelsResponse)
    async def ListModels(self, request: models_pb2.ListModelsRequest, grpc_context):
        return await self.service.models.list_models(check_model_name(request.name) if request.name else "")

    @rpc(models_pb2.ListAnomaliesResponse)
    async def ListAnomalies(self, request: models_pb2.ListAnomaliesRequest, grpc_context):
        return await self.service.models.anomalies(request.from_sequence, request.limit)

    @rpc(models_pb2.RetrainResponse)
    async def RetrainModel(self, request: models_pb2.RetrainRequest, grpc_context):
        check_model_name(request.name)
        return await self.service.models.retrain(request)

    @rpc(models_pb2.ModelChangeResponse)
    async def PromoteModel(self, request: models_pb2.PromoteModelRequest, grpc_context):
        return await self.service.models.promote(check_model_name(request.name), request.version)

    @rpc(models_pb2.ModelChangeResponse)
    async def RollbackModel(self, request: models_pb2.RollbackModelRequest, grpc_context):
        return await self.service.models.rollback(check_model_name(request.name))
