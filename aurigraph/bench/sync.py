"""Sync benchmark: how long a wiped replica takes to rejoin a group whose chain holds N committed
transactions (the target: under 30 s for 1,000,000), next to a baseline measured in the same run.

Three `ReplicaDriver`s run in this process over real RocksDB (a temporary folder), with real
Ed25519 signatures and full block verification and replay; messages between them go through the
protobuf codec the actors use (no Ray, no network). Time is logical (one tick per round), so the
figures are the work itself, not timer waits.

1. Build: transfers are signed in worker processes as the chain grows (S senders with consecutive
   nonces, to recipients drawn from A accounts: the ledger state has about S + A rows) and the
   leader commits them in blocks of up to 10,000. The replica to be wiped stops after the first
   block, so the chain costs two replicas' work.
2. Sync (the figure): its folder is wiped, the leader removes it and re-adds it as a learner (what
   `Supervisor.resync_replica` does), and it starts from nothing; the clock runs from its start to
   the moment its head block hash and state digest equal the leader's. It receives the leader's
   latest snapshot (taken every `snapshot_every_txs` transactions) and replays the log tail.
   It is then promoted to voter and must apply one more block.
3. Baseline: copying the same ledger state in this process with nothing else in the way — export
   the leader's state and install it into a fresh ledger. `ratio` = sync seconds / baseline seconds.
   (Below 1 when the tail is short: the leader exported its snapshot earlier, as part of its own
   work.) Also: installing the very snapshot bytes the replica received, alone (`install_only_s`),
   against the sync's snapshot phase (from its start until its head first moved).

Also reported: what the sync moved (snapshot rows and bytes, tail blocks and transactions), the
build rate, a follower's cost per transaction while the chain was built, and from it an estimate of
catching up by replaying the whole chain instead (labelled as an estimate).
"""

from __future__ import annotations

import hashlib
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from aurigraph.codec import decode_signed, encode_signed, sign_transaction
from aurigraph.codec.blocks import decode_ledger_snapshot
from aurigraph.codec.consensus import decode_message_batch, encode_message_batch
from aurigraph.consensus import ConfChange, ConfChangeType, Config, ConfState
from aurigraph.crypto import KeyPair, Scheme, generate_keypair
from aurigraph.ledger import ChainParams, Genesis, Transfer, TxBody, Validator, block_hash
from aurigraph.node.config import usable_cpus
from aurigraph.node.replica import DriverSettings, ReplicaDriver, TxStatus, messages_by_peer
from aurigraph.storage.ledger_store import LedgerStore
from aurigraph.storage.raft_log import RocksRaftStorage
from aurigraph.storage.rocks import open_db

CHAIN_ID = "aurigraph-bench-sync"
BLOCK_TXS = 10_000
REPLICAS = (1, 2, 3)
STAKES = {1: 30, 2: 20, 3: 10}  # replica 1 leads (stake rule); 3 is wiped
VICTIM = 3
TICK_MS = 10
TARGET_S = 30.0
PREFETCH_CHUNKS = 6


@dataclass(frozen=True)
class Plan:
    txs: int
    senders: int
    accounts: int
    snapshot_every_txs: int


# --- signing, in worker processes -------------------------------------------------------------

_SENDERS: list[KeyPair] = []


def _init_signer(senders: list[KeyPair]) -> None:
    _SENDERS[:] = senders


def recipient(j: int) -> bytes:
    return hashlib.sha256(b"bench-sync-recipient" + j.to_bytes(8, "big")).digest()


