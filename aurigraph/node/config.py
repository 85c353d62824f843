"""The node's settings: one typed, validated object, read once at the edge (CLI flags / env).

Times at this edge are in milliseconds (`_ms`); the consensus core gets ticks, derived here.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from aurigraph.consensus import Config

CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def usable_cpus() -> int:
    """The CPUs this process may use: its affinity mask, capped by a cgroup v2 CPU quota (a
    container's `--cpus`, rounded up), as Ray counts them. `os.cpu_count()` is the host's count,
    which in a container can be many times what the node may use."""
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        quota, period = CGROUP_CPU_MAX.read_text().split()
        if quota != "max":
            n = min(n, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):  # no cgroup v2 quota here
        pass
    return max(1, n)


class NodeSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    data_dir: Path = Path("data")
    chain_id: str = Field("aurigraph-devnet", min_length=1, max_length=64)
    replicas: int = Field(3, ge=1, le=15)
    validators: int = Field(default_factory=usable_cpus, ge=1, le=64)
    shards: int = Field(2, ge=1, le=64)
    tick_ms: int = Field(20, ge=1, le=1000)
    # A replica's loop is busy for the whole of a block (about 170 µs a transaction on a 2-core
    # machine: 1.7 s for 10,000), and followers that hear nothing for this long start an election:
    # keep it well above the longest block, or a busy leader gets deposed (150 ticks: 3 to 6 s).
    election_ticks: int = Field(150, ge=2)
    # 300 ms: a tenth of the shortest election timeout (150 ticks), etcd's ratio (its defaults are
    # 100 ms and 1 s). Each heartbeat is two actor calls per follower; at 100 ms they were a third
    # of an idle node's replica CPU (docs/performance.md).
    heartbeat_ticks: int = Field(15, ge=1)
    max_batch_txs: int = Field(10_000, ge=1, le=100_000)
    # 0: a transaction arriving at an idle leader is proposed at once. Under load transactions gather
    # by themselves while the block before is in flight; the optimizer may set a wait.
    batch_wait_ms: int = Field(0, ge=0, le=10_000)
    max_pending_txs: int = Field(200_000, ge=1)
    submit_timeout_ms: int = Field(10_000, ge=1)
    # Raft snapshots (see `DriverSettings`): after this many applied entries or transactions, and how
    # many entries stay behind a snapshot for followers slightly behind.
    snapshot_every_entries: int = Field(1024, ge=1)
    snapshot_every_txs: int = Field(100_000, ge=1)
    keep_log_entries: int = Field(256, ge=0)
    # The PostgreSQL index (`aurigraph.indexer`): off without a DSN.
    # Signs the audit notes of administrative actions taken outside the ledger (membership changes,
    # model promotions) when the genesis lists admins; default: the data dir's keys/admin.key.
    admin_key: Path | None = None
    postgres_dsn: str | None = None
    postgres_schema: str = Field("aurigraph", pattern=r"^[a-z_][a-z0-9_]{0,62}$")  # unquoted in search_path
    # The optimizer (`actors.optimizer`, docs/optimizer.md): off unless asked for. Without a usable
    # model it keeps the fixed settings above and says why in its status.
    optimizer: bool = False
    optimizer_window_ms: int = Field(1000, ge=100, le=60_000)
    anomaly_threshold: float | None = Field(None, gt=0)  # overrides the serving model's own
    anomaly_hold: bool = False  # refuse flagged senders' further transactions until released
    adapt_batching: bool = True  # batch size / wait / pipeline depth from the load forecast
    adapt_ticks: bool = True  # election / heartbeat ticks from observed round trips (never below the floor)
    election_floor_ms: int = Field(1000, ge=100)
    # Validator keys (`aurigraph.keystore`, docs/security.md): encrypted files in the data dir, or an
    # HSM through its PKCS#11 module and token. The HSM PIN is never a setting: $AURIGRAPH_HSM_PIN,
    # else the file `hsm_pin_file` names.
    keystore: Literal["file", "pkcs11"] = "file"
    hsm_module: Path | None = None
    hsm_token: str | None = Field(None, min_length=1, max_length=32)  # a PKCS#11 token label
    hsm_pin_file: Path | None = None

    @model_validator(mode="after")
    def _ticks(self) -> NodeSettings:
        if self.election_ticks <= self.heartbeat_ticks:
            raise ValueError("election_ticks must exceed heartbeat_ticks")
        return self

    @model_validator(mode="after")
    def _keystore(self) -> NodeSettings:
        if self.keystore == "pkcs11" and (self.hsm_module is None or self.hsm_token is None):
            raise ValueError("the pkcs11 keystore needs an HSM module (--hsm-module) and a token label (--hsm-token)")
        return self

    def consensus_config(self, node_id: int, applied_index: int = 0) -> Config:
        return Config(
            node_id=node_id, election_ticks=self.election_ticks, heartbeat_ticks=self.heartbeat_ticks,
            max_batch_txs=self.max_batch_txs, batch_wait_ms=self.batch_wait_ms, applied_index=applied_index,
        )
