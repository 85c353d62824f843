from aurigraph.v1 import common_pb2 as _common_pb2
from aurigraph.v1 import transaction_pb2 as _transaction_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class BlockHeader(_message.Message):
    __slots__ = ("chain_id", "shard_id", "height", "prev_hash", "tx_root", "state_digest", "proposer", "timestamp_ms", "tx_count")
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    SHARD_ID_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    PREV_HASH_FIELD_NUMBER: _ClassVar[int]
    TX_ROOT_FIELD_NUMBER: _ClassVar[int]
    STATE_DIGEST_FIELD_NUMBER: _ClassVar[int]
    PROPOSER_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_MS_FIELD_NUMBER: _ClassVar[int]
    TX_COUNT_FIELD_NUMBER: _ClassVar[int]
    chain_id: str
    shard_id: int
    height: int
    prev_hash: bytes
    tx_root: bytes
    state_digest: bytes
    proposer: bytes
    timestamp_ms: int
    tx_count: int
    def __init__(self, chain_id: _Optional[str] = ..., shard_id: _Optional[int] = ..., height: _Optional[int] = ..., prev_hash: _Optional[bytes] = ..., tx_root: _Optional[bytes] = ..., state_digest: _Optional[bytes] = ..., proposer: _Optional[bytes] = ..., timestamp_ms: _Optional[int] = ..., tx_count: _Optional[int] = ...) -> None: ...

class BlockSignature(_message.Message):
    __slots__ = ("signer", "signature")
    SIGNER_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    signer: bytes
    signature: _common_pb2.Signature
    def __init__(self, signer: _Optional[bytes] = ..., signature: _Optional[_Union[_common_pb2.Signature, _Mapping]] = ...) -> None: ...

class Block(_message.Message):
    __slots__ = ("header", "transactions", "signatures")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    TRANSACTIONS_FIELD_NUMBER: _ClassVar[int]
    SIGNATURES_FIELD_NUMBER: _ClassVar[int]
    header: BlockHeader
    transactions: _containers.RepeatedCompositeFieldContainer[_transaction_pb2.SignedTransaction]
    signatures: _containers.RepeatedCompositeFieldContainer[BlockSignature]
    def __init__(self, header: _Optional[_Union[BlockHeader, _Mapping]] = ..., transactions: _Optional[_Iterable[_Union[_transaction_pb2.SignedTransaction, _Mapping]]] = ..., signatures: _Optional[_Iterable[_Union[BlockSignature, _Mapping]]] = ...) -> None: ...

class GetBlockRequest(_message.Message):
    __slots__ = ("height", "latest")
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    LATEST_FIELD_NUMBER: _ClassVar[int]
    height: int
    latest: bool
    def __init__(self, height: _Optional[int] = ..., latest: _Optional[bool] = ...) -> None: ...

class BlockRecord(_message.Message):
    __slots__ = ("block", "hash", "receipts", "confidence")
    BLOCK_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    RECEIPTS_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    block: Block
    hash: bytes
    receipts: _containers.RepeatedCompositeFieldContainer[_transaction_pb2.Receipt]
    confidence: float
    def __init__(self, block: _Optional[_Union[Block, _Mapping]] = ..., hash: _Optional[bytes] = ..., receipts: _Optional[_Iterable[_Union[_transaction_pb2.Receipt, _Mapping]]] = ..., confidence: _Optional[float] = ...) -> None: ...

class Account(_message.Message):
    __slots__ = ("address", "balance", "nonce")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    address: bytes
    balance: int
    nonce: int
    def __init__(self, address: _Optional[bytes] = ..., balance: _Optional[int] = ..., nonce: _Optional[int] = ...) -> None: ...

class LedgerSnapshot(_message.Message):
    __slots__ = ("genesis_hash", "head", "accounts", "data", "meta")
    GENESIS_HASH_FIELD_NUMBER: _ClassVar[int]
    HEAD_FIELD_NUMBER: _ClassVar[int]
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    META_FIELD_NUMBER: _ClassVar[int]
    genesis_hash: bytes
    head: BlockHeader
    accounts: _containers.RepeatedCompositeFieldContainer[Account]
    data: _containers.RepeatedCompositeFieldContainer[DataDigest]
    meta: _containers.RepeatedCompositeFieldContainer[MetaEntry]
    def __init__(self, genesis_hash: _Optional[bytes] = ..., head: _Optional[_Union[BlockHeader, _Mapping]] = ..., accounts: _Optional[_Iterable[_Union[Account, _Mapping]]] = ..., data: _Optional[_Iterable[_Union[DataDigest, _Mapping]]] = ..., meta: _Optional[_Iterable[_Union[MetaEntry, _Mapping]]] = ...) -> None: ...

class MetaEntry(_message.Message):
    __slots__ = ("key", "value")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    key: bytes
    value: bytes
    def __init__(self, key: _Optional[bytes] = ..., value: _Optional[bytes] = ...) -> None: ...

class DataDigest(_message.Message):
    __slots__ = ("address", "key", "value_digest")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_DIGEST_FIELD_NUMBER: _ClassVar[int]
    address: bytes
    key: str
    value_digest: bytes
    def __init__(self, address: _Optional[bytes] = ..., key: _Optional[str] = ..., value_digest: _Optional[bytes] = ...) -> None: ...

class GetAccountRequest(_message.Message):
    __slots__ = ("address",)
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    address: bytes
    def __init__(self, address: _Optional[bytes] = ...) -> None: ...
