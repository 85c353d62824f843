"""The REST (and WebSocket) transport of the SDK: protobuf bodies over HTTP/1.1 with httpx."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import httpx
from google.protobuf.message import DecodeError, Message

from aurigraph.client.errors import ApiError, TransactionRejected
from aurigraph.codec.names import reason_name
from aurigraph.v1 import (
    block_pb2,
    common_pb2,
    consensus_pb2,
    crypto_pb2,
    events_pb2,
    monitoring_pb2,
    node_pb2,
    transaction_pb2,
)

PROTOBUF = "application/x-protobuf"


def _error(response: httpx.Response) -> ApiError:
    retry_ms = 0
    if response.headers.get("retry-after", "").isdigit():
        retry_ms = int(response.headers["retry-after"]) * 1000
    try:
        if response.status_code == 422:
            result = transaction_pb2.SubmitResponse.FromString(response.content)
            return TransactionRejected(result, f"{reason_name(result.reason).upper()}: {result.detail}")
        e = common_pb2.ApiError.FromString(response.content)
        return ApiError(e.code or "HTTP_ERROR", e.detail or response.reason_phrase, status=response.status_code,
                        reason=e.reason, retry_after_ms=e.retry_after_ms or retry_ms)
    except DecodeError:
        return ApiError("HTTP_ERROR", f"{response.status_code} {response.text[:200]}", status=response.status_code,
                        retry_after_ms=retry_ms)


class RestTransport:
    def __init__(self, url: str, api_key: str | None = None, timeout_s: float = 60.0,
                 verify: bool | str | ssl.SSLContext = True) -> None:
        self.url = url.rstrip("/")
        self._headers = {"accept": PROTOBUF}
        if api_key:
            self._headers["x-api-key"] = api_key
        if isinstance(verify, str):  # a CA file: trust it (e.g. a node's self-signed certificate)
            verify = ssl.create_default_context(cafile=verify)
        self._verify = verify
        self._http = httpx.AsyncClient(base_url=self.url, headers=self._headers, timeout=timeout_s, verify=verify)

    async def close(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, response_type: type[Message], body: bytes | None = None,
                    params: dict | None = None, ok: tuple[int, ...] = (200, 202)) -> Message:
        try:
            response = await self._http.request(method, path, content=body, params=params,
                                                headers={"content-type": PROTOBUF} if body is not None else None)
        except httpx.HTTPError as e:
            raise ApiError("UNAVAILABLE", f"{self.url}: {e or type(e).__name__}") from None
        if response.status_code not in ok:
            raise _error(response)
        return response_type.FromString(response.content)

    async def submit_one(self, raw: bytes, wait: bool, timeout_ms: int | None) -> transaction_pb2.SubmitResponse:
        params = {"wait": "committed" if wait else "none"} | ({"timeout_ms": timeout_ms} if timeout_ms else {})
        return await self._call("POST", "/v11/transactions", transaction_pb2.SubmitResponse, raw, params)

    async def submit(self, wire: list[bytes], wait: bool, timeout_ms: int | None
                     ) -> transaction_pb2.BatchSubmitResponse:
        params = {"wait": "committed" if wait else "none"} | ({"timeout_ms": timeout_ms} if timeout_ms else {})
        body = transaction_pb2.TransactionBatch(transactions=wire).SerializeToString()  # = BatchSubmitRequest
        return await self._call("POST", "/v11/transactions/batch", transaction_pb2.BatchSubmitResponse, body, params)

    async def transaction(self, tx_id: bytes) -> transaction_pb2.TransactionRecord:
        # 404 still carries the record (status UNKNOWN)
        return await self._call("GET", f"/v11/transactions/{tx_id.hex()}", transaction_pb2.TransactionRecord,
                                ok=(200, 404))

    async def block(self, height: int | None) -> block_pb2.BlockRecord:
        return await self._call("GET", f"/v11/blocks/{'latest' if height is None else height}", block_pb2.BlockRecord)

    async def account(self, address: bytes) -> block_pb2.Account:
        return await self._call("GET", f"/v11/accounts/{address.hex()}", block_pb2.Account)

    async def compliance_rules(self) -> transaction_pb2.ComplianceRules:
        return await self._call("GET", "/v11/compliance/rules", transaction_pb2.ComplianceRules)

    async def status(self) -> consensus_pb2.ConsensusStatus:
        return await self._call("GET", "/v11/consensus/status", consensus_pb2.ConsensusStatus)

    async def nodes(self) -> node_pb2.ListNodesResponse:
        return await self._call("GET", "/v11/nodes", node_pb2.ListNodesResponse)

    async def health(self) -> monitoring_pb2.HealthResponse:
        return await self._call("GET", "/v11/ready", monitoring_pb2.HealthResponse, ok=(200, 503))

    async def verify(self, request: crypto_pb2.VerifyRequest) -> crypto_pb2.VerifyResponse:
        return await self._call("POST", "/v11/crypto/verify", crypto_pb2.VerifyResponse, request.SerializeToString())

    async def kem_public_key(self) -> crypto_pb2.KemPublicKey:
        return await self._call("GET", "/v11/crypto/kem-public-key", crypto_pb2.KemPublicKey)

    async def events(self, kinds: list[str], account: bytes | None, from_height: int | None
                     ) -> AsyncIterator[events_pb2.Event]:
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed, ConnectionClosedOK

        params = {"format": "protobuf"}
        if kinds:
            params["kinds"] = ",".join(kinds)
        if account:
            params["account"] = account.hex()
        if from_height is not None:
            params["from_height"] = str(from_height)
        ws_url = "ws" + self.url.removeprefix("http") + "/v11/stream?" + urlencode(params)
        tls = None
        if ws_url.startswith("wss"):
            if isinstance(self._verify, ssl.SSLContext):
                tls = self._verify
            else:
                tls = ssl.create_default_context()
                if self._verify is False:
                    tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE
        headers = {k: v for k, v in self._headers.items() if k == "x-api-key"}
        try:
            async with connect(ws_url, additional_headers=headers, ssl=tls, max_size=2**24) as ws:
                async for frame in ws:
                    yield events_pb2.Event.FromString(frame)
        except ConnectionClosedOK:
            return
        except ConnectionClosed as e:
            code, reason = (e.rcvd.code, e.rcvd.reason) if e.rcvd else (1006, "connection lost")
            name, _, detail = reason.partition(": ")
            raise ApiError(name or "STREAM_CLOSED", detail or reason, status=code) from None
        except OSError as e:
            raise ApiError("UNAVAILABLE", f"{ws_url}: {e}") from None
