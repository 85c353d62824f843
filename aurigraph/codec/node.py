"""Messages of the node runtime: batches between actors, per-transaction results, archive records."""

from __future__ import annotations

from collections.abc import Sequence

from aurigraph.codec.transactions import (
    decode_signed,
    decode_validated,
    receipt_to_proto,
    reject_reason_to_proto,
    signed_to_proto,
)
from aurigraph.ledger import ADMIN_ACTIONS, Rejection, SignedTx
from aurigraph.node.ingest import Checked
from aurigraph.node.replica import TxOutcome, TxStatus
from aurigraph.storage.archive import ArchivedTx
from aurigraph.v1 import block_pb2, transaction_pb2


def encode_batch(wire: Sequence[bytes]) -> bytes:
    return transaction_pb2.TransactionBatch(transactions=wire).SerializeToString()


def decode_batch(data: bytes) -> list[bytes]:
    return list(transaction_pb2.TransactionBatch.FromString(data).transactions)


def encode_validated(wire: Sequence[bytes], tx_ids: Sequence[bytes]) -> bytes:
    """Validated transactions and their ids (as validation computed them), for the leader."""
    return transaction_pb2.ValidatedBatch(transactions=wire, tx_ids=tx_ids).SerializeToString()


def decode_validated_batch(data: bytes) -> list[SignedTx]:
    """A `ValidatedBatch` (from the node's own ingress) -> its transactions, parsed once."""
    m = transaction_pb2.ValidatedBatch.FromString(data)
    if len(m.tx_ids) != len(m.transactions):
        raise ValueError(f"validated batch has {len(m.transactions)} transactions but {len(m.tx_ids)} ids")
    return [decode_validated(raw, tx_id) for raw, tx_id in zip(m.transactions, m.tx_ids)]


def checked_to_response(checked: Sequence[Checked]) -> bytes:
    """A validator's verdicts as `BatchSubmitResponse` bytes: PENDING (passed) or REJECTED."""
    response = transaction_pb2.BatchSubmitResponse()
    for c in checked:
        r = response.results.add()
        if c.tx is not None:
            r.tx_id, r.status = c.tx.tx_id, transaction_pb2.TRANSACTION_STATUS_PENDING
        else:
            r.tx_id, r.status = c.tx_id, transaction_pb2.TRANSACTION_STATUS_REJECTED
            r.reason, r.detail = reject_reason_to_proto(c.rejection.reason), c.rejection.detail
            r.authenticated = c.rejection.authenticated
    return response.SerializeToString()


def outcome_to_proto(o: TxOutcome) -> transaction_pb2.SubmitResponse:
    m = transaction_pb2.SubmitResponse(tx_id=o.tx_id, status=int(o.status), detail=o.detail,
                                       retry_after_ms=o.retry_after_ms, reason=reject_reason_to_proto(o.reason),
                                       authenticated=o.status is TxStatus.REJECTED)  # (validated before ordering)
    if o.receipt is not None:
        m.receipt.CopyFrom(receipt_to_proto(o.receipt))
    return m


def outcomes_to_response(outcomes: Sequence[TxOutcome]) -> bytes:
    return transaction_pb2.BatchSubmitResponse(results=[outcome_to_proto(o) for o in outcomes]).SerializeToString()


def response_statuses(data: bytes) -> list[transaction_pb2.SubmitResponse]:
    return list(transaction_pb2.BatchSubmitResponse.FromString(data).results)


def retry_response(count: int, retry_after_ms: int, detail: str) -> bytes:
    """Every transaction answered PENDING with a retry-after: back-pressure, nothing was queued."""
    r = transaction_pb2.SubmitResponse(status=int(TxStatus.PENDING), retry_after_ms=retry_after_ms, detail=detail)
    return transaction_pb2.BatchSubmitResponse(results=[r] * count).SerializeToString()


def hold_verdicts(verdicts: list[transaction_pb2.SubmitResponse], wire: Sequence[bytes], held: set[bytes]) -> None:
    """Turn the passed verdicts of transactions from a `held` sender into REJECTED
    (HELD_FOR_REVIEW), in place: the optimizer's hold policy, applied before ordering."""
    for verdict, raw in zip(verdicts, wire):
        body = decode_signed(raw).body if verdict.status == TxStatus.PENDING else None
        # (Administrative actions are never held: the hold policy is about moving value, and holding
        # an admin would stop governance and the audit notes of every administrative action.)
        if body is not None and body.sender in held and not isinstance(body.kind, ADMIN_ACTIONS):
            verdict.status = int(TxStatus.REJECTED)
            verdict.authenticated = True  # it passed validation
            verdict.reason = reject_reason_to_proto(Rejection.HELD_FOR_REVIEW)
            verdict.detail = "sender held for review: the anomaly detector flagged it (aurigraph models release)"


def merge_results(verdicts: Sequence[transaction_pb2.SubmitResponse],
                  ordered: Sequence[transaction_pb2.SubmitResponse]) -> bytes:
    """Validator verdicts with the leader's results put in place of the ones that passed."""
    it = iter(ordered)
    merged = [next(it) if v.status == TxStatus.PENDING else v for v in verdicts]
    return transaction_pb2.BatchSubmitResponse(results=merged).SerializeToString()


def account_record(address: bytes, balance: int, nonce: int) -> bytes:
    return block_pb2.Account(address=address, balance=balance, nonce=nonce).SerializeToString()


def decode_account(data: bytes) -> tuple[int, int]:
    """(balance, next nonce) of `account_record` bytes."""
    m = block_pb2.Account.FromString(data)
    return m.balance, m.nonce


def committed_record(found: ArchivedTx, confidence: float = 0.0) -> bytes:
    return transaction_pb2.TransactionRecord(
        tx_id=found.tx.tx_id, status=int(TxStatus.COMMITTED), transaction=signed_to_proto(found.tx),
        receipt=receipt_to_proto(found.receipt), confidence=confidence,
    ).SerializeToString()


def outcome_record(tx_id: bytes, outcome: TxOutcome | None) -> bytes:
    """A `TransactionRecord` for a transaction that is not (known to be) committed: PENDING,
    REJECTED / DROPPED with reason and detail, or UNKNOWN when `outcome` is None."""
    m = transaction_pb2.TransactionRecord(tx_id=tx_id)
    if outcome is not None:
        m.status, m.detail = int(outcome.status), outcome.detail
        m.reason = reject_reason_to_proto(outcome.reason)
    return m.SerializeToString()


def pending_ack() -> bytes:
    """A bare PENDING `SubmitResponse` (the benchmark's do-nothing endpoint answers this)."""
    return transaction_pb2.SubmitResponse(status=int(TxStatus.PENDING)).SerializeToString()


def pending_acks(batch: bytes) -> bytes:
    """One PENDING result per transaction of a `TransactionBatch` / `BatchSubmitRequest`."""
    count = len(transaction_pb2.TransactionBatch.FromString(batch).transactions)
    r = transaction_pb2.SubmitResponse(status=int(TxStatus.PENDING))
    return transaction_pb2.BatchSubmitResponse(results=[r] * count).SerializeToString()
