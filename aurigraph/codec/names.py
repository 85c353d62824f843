"""Readable names of the API's enum values, and the JSON form of its messages, for the CLI, the
SDK and the gateway alike."""

from __future__ import annotations

from google.protobuf import json_format
from google.protobuf.message import Message

from aurigraph.v1 import common_pb2, node_pb2, transaction_pb2


def to_json_dict(message: Message) -> dict:
    """The protobuf JSON mapping with proto field names and every field present."""
    return json_format.MessageToDict(message, preserving_proto_field_name=True,
                                     always_print_fields_with_no_presence=True)


def status_name(code: int) -> str:
    return transaction_pb2.TransactionStatus.Name(code).removeprefix("TRANSACTION_STATUS_").lower()


def reason_name(code: int) -> str:
    return common_pb2.RejectReason.Name(code).removeprefix("REJECT_REASON_").lower()


def role_name(code: int) -> str:
    return node_pb2.NodeRole.Name(code).removeprefix("NODE_ROLE_").lower()


def health_name(code: int) -> str:
    return node_pb2.NodeHealth.Name(code).removeprefix("NODE_HEALTH_").lower()
