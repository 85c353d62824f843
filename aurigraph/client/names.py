"""Readable names of the API's enum values (for the CLI and SDK users' logs)."""

from __future__ import annotations

from aurigraph.v1 import common_pb2, node_pb2, transaction_pb2


def status_name(code: int) -> str:
    return transaction_pb2.TransactionStatus.Name(code).removeprefix("TRANSACTION_STATUS_").lower()


def reason_name(code: int) -> str:
    return common_pb2.RejectReason.Name(code).removeprefix("REJECT_REASON_").lower()


def role_name(code: int) -> str:
    return node_pb2.NodeRole.Name(code).removeprefix("NODE_ROLE_").lower()


def health_name(code: int) -> str:
    return node_pb2.NodeHealth.Name(code).removeprefix("NODE_HEALTH_").lower()