def _sign_chunk(first: int, count: int, accounts: int, timestamp_ms: int) -> list[bytes]:
    """Transactions first..first+count-1: number i is sender i % S's nonce i // S, to a recipient
    spread over the accounts."""
    s = len(_SENDERS)
    out = []
    for i in range(first, first + count):
        sender = _SENDERS[i % s]
        body = TxBody(CHAIN_ID, sender.address, i // s, 1, timestamp_ms, Transfer(recipient(i * 7919 % accounts), 1))
        out.append(encode_signed(sign_transaction(body, sender)))
    return out


# --- the group --------------------------------------------------------------------------------

class Group:
    """Replicas over RocksDB in `root`, messages through the consensus codec, a logical clock."""

    def __init__(self, root: Path, genesis: Genesis, keys: dict[int, KeyPair], settings: DriverSettings) -> None:
        self.root, self.genesis, self.keys, self.settings = root, genesis, keys, settings
        self.clock_ms = genesis.timestamp_ms + 1000
        self.drivers: dict[int, ReplicaDriver] = {}
        self.dbs: dict[int, list] = {}
        self.run_s = dict.fromkeys(REPLICAS, 0.0)  # time each replica spent in `run()`
        self.committed = 0  # transactions committed, as replica 1 applied them
        self.after_run: Callable[[], None] | None = None  # called after every `run()` of a replica
        self._queue: list = []

    def start(self, node_id: int) -> ReplicaDriver:
        folder = self.root / f"replica-{node_id}"
        log_db, ledger_db = open_db(folder / "log"), open_db(folder / "ledger")
        self.dbs[node_id] = [log_db, ledger_db]
        conf = ConfState(voters=REPLICAS, stakes=STAKES)
        config = Config(node_id=node_id, election_ticks=20, heartbeat_ticks=2, max_batch_txs=BLOCK_TXS, batch_wait_ms=0)
        driver = ReplicaDriver(node_id, self.keys[node_id], self.genesis, RocksRaftStorage.bootstrap(log_db, conf),
                               LedgerStore(ledger_db, self.genesis), config, random.Random(node_id),  # nosec B311  # seeded election timeouts, not security
                               lambda: self.clock_ms, self.settings)
        self.drivers[node_id] = driver
        return driver

    def stop(self, node_id: int) -> None:
        del self.drivers[node_id]
        for db in self.dbs.pop(node_id):
            db.close()

    def wipe(self, node_id: int) -> None:
        shutil.rmtree(self.root / f"replica-{node_id}")

    def step(self) -> None:
        """One tick, then deliver and run until no message is left."""
        self.clock_ms += TICK_MS
        for d in self.drivers.values():
            d.tick()
        while True:
            for node_id, d in self.drivers.items():
                started = time.perf_counter()
                out = d.run()
                self.run_s[node_id] += time.perf_counter() - started
                if self.after_run is not None:
                    self.after_run()
                self._queue.extend(out.messages)
                for o in out.outcomes:
                    if o.status is TxStatus.REJECTED:
                        raise RuntimeError(f"a benchmark transaction was rejected: {o.detail}")
                    if node_id == 1 and o.status is TxStatus.COMMITTED:
                        self.committed += 1
            if not self._queue:
                return
            queue, self._queue = self._queue, []
            for to, messages in messages_by_peer(queue).items():
                if to in self.drivers:
                    self.drivers[to].receive(decode_message_batch(encode_message_batch(messages)))

    def leader(self) -> ReplicaDriver | None:
        leaders = [d for d in self.drivers.values() if d.is_leader]
        return leaders[0] if len(leaders) == 1 else None

    def step_until(self, done: Callable[[], bool], what: str, limit: int = 10_000) -> None:
        for _ in range(limit):
            if done():
                return
            self.step()
        raise RuntimeError(f"benchmark: gave up waiting for {what}")

    def change_membership(self, change: ConfChange) -> None:
        leader = self.leader()
        index = leader.propose_membership(change)
        self.step_until(lambda: leader.node.status().applied_index >= index, f"{change.type.name} to apply")


def agree(a: ReplicaDriver, b: ReplicaDriver) -> bool:
    x, y = a.ledger.head, b.ledger.head
    return block_hash(x) == block_hash(y) and x.state_digest == y.state_digest


# --- the run ----------------------------------------------------------------------------------

def run(plan: Plan, progress: Callable[[str], None], work_dir: Path | None = None) -> dict:
    with tempfile.TemporaryDirectory(prefix="aurigraph-bench-sync-", dir=work_dir) as tmp:
        return _run(plan, Path(tmp), progress)


def _run(plan: Plan, root: Path, progress: Callable[[str], None]) -> dict:
    keys = {i: generate_keypair(Scheme.ED25519) for i in REPLICAS}
    senders = [generate_keypair(Scheme.ED25519) for _ in range(plan.senders)]
    now_ms = int(time.time() * 1000)
    genesis = Genesis(CHAIN_ID, now_ms, tuple((s.address, 10**15) for s in senders),
                      tuple(Validator(i, k.scheme, k.public_key, STAKES[i]) for i, k in keys.items()), ChainParams())
    settings = DriverSettings(snapshot_every_txs=plan.snapshot_every_txs)
    group = Group(root, genesis, keys, settings)
    for i in REPLICAS:
        group.start(i)
    group.step_until(lambda: group.leader() is not None and group.leader().node_id == 1, "replica 1 to lead")
    leader = group.leader()
    tx_ms = group.clock_ms

    chunks = [(first, min(BLOCK_TXS, plan.txs - first)) for first in range(0, plan.txs, BLOCK_TXS)]
    workers = max(1, usable_cpus() - 1)  # one core drives the replicas
    progress(f"building a chain of {plan.txs:,} transactions ({plan.senders:,} senders, {plan.accounts:,} "
             f"recipient accounts, blocks of {BLOCK_TXS:,}); signing on {workers} worker process(es) …")
    started = time.perf_counter()
    last_report = started
    with ProcessPoolExecutor(workers, initializer=_init_signer, initargs=(senders,)) as pool:
        pending: list[Future] = []
        next_chunk = 0
        idle_steps = 0
        while group.committed < plan.txs:
            before = group.committed
            while next_chunk < len(chunks) and len(pending) < PREFETCH_CHUNKS:
                pending.append(pool.submit(_sign_chunk, *chunks[next_chunk], plan.accounts, tx_ms))
                next_chunk += 1
            if pending and leader.pending_count < 2 * BLOCK_TXS:
                leader.submit([decode_signed(w) for w in pending.pop(0).result()])
            group.step()
            idle_steps = 0 if group.committed > before else idle_steps + 1
            if idle_steps > 1000:
                raise RuntimeError(f"benchmark: no progress at {group.committed:,} committed transactions")
            if VICTIM in group.drivers and group.drivers[VICTIM].ledger.head.height >= 1:
                group.stop(VICTIM)  # it has data now; it stays down while the chain grows
            now = time.perf_counter()
            if now - last_report >= 5:
                last_report = now
                progress(f"committed {group.committed:,}/{plan.txs:,} transactions, height "
                         f"{leader.ledger.head.height:,}  ({group.committed / (now - started):,.0f} tx/s)")
    follower = group.drivers[2]
    group.step_until(lambda: agree(leader, follower), "the live follower to apply the chain")
    build_s = time.perf_counter() - started
    progress(f"built {plan.txs:,} transactions at height {leader.ledger.head.height:,} in {build_s:,.1f} s; "
             f"wiping replica {VICTIM} and readmitting it …")

    group.wipe(VICTIM)
    group.change_membership(ConfChange(ConfChangeType.REMOVE_NODE, VICTIM))
    group.change_membership(ConfChange(ConfChangeType.ADD_LEARNER, VICTIM, STAKES[VICTIM]))
    started = time.perf_counter()
    fresh = group.start(VICTIM)
    first_head_s: list[float] = []  # when its head first moved: the snapshot installed (or block 1 replayed)

    def watch() -> None:
        if not first_head_s and fresh.ledger.head.height > 0:
            first_head_s.append(time.perf_counter() - started)

    group.after_run = watch
    group.step_until(lambda: agree(fresh, leader), f"replica {VICTIM} to catch up")
    sync_s = time.perf_counter() - started
    group.after_run = None
    progress(f"replica {VICTIM} caught up in {sync_s:.2f} s; measuring the baseline …")

    # The blocks it holds are those it replayed; below them it skipped by installing a snapshot.
    head = fresh.ledger.head.height
    snapshot_height = next((h - 1 for h in range(1, head + 1) if fresh.ledger.block(h) is not None), head)
    tail = [fresh.ledger.block(h) for h in range(snapshot_height + 1, head + 1)]
    snapshot = leader.raft_log.snapshot()
    state = decode_ledger_snapshot(snapshot.data) if snapshot_height else None
    if state is not None and state.head.height != snapshot_height:
        raise RuntimeError("the wiped replica did not catch up from the leader's latest snapshot")
    group.change_membership(ConfChange(ConfChangeType.ADD_VOTER, VICTIM, STAKES[VICTIM]))
    extra = _sign_extra(senders[0], plan, tx_ms)
    group.leader().submit(extra)
    group.step_until(lambda: all(d.ledger.transaction(extra[-1].tx_id) for d in group.drivers.values()),
                     "the promoted replica to apply a new block")
    baseline_s, rows = state_copy_seconds(leader.ledger, genesis, root / "baseline")
    install_s = install_seconds(snapshot.data, genesis, root / "install") if state else None
    follower_us = group.run_s[2] / plan.txs * 1e6
    result = {
        "txs": plan.txs, "senders": plan.senders, "accounts": plan.accounts, "block_txs": BLOCK_TXS,
        "snapshot_every_txs": plan.snapshot_every_txs, "height": head,
        "build": {"seconds": round(build_s, 1), "committed_tps": round(plan.txs / build_s, 1),
                  "follower_us_per_tx": round(follower_us, 1)},
        "sync": {"seconds": round(sync_s, 3), "via_snapshot": state is not None,
                 "snapshot_installed_s": round(first_head_s[0], 3) if state else None,
                 "snapshot_index": snapshot.metadata.index if state else 0, "snapshot_height": snapshot_height,
                 "snapshot_bytes": len(snapshot.data) if state else 0,
                 "snapshot_rows": len(state.accounts) + len(state.data) if state else 0,
                 "tail_blocks": len(tail),
                 "tail_txs": sum(len(b.block.transactions) for b in tail)},
        "baseline": {"state_copy_s": round(baseline_s, 3), "rows": rows,
                     "install_only_s": round(install_s, 3) if install_s else None},
        "ratio": round(sync_s / baseline_s, 2),
        "snapshot_phase_over_install_only": round(first_head_s[0] / install_s, 2) if install_s else None,
        "full_replay_estimate_s": round(plan.txs * follower_us / 1e6, 1),
        "target_s": TARGET_S, "cpus": usable_cpus(),
    }
    for i in list(group.drivers):
        group.stop(i)
    return result


def _sign_extra(sender: KeyPair, plan: Plan, timestamp_ms: int) -> list:
    """Ten more transfers of sender 0 (which sent transactions 0, S, 2S, … of the chain)."""
    nonce = -(-plan.txs // plan.senders)
    return [sign_transaction(TxBody(CHAIN_ID, sender.address, nonce + k, 1, timestamp_ms,
                                    Transfer(recipient(k), 1)), sender) for k in range(10)]


def state_copy_seconds(source: LedgerStore, genesis: Genesis, folder: Path) -> tuple[float, int]:
    """Export `source`'s state and install it into a fresh ledger: the least a state transfer costs."""
    target_db = open_db(folder)
    try:
        target = LedgerStore(target_db, genesis)
        started = time.perf_counter()
        target.install_snapshot(source.export_snapshot())
        seconds = time.perf_counter() - started
        if target.head != source.head:
            raise RuntimeError("the baseline copy did not reach the source's head")
        exported = target.state.export()
        return seconds, len(exported.accounts) + len(exported.data)
    finally:
        target_db.close()


def install_seconds(data: bytes, genesis: Genesis, folder: Path) -> float:
    """Install the snapshot bytes the wiped replica received into a fresh ledger (decode + write):
    the floor of its snapshot phase."""
    db = open_db(folder)
    try:
        target = LedgerStore(db, genesis)
        started = time.perf_counter()
        target.install_snapshot(data)
        return time.perf_counter() - started
    finally:
        db.close()


def format_result(r: dict) -> str:
    b, s = r["build"], r["sync"]
    how = (f"snapshot of {s['snapshot_rows']:,} rows ({s['snapshot_bytes'] / 1e6:,.1f} MB) at height "
           f"{s['snapshot_height']:,}, then" if s["via_snapshot"] else "no snapshot (the log was never compacted):")
    return (f"chain: {r['txs']:,} txs in {r['height']:,} blocks of up to {r['block_txs']:,}, {r['senders']:,} senders, "
            f"{r['accounts']:,} recipient accounts; snapshot every {r['snapshot_every_txs']:,} txs\n"
            f"build                {b['seconds']:>10,.1f} s   ({b['committed_tps']:,.0f} tx/s committed; "
            f"a follower spends {b['follower_us_per_tx']:.0f} µs a tx)\n"
            f"sync of a wiped replica {s['seconds']:>7,.2f} s   (target < {r['target_s']:.0f} s): {how} "
            f"{s['tail_blocks']:,} blocks ({s['tail_txs']:,} txs) of log replayed"
            + (f" (snapshot installed after {s['snapshot_installed_s']:.2f} s)" if s["via_snapshot"] else "") + "\n"
            f"baseline: state copy {r['baseline']['state_copy_s']:>7,.2f} s   (export + install of the same "
            f"{r['baseline']['rows']:,} rows, in process)\n"
            f"sync / baseline      {r['ratio']:>10.2f}"
            + (f"   (snapshot phase / installing the same bytes alone, {r['baseline']['install_only_s']:.2f} s: "
               f"{r['snapshot_phase_over_install_only']:.2f})" if r["snapshot_phase_over_install_only"] else "") + "\n"
            f"replaying the whole chain instead: about {r['full_replay_estimate_s']:,.0f} s (estimate)")
