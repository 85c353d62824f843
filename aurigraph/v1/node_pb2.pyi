from aurigraph.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class NodeRole(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NODE_ROLE_UNSPECIFIED: _ClassVar[NodeRole]
    NODE_ROLE_LEADER: _ClassVar[NodeRole]
    NODE_ROLE_FOLLOWER: _ClassVar[NodeRole]
    NODE_ROLE_CANDIDATE: _ClassVar[NodeRole]
    NODE_ROLE_LEARNER: _ClassVar[NodeRole]

class NodeHealth(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NODE_HEALTH_UNSPECIFIED: _ClassVar[NodeHealth]
    NODE_HEALTH_UP: _ClassVar[NodeHealth]
    NODE_HEALTH_DEGRADED: _ClassVar[NodeHealth]
    NODE_HEALTH_DOWN: _ClassVar[NodeHealth]
NODE_ROLE_UNSPECIFIED: NodeRole
NODE_ROLE_LEADER: NodeRole
NODE_ROLE_FOLLOWER: NodeRole
NODE_ROLE_CANDIDATE: NodeRole
NODE_ROLE_LEARNER: NodeRole
NODE_HEALTH_UNSPECIFIED: NodeHealth
NODE_HEALTH_UP: NodeHealth
NODE_HEALTH_DEGRADED: NodeHealth
NODE_HEALTH_DOWN: NodeHealth

class Validator(_message.Message):
    __slots__ = ("id", "address", "scheme", "public_key", "stake", "name")
    ID_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    SCHEME_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    STAKE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    id: int
    address: bytes
    scheme: _common_pb2.SignatureScheme
    public_key: bytes
    stake: int
    name: str
    def __init__(self, id: _Optional[int] = ..., address: _Optional[bytes] = ..., scheme: _Optional[_Union[_common_pb2.SignatureScheme, str]] = ..., public_key: _Optional[bytes] = ..., stake: _Optional[int] = ..., name: _Optional[str] = ...) -> None: ...

class GenesisBalance(_message.Message):
    __slots__ = ("address", "amount")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    address: bytes
    amount: int
    def __init__(self, address: _Optional[bytes] = ..., amount: _Optional[int] = ...) -> None: ...

class ChainParams(_message.Message):
    __slots__ = ("min_fee", "max_block_txs", "max_clock_skew_ms", "max_tx_age_ms")
    MIN_FEE_FIELD_NUMBER: _ClassVar[int]
    MAX_BLOCK_TXS_FIELD_NUMBER: _ClassVar[int]
    MAX_CLOCK_SKEW_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_TX_AGE_MS_FIELD_NUMBER: _ClassVar[int]
    min_fee: int
    max_block_txs: int
    max_clock_skew_ms: int
    max_tx_age_ms: int
    def __init__(self, min_fee: _Optional[int] = ..., max_block_txs: _Optional[int] = ..., max_clock_skew_ms: _Optional[int] = ..., max_tx_age_ms: _Optional[int] = ...) -> None: ...

class Genesis(_message.Message):
    __slots__ = ("chain_id", "timestamp_ms", "balances", "validators", "params")
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_MS_FIELD_NUMBER: _ClassVar[int]
    BALANCES_FIELD_NUMBER: _ClassVar[int]
    VALIDATORS_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    chain_id: str
    timestamp_ms: int
    balances: _containers.RepeatedCompositeFieldContainer[GenesisBalance]
    validators: _containers.RepeatedCompositeFieldContainer[Validator]
    params: ChainParams
    def __init__(self, chain_id: _Optional[str] = ..., timestamp_ms: _Optional[int] = ..., balances: _Optional[_Iterable[_Union[GenesisBalance, _Mapping]]] = ..., validators: _Optional[_Iterable[_Union[Validator, _Mapping]]] = ..., params: _Optional[_Union[ChainParams, _Mapping]] = ...) -> None: ...

class NodeInfo(_message.Message):
    __slots__ = ("validator", "ray_node_id", "role", "health", "last_heartbeat_ms")
    VALIDATOR_FIELD_NUMBER: _ClassVar[int]
    RAY_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    HEALTH_FIELD_NUMBER: _ClassVar[int]
    LAST_HEARTBEAT_MS_FIELD_NUMBER: _ClassVar[int]
    validator: Validator
    ray_node_id: str
    role: NodeRole
    health: NodeHealth
    last_heartbeat_ms: int
    def __init__(self, validator: _Optional[_Union[Validator, _Mapping]] = ..., ray_node_id: _Optional[str] = ..., role: _Optional[_Union[NodeRole, str]] = ..., health: _Optional[_Union[NodeHealth, str]] = ..., last_heartbeat_ms: _Optional[int] = ...) -> None: ...

class ListNodesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListNodesResponse(_message.Message):
    __slots__ = ("nodes",)
    NODES_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedCompositeFieldContainer[NodeInfo]
    def __init__(self, nodes: _Optional[_Iterable[_Union[NodeInfo, _Mapping]]] = ...) -> None: ...

class JoinNodeRequest(_message.Message):
    __slots__ = ("validator", "as_learner")
    VALIDATOR_FIELD_NUMBER: _ClassVar[int]
    AS_LEARNER_FIELD_NUMBER: _ClassVar[int]
    validator: Validator
    as_learner: bool
    def __init__(self, validator: _Optional[_Union[Validator, _Mapping]] = ..., as_learner: _Optional[bool] = ...) -> None: ...

class LeaveNodeRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: int
    def __init__(self, id: _Optional[int] = ...) -> None: ...

class NodeChangeResponse(_message.Message):
    __slots__ = ("accepted", "detail")
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    accepted: bool
    detail: str
    def __init__(self, accepted: _Optional[bool] = ..., detail: _Optional[str] = ...) -> None: ...
