"""HyperRAFT++: the consensus core of Aurigraph, a pure Raft library in the style of etcd-io/raft.

Import what a driver needs from here: `RawNode` and its `Ready`, `Config`, `MemoryStorage` (or any
`Storage`), the value types mirroring `aurigraph/v1/consensus.proto`, and the typed errors. The
core does no I/O, uses no threads or wall clock, and takes its randomness as a `random.Random`.
"""

from aurigraph.consensus.confchange import decode_conf_change, encode_conf_change
from aurigraph.consensus.config import Config
from aurigraph.consensus.errors import (
    Compacted,
    ConfChangeRejected,
    ConfigError,
    ConsensusError,
    NotLeader,
    ProposalDropped,
    SnapshotOutOfDate,
    Unavailable,
)
from aurigraph.consensus.raft import StateRole
from aurigraph.consensus.rawnode import RawNode, Ready, SoftState
from aurigraph.consensus.read_only import ReadState
from aurigraph.consensus.storage import MemoryStorage, Storage
from aurigraph.consensus.types import (
    BatchKnobs,
    ConfChange,
    ConfChangeType,
    ConfState,
    ConsensusStatus,
    Entry,
    EntryType,
    HardState,
    Message,
    MessageType,
    ReplicaProgress,
    Snapshot,
    SnapshotMetadata,
)

__all__ = [
    "BatchKnobs", "Compacted", "ConfChange", "ConfChangeRejected", "ConfChangeType", "ConfState", "Config",
    "ConfigError", "ConsensusError", "ConsensusStatus", "Entry", "EntryType", "HardState", "MemoryStorage", "Message",
    "MessageType", "NotLeader", "ProposalDropped", "RawNode", "ReadState", "Ready", "ReplicaProgress", "Snapshot",
    "SnapshotMetadata", "SnapshotOutOfDate", "SoftState", "StateRole", "Storage", "Unavailable",
    "decode_conf_change", "encode_conf_change",
]
