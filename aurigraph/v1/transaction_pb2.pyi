from aurigraph.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ComplianceAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COMPLIANCE_ACTION_UNSPECIFIED: _ClassVar[ComplianceAction]
    COMPLIANCE_ACTION_REJECT: _ClassVar[ComplianceAction]
    COMPLIANCE_ACTION_FLAG: _ClassVar[ComplianceAction]

class TransactionStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRANSACTION_STATUS_UNKNOWN: _ClassVar[TransactionStatus]
    TRANSACTION_STATUS_PENDING: _ClassVar[TransactionStatus]
    TRANSACTION_STATUS_COMMITTED: _ClassVar[TransactionStatus]
    TRANSACTION_STATUS_REJECTED: _ClassVar[TransactionStatus]
    TRANSACTION_STATUS_DROPPED: _ClassVar[TransactionStatus]
COMPLIANCE_ACTION_UNSPECIFIED: ComplianceAction
COMPLIANCE_ACTION_REJECT: ComplianceAction
COMPLIANCE_ACTION_FLAG: ComplianceAction
TRANSACTION_STATUS_UNKNOWN: TransactionStatus
TRANSACTION_STATUS_PENDING: TransactionStatus
TRANSACTION_STATUS_COMMITTED: TransactionStatus
TRANSACTION_STATUS_REJECTED: TransactionStatus
TRANSACTION_STATUS_DROPPED: TransactionStatus

class TransactionBody(_message.Message):
    __slots__ = ("chain_id", "sender", "nonce", "fee", "timestamp_ms", "transfer", "data", "admin")
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    SENDER_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    FEE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_MS_FIELD_NUMBER: _ClassVar[int]
    TRANSFER_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    ADMIN_FIELD_NUMBER: _ClassVar[int]
    chain_id: str
    sender: bytes
    nonce: int
    fee: int
    timestamp_ms: int
    transfer: Transfer
    data: DataWrite
    admin: AdminAction
    def __init__(self, chain_id: _Optional[str] = ..., sender: _Optional[bytes] = ..., nonce: _Optional[int] = ..., fee: _Optional[int] = ..., timestamp_ms: _Optional[int] = ..., transfer: _Optional[_Union[Transfer, _Mapping]] = ..., data: _Optional[_Union[DataWrite, _Mapping]] = ..., admin: _Optional[_Union[AdminAction, _Mapping]] = ...) -> None: ...

class Transfer(_message.Message):
    __slots__ = ("recipient", "amount")
    RECIPIENT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    recipient: bytes
    amount: int
    def __init__(self, recipient: _Optional[bytes] = ..., amount: _Optional[int] = ...) -> None: ...

class DataWrite(_message.Message):
    __slots__ = ("key", "plain", "sealed")
    KEY_FIELD_NUMBER: _ClassVar[int]
    PLAIN_FIELD_NUMBER: _ClassVar[int]
    SEALED_FIELD_NUMBER: _ClassVar[int]
    key: str
    plain: bytes
    sealed: SealedPayload
    def __init__(self, key: _Optional[str] = ..., plain: _Optional[bytes] = ..., sealed: _Optional[_Union[SealedPayload, _Mapping]] = ...) -> None: ...

class SealedPayload(_message.Message):
    __slots__ = ("nonce", "ciphertext", "recipients")
    NONCE_FIELD_NUMBER: _ClassVar[int]
    CIPHERTEXT_FIELD_NUMBER: _ClassVar[int]
    RECIPIENTS_FIELD_NUMBER: _ClassVar[int]
    nonce: bytes
    ciphertext: bytes
    recipients: _containers.RepeatedCompositeFieldContainer[SealedRecipient]
    def __init__(self, nonce: _Optional[bytes] = ..., ciphertext: _Optional[bytes] = ..., recipients: _Optional[_Iterable[_Union[SealedRecipient, _Mapping]]] = ...) -> None: ...

class SealedRecipient(_message.Message):
    __slots__ = ("key_id", "kem_ciphertext", "wrap_nonce", "wrapped_key")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    KEM_CIPHERTEXT_FIELD_NUMBER: _ClassVar[int]
    WRAP_NONCE_FIELD_NUMBER: _ClassVar[int]
    WRAPPED_KEY_FIELD_NUMBER: _ClassVar[int]
    key_id: bytes
    kem_ciphertext: bytes
    wrap_nonce: bytes
    wrapped_key: bytes
    def __init__(self, key_id: _Optional[bytes] = ..., kem_ciphertext: _Optional[bytes] = ..., wrap_nonce: _Optional[bytes] = ..., wrapped_key: _Optional[bytes] = ...) -> None: ...

