"""The gRPC transport of the SDK (grpc.aio). Errors come back as `ApiError` with the gateway's
code, parsed from the status details (`CODE: detail`) and trailing metadata, or from a stream's
answer. Single submits share one `SubmitTransactionStream` call (`_SubmitStream`) unless the
transport is made with `stream_submits=False` (one unary `SubmitTransaction` call each)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import grpc

from aurigraph.client.errors import ApiError, TransactionRejected
from aurigraph.v1 import (
    block_pb2,
    consensus_pb2,
    crypto_pb2,
    events_pb2,
    monitoring_pb2,
    node_pb2,
    services_pb2_grpc,
    transaction_pb2,
)

SUBMIT_RESPONSE_METADATA = "aurigraph-submit-response-bin"
MAX_MESSAGE_BYTES = 128 * 1024 * 1024


def _error(e: grpc.aio.AioRpcError) -> ApiError:
    details = e.details() or ""
    code, sep, detail = details.partition(": ")
    if not sep or not code.isupper():
        code, detail = e.code().name, details
    trailing = dict(e.trailing_metadata() or ())
    retry_ms = int(trailing.get("retry-after-ms", 0) or 0)
    if SUBMIT_RESPONSE_METADATA in trailing:
        result = transaction_pb2.SubmitResponse.FromString(trailing[SUBMIT_RESPONSE_METADATA])
        return TransactionRejected(result, detail, status=e.code().name)
    return ApiError(code, detail, status=e.code().name, retry_after_ms=retry_ms)


_STATUS_NAMES = {code.value[0]: code.name for code in grpc.StatusCode}


def _answer(answer: transaction_pb2.SubmitStreamResponse) -> transaction_pb2.SubmitResponse:
    """A stream's answer as `SubmitTransaction` would have answered: the result, or its error."""
    if not answer.code:
        return answer.result
    status = _STATUS_NAMES.get(answer.grpc_status, "UNKNOWN")
    if answer.HasField("result"):
        raise TransactionRejected(answer.result, answer.detail, status=status)
    raise ApiError(answer.code, answer.detail, status=status, retry_after_ms=answer.retry_after_ms)


class _SubmitStream:
    """One open `SubmitTransactionStream` call: any number of concurrent submits write their
    requests to it and each waits for the answer with its sequence number, so submits are
    pipelined on one stream with no call set-up each. When the call ends (the gateway restarted,
    the connection broke, the transport closed), every submit still waiting gets the call's error
    and the transport opens a new call for the next submit."""

    def __init__(self, stub, metadata) -> None:
        self._outbox: asyncio.Queue = asyncio.Queue()  # None: no more requests (half-close)
        self._waiting: dict[int, asyncio.Future] = {}
        self._sent = 0
        self.closed = False
        self._call = stub.SubmitTransactionStream(self._requests(), metadata=metadata)
        self._reader = asyncio.create_task(self._read())

    async def _requests(self):
        while (request := await self._outbox.get()) is not None:
            yield request

    async def submit(self, request: transaction_pb2.SubmitRequest, timeout_s: float
                     ) -> transaction_pb2.SubmitStreamResponse:
        sequence, self._sent = self._sent, self._sent + 1
        future = asyncio.get_running_loop().create_future()
        self._waiting[sequence] = future
        self._outbox.put_nowait(request)
        try:
            return await asyncio.wait_for(future, timeout_s)
        except TimeoutError:
            raise ApiError("DEADLINE_EXCEEDED", f"no answer within {timeout_s:g} s",
                           status="DEADLINE_EXCEEDED") from None
        finally:
            self._waiting.pop(sequence, None)

    async def _read(self) -> None:
        error: Exception = ApiError("UNAVAILABLE", "the gateway ended the submit stream", status="UNAVAILABLE")
        try:
            async for answer in self._call:
                future = self._waiting.get(answer.sequence)
                if future is not None and not future.done():
                    future.set_result(answer)
        except grpc.aio.AioRpcError as e:
            error = _error(e)
        except asyncio.CancelledError:
            error = ApiError("CANCELLED", "the client was closed", status="CANCELLED")
        finally:
            self.closed = True
            for future in self._waiting.values():
                if not future.done():
                    future.set_exception(error)

    async def close(self) -> None:
        self.closed = True
        self._call.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


