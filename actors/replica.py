"""ConsensusReplica: the actor shell around one `ReplicaDriver` (see `aurigraph/node/replica.py`).

It only shuttles: peer messages in (`receive`, protobuf `ConsensusMessageBatch` bytes) and out
(fire-and-forget calls to peers' `receive`), client batches in (`submit`), a clock (a tick every
`tick_ms`), and committed blocks out to the storage shards (the leader pushes them, idempotently,
and on becoming leader catches the shards up). All consensus, persistence and ledger logic is in
the driver. A replica whose state diverges halts: it stops processing and reports unhealthy.

Resync (`Supervisor.resync_replica`): `begin_resync` stops the replica and leaves a marker in its
folder; Ray restarts it, and a replica that finds the marker wipes its log and ledger and waits,
taking no part in consensus, until `finish_resync` (after the leader has removed it and re-added it
as a learner); it then catches up from the leader's snapshot and log tail like any new replica.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import random
import secrets
import shutil
import time
from pathlib import Path

import ray
from ray.util.metrics import Gauge

from actors.peer_link import LinkServer, PeerLink
from aurigraph import telemetry
from aurigraph.codec.blocks import with_confidence
from aurigraph.codec.consensus import (
    decode_knobs,
    decode_message_batch,
    encode_knobs,
    encode_message_batch,
    status_to_proto,
)
from aurigraph.codec.governance import rules_record
from aurigraph.codec.node import (
    account_record,
    committed_record,
    decode_validated_batch,
    outcome_record,
    outcomes_to_response,
)
from aurigraph.consensus import ConfChange, ConfChangeType, ConfState, MessageType, NotLeader
from aurigraph.keystore import open_node_keystore
from aurigraph.ledger import StateDivergence
from aurigraph.ledger.governance import load_rules
from aurigraph.node.backup import checkpoint_replica, describe
from aurigraph.node.config import NodeSettings
from aurigraph.node.datadir import DataDir
from aurigraph.node.replica import (
    DriverSettings,
    ReplicaDriver,
    TxOutcome,
    TxStatus,
    messages_by_peer,
    ticks_owed,
)
from aurigraph.storage.archive import shard_for
from aurigraph.storage.durable import replace_file
from aurigraph.storage.ledger_store import LedgerStore
from aurigraph.storage.raft_log import RocksRaftStorage
from aurigraph.storage.rocks import open_db

log = logging.getLogger("aurigraph.replica")
ARCHIVE_PUSH_PER_ROUND = 64
ARCHIVE_RETRY_S = 1.0  # after a failed push; otherwise the push waits for a new block
# Under load, blocks go to the shards in rounds, one call per shard each: at 0.05 s a round held one
# or two blocks of a single-transaction load, so the shards cost about a call and an fsync a block
# (docs/performance.md). Reads ask the replicas first, so the shards' lag is never seen.
ARCHIVE_MIN_INTERVAL_S = 0.2
REMOTE_TIMEOUT_S = 2.0  # a peer or shard that Ray is restarting must not stall this replica
SNAPSHOT_SEND_TIMEOUT_S = 60.0
# A waited transaction held for a missing earlier nonce is answered PENDING once held this long
# (unless it committed meanwhile): long enough for an earlier nonce in a concurrent batch to arrive.
HELD_ANSWER_AFTER_S = 1.0
RESYNC_MARKER = "resync"  # in the replica's folder: wipe the log and ledger, wait for readmission


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=0)
class ConsensusReplica:
    def __init__(self, node_id: int, settings_json: str, link_key: bytes) -> None:
        telemetry.configure(f"replica-{node_id}")
        self.settings = NodeSettings.model_validate_json(settings_json)
        data = DataDir(self.settings.data_dir)
        genesis = data.load_genesis()
        conf = ConfState(voters=tuple(v.id for v in genesis.validators),
                         stakes={v.id: v.stake for v in genesis.validators})
        folder = Path(data.replica(node_id))
        self._folder = folder
        self._resyncing = (folder / RESYNC_MARKER).exists()
        if self._resyncing:  # again after a crash mid-resync: nothing here is worth keeping
            for part in ("log", "ledger"):
                shutil.rmtree(folder / part, ignore_errors=True)
        self._log_db, self._ledger_db = open_db(folder / "log"), open_db(folder / "ledger")
        raft_log = RocksRaftStorage.bootstrap(self._log_db, conf)
        ledger = LedgerStore(self._ledger_db, genesis)
        # The validator's keys from its keystore (files, or an HSM: a session of this process's own);
        # the driver signs with the one that is the validator's current key (key rotation).
        self._keystore = open_node_keystore(self.settings, data)
        self.driver = ReplicaDriver(
            node_id, None, genesis, raft_log, ledger,
            self.settings.consensus_config(node_id), random.Random(secrets.randbits(64)), _now_ms,  # nosec B311  # election-timeout jitter, seeded from secrets
            DriverSettings(max_pending_txs=self.settings.max_pending_txs,
                           snapshot_every_entries=self.settings.snapshot_every_entries,
                           snapshot_every_txs=self.settings.snapshot_every_txs,
                           keep_log_entries=self.settings.keep_log_entries),
            key_source=lambda: self._keystore.signers(node_id),
        )
        self.node_id = node_id
        self._peers: dict[int, object] = {}
        self._links: dict[int, PeerLink] = {}  # peer id -> this replica's link to it
        self._link_key = link_key  # the node's, authenticating the replicas' links (actors/peer_link.py)
        self._link_server: LinkServer | None = None
        self._shards: list = []
        self._inbox: list = []
        self._waiters: dict[bytes, list[asyncio.Future]] = {}
        self._wake = asyncio.Event()
        self._archive_wake = asyncio.Event()  # set when this replica applied blocks, or became leader
        self._halted: str | None = None
        self._next_archive = None  # next height the leader pushes to the shards
        self._loops: list[asyncio.Task] = []
        self._metrics = None
        self._reports: set[asyncio.Task] = set()  # snapshot delivery reports in progress
        self._loop_stats = [0.0, 0.0, 0]  # since `loop_stats` last asked: longest step ms, step ms, txs applied

    async def connect(self, peers: dict, shards: list) -> None:
        """Wire the peer replicas (id -> handle) and the shards, and open this replica's listener
        for the others' direct links (`actors/peer_link.py`); starts the loop. Idempotent: a
        listener that failed to start is tried again (the call raises meanwhile)."""
        self._peers = {i: h for i, h in peers.items() if i != self.node_id}
        self._shards = shards
        if self._link_server is None:
            server = LinkServer(self._link_key, self._deliver)
            await server.start(ray.util.get_node_ip_address())
            self._link_server = server
        for peer in self._links.keys() - self._peers.keys():  # a replica no longer wired (membership)
            self._links.pop(peer).close()
        for peer, handle in self._peers.items():
            link = self._links.get(peer)
            if link is None:
                self._links[peer] = PeerLink(self.node_id, self._link_key, peer, handle.link_address.remote)
            else:
                link.locate = handle.link_address.remote
        if not self._loops and not self._resyncing:
            loop = asyncio.get_running_loop()
            self._loops = [loop.create_task(self._run_forever()), loop.create_task(self._archive_forever())]

    # --- inputs -----------------------------------------------------------------------------------

    async def receive(self, batch: bytes) -> None:
        """A `ConsensusMessageBatch` by a Ray call: snapshots, whose delivery the sender awaits.
        Everything else comes by the peers' direct links (`_deliver`)."""
        self._deliver(0, batch)

    def _deliver(self, sender: int, batch: bytes) -> None:
        if self._resyncing or self._halted:
            return  # not a member yet, or stopped for good: nothing to answer, nothing to keep
        self._inbox.extend(decode_message_batch(batch))
        self._wake.set()

    async def link_address(self) -> tuple[str, int] | None:
        """(host, port) of this replica's listener for its peers' links; None until `connect`."""
        return None if self._link_server is None else self._link_server.address

    async def submit(self, batch: bytes, wait: bool = False, timeout_ms: int | None = None,
                     ctx: dict | None = None) -> bytes:
        """`ValidatedBatch` (from the ingress) in; `BatchSubmitResponse` out. With `wait`, each result is
        final (COMMITTED / REJECTED / DROPPED) unless `timeout_ms` (capped by the settings' submit
        timeout) ran out (PENDING). `ctx`: the request's telemetry context."""
        with telemetry.span("replica.submit", ctx or {}, replica=self.node_id):
            return await self._submit(batch, wait, timeout_ms)

    async def _submit(self, batch: bytes, wait: bool, timeout_ms: int | None) -> bytes:
        if self._halted:
            raise RuntimeError(f"replica {self.node_id} halted: {self._halted}")
        txs = decode_validated_batch(batch)  # validated by the ingress: parsed once here, not re-checked
        try:
            outcomes = self.driver.submit(txs)
        except NotLeader as e:
            raise NotLeaderError(e.node_id, e.leader_id) from None
        self._wake.set()
        if wait:
            limit_ms = self.settings.submit_timeout_ms if timeout_ms is None else min(timeout_ms, self.settings.submit_timeout_ms)
            outcomes = await self._wait_final(outcomes, limit_ms)
        return outcomes_to_response(outcomes)

    async def _wait_final(self, outcomes: list[TxOutcome], timeout_ms: int) -> list[TxOutcome]:
        futures = {}
        for o in outcomes:
            if o.status is TxStatus.PENDING and not o.retry_after_ms:
                f = asyncio.get_running_loop().create_future()
                self._waiters.setdefault(o.tx_id, []).append(f)
                futures[o.tx_id] = f
        if futures:
            await asyncio.wait(futures.values(), timeout=timeout_ms / 1000)
        final = []
        for o in outcomes:
            f = futures.get(o.tx_id)
            final.append(f.result() if f is not None and f.done() else o)
            if f is not None and not f.done():
                f.cancel()
        return final

    # --- the loop -----------------------------------------------------------------------------------

    async def _run_forever(self) -> None:
        """Wakes for an input (a message, a submit), a batch whose wait is over, or the tick at which
        the core has something to do (a heartbeat, an election): not for the ticks before it, which
        only count and are ticked on waking (`ticks_owed`)."""
        tick_s = self.settings.tick_ms / 1000
        next_tick = time.monotonic() + tick_s
        while not self._halted:
            due_ticks = self.driver.ticks_until_due()
            wake_at = next_tick + (due_ticks - 1) * tick_s
            due_ms = self.driver.proposal_due_ms()
            if due_ms is not None:  # a batch is waiting: build it when its wait is over, not at the next
                # tick (at most every millisecond, should the log not be ready for a block yet)
                wake_at = min(wake_at, time.monotonic() + max(0.001, (due_ms - _now_ms()) / 1000))
            slept_from = time.monotonic()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=max(0.0, wake_at - slept_from))
            self._wake.clear()
            try:
                ticks, next_tick = ticks_owed(time.monotonic(), next_tick, slept_from, tick_s, due_ticks)
                for _ in range(ticks):
                    self.driver.tick()
                self._step()  # never awaits another actor: consensus must not wait on a slow peer
            except StateDivergence as e:
                self._halted = str(e)
                log.critical("replica %d halted: %s", self.node_id, e)
            except Exception:  # a bug: log it loudly and keep the replica alive for inspection
                log.exception("replica %d loop iteration failed", self.node_id)
                await asyncio.sleep(tick_s)

    def _step(self) -> None:
        inbox, self._inbox = self._inbox, []
        started = time.perf_counter()
        self.driver.receive(inbox)
        out = self.driver.run()
        step_ms = (time.perf_counter() - started) * 1000
        stats = self._loop_stats
        stats[0] = max(stats[0], step_ms)
        stats[1] += step_ms
        stats[2] += sum(1 for o in out.outcomes if o.status is TxStatus.COMMITTED)
        for peer, messages in messages_by_peer(out.messages).items():
            handle = self._peers.get(peer)
            if not any(m.type is MessageType.SNAPSHOT for m in messages):
                if peer in self._links:
                    self._links[peer].send(encode_message_batch(messages))
            elif handle is not None:  # by a Ray call, whose delivery is reported to the driver
                ref = handle.receive.remote(encode_message_batch(messages))
                task = asyncio.get_running_loop().create_task(self._report_snapshot(peer, ref))
                self._reports.add(task)  # the loop holds tasks weakly
                task.add_done_callback(self._reports.discard)
            else:
                self.driver.report_snapshot(peer, False)
        for o in out.outcomes:
            if o.status is TxStatus.PENDING:  # held for a nonce gap: answered if it is still held in a while
                asyncio.get_running_loop().call_later(HELD_ANSWER_AFTER_S, self._answer_held, o)
            else:
                self._answer(o)
        if out.leader_changed:
            self._next_archive = None
        if out.leader_changed or (self.driver.is_leader and out.outcomes):
            self._archive_wake.set()

    def _answer(self, outcome: TxOutcome) -> None:
        for f in self._waiters.pop(outcome.tx_id, ()):
            if not f.done():
                f.set_result(outcome)

    def _answer_held(self, outcome: TxOutcome) -> None:
        """A transaction held for a missing earlier nonce: its waiters get the PENDING answer if
        it is still held, so it never holds up a waited batch for the whole retention. The pause
        lets the usual cause, the earlier nonce on its way in another batch (a client pipelining
        its submits), end with COMMITTED instead."""
        known = self.driver.status_of(outcome.tx_id)
        if known is not None and known.status is TxStatus.PENDING:
            self._answer(outcome)

    async def _report_snapshot(self, peer: int, ref) -> None:
        """Tell the driver whether a snapshot reached `peer`: the leader sends nothing else to a
        replica while its snapshot is on the way, so a lost one must be reported to be sent again."""
        try:
            await asyncio.wait_for(ref, SNAPSHOT_SEND_TIMEOUT_S)
            delivered = True
        except (TimeoutError, ray.exceptions.RayError):
            delivered = False
        if not self._halted:
            self.driver.report_snapshot(peer, delivered)
            self._wake.set()

    async def _archive_forever(self) -> None:
        """Its own task, so a shard that is down or restarting never stalls consensus. It sleeps
        until the loop says blocks were applied (or leadership changed), at most one round every
        `ARCHIVE_MIN_INTERVAL_S`: an idle node pushes nothing and wakes for nothing; after a failure
        it tries again every `ARCHIVE_RETRY_S`."""
        while not self._halted:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._archive_wake.wait(), ARCHIVE_RETRY_S)
            self._archive_wake.clear()
            try:
                if await self._push_archive():
                    self._archive_wake.set()  # more than one round's worth was waiting
                await asyncio.sleep(ARCHIVE_MIN_INTERVAL_S)
            except (TimeoutError, ray.exceptions.RayError):
                self._next_archive = None  # ask the shards again next round
                await asyncio.sleep(ARCHIVE_RETRY_S)
            except Exception:
                log.exception("replica %d archive push failed", self.node_id)
                await asyncio.sleep(ARCHIVE_RETRY_S)

    async def _push_archive(self) -> bool:
        """Leader: push applied blocks to their shards, resuming from what the shards have; True if
        blocks are left for another round."""
        if not self._shards or not self.driver.is_leader:
            return False
        head = self.driver.ledger.head.height
        if self._next_archive is None:
            latest = await asyncio.wait_for(
                asyncio.gather(*(s.latest_height.remote() for s in self._shards)), REMOTE_TIMEOUT_S)
            self._next_archive = max(min(latest) + 1, 1)
        end = min(head, self._next_archive + ARCHIVE_PUSH_PER_ROUND - 1)
        by_shard: dict[int, list[bytes]] = {}
        for height in range(self._next_archive, end + 1):
            record = self.driver.ledger.blocks.record_bytes(height)
            if record is None:  # below the snapshot this replica caught up from: it never held it
                log.warning("replica %d cannot archive block %d: it joined by a later snapshot", self.node_id, height)
                continue
            by_shard.setdefault(shard_for(height, len(self._shards)), []).append(record)
        for shard, records in by_shard.items():  # one call (and one fsync) per shard per round
            self._shards[shard].archive.remote(records)
        self._next_archive = end + 1
        return end < head

    async def checkpoint(self, dest: str) -> dict:
        """RocksDB checkpoints of the ledger and the log into the backup folder `dest` (see
        `aurigraph.node.backup`); returns path in the backup -> description. Nothing is awaited
        between the two, so both are taken between two steps of the loop: what a crash then would
        leave. Reading the copies back for the manifest happens in a thread, off the loop."""
        if self._halted or self._resyncing:
            raise RuntimeError(f"replica {self.node_id} is {'being resynced' if self._resyncing else 'halted'}: "
                               f"back up once it is healthy")
        taken = checkpoint_replica(self.node_id, self._ledger_db, self._log_db, Path(dest))
        return await asyncio.to_thread(describe, taken)

    # --- runtime knobs (the optimizer) -------------------------------------------------------------

    async def set_knobs(self, knobs: bytes) -> bytes:
        """Set HyperRAFT++'s runtime knobs (`BatchKnobs` bytes); returns the knobs in force. Setting
        the knobs already in force changes nothing. Raises `ConfigError` (a ValueError) for values
        out of range, leaving the old knobs."""
        self.driver.node.set_knobs(decode_knobs(knobs))
        self._wake.set()  # a shorter batch wait may make a proposal due now
        return encode_knobs(self.driver.node.status().knobs)

    async def loop_stats(self) -> dict:
        """Since the last call: the longest loop step (ms; the loop is deaf to peers meanwhile), the
        total step time (ms) and the transactions applied (so step ms per transaction)."""
        longest, total, txs = self._loop_stats
        self._loop_stats = [0.0, 0.0, 0]
        return {"max_step_ms": longest, "step_ms": total, "applied_txs": txs}

    # --- membership and resync -------------------------------------------------------------------

    async def change_membership(self, change_type: int, node_id: int, stake: int = 0) -> int:
        """Leader only: propose a `ConfChangeType` change of `node_id`; returns its log index.
        Raises `NotLeaderError`, or `ConfChangeRejected` (one change at a time, promotion only once
        caught up)."""
        try:
            index = self.driver.propose_membership(ConfChange(ConfChangeType(change_type), node_id, stake))
        except NotLeader as e:
            raise NotLeaderError(e.node_id, e.leader_id) from None
        self._wake.set()
        return index

    async def membership(self) -> dict:
        """This replica's view of the group; `match` (each member's durable log index) only on the leader."""
        status = self.driver.node.status()
        conf = self.driver.node.conf_state
        return {"node_id": self.node_id, "leader": self.driver.is_leader, "resyncing": self._resyncing,
                "voters": sorted(conf.voters), "learners": sorted(conf.learners),
                "commit_index": status.commit_index, "applied_index": status.applied_index,
                "match": {p.node_id: p.match_index for p in status.replicas},
                "log_first_index": self.driver.raft_log.first_index(), "height": self.driver.ledger.head.height}

    async def begin_resync(self) -> None:
        """Stop taking part in consensus and mark the folder for wiping; the caller then has Ray
        restart this actor (`ray.kill(handle, no_restart=False)`), which wipes and waits."""
        self._halted = self._halted or "being resynced"
        replace_file(self._folder / RESYNC_MARKER, b"")

    async def finish_resync(self) -> None:
        """Readmitted (a learner of the group): start catching up."""
        if self._resyncing:
            (self._folder / RESYNC_MARKER).unlink(missing_ok=True)
            self._resyncing = False
            await self.connect(self._peers, self._shards)

    # --- queries --------------------------------------------------------------------------------

    async def status(self) -> bytes:
        status = dataclasses.replace(self.driver.node.status(), height=self.driver.ledger.head.height)
        return status_to_proto(status).SerializeToString()

    async def ping(self) -> bool:
        return True

    async def health(self) -> dict:
        self._export_metrics()
        return {"node_id": self.node_id, "pid": os.getpid(), "halted": self._halted, "resyncing": self._resyncing,
                "links": {peer: {"up": link.up, "dropped": link.dropped}  # the links ever used
                          for peer, link in self._links.items() if link.used},
                "leader": self.driver.is_leader,
                "height": self.driver.ledger.head.height, "pending": self.driver.pending_count,
                "ray_node": ray.get_runtime_context().get_node_id()}

    def _export_metrics(self) -> None:
        """For Ray's metrics endpoint (the supervisor asks for `health` every second)."""
        if self._metrics is None:
            tags = ("replica",)
            self._metrics = (Gauge("aurigraph_replica_height", "applied block height", tag_keys=tags),
                             Gauge("aurigraph_replica_pending_transactions", "transactions queued", tag_keys=tags),
                             Gauge("aurigraph_replica_leader", "1 on the leader", tag_keys=tags),
                             Gauge("aurigraph_replica_halted", "1 once a state mismatch halted it", tag_keys=tags))
        tags = {"replica": str(self.node_id)}
        height, pending, leader, halted = self._metrics
        height.set(self.driver.ledger.head.height, tags)
        pending.set(self.driver.pending_count, tags)
        leader.set(1 if self.driver.is_leader else 0, tags)
        halted.set(1 if self._halted else 0, tags)

    async def get_block(self, height: int) -> bytes | None:
        """The `BlockRecord` at `height` with this replica's finality confidence, or None."""
        record = self.driver.ledger.blocks.record_bytes(height)
        return None if record is None else with_confidence(record, self.driver.confidence(height))

    async def get_blocks(self, from_height: int, limit: int) -> list[bytes]:
        """Consecutive `BlockRecord`s from `from_height` (at most `limit`, without confidence),
        stopping at the head or at the first height this replica does not hold (it skipped it by
        installing a snapshot: the shards have it)."""
        records = []
        for height in range(from_height, min(self.driver.ledger.head.height, from_height + limit - 1) + 1):
            record = self.driver.ledger.blocks.record_bytes(height)
            if record is None:
                break
            records.append(record)
        return records

    async def get_transaction(self, tx_id: bytes) -> bytes:
        """A `TransactionRecord`: COMMITTED (with the transaction, receipt and confidence), PENDING,
        recently REJECTED / DROPPED (with the reason), or UNKNOWN."""
        found = self.driver.ledger.transaction(tx_id)
        if found is not None:
            return committed_record(found, self.driver.confidence(found.height))
        return outcome_record(tx_id, self.driver.status_of(tx_id))

    async def get_compliance_rules(self) -> bytes:
        """`aurigraph.v1.ComplianceRules` bytes: the rules in force as of this replica's applied head."""
        return rules_record(load_rules(self.driver.ledger)[0])

    async def get_account(self, address: bytes) -> bytes:
        """`aurigraph.v1.Account` bytes (balance, next nonce) as of this replica's applied head."""
        account = self.driver.ledger.account(address)
        return account_record(address, account.balance, account.nonce)


class NotLeaderError(Exception):
    """Raised to callers of `submit` on a follower; carries the leader this replica knows of."""

    def __init__(self, node_id: int, leader_id: int) -> None:
        super().__init__(f"replica {node_id} is not the leader (leader: {leader_id or 'unknown'})")
        self.node_id, self.leader_id = node_id, leader_id

    def __reduce__(self):
        return (NotLeaderError, (self.node_id, self.leader_id))