class AdminAction(_message.Message):
    __slots__ = ("set_rules", "set_kyc", "rotate_key", "note")
    SET_RULES_FIELD_NUMBER: _ClassVar[int]
    SET_KYC_FIELD_NUMBER: _ClassVar[int]
    ROTATE_KEY_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    set_rules: ComplianceRules
    set_kyc: KycAttestation
    rotate_key: ValidatorKeyRotation
    note: AdminNote
    def __init__(self, set_rules: _Optional[_Union[ComplianceRules, _Mapping]] = ..., set_kyc: _Optional[_Union[KycAttestation, _Mapping]] = ..., rotate_key: _Optional[_Union[ValidatorKeyRotation, _Mapping]] = ..., note: _Optional[_Union[AdminNote, _Mapping]] = ...) -> None: ...

class ComplianceRule(_message.Message):
    __slots__ = ("name", "action", "denied", "max_tx_amount", "max_daily_amount", "kyc_above_balance")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    DENIED_FIELD_NUMBER: _ClassVar[int]
    MAX_TX_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    MAX_DAILY_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    KYC_ABOVE_BALANCE_FIELD_NUMBER: _ClassVar[int]
    name: str
    action: ComplianceAction
    denied: AddressList
    max_tx_amount: int
    max_daily_amount: int
    kyc_above_balance: int
    def __init__(self, name: _Optional[str] = ..., action: _Optional[_Union[ComplianceAction, str]] = ..., denied: _Optional[_Union[AddressList, _Mapping]] = ..., max_tx_amount: _Optional[int] = ..., max_daily_amount: _Optional[int] = ..., kyc_above_balance: _Optional[int] = ...) -> None: ...

class AddressList(_message.Message):
    __slots__ = ("addresses",)
    ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    addresses: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, addresses: _Optional[_Iterable[bytes]] = ...) -> None: ...

class ComplianceRules(_message.Message):
    __slots__ = ("rules",)
    RULES_FIELD_NUMBER: _ClassVar[int]
    rules: _containers.RepeatedCompositeFieldContainer[ComplianceRule]
    def __init__(self, rules: _Optional[_Iterable[_Union[ComplianceRule, _Mapping]]] = ...) -> None: ...

class GetComplianceRulesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class KycAttestation(_message.Message):
    __slots__ = ("account", "attested")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    ATTESTED_FIELD_NUMBER: _ClassVar[int]
    account: bytes
    attested: bool
    def __init__(self, account: _Optional[bytes] = ..., attested: _Optional[bool] = ...) -> None: ...

class ValidatorKeyRotation(_message.Message):
    __slots__ = ("validator_id", "scheme", "public_key", "proof")
    VALIDATOR_ID_FIELD_NUMBER: _ClassVar[int]
    SCHEME_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    PROOF_FIELD_NUMBER: _ClassVar[int]
    validator_id: int
    scheme: _common_pb2.SignatureScheme
    public_key: bytes
    proof: bytes
    def __init__(self, validator_id: _Optional[int] = ..., scheme: _Optional[_Union[_common_pb2.SignatureScheme, str]] = ..., public_key: _Optional[bytes] = ..., proof: _Optional[bytes] = ...) -> None: ...

class AdminNote(_message.Message):
    __slots__ = ("kind", "detail", "principal")
    KIND_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    kind: str
    detail: str
    principal: str
    def __init__(self, kind: _Optional[str] = ..., detail: _Optional[str] = ..., principal: _Optional[str] = ...) -> None: ...

class SignedTransaction(_message.Message):
    __slots__ = ("body", "scheme", "public_key", "signature")
    BODY_FIELD_NUMBER: _ClassVar[int]
    SCHEME_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    body: bytes
    scheme: _common_pb2.SignatureScheme
    public_key: bytes
    signature: bytes
    def __init__(self, body: _Optional[bytes] = ..., scheme: _Optional[_Union[_common_pb2.SignatureScheme, str]] = ..., public_key: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...

class Receipt(_message.Message):
    __slots__ = ("tx_id", "status", "reason", "height", "index", "fee_paid", "compliance_rules")
    TX_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    FEE_PAID_FIELD_NUMBER: _ClassVar[int]
    COMPLIANCE_RULES_FIELD_NUMBER: _ClassVar[int]
    tx_id: bytes
    status: TransactionStatus
    reason: _common_pb2.RejectReason
    height: int
    index: int
    fee_paid: int
    compliance_rules: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, tx_id: _Optional[bytes] = ..., status: _Optional[_Union[TransactionStatus, str]] = ..., reason: _Optional[_Union[_common_pb2.RejectReason, str]] = ..., height: _Optional[int] = ..., index: _Optional[int] = ..., fee_paid: _Optional[int] = ..., compliance_rules: _Optional[_Iterable[str]] = ...) -> None: ...

class SubmitRequest(_message.Message):
    __slots__ = ("transaction", "wait_committed", "timeout_ms")
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    WAIT_COMMITTED_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    transaction: SignedTransaction
    wait_committed: bool
    timeout_ms: int
    def __init__(self, transaction: _Optional[_Union[SignedTransaction, _Mapping]] = ..., wait_committed: _Optional[bool] = ..., timeout_ms: _Optional[int] = ...) -> None: ...

