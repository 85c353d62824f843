"""`AsyncClient` and `Client`: the Python SDK of an Aurigraph node.

    from aurigraph.client import Client
    with Client("http://127.0.0.1:8000") as node:          # or "grpc://127.0.0.1:9000"
        result = node.transfer(alice, to=bob_address, amount=25)   # signs, submits, waits
        print(result.receipt.height, node.account(bob_address).balance)
        sent = node.write_sealed(alice, "payroll", b"...", recipients=[bob_kem_public_key])
        plaintext = node.read_sealed(sent.tx_id, bob_kem_keypair)   # or open_data(record, ...)
        for event in node.events(kinds=["block_committed"]):
            ...

Results are `aurigraph.v1` messages (see `protos/aurigraph/v1`). Refusals raise `ApiError`
(`TransactionRejected` for a rejected transaction, with its reason). `Client` runs the async
client on a private event-loop thread, so both behave the same.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

from aurigraph.client.errors import ApiError
from aurigraph.client.grpc import GrpcTransport
from aurigraph.client.rest import RestTransport
from aurigraph.codec import decode_signed, encode_signed, sign_transaction, signed_from_proto
from aurigraph.crypto import KemKeyPair, KeyPair
from aurigraph.ledger import (
    AdminAction,
    DataWrite,
    SignedTx,
    Transfer,
    TxBody,
    open_data_write,
    seal_data_write,
)
from aurigraph.v1 import transaction_pb2

FINAL = {transaction_pb2.TRANSACTION_STATUS_COMMITTED, transaction_pb2.TRANSACTION_STATUS_REJECTED}


def _transport(url: str, api_key: str | None, timeout_s: float, verify, stream_submits: bool):
    if url.startswith(("http://", "https://")):
        return RestTransport(url, api_key, timeout_s, verify)
    if url.startswith(("grpc://", "grpcs://")):
        tls = url.startswith("grpcs://")
        roots = Path(verify).read_bytes() if isinstance(verify, str) else None
        return GrpcTransport(url.split("://", 1)[1], api_key, timeout_s, roots, tls, stream_submits)
    raise ValueError(f"URL must start with http://, https://, grpc:// or grpcs://: {url!r}")


class AsyncClient:
    """`stream_submits` (gRPC only): `submit` sends on one shared `SubmitTransactionStream` call,
    pipelined (the default), or with False one unary `SubmitTransaction` call each."""

    def __init__(self, url: str = "http://127.0.0.1:8000", *, api_key: str | None = None, timeout_s: float = 60.0,
                 verify: bool | str = True, stream_submits: bool = True) -> None:
        self.url = url
        self.transport = _transport(url, api_key, timeout_s, verify, stream_submits)
        self._chain_id: str | None = None

    async def close(self) -> None:
        await self.transport.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    # --- building and submitting ----------------------------------------------------------------

    async def chain_id(self) -> str:
        if self._chain_id is None:
            self._chain_id = (await self.transport.block(0)).block.header.chain_id
        return self._chain_id

    async def next_nonce(self, address: bytes) -> int:
        return (await self.transport.account(address)).nonce

    async def sign(self, key: KeyPair, kind: Transfer | DataWrite | AdminAction, *, fee: int = 1,
                   nonce: int | None = None) -> SignedTx:
        """A signed transaction from `key`'s account; the nonce is read from the node if not given.
        `kind` may be an administrative action (`aurigraph.ledger.SetRules`, `SetKyc`, `RotateKey`,
        `AdminNote`) when `key` is a chain admin's (`docs/governance.md`)."""
        if nonce is None:
            nonce = await self.next_nonce(key.address)
        body = TxBody(await self.chain_id(), key.address, nonce, fee, time.time_ns() // 1_000_000, kind)
        return sign_transaction(body, key)

    async def transfer(self, key: KeyPair, to: bytes, amount: int, *, fee: int = 1, nonce: int | None = None,
                       wait: bool = True) -> transaction_pb2.SubmitResponse:
        return await self.submit(await self.sign(key, Transfer(to, amount), fee=fee, nonce=nonce), wait=wait)

    async def write_data(self, key: KeyPair, data_key: str, value: bytes, *, fee: int = 1, nonce: int | None = None,
                         wait: bool = True) -> transaction_pb2.SubmitResponse:
        return await self.submit(await self.sign(key, DataWrite(data_key, value), fee=fee, nonce=nonce), wait=wait)

    async def write_sealed(self, key: KeyPair, data_key: str, value: bytes, recipients: Sequence[bytes], *,
                           fee: int = 1, nonce: int | None = None, wait: bool = True
                           ) -> transaction_pb2.SubmitResponse:
        """A confidential data write: `value` sealed (ML-KEM-1024 + XChaCha20-Poly1305) to the
        recipients' ML-KEM-1024 public keys (1 to 16), bound to this chain, `key`'s address and
        `data_key` (`aurigraph.ledger.sealed`). The node stores only the ciphertext."""
        kind = seal_data_write(await self.chain_id(), key.address, data_key, value, list(recipients))
        return await self.submit(await self.sign(key, kind, fee=fee, nonce=nonce), wait=wait)

    @staticmethod
    def open_data(tx: transaction_pb2.TransactionRecord | transaction_pb2.SignedTransaction | SignedTx | bytes,
                  kem_keypair: KemKeyPair) -> bytes:
        """The plaintext of a sealed data write — a `TransactionRecord` as `transaction()` returns it,
        a `SignedTransaction`, a `SignedTx` or its wire bytes — for one of its recipients. No I/O.
        Raises `NotSealedError` (not a sealed data write), `DecryptionError` (not a recipient, or
        tampered), `ApiError` NOT_FOUND (a record without its transaction)."""
        if isinstance(tx, transaction_pb2.TransactionRecord):
            if not tx.HasField("transaction"):
                raise ApiError("NOT_FOUND", f"transaction {tx.tx_id.hex()[:16]}… is unknown to the node")
            tx = tx.transaction
        if isinstance(tx, transaction_pb2.SignedTransaction):
            tx = signed_from_proto(tx)
        elif isinstance(tx, bytes):
            tx = decode_signed(tx)
        return open_data_write(tx.body, kem_keypair)

    async def read_sealed(self, tx_id: bytes, kem_keypair: KemKeyPair) -> bytes:
        """Fetch a committed sealed data write and open it (see `open_data`). `ApiError` NOT_FOUND
        for an unknown transaction, NOT_COMMITTED for one that is pending, rejected or dropped."""
        record = await self.transport.transaction(tx_id)
        if record.status == transaction_pb2.TRANSACTION_STATUS_UNKNOWN:
            raise ApiError("NOT_FOUND", f"transaction {tx_id.hex()[:16]}… is unknown to the node")
        if record.status != transaction_pb2.TRANSACTION_STATUS_COMMITTED:
            status = transaction_pb2.TransactionStatus.Name(record.status).removeprefix("TRANSACTION_STATUS_")
            raise ApiError("NOT_COMMITTED", f"transaction {tx_id.hex()[:16]}… is {status.lower()}")
        return self.open_data(record, kem_keypair)

    async def submit(self, tx: SignedTx | bytes, *, wait: bool = False, timeout_ms: int | None = None
                     ) -> transaction_pb2.SubmitResponse:
        """One transaction; with `wait`, returns once it is committed (or the server's wait ran out:
        status PENDING). Raises `TransactionRejected`, or `ApiError` (e.g. UNAVAILABLE, retry later)."""
        raw = tx if isinstance(tx, bytes) else encode_signed(tx)
        return await self.transport.submit_one(raw, wait, timeout_ms)

    async def submit_batch(self, txs: Sequence[SignedTx | bytes], *, wait: bool = False,
                           timeout_ms: int | None = None) -> list[transaction_pb2.SubmitResponse]:
        """Up to 10,000 transactions in one request; one result each, in order (rejections included)."""
        wire = [t if isinstance(t, bytes) else encode_signed(t) for t in txs]
        return list((await self.transport.submit(wire, wait, timeout_ms)).results)

    async def submit_until_final(self, txs: Sequence[SignedTx | bytes], *, timeout_s: float = 120.0
                                 ) -> list[transaction_pb2.SubmitResponse]:
        """Submit (waiting) and resubmit what is not final yet — still pending when the wait ran
        out, dropped by a leader change, refused for back-pressure — until every transaction is
        committed or rejected. Safe: submission is idempotent by id. Results in the input's order."""
        wire = [t if isinstance(t, bytes) else encode_signed(t) for t in txs]
        final: list = [None] * len(wire)
        todo = list(range(len(wire)))
        deadline = time.monotonic() + timeout_s
        while todo:
            try:
                results = list((await self.transport.submit([wire[i] for i in todo], True, None)).results)
            except ApiError as e:
                if not e.retry_after_ms:
                    raise
                results, delay_s = [], e.retry_after_ms / 1000
            else:
                delay_s = max((r.retry_after_ms for r in results), default=0) / 1000
            again = []
            for i, r in zip(todo, results or [None] * len(todo)):
                if r is not None and r.status in FINAL:
                    final[i] = r
                else:
                    again.append(i)
            todo = again
            if todo:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{len(todo)} transactions not final after {timeout_s:g} s")
                await asyncio.sleep(delay_s or 0.05)
        return final

    async def wait_committed(self, tx_id: bytes, timeout_s: float = 30.0, poll_s: float = 0.1
                             ) -> transaction_pb2.TransactionRecord:
        """Poll until the transaction is committed or rejected; `TimeoutError` otherwise."""
        deadline = time.monotonic() + timeout_s
        while True:
            record = await self.transport.transaction(tx_id)
            if record.status in FINAL:
                return record
            if time.monotonic() > deadline:
                raise TimeoutError(f"transaction {tx_id.hex()[:16]}… not final after {timeout_s:g} s "
                                   f"({transaction_pb2.TransactionStatus.Name(record.status)})")
            await asyncio.sleep(poll_s)

    # --- reading --------------------------------------------------------------------------------

    async def transaction(self, tx_id: bytes) -> transaction_pb2.TransactionRecord:
        return await self.transport.transaction(tx_id)

    async def block(self, height: int | None = None):
        """The block at `height`, or the latest."""
        return await self.transport.block(height)

    async def account(self, address: bytes):
        return await self.transport.account(address)

    async def compliance_rules(self):
        """The compliance rules in force (`aurigraph.v1.ComplianceRules`)."""
        return await self.transport.compliance_rules()

    async def status(self):
        return await self.transport.status()

    async def nodes(self):
        return await self.transport.nodes()

    async def health(self):
        return await self.transport.health()

    async def verify(self, request):
        return await self.transport.verify(request)

    async def kem_public_key(self):
        return await self.transport.kem_public_key()

    def events(self, kinds: Sequence[str] = (), account: bytes | None = None, from_height: int | None = None
               ) -> AsyncIterator:
        """`aurigraph.v1.Event`s as they happen (from `from_height` when given). Kinds:
        transaction_committed, transaction_rejected, block_committed, leader_changed, node_status."""
        return self.transport.events(list(kinds), account, from_height)


class Client:
    """The synchronous SDK: every `AsyncClient` method, blocking."""

    def __init__(self, url: str = "http://127.0.0.1:8000", **options) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="aurigraph-client", daemon=True)
        self._thread.start()
        self._async = self._run(self._make(url, options))

    @staticmethod
    async def _make(url: str, options: dict) -> AsyncClient:
        return AsyncClient(url, **options)  # created on the loop that will use it

    def _run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def close(self) -> None:
        if self._loop.is_running():
            self._run(self._async.close())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __getattr__(self, name: str):
        attribute = getattr(self._async, name)
        if not asyncio.iscoroutinefunction(attribute):
            return attribute  # e.g. `url`, `transport`
        return lambda *args, **kwargs: self._run(attribute(*args, **kwargs))

    def events(self, *args, **kwargs) -> Iterator:
        """`AsyncClient.events`, as a blocking iterator."""
        stream = self._async.events(*args, **kwargs)
        try:
            while True:
                try:
                    yield self._run(stream.__anext__())
                except StopAsyncIteration:
                    return
        finally:
            self._run(stream.aclose())


__all__ = ["ApiError", "AsyncClient", "Client"]
