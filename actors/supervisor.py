"""Supervisor: owns the node's topology (and, in Ray's sense, every actor it creates: it is pinned to
the driver's node by `actors.launcher`, since owned actors die with their owner). It creates the actors — replicas spread over Ray nodes
with a placement group (packed on one machine when there is only one), validators, storage shards,
the ingress — wires them together, and every `HEALTH_PERIOD_S` pings them and re-wires any that
Ray restarted (all actors have `max_restarts=-1`; a restarted replica recovers from its own disk).
"""

from __future__ import annotations

import asyncio
import logging
import time

import ray
from ray.util.metrics import Gauge
from ray.util.placement_group import placement_group
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from actors.indexer import Indexer
from actors.ingress import Ingress
from actors.replica import ConsensusReplica
from actors.shard import StorageShard
from actors.validator import TransactionValidator
from aurigraph import telemetry
from aurigraph.node.config import NodeSettings
from aurigraph.node.datadir import DataDir

log = logging.getLogger("aurigraph.supervisor")
HEALTH_PERIOD_S = 1.0
NAMESPACE = "aurigraph"
INGRESS_NAME = "aurigraph-ingress"
INDEXER_NAME = "aurigraph-indexer"
SUPERVISOR_NAME = "aurigraph-supervisor"
# Actors ask for a sliver of CPU so a placement group can place them; real parallelism comes from
# each actor being its own process.
BUNDLE_CPU = 0.01


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
        self.genesis_json = DataDir(self.settings.data_dir).genesis.read_text()
        self.replicas: dict[int, object] = {}
        self.shards: list = []
        self.validators: list = []
        self.ingress = None
        self.indexer = None  # with a PostgreSQL DSN
        self.health: dict[str, object] = {}
        self.last_ok_ms: dict[str, int] = {}  # actor -> wall time of its last good health probe
        self._monitor: asyncio.Task | None = None
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
            ).remote(node_id, s.model_dump_json())
        data = DataDir(s.data_dir)
        self.shards = [StorageShard.options(name=shard_name(i), namespace=NAMESPACE).remote(
            i, s.shards, str(data.shard(i))) for i in range(s.shards)]
        validator_names = [validator_name(i) for i in range(s.validators)]
        self.validators = [TransactionValidator.options(name=n, namespace=NAMESPACE).remote(self.genesis_json)
                           for n in validator_names]
        await asyncio.gather(*(v.ping.remote() for v in self.validators), *(r.ping.remote() for r in self.replicas.values()))
        self.ingress = Ingress.options(name=INGRESS_NAME, namespace=NAMESPACE).remote(
            validator_names, {i: replica_name(i) for i in ids}, NAMESPACE)
        await self._connect_all()
        if s.postgres_dsn:
            self.indexer = Indexer.options(name=INDEXER_NAME, namespace=NAMESPACE).remote(
                s.postgres_dsn, s.postgres_schema, self.genesis_json, [self.replicas[i] for i in ids], self.shards)
            await self.indexer.start.remote()
        self._monitor = asyncio.get_running_loop().create_task(self._watch())
        return await self.topology()

    async def _connect_all(self) -> None:
        """Idempotent; a replica Ray is still restarting is skipped and wired on a later round."""
        async def connect(replica):
            try:
                await asyncio.wait_for(replica.connect.remote(self.replicas, self.shards), timeout=5)
            except (ray.exceptions.RayActorError, asyncio.TimeoutError):
                pass
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
            except (ray.exceptions.RayActorError, asyncio.TimeoutError) as e:
                return name, {"error": type(e).__name__}
        probes = [probe(f"replica-{i}", r.health.remote()) for i, r in self.replicas.items()]
        probes += [probe(f"shard-{i}", s.ping.remote()) for i, s in enumerate(self.shards)]
        probes += [probe(f"validator-{i}", v.ping.remote()) for i, v in enumerate(self.validators)]
        if self.indexer is not None:
            probes.append(probe("indexer", self.indexer.status.remote()))
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

    async def topology(self) -> dict:
        return {"replicas": sorted(self.replicas), "shards": len(self.shards), "validators": len(self.validators),
                "indexer": self.indexer is not None,
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