class GrpcTransport:
    def __init__(self, target: str, api_key: str | None = None, timeout_s: float = 60.0,
                 root_certificates: bytes | None = None, tls: bool = False, stream_submits: bool = True) -> None:
        options = [("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                   ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)]
        if tls:
            self._channel = grpc.aio.secure_channel(target, grpc.ssl_channel_credentials(root_certificates), options)
        else:
            self._channel = grpc.aio.insecure_channel(target, options)
        self._metadata = (("x-api-key", api_key),) if api_key else ()
        self._timeout_s = timeout_s
        self._tx = services_pb2_grpc.TransactionServiceStub(self._channel)
        self._consensus = services_pb2_grpc.ConsensusServiceStub(self._channel)
        self._nodes = services_pb2_grpc.NodeServiceStub(self._channel)
        self._monitoring = services_pb2_grpc.MonitoringServiceStub(self._channel)
        self._storage = services_pb2_grpc.StorageServiceStub(self._channel)
        self._crypto = services_pb2_grpc.CryptoServiceStub(self._channel)
        self._stream_submits = stream_submits
        self._stream: _SubmitStream | None = None

    async def close(self) -> None:
        if self._stream is not None:
            await self._stream.close()
        await self._channel.close()

    async def _call(self, method, request, timeout_s: float | None = None):
        try:
            return await method(request, metadata=self._metadata, timeout=timeout_s or self._timeout_s)
        except grpc.aio.AioRpcError as e:
            raise _error(e) from None

    async def submit_one(self, raw: bytes, wait: bool, timeout_ms: int | None) -> transaction_pb2.SubmitResponse:
        request = transaction_pb2.SubmitRequest(transaction=transaction_pb2.SignedTransaction.FromString(raw),
                                                wait_committed=wait, timeout_ms=timeout_ms or 0)
        if not self._stream_submits:
            return await self._call(self._tx.SubmitTransaction, request)
        if self._stream is None or self._stream.closed:
            self._stream = _SubmitStream(self._tx, self._metadata)
        return _answer(await self._stream.submit(request, self._timeout_s))

    async def submit(self, wire: list[bytes], wait: bool, timeout_ms: int | None
                     ) -> transaction_pb2.BatchSubmitResponse:
        request = transaction_pb2.BatchSubmitRequest.FromString(
            transaction_pb2.TransactionBatch(transactions=wire).SerializeToString())
        request.wait_committed, request.timeout_ms = wait, timeout_ms or 0
        return await self._call(self._tx.BatchSubmitTransactions, request)

    async def transaction(self, tx_id: bytes) -> transaction_pb2.TransactionRecord:
        try:
            return await self._call(self._storage.GetTransaction, transaction_pb2.GetTransactionRequest(tx_id=tx_id))
        except ApiError as e:
            if e.code == "NOT_FOUND":
                return transaction_pb2.TransactionRecord(tx_id=tx_id)  # UNKNOWN, as REST answers
            raise

    async def block(self, height: int | None) -> block_pb2.BlockRecord:
        request = block_pb2.GetBlockRequest(latest=True) if height is None else block_pb2.GetBlockRequest(height=height)
        return await self._call(self._storage.GetBlock, request)

    async def account(self, address: bytes) -> block_pb2.Account:
        return await self._call(self._storage.GetAccount, block_pb2.GetAccountRequest(address=address))

    async def compliance_rules(self) -> transaction_pb2.ComplianceRules:
        return await self._call(self._storage.GetComplianceRules, transaction_pb2.GetComplianceRulesRequest())

    async def status(self) -> consensus_pb2.ConsensusStatus:
        return await self._call(self._consensus.GetStatus, consensus_pb2.GetConsensusStatusRequest())

    async def nodes(self) -> node_pb2.ListNodesResponse:
        return await self._call(self._nodes.ListNodes, node_pb2.ListNodesRequest())

    async def health(self) -> monitoring_pb2.HealthResponse:
        return await self._call(self._monitoring.GetHealth, monitoring_pb2.HealthRequest())

    async def verify(self, request: crypto_pb2.VerifyRequest) -> crypto_pb2.VerifyResponse:
        return await self._call(self._crypto.VerifySignatures, request)

    async def kem_public_key(self) -> crypto_pb2.KemPublicKey:
        return await self._call(self._crypto.GetKemPublicKey, crypto_pb2.KemPublicKeyRequest())

    async def events(self, kinds: list[str], account: bytes | None, from_height: int | None
                     ) -> AsyncIterator[events_pb2.Event]:
        """gRPC streams committed transactions only (StreamTransactions); other kinds need REST."""
        if kinds and set(kinds) != {"transaction_committed"}:
            raise ValueError("over gRPC only transaction_committed events are streamed; use a REST URL for others")
        request = transaction_pb2.StreamTransactionsRequest(from_height=from_height or 0, account=account or b"")
        stream = self._tx.StreamTransactions(request, metadata=self._metadata)
        try:
            async for committed in stream:
                yield events_pb2.Event(transaction_committed=committed)
        except grpc.aio.AioRpcError as e:
            raise _error(e) from None
        finally:
            stream.cancel()