class SubmitResponse(_message.Message):
    __slots__ = ("tx_id", "status", "reason", "detail", "receipt", "retry_after_ms", "authenticated")
    TX_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    RETRY_AFTER_MS_FIELD_NUMBER: _ClassVar[int]
    AUTHENTICATED_FIELD_NUMBER: _ClassVar[int]
    tx_id: bytes
    status: TransactionStatus
    reason: _common_pb2.RejectReason
    detail: str
    receipt: Receipt
    retry_after_ms: int
    authenticated: bool
    def __init__(self, tx_id: _Optional[bytes] = ..., status: _Optional[_Union[TransactionStatus, str]] = ..., reason: _Optional[_Union[_common_pb2.RejectReason, str]] = ..., detail: _Optional[str] = ..., receipt: _Optional[_Union[Receipt, _Mapping]] = ..., retry_after_ms: _Optional[int] = ..., authenticated: _Optional[bool] = ...) -> None: ...

class SubmitStreamResponse(_message.Message):
    __slots__ = ("sequence", "result", "code", "detail", "grpc_status", "retry_after_ms")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    GRPC_STATUS_FIELD_NUMBER: _ClassVar[int]
    RETRY_AFTER_MS_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    result: SubmitResponse
    code: str
    detail: str
    grpc_status: int
    retry_after_ms: int
    def __init__(self, sequence: _Optional[int] = ..., result: _Optional[_Union[SubmitResponse, _Mapping]] = ..., code: _Optional[str] = ..., detail: _Optional[str] = ..., grpc_status: _Optional[int] = ..., retry_after_ms: _Optional[int] = ...) -> None: ...

class TransactionBatch(_message.Message):
    __slots__ = ("transactions",)
    TRANSACTIONS_FIELD_NUMBER: _ClassVar[int]
    transactions: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, transactions: _Optional[_Iterable[bytes]] = ...) -> None: ...

class ValidatedBatch(_message.Message):
    __slots__ = ("transactions", "tx_ids")
    TRANSACTIONS_FIELD_NUMBER: _ClassVar[int]
    TX_IDS_FIELD_NUMBER: _ClassVar[int]
    transactions: _containers.RepeatedScalarFieldContainer[bytes]
    tx_ids: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, transactions: _Optional[_Iterable[bytes]] = ..., tx_ids: _Optional[_Iterable[bytes]] = ...) -> None: ...

class BatchSubmitRequest(_message.Message):
    __slots__ = ("transactions", "wait_committed", "timeout_ms")
    TRANSACTIONS_FIELD_NUMBER: _ClassVar[int]
    WAIT_COMMITTED_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    transactions: _containers.RepeatedCompositeFieldContainer[SignedTransaction]
    wait_committed: bool
    timeout_ms: int
    def __init__(self, transactions: _Optional[_Iterable[_Union[SignedTransaction, _Mapping]]] = ..., wait_committed: _Optional[bool] = ..., timeout_ms: _Optional[int] = ...) -> None: ...

class BatchSubmitResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[SubmitResponse]
    def __init__(self, results: _Optional[_Iterable[_Union[SubmitResponse, _Mapping]]] = ...) -> None: ...

class StreamTransactionsRequest(_message.Message):
    __slots__ = ("from_height", "account")
    FROM_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    from_height: int
    account: bytes
    def __init__(self, from_height: _Optional[int] = ..., account: _Optional[bytes] = ...) -> None: ...

class CommittedTransaction(_message.Message):
    __slots__ = ("transaction", "receipt")
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    transaction: SignedTransaction
    receipt: Receipt
    def __init__(self, transaction: _Optional[_Union[SignedTransaction, _Mapping]] = ..., receipt: _Optional[_Union[Receipt, _Mapping]] = ...) -> None: ...

class GetTransactionRequest(_message.Message):
    __slots__ = ("tx_id",)
    TX_ID_FIELD_NUMBER: _ClassVar[int]
    tx_id: bytes
    def __init__(self, tx_id: _Optional[bytes] = ...) -> None: ...

class TransactionRecord(_message.Message):
    __slots__ = ("tx_id", "status", "reason", "detail", "transaction", "receipt", "confidence")
    TX_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    tx_id: bytes
    status: TransactionStatus
    reason: _common_pb2.RejectReason
    detail: str
    transaction: SignedTransaction
    receipt: Receipt
    confidence: float
    def __init__(self, tx_id: _Optional[bytes] = ..., status: _Optional[_Union[TransactionStatus, str]] = ..., reason: _Optional[_Union[_common_pb2.RejectReason, str]] = ..., detail: _Optional[str] = ..., transaction: _Optional[_Union[SignedTransaction, _Mapping]] = ..., receipt: _Optional[_Union[Receipt, _Mapping]] = ..., confidence: _Optional[float] = ...) -> None: ...
