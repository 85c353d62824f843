from aurigraph.v1 import events_pb2 as _events_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DataWindow(_message.Message):
    __slots__ = ("since_ms", "until_ms", "rows")
    SINCE_MS_FIELD_NUMBER: _ClassVar[int]
    UNTIL_MS_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    since_ms: int
    until_ms: int
    rows: int
    def __init__(self, since_ms: _Optional[int] = ..., until_ms: _Optional[int] = ..., rows: _Optional[int] = ...) -> None: ...

class ModelVersion(_message.Message):
    __slots__ = ("name", "version", "checksum", "created_ms", "source", "metrics", "data", "code_version", "serving")
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CHECKSUM_FIELD_NUMBER: _ClassVar[int]
    CREATED_MS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    CODE_VERSION_FIELD_NUMBER: _ClassVar[int]
    SERVING_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    checksum: str
    created_ms: int
    source: str
    metrics: _containers.ScalarMap[str, float]
    data: DataWindow
    code_version: str
    serving: bool
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., checksum: _Optional[str] = ..., created_ms: _Optional[int] = ..., source: _Optional[str] = ..., metrics: _Optional[_Mapping[str, float]] = ..., data: _Optional[_Union[DataWindow, _Mapping]] = ..., code_version: _Optional[str] = ..., serving: _Optional[bool] = ...) -> None: ...

class ListModelsRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListModelsResponse(_message.Message):
    __slots__ = ("versions",)
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.RepeatedCompositeFieldContainer[ModelVersion]
    def __init__(self, versions: _Optional[_Iterable[_Union[ModelVersion, _Mapping]]] = ...) -> None: ...

class RetrainRequest(_message.Message):
    __slots__ = ("name", "since_ms", "promote")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SINCE_MS_FIELD_NUMBER: _ClassVar[int]
    PROMOTE_FIELD_NUMBER: _ClassVar[int]
    name: str
    since_ms: int
    promote: bool
    def __init__(self, name: _Optional[str] = ..., since_ms: _Optional[int] = ..., promote: _Optional[bool] = ...) -> None: ...

class RetrainResponse(_message.Message):
    __slots__ = ("candidate", "candidate_metrics", "serving_metrics", "promoted", "reason")
    class CandidateMetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class ServingMetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    CANDIDATE_FIELD_NUMBER: _ClassVar[int]
    CANDIDATE_METRICS_FIELD_NUMBER: _ClassVar[int]
    SERVING_METRICS_FIELD_NUMBER: _ClassVar[int]
    PROMOTED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    candidate: ModelVersion
    candidate_metrics: _containers.ScalarMap[str, float]
    serving_metrics: _containers.ScalarMap[str, float]
    promoted: bool
    reason: str
    def __init__(self, candidate: _Optional[_Union[ModelVersion, _Mapping]] = ..., candidate_metrics: _Optional[_Mapping[str, float]] = ..., serving_metrics: _Optional[_Mapping[str, float]] = ..., promoted: _Optional[bool] = ..., reason: _Optional[str] = ...) -> None: ...

class PromoteModelRequest(_message.Message):
    __slots__ = ("name", "version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class RollbackModelRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ModelChangeResponse(_message.Message):
    __slots__ = ("serving",)
    SERVING_FIELD_NUMBER: _ClassVar[int]
    serving: ModelVersion
    def __init__(self, serving: _Optional[_Union[ModelVersion, _Mapping]] = ...) -> None: ...

class ListAnomaliesRequest(_message.Message):
    __slots__ = ("from_sequence", "limit")
    FROM_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    from_sequence: int
    limit: int
    def __init__(self, from_sequence: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class ListAnomaliesResponse(_message.Message):
    __slots__ = ("anomalies", "next_sequence", "last_sequence")
    ANOMALIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    anomalies: _containers.RepeatedCompositeFieldContainer[_events_pb2.AnomalyFlagged]
    next_sequence: int
    last_sequence: int
    def __init__(self, anomalies: _Optional[_Iterable[_Union[_events_pb2.AnomalyFlagged, _Mapping]]] = ..., next_sequence: _Optional[int] = ..., last_sequence: _Optional[int] = ...) -> None: ...
