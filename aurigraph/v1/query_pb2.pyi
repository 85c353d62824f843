from aurigraph.v1 import block_pb2 as _block_pb2
from aurigraph.v1 import common_pb2 as _common_pb2
from aurigraph.v1 import transaction_pb2 as _transaction_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class IndexedTransaction(_message.Message):
    __slots__ = ("tx_id", "height", "position", "sender", "nonce", "fee", "timestamp_ms", "transfer", "data_key", "status", "reason", "fee_paid")
    TX_ID_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    SENDER_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    FEE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_MS_FIELD_NUMBER: _ClassVar[int]
    TRANSFER_FIELD_NUMBER: _ClassVar[int]
    DATA_KEY_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    FEE_PAID_FIELD_NUMBER: _ClassVar[int]
    tx_id: bytes
    height: int
    position: int
    sender: bytes
    nonce: int
    fee: int
    timestamp_ms: int
    transfer: IndexedTransfer
    data_key: str
    status: _transaction_pb2.TransactionStatus
    reason: _common_pb2.RejectReason
    fee_paid: int
    def __init__(self, tx_id: _Optional[bytes] = ..., height: _Optional[int] = ..., position: _Optional[int] = ..., sender: _Optional[bytes] = ..., nonce: _Optional[int] = ..., fee: _Optional[int] = ..., timestamp_ms: _Optional[int] = ..., transfer: _Optional[_Union[IndexedTransfer, _Mapping]] = ..., data_key: _Optional[str] = ..., status: _Optional[_Union[_transaction_pb2.TransactionStatus, str]] = ..., reason: _Optional[_Union[_common_pb2.RejectReason, str]] = ..., fee_paid: _Optional[int] = ...) -> None: ...

class IndexedTransfer(_message.Message):
    __slots__ = ("recipient", "amount")
    RECIPIENT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    recipient: bytes
    amount: int
    def __init__(self, recipient: _Optional[bytes] = ..., amount: _Optional[int] = ...) -> None: ...

class AccountTransactionsResponse(_message.Message):
    __slots__ = ("transactions", "next_page", "indexed_height")
    TRANSACTIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_FIELD_NUMBER: _ClassVar[int]
    INDEXED_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    transactions: _containers.RepeatedCompositeFieldContainer[IndexedTransaction]
    next_page: str
    indexed_height: int
    def __init__(self, transactions: _Optional[_Iterable[_Union[IndexedTransaction, _Mapping]]] = ..., next_page: _Optional[str] = ..., indexed_height: _Optional[int] = ...) -> None: ...

class BlockSummary(_message.Message):
    __slots__ = ("header", "hash")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    header: _block_pb2.BlockHeader
    hash: bytes
    def __init__(self, header: _Optional[_Union[_block_pb2.BlockHeader, _Mapping]] = ..., hash: _Optional[bytes] = ...) -> None: ...

class BlockRangeResponse(_message.Message):
    __slots__ = ("blocks", "next_from")
    BLOCKS_FIELD_NUMBER: _ClassVar[int]
    NEXT_FROM_FIELD_NUMBER: _ClassVar[int]
    blocks: _containers.RepeatedCompositeFieldContainer[BlockSummary]
    next_from: int
    def __init__(self, blocks: _Optional[_Iterable[_Union[BlockSummary, _Mapping]]] = ..., next_from: _Optional[int] = ...) -> None: ...

class AuditRecord(_message.Message):
    __slots__ = ("block", "transaction")
    BLOCK_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    block: AuditBlock
    transaction: AuditTransaction
    def __init__(self, block: _Optional[_Union[AuditBlock, _Mapping]] = ..., transaction: _Optional[_Union[AuditTransaction, _Mapping]] = ...) -> None: ...

class AuditBlock(_message.Message):
    __slots__ = ("header", "hash", "signatures")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    SIGNATURES_FIELD_NUMBER: _ClassVar[int]
    header: _block_pb2.BlockHeader
    hash: bytes
    signatures: _containers.RepeatedCompositeFieldContainer[_block_pb2.BlockSignature]
    def __init__(self, header: _Optional[_Union[_block_pb2.BlockHeader, _Mapping]] = ..., hash: _Optional[bytes] = ..., signatures: _Optional[_Iterable[_Union[_block_pb2.BlockSignature, _Mapping]]] = ...) -> None: ...

class AuditTransaction(_message.Message):
    __slots__ = ("height", "position", "block_hash", "transaction", "receipt", "proof", "body")
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    BLOCK_HASH_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    PROOF_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    height: int
    position: int
    block_hash: bytes
    transaction: _transaction_pb2.SignedTransaction
    receipt: _transaction_pb2.Receipt
    proof: _containers.RepeatedScalarFieldContainer[bytes]
    body: _transaction_pb2.TransactionBody
    def __init__(self, height: _Optional[int] = ..., position: _Optional[int] = ..., block_hash: _Optional[bytes] = ..., transaction: _Optional[_Union[_transaction_pb2.SignedTransaction, _Mapping]] = ..., receipt: _Optional[_Union[_transaction_pb2.Receipt, _Mapping]] = ..., proof: _Optional[_Iterable[bytes]] = ..., body: _Optional[_Union[_transaction_pb2.TransactionBody, _Mapping]] = ...) -> None: ...
