from aurigraph.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SignatureCheck(_message.Message):
    __slots__ = ("signature", "message")
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    signature: _common_pb2.Signature
    message: bytes
    def __init__(self, signature: _Optional[_Union[_common_pb2.Signature, _Mapping]] = ..., message: _Optional[bytes] = ...) -> None: ...

class VerifyRequest(_message.Message):
    __slots__ = ("checks",)
    CHECKS_FIELD_NUMBER: _ClassVar[int]
    checks: _containers.RepeatedCompositeFieldContainer[SignatureCheck]
    def __init__(self, checks: _Optional[_Iterable[_Union[SignatureCheck, _Mapping]]] = ...) -> None: ...

class VerifyResponse(_message.Message):
    __slots__ = ("valid",)
    VALID_FIELD_NUMBER: _ClassVar[int]
    valid: _containers.RepeatedScalarFieldContainer[bool]
    def __init__(self, valid: _Optional[_Iterable[bool]] = ...) -> None: ...

class KemPublicKeyRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class KemPublicKey(_message.Message):
    __slots__ = ("algorithm", "public_key", "key_id")
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    algorithm: str
    public_key: bytes
    key_id: bytes
    def __init__(self, algorithm: _Optional[str] = ..., public_key: _Optional[bytes] = ..., key_id: _Optional[bytes] = ...) -> None: ...
