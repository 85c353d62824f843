"""Supervisor: owns the node's topology (and, in Ray's sense, every actor it creates: it is pinned to
the driver's node by `actors.launcher`, since owned actors die with their owner). It creates the actors — replicas spread over Ray nodes
with a placement group (packed on one machine when there is only one), validators, storage shards,
the ingress — wires them together, and every `HEALTH_PERIOD_S` pings them and re-wires any that
Ray restarted (all actors have `max_restarts=-1`; a restarted replica recovers from its own disk).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from pathlib import Path

import ray
from ray.util.metrics import Gauge
from ray.util.placement_group import placement_group
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from actors.indexer import Indexer
from actors.ingress import Ingress
from actors.optimizer import Optimizer
from actors.replica import ConsensusReplica
from actors.shard import StorageShard
from actors.validator import TransactionValidator
from aurigraph import telemetry
from aurigraph.codec.genesis import genesis_from_json
from aurigraph.codec.node import decode_account, encode_batch, response_statuses
from aurigraph.consensus import ConfChangeType
from aurigraph.keystore import KeyFileError, load_keypair
from aurigraph.ledger import Rejection
from aurigraph.node.backup import finish, prepare, summary
from aurigraph.node.config import NodeSettings
from aurigraph.node.datadir import DataDir
from aurigraph.node.notary import Notary, NotRecorded
from aurigraph.node.replica import TxStatus
from aurigraph.storage.backup import BackupError, discard

log = logging.getLogger("aurigraph.supervisor")
HEALTH_PERIOD_S = 1.0
NAMESPACE = "aurigraph"
INGRESS_NAME = "aurigraph-ingress"
INDEXER_NAME = "aurigraph-indexer"
OPTIMIZER_NAME = "aurigraph-optimizer"
SUPERVISOR_NAME = "aurigraph-supervisor"
RECORD_TIMEOUT_S = 60.0  # an audit note must commit within this, or the action is refused
RECORD_RETRY_S = 0.5
# Actors ask for a sliver of CPU so a placement group can place them; real parallelism comes from
# each actor being its own process.
BUNDLE_CPU = 0.01
CHECKPOINT_TIMEOUT_S = 300.0  # one actor's RocksDB checkpoints (a memtable flush, then hard links)
RESYNC_TIMEOUT_S = 600.0
RESYNC_POLL_S = 0.2


def replica_name(node_id: int) -> str:
    return f"aurigraph-replica-{node_id}"


def shard_name(index: int) -> str:
    return f"aurigraph-shard-{index}"


def validator_name(index: int) -> str:
    return f"aurigraph-validator-{index}"


@ray.remote(num_cpus=0, max_restarts=0)
class Supervisor:
    def __init__(self, settings_json: str) -> None:
        telemetry.configure("supervisor")
        self.settings = NodeSettings.model_validate_json(settings_json)
        data = DataDir(self.settings.data_dir)
        self.genesis_json = data.genesis.read_text()
        self._notary = _notary(self.settings, data, genesis_from_json(self.genesis_json))
        self._record_lock = asyncio.Lock()
        self.replicas: dict[int, object] = {}
        self._link_key = secrets.token_bytes(32)  # authenticates the replicas' direct links (actors/peer_link.py)
        self.shards: list = []
        self.validators: list = []
        self.ingress = None
        self.indexer = None  # with a PostgreSQL DSN
        self.optimizer = None  # with `optimizer` on
        self.health: dict[str, object] = {}
        self.last_ok_ms: dict[str, int] = {}  # actor -> wall time of its last good health probe
        self._monitor: asyncio.Task | None = None
        self._resyncing: int | None = None  # the replica being resynced: one at a time
        self._actor_up = Gauge("aurigraph_actor_up", "1 if the actor answered its last health probe",
                               tag_keys=("actor",))

    async def start(self) -> dict:
        s = self.settings
        ids = list(range(1, s.replicas + 1))
        pg = placement_group([{"CPU": BUNDLE_CPU}] * len(ids), strategy="SPREAD")
        await pg.ready()
        for bundle, node_id in enumerate(ids):
            self.replicas[node_id] = ConsensusReplica.options(
                name=replica_name(node_id), namespace=NAMESPACE, num_cpus=BUNDLE_CPU,
                scheduling_strategy=PlacementGroupSchedulingStrategy(placement_group=pg, placement_group_bundle_index=bundle),
            ).remote(node_id, s.model_dump_json(), self._link_key)  # Ray passes it again on a restart
        data = DataDir(s.data_dir)
        self.shards = [StorageShard.options(name=shard_name(i), namespace=NAMESPACE).remote(
            i, s.shards, str(data.shard(i))) for i in range(s.shards)]
        validator_names = [validator_name(i) for i in range(s.validators)]
        self.validators = [TransactionValidator.options(name=n, namespace=NAMESPACE).remote(self.genesis_json)
                           for n in validator_names]
        await asyncio.gather(*(v.ping.remote() for v in self.validators), *(r.ping.remote() for r in self.replicas.values()))
        self.ingress = Ingress.options(name=INGRESS_NAME, namespace=NAMESPACE).remote(
            validator_names, {i: replica_name(i) for i in ids}, NAMESPACE, self.genesis_json)
        await self._connect_all()
        if s.postgres_dsn:
            self.indexer = Indexer.options(name=INDEXER_NAME, namespace=NAMESPACE).remote(
                s.postgres_dsn, s.postgres_schema, self.genesis_json, [self.replicas[i] for i in ids], self.shards)
            await self.indexer.start.remote()
        if s.optimizer:
            self.optimizer = Optimizer.options(name=OPTIMIZER_NAME, namespace=NAMESPACE).remote(
                s.model_dump_json(), {i: replica_name(i) for i in ids}, INGRESS_NAME, NAMESPACE, SUPERVISOR_NAME)
            await self.optimizer.start.remote()
        self._monitor = asyncio.get_running_loop().create_task(self._watch())
        return await self.topology()

    async def _connect_all(self) -> None:
        """Idempotent; a replica Ray is still restarting is skipped and wired on a later round."""
        async def connect(replica):
            with contextlib.suppress(TimeoutError, ray.exceptions.RayActorError):
                await asyncio.wait_for(replica.connect.remote(self.replicas, self.shards), timeout=5)
        await asyncio.gather(*(connect(r) for r in self.replicas.values()))

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(HEALTH_PERIOD_S)
            try:
                await self._check()
            except Exception:
                log.exception("health check failed")

    async def _check(self) -> None:
        async def probe(name, call):
            try:
                return name, await asyncio.wait_for(call, timeout=5)
            except (TimeoutError, ray.exceptions.RayActorError) as e:
                return name, {"error": type(e).__name__}
        probes = [probe(f"replica-{i}", r.health.remote()) for i, r in self.replicas.items()]
        probes += [probe(f"shard-{i}", s.ping.remote()) for i, s in enumerate(self.shards)]
        probes += [probe(f"validator-{i}", v.ping.remote()) for i, v in enumerate(self.validators)]
        if self.indexer is not None:
            probes.append(probe("indexer", self.indexer.status.remote()))
        if self.optimizer is not None:
            probes.append(probe("optimizer", self.optimizer.status.remote()))
        self.health = dict(await asyncio.gather(*probes))
        now_ms = time.time_ns() // 1_000_000
        for name, answer in self.health.items():
            up = not (isinstance(answer, dict) and "error" in answer)
            if up:
                self.last_ok_ms[name] = now_ms
            self._actor_up.set(1 if up else 0, {"actor": name})
        await self._connect_all()  # idempotent; re-wires replicas that Ray restarted
        if self.indexer is not None:
            self.indexer.start.remote()  # idempotent; restarts following in an indexer Ray restarted
        if self.optimizer is not None:
            self.optimizer.start.remote()  # idempotent; restarts the rounds of an optimizer Ray restarted

    async def topology(self) -> dict:
        return {"replicas": sorted(self.replicas), "shards": len(self.shards), "validators": len(self.validators),
                "indexer": self.indexer is not None, "optimizer": self.optimizer is not None,
                "health": self.health, "last_ok_ms": self.last_ok_ms,
                "ray_node": ray.get_runtime_context().get_node_id()}

    async def genesis(self) -> str:
        """The genesis document (JSON) the node runs."""
        return self.genesis_json

    async def wait_for_leader(self, timeout_s: float = 60.0) -> int:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while asyncio.get_running_loop().time() < deadline:
            leader = await self.ingress.leader.remote()
            if leader:
                return leader
            await asyncio.sleep(0.1)
        raise TimeoutError(f"no leader elected within {timeout_s:.0f} s")

    async def backup(self, dest: str) -> dict:
        """Back up the running node into `dest`: a new (or empty) folder, by an absolute path every
        Ray node can reach (like the data dir). Every shard, then every replica, checkpoints its own
        databases there, then genesis, keys and the manifest are written (order and consistency:
        `aurigraph.node.backup`). Returns `aurigraph.node.backup.summary`. On failure what was
        written is removed and `BackupError` says which actors failed."""
        root = Path(dest)
        if not root.is_absolute():
            raise BackupError(f"the backup folder must be an absolute path, not {dest!r}")
        created = await asyncio.to_thread(prepare, DataDir(self.settings.data_dir), root)
        try:
            databases = await self._checkpoint({f"shard-{i}": s for i, s in enumerate(self.shards)}, dest)
            databases.update(await self._checkpoint({f"replica-{i}": r for i, r in self.replicas.items()}, dest))
            manifest = await asyncio.to_thread(finish, DataDir(root), DataDir(self.settings.data_dir), databases,
                                               len(self.replicas), len(self.shards))
        except BaseException:
            await asyncio.to_thread(discard, root, created)
            raise
        log.info("backup of %d databases written to %s", len(databases), root)
        return summary(root, manifest)

    async def _checkpoint(self, actors: dict[str, object], dest: str) -> dict:
        """Each actor's `checkpoint(dest)`, all at once; merged, or `BackupError` naming who failed."""
        async def one(name: str, actor) -> dict:
            try:
                return await asyncio.wait_for(actor.checkpoint.remote(dest), timeout=CHECKPOINT_TIMEOUT_S)
            except ray.exceptions.RayTaskError as e:
                raise BackupError(f"{name}: {e.cause}") from None
            except (ray.exceptions.RayActorError, TimeoutError) as e:
                raise BackupError(f"{name} is not available ({type(e).__name__}); retry when the node is "
                                  f"healthy") from None
        results = await asyncio.gather(*(one(n, a) for n, a in actors.items()), return_exceptions=True)
        failed = [str(r) for r in results if isinstance(r, BaseException)]
        if failed:
            raise BackupError("checkpoint failed: " + "; ".join(failed))
        return {rel: d for found in results for rel, d in found.items()}

    # --- audit notes ------------------------------------------------------------------------------

    async def record(self, kind: str, detail: str, principal: str = "") -> dict:
        """Commit an audit note of an administrative action about to be carried out
        (`aurigraph.node.notary`); raises `NotRecorded` when it cannot, and the caller must not act."""
        notary = self._notary
        if notary is None:
            log.warning("administrative action not recorded on chain (the genesis lists no admins): %s: %s",
                        kind, detail)
            return {"recorded": False}
        if notary.key is None:
            raise NotRecorded("the node has no admin key to record administrative actions with "
                              "(`aurigraph up --admin-key`); the action was not taken")
        async with self._record_lock:  # one nonce sequence
            deadline = time.monotonic() + RECORD_TIMEOUT_S
            wire, detail_of_last = None, "no answer"
            while time.monotonic() < deadline:
                if wire is None:  # a note with the admin's next nonce
                    view = await self._leader_view()
                    if view is None:
                        await asyncio.sleep(RECORD_RETRY_S)
                        continue
                    _, nonce = decode_account(await view[0].get_account.remote(notary.key.address))
                    wire = notary.note(nonce, kind, detail, principal)
                [r] = response_statuses(await self.ingress.submit.remote(encode_batch([wire]), True))
                if r.status == TxStatus.COMMITTED:
                    log.info("recorded %s at height %d: %s", kind, r.receipt.height, detail)
                    return {"recorded": True, "tx_id": r.tx_id.hex(), "height": r.receipt.height}
                detail_of_last = r.detail or TxStatus(r.status).name
                if r.status == TxStatus.REJECTED:
                    if r.reason != Rejection.NONCE_REPLAY:
                        raise NotRecorded(f"the audit note was refused ({detail_of_last}); the action was not taken")
                    wire = None  # the admin key was used elsewhere meanwhile: read its nonce again
                    continue
                # PENDING (timed out, back-pressure) or DROPPED: the same bytes again, idempotent by id,
                # so a note that commits late is found rather than doubled.
                await asyncio.sleep(max(r.retry_after_ms / 1000, RECORD_RETRY_S))
            raise NotRecorded(f"the audit note was not committed within {RECORD_TIMEOUT_S:.0f} s ({detail_of_last}); "
                              "the action was not taken (the note may still commit: the audit trail then shows an "
                              "attempt)")

    # --- resync -----------------------------------------------------------------------------------

    async def resync_replica(self, node_id: int, timeout_s: float = RESYNC_TIMEOUT_S, principal: str = "") -> dict:
        """Replace replica `node_id`'s data with a fresh copy from the group: after a lost or
        corrupted disk, or a state divergence that halted it. Its votes and the entries it had
        acknowledged go with its data, so it must not rejoin as the voter it was:

        1. it stops and marks its folder, and Ray restarts it: it wipes its log and ledger and waits,
           taking no part in consensus;
        2. the leader (one of the others, which must hold a quorum without it) removes it from the
           group, then re-adds it as a learner;
        3. it catches up like any new replica: the leader's snapshot, then the log tail;
        4. once it holds the committed log, the leader promotes it back to voter (genesis stake).

        Every step is safe to repeat, so an interrupted call can simply be made again. One replica
        at a time (two away could leave no quorum). Returns the replica's id, its height once
        promoted, and the seconds taken."""
        if node_id not in self.replicas:
            raise ValueError(f"no replica {node_id}")
        if len(self.replicas) < 3:
            raise ValueError("resync needs at least 3 replicas: the others must commit without this one")
        if self._resyncing is not None:
            raise RuntimeError(f"replica {self._resyncing} is being resynced; resync one replica at a time")
        await self.record("membership", f"resync replica {node_id}: remove it, re-add it as a learner, "
                                        "promote it once caught up", principal)
        self._resyncing = node_id
        try:
            return await self._resync(node_id, timeout_s)
        finally:
            self._resyncing = None

    async def _resync(self, node_id: int, timeout_s: float) -> dict:
        stake = next(v.stake for v in genesis_from_json(self.genesis_json).validators if v.id == node_id)
        replica = self.replicas[node_id]
        started = time.monotonic()
        deadline = started + timeout_s

        async def health() -> dict:
            return await asyncio.wait_for(replica.health.remote(), 5)

        async def parked() -> bool:
            return (await health())["resyncing"]

        if not (await self._poll(health, deadline, f"replica {node_id} to answer"))["resyncing"]:
            await asyncio.wait_for(replica.begin_resync.remote(), 10)
            ray.kill(replica, no_restart=False)  # restarted by Ray, it wipes its folder and waits
            await self._poll(parked, deadline, f"replica {node_id} to restart wiped")
        log.warning("resync of replica %d: wiped; readmitting it", node_id)
        await self._change_membership(ConfChangeType.REMOVE_NODE, node_id, 0, deadline,
                                      lambda v: node_id not in v["voters"] and node_id not in v["learners"])
        await self._change_membership(ConfChangeType.ADD_LEARNER, node_id, stake, deadline,
                                      lambda v: node_id in v["learners"])
        await asyncio.wait_for(replica.finish_resync.remote(), 10)
        await self._change_membership(ConfChangeType.ADD_VOTER, node_id, stake, deadline,
                                      lambda v: node_id in v["voters"])
        _, view = await self._poll(self._leader_view, deadline, "a leader")

        async def caught_up():
            return (await asyncio.wait_for(replica.membership.remote(), 5))["height"] >= view["height"]

        await self._poll(caught_up, deadline, f"replica {node_id} to apply the committed log")
        seconds = round(time.monotonic() - started, 3)
        log.warning("resync of replica %d: a voter again after %.1f s", node_id, seconds)
        return {"node_id": node_id, "height": view["height"], "seconds": seconds}

    async def _change_membership(self, change: ConfChangeType, node_id: int, stake: int, deadline: float,
                                 done) -> None:
        """Propose `change` to the leader until its view satisfies `done`. Refusals are retried: a
        change still pending, a learner not yet caught up, a leader that just lost the lead."""
        async def attempt() -> bool:
            found = await self._leader_view()
            if found is None:
                return False
            leader, view = found
            if done(view):
                return True
            await asyncio.wait_for(leader.change_membership.remote(int(change), node_id, stake), 5)
            return False
        await self._poll(attempt, deadline, f"{change.name} of replica {node_id}")

    async def _leader_view(self):
        """(handle, `membership()`) of the leader, or None. (A wiped replica waiting for
        readmission never leads: it takes no part in consensus.)"""
        replicas = list(self.replicas.values())
        views = await asyncio.gather(*(asyncio.wait_for(r.membership.remote(), 5) for r in replicas),
                                     return_exceptions=True)
        for handle, view in zip(replicas, views):
            if isinstance(view, dict) and view["leader"]:
                return handle, view
        return None

    @staticmethod
    async def _poll(probe, deadline: float, what: str):
        """`await probe()` every `RESYNC_POLL_S` until it returns something true; errors of
        unavailable or refusing actors count as not yet. `TimeoutError` at `deadline`."""
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                result = await probe()
                if result:
                    return result
            except (ray.exceptions.RayError, TimeoutError) as e:
                last = e
            await asyncio.sleep(RESYNC_POLL_S)
        raise TimeoutError(f"resync: gave up waiting for {what}" + (f" (last error: {last})" if last else ""))


def _notary(settings: NodeSettings, data: DataDir, genesis) -> Notary | None:
    """The node's notary: None on a chain without admins; without a usable admin key, one that
    refuses to record (and so to act), saying why."""
    if not genesis.admins:
        return None
    path = settings.admin_key or data.admin_key
    try:
        key = load_keypair(path, data.passphrase())
    except (KeyFileError, ValueError) as e:
        log.warning("no admin key (%s): administrative actions will be refused", e)
        return Notary(genesis.chain_id, None)
    if key.address not in genesis.admins:
        log.warning("%s is not a chain admin: administrative actions will be refused", path)
        return Notary(genesis.chain_id, None)
    return Notary(genesis.chain_id, key, fee=genesis.params.min_fee)
