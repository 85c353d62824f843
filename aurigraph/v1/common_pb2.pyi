from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SignatureScheme(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SIGNATURE_SCHEME_UNSPECIFIED: _ClassVar[SignatureScheme]
    SIGNATURE_SCHEME_ED25519: _ClassVar[SignatureScheme]
    SIGNATURE_SCHEME_ML_DSA_87: _ClassVar[SignatureScheme]
    SIGNATURE_SCHEME_HYBRID: _ClassVar[SignatureScheme]

class RejectReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REJECT_REASON_UNSPECIFIED: _ClassVar[RejectReason]
    REJECT_REASON_MALFORMED: _ClassVar[RejectReason]
    REJECT_REASON_OVERSIZE: _ClassVar[RejectReason]
    REJECT_REASON_UNKNOWN_SCHEME: _ClassVar[RejectReason]
    REJECT_REASON_BAD_SIGNATURE: _ClassVar[RejectReason]
    REJECT_REASON_SENDER_MISMATCH: _ClassVar[RejectReason]
    REJECT_REASON_WRONG_CHAIN: _ClassVar[RejectReason]
    REJECT_REASON_NONCE_REPLAY: _ClassVar[RejectReason]
    REJECT_REASON_NONCE_GAP: _ClassVar[RejectReason]
    REJECT_REASON_INSUFFICIENT_BALANCE: _ClassVar[RejectReason]
    REJECT_REASON_INVALID_AMOUNT: _ClassVar[RejectReason]
    REJECT_REASON_FEE_TOO_LOW: _ClassVar[RejectReason]
    REJECT_REASON_BAD_TIMESTAMP: _ClassVar[RejectReason]
    REJECT_REASON_HELD_FOR_REVIEW: _ClassVar[RejectReason]
    REJECT_REASON_COMPLIANCE: _ClassVar[RejectReason]
    REJECT_REASON_NOT_AUTHORIZED: _ClassVar[RejectReason]
    REJECT_REASON_INVALID_ADMIN_ACTION: _ClassVar[RejectReason]
SIGNATURE_SCHEME_UNSPECIFIED: SignatureScheme
SIGNATURE_SCHEME_ED25519: SignatureScheme
SIGNATURE_SCHEME_ML_DSA_87: SignatureScheme
SIGNATURE_SCHEME_HYBRID: SignatureScheme
REJECT_REASON_UNSPECIFIED: RejectReason
REJECT_REASON_MALFORMED: RejectReason
REJECT_REASON_OVERSIZE: RejectReason
REJECT_REASON_UNKNOWN_SCHEME: RejectReason
REJECT_REASON_BAD_SIGNATURE: RejectReason
REJECT_REASON_SENDER_MISMATCH: RejectReason
REJECT_REASON_WRONG_CHAIN: RejectReason
REJECT_REASON_NONCE_REPLAY: RejectReason
REJECT_REASON_NONCE_GAP: RejectReason
REJECT_REASON_INSUFFICIENT_BALANCE: RejectReason
REJECT_REASON_INVALID_AMOUNT: RejectReason
REJECT_REASON_FEE_TOO_LOW: RejectReason
REJECT_REASON_BAD_TIMESTAMP: RejectReason
REJECT_REASON_HELD_FOR_REVIEW: RejectReason
REJECT_REASON_COMPLIANCE: RejectReason
REJECT_REASON_NOT_AUTHORIZED: RejectReason
REJECT_REASON_INVALID_ADMIN_ACTION: RejectReason

class Signature(_message.Message):
    __slots__ = ("scheme", "public_key", "signature")
    SCHEME_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    scheme: SignatureScheme
    public_key: bytes
    signature: bytes
    def __init__(self, scheme: _Optional[_Union[SignatureScheme, str]] = ..., public_key: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...

class ApiError(_message.Message):
    __slots__ = ("code", "detail", "reason", "retry_after_ms")
    CODE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    RETRY_AFTER_MS_FIELD_NUMBER: _ClassVar[int]
    code: str
    detail: str
    reason: RejectReason
    retry_after_ms: int
    def __init__(self, code: _Optional[str] = ..., detail: _Optional[str] = ..., reason: _Optional[_Union[RejectReason, str]] = ..., retry_after_ms: _Optional[int] = ...) -> None: ...
