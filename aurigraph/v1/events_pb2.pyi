from aurigraph.v1 import common_pb2 as _common_pb2
from aurigraph.v1 import transaction_pb2 as _transaction_pb2
from aurigraph.v1 import node_pb2 as _node_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EventKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EVENT_KIND_UNSPECIFIED: _ClassVar[EventKind]
    EVENT_KIND_TRANSACTION_COMMITTED: _ClassVar[EventKind]
    EVENT_KIND_TRANSACTION_REJECTED: _ClassVar[EventKind]
    EVENT_KIND_BLOCK_COMMITTED: _ClassVar[EventKind]
    EVENT_KIND_LEADER_CHANGED: _ClassVar[EventKind]
    EVENT_KIND_NODE_STATUS: _ClassVar[EventKind]
    EVENT_KIND_ANOMALY: _ClassVar[EventKind]
EVENT_KIND_UNSPECIFIED: EventKind
EVENT_KIND_TRANSACTION_COMMITTED: EventKind
EVENT_KIND_TRANSACTION_REJECTED: EventKind
EVENT_KIND_BLOCK_COMMITTED: EventKind
EVENT_KIND_LEADER_CHANGED: EventKind
EVENT_KIND_NODE_STATUS: EventKind
EVENT_KIND_ANOMALY: EventKind

class TransactionRejected(_message.Message):
    __slots__ = ("tx_id", "reason", "detail")
    TX_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    tx_id: bytes
    reason: _common_pb2.RejectReason
    detail: str
    def __init__(self, tx_id: _Optional[bytes] = ..., reason: _Optional[_Union[_common_pb2.RejectReason, str]] = ..., detail: _Optional[str] = ...) -> None: ...

class BlockCommitted(_message.Message):
    __slots__ = ("height", "hash", "tx_count", "state_digest")
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    TX_COUNT_FIELD_NUMBER: _ClassVar[int]
    STATE_DIGEST_FIELD_NUMBER: _ClassVar[int]
    height: int
    hash: bytes
    tx_count: int
    state_digest: bytes
    def __init__(self, height: _Optional[int] = ..., hash: _Optional[bytes] = ..., tx_count: _Optional[int] = ..., state_digest: _Optional[bytes] = ...) -> None: ...

class LeaderChanged(_message.Message):
    __slots__ = ("term", "leader_id")
    TERM_FIELD_NUMBER: _ClassVar[int]
    LEADER_ID_FIELD_NUMBER: _ClassVar[int]
    term: int
    leader_id: int
    def __init__(self, term: _Optional[int] = ..., leader_id: _Optional[int] = ...) -> None: ...

class AnomalyFlagged(_message.Message):
    __slots__ = ("tx_id", "sender", "score", "model_version", "height", "threshold", "flagged_at_ms", "sequence")
    TX_ID_FIELD_NUMBER: _ClassVar[int]
    SENDER_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    FLAGGED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    tx_id: bytes
    sender: bytes
    score: float
    model_version: str
    height: int
    threshold: float
    flagged_at_ms: int
    sequence: int
    def __init__(self, tx_id: _Optional[bytes] = ..., sender: _Optional[bytes] = ..., score: _Optional[float] = ..., model_version: _Optional[str] = ..., height: _Optional[int] = ..., threshold: _Optional[float] = ..., flagged_at_ms: _Optional[int] = ..., sequence: _Optional[int] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("sequence", "timestamp_ms", "transaction_committed", "transaction_rejected", "block_committed", "leader_changed", "node_status", "anomaly")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_MS_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_COMMITTED_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_REJECTED_FIELD_NUMBER: _ClassVar[int]
    BLOCK_COMMITTED_FIELD_NUMBER: _ClassVar[int]
    LEADER_CHANGED_FIELD_NUMBER: _ClassVar[int]
    NODE_STATUS_FIELD_NUMBER: _ClassVar[int]
    ANOMALY_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    timestamp_ms: int
    transaction_committed: _transaction_pb2.CommittedTransaction
    transaction_rejected: TransactionRejected
    block_committed: BlockCommitted
    leader_changed: LeaderChanged
    node_status: _node_pb2.NodeInfo
    anomaly: AnomalyFlagged
    def __init__(self, sequence: _Optional[int] = ..., timestamp_ms: _Optional[int] = ..., transaction_committed: _Optional[_Union[_transaction_pb2.CommittedTransaction, _Mapping]] = ..., transaction_rejected: _Optional[_Union[TransactionRejected, _Mapping]] = ..., block_committed: _Optional[_Union[BlockCommitted, _Mapping]] = ..., leader_changed: _Optional[_Union[LeaderChanged, _Mapping]] = ..., node_status: _Optional[_Union[_node_pb2.NodeInfo, _Mapping]] = ..., anomaly: _Optional[_Union[AnomalyFlagged, _Mapping]] = ...) -> None: ...

class SubscribeRequest(_message.Message):
    __slots__ = ("kinds", "account", "from_height")
    KINDS_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    FROM_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    kinds: _containers.RepeatedScalarFieldContainer[EventKind]
    account: bytes
    from_height: int
    def __init__(self, kinds: _Optional[_Iterable[_Union[EventKind, str]]] = ..., account: _Optional[bytes] = ..., from_height: _Optional[int] = ...) -> None: ...

class FanoutEvent(_message.Message):
    __slots__ = ("origin", "kind", "accounts", "event")
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    origin: str
    kind: EventKind
    accounts: _containers.RepeatedScalarFieldContainer[bytes]
    event: Event
    def __init__(self, origin: _Optional[str] = ..., kind: _Optional[_Union[EventKind, str]] = ..., accounts: _Optional[_Iterable[bytes]] = ..., event: _Optional[_Union[Event, _Mapping]] = ...) -> None: ...
