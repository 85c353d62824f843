"""Optimizer: the actor shell around `aurigraph.ml.optimizer.OptimizerCore` (started by the
supervisor when the node runs with `--optimizer`; docs/optimizer.md).

Every `optimizer_window_ms` it samples the node — the ingress's arrivals (per 100 ms of arrival
time, so a late round still files them in the right window), each replica's
health (its round-trip time is the replica loop's responsiveness), the leader's loop cost and the
blocks committed since the last round, read from the leader — feeds the core, stores what the core
flags in the anomaly audit log (`aurigraph.storage.flag_log`), and pushes the knobs the core
decides to every replica (`ConsensusReplica.set_knobs`; sent again each round, so a replica that
Ray restarted with the fixed settings gets them back). With `anomaly_hold`, flagged senders are
handed to the ingress, which refuses their further transactions until they are released.

Models come from the registry (`aurigraph.ml.registry`, seeded from the artifacts shipped in
`models/artifacts`). One that is missing or corrupt is not used: the core keeps the fixed settings
(or does not score) and the status says why. `retrain` trains a candidate as a Ray task on the
feature store's data, registers it, and swaps it in if it beats the serving version on the same
holdout; `promote` and `rollback` swap versions. A swap happens between two rounds, never inside
one, and the transaction path never waits on this actor: swapping cannot drop a transaction.

Blocks committed while the optimizer was down are not scored: it starts at the head it finds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path

import numpy as np
import ray
from ray.util.metrics import Counter, Gauge

from actors.ingress import ARRIVAL_BUCKET_MS
from actors.training import train_candidate
from aurigraph import telemetry
from aurigraph.codec.blocks import decode_block_record
from aurigraph.codec.consensus import encode_knobs
from aurigraph.codec.models import (
    encode_anomalies,
    encode_change,
    encode_flag,
    encode_retrain,
    encode_versions,
)
from aurigraph.ml.controller import ControlBounds
from aurigraph.ml.features import WINDOW_FEATURES
from aurigraph.ml.optimizer import OptimizerCore
from aurigraph.ml.pg_features import PgMirror
from aurigraph.ml.registry import ModelRegistry, ModelUnavailable, check_name
from aurigraph.node.config import NodeSettings
from aurigraph.node.datadir import DataDir
from aurigraph.storage.feature_store import FeatureStore
from aurigraph.storage.flag_log import FlagLog

log = logging.getLogger("aurigraph.optimizer")
SHIPPED_MODELS = Path(__file__).resolve().parents[1] / "models" / "artifacts"
CALL_TIMEOUT_S = 2.0
BLOCKS_PER_CALL = 64
MAX_BLOCKS_PER_ROUND = 512  # a long backlog is caught up over several rounds, not in one stall
MAX_TRAINING_TXS = 200_000
ARRIVALS_LOOKBACK_MS = 2_000  # on the first round: arrivals this far back count
ANOMALY_LIST_DEFAULT = 1_000
_INGRESS = WINDOW_FEATURES.index("ingress_tps")


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=0)
class Optimizer:
    def __init__(self, settings_json: str, replica_names: dict[int, str], ingress_name: str, namespace: str,
                 recorder: str | None = None) -> None:
        telemetry.configure("optimizer")
        self.settings = s = NodeSettings.model_validate_json(settings_json)
        self._replicas = {i: ray.get_actor(n, namespace=namespace) for i, n in replica_names.items()}
        self._ingress = ray.get_actor(ingress_name, namespace=namespace)
        self._recorder = (recorder, namespace)  # the supervisor: commits audit notes of model changes
        data = DataDir(s.data_dir)
        self.registry = ModelRegistry(data.models)
        for added in self.registry.seed_from(SHIPPED_MODELS):
            log.info("model registry: seeded %s v%d from the shipped artifacts", added.name, added.version)
        self.store = FeatureStore(data.features)
        self.flag_log = FlagLog(data.root / "optimizer" / "flags")
        defaults = s.consensus_config(1).knobs
        # With PostgreSQL configured, the feature rows are mirrored there too (best effort).
        self.mirror = PgMirror(s.postgres_dsn, s.postgres_schema) if s.postgres_dsn else None
        stores = [self.store] if self.mirror is None else [self.store, self.mirror]
        self.core = OptimizerCore(defaults, s.tick_ms, s.optimizer_window_ms, stores=stores,
                                  bounds=ControlBounds(election_floor_ms=s.election_floor_ms),
                                  adapt_batching=s.adapt_batching, adapt_ticks=s.adapt_ticks,
                                  threshold_override=s.anomaly_threshold)
        for name in ("load", "anomaly"):
            self._load_serving(name)
        self._next_height: int | None = None
        self._arrivals_from: int | None = None  # the next ingress arrival bucket to ask for
        self._loop: asyncio.Task | None = None
        self._training: str | None = None
        self._metrics = {
            "flagged": Counter("aurigraph_anomalies_flagged", "committed transactions flagged by the anomaly model"),
            "max_batch_txs": Gauge("aurigraph_optimizer_max_batch_txs", "block size cap in force"),
            "batch_wait_ms": Gauge("aurigraph_optimizer_batch_wait_ms", "batch wait in force"),
            "election_ticks": Gauge("aurigraph_optimizer_election_ticks", "election timeout in force (ticks)"),
            "forecast_tps": Gauge("aurigraph_optimizer_forecast_tps", "predicted peak ingress rate, next windows"),
        }

    def _load_serving(self, name: str) -> None:
        """Serve the registry's serving version of `name`, or fall back (logged, in the status)."""
        try:
            version, net = self.registry.load(name)
            self.core.use_model(name, version.version, net)
            log.info("serving %s model v%d", name, version.version)
        except (ModelUnavailable, ValueError) as e:
            self.core.drop_model(name, str(e))
            log.warning("%s model not used, %s: %s", name,
                        "fixed batching settings" if name == "load" else "transactions are not scored", e)

    async def start(self) -> None:
        """Start the rounds (idempotent)."""
        if self._loop is None or self._loop.done():
            self._loop = asyncio.get_running_loop().create_task(self._run_forever())

    async def _run_forever(self) -> None:
        period_s = self.settings.optimizer_window_ms / 1000
        while True:
            started = time.monotonic()
            try:
                await self._round()
            except Exception:
                log.exception("optimizer round failed")
            await asyncio.sleep(max(0.0, period_s - (time.monotonic() - started)))

    async def _round(self) -> None:
        now_ms = time.time_ns() // 1_000_000
        await self._sample_ingress(now_ms)
        leader = await self._sample_replicas(now_ms)
        if leader is not None:
            await self._follow_blocks(leader, now_ms)
        if self.settings.anomaly_hold:
            await self._push_hold()
        if self.mirror is not None:
            await self.mirror.flush()
        decision = self.core.decide(now_ms)  # windows ending by the sample time: all their arrivals are in
        await self._push_knobs(decision.knobs)
        m = self._metrics
        m["max_batch_txs"].set(decision.knobs.max_batch_txs)
        m["batch_wait_ms"].set(decision.knobs.batch_wait_ms)
        m["election_ticks"].set(decision.knobs.election_ticks)
        if decision.forecast_tps:
            m["forecast_tps"].set(max(decision.forecast_tps))

    async def _sample_ingress(self, now_ms: int) -> None:
        """The ingress's arrivals since the last sample, each at its own arrival time (so a late
        round still puts them in the right window)."""
        since_ms = now_ms - ARRIVALS_LOOKBACK_MS if self._arrivals_from is None else self._arrivals_from
        try:
            buckets = await asyncio.wait_for(self._ingress.arrivals.remote(since_ms), CALL_TIMEOUT_S)
        except (TimeoutError, ray.exceptions.RayError):
            return
        for start_ms, count in buckets:
            self.core.observe_ingress(count, start_ms)
        if buckets:
            self._arrivals_from = buckets[-1][0] + ARRIVAL_BUCKET_MS  # complete buckets only: no double count

    async def _sample_replicas(self, now_ms: int):
        """Health of every replica (timed: the round trip includes the replica's loop stalls);
        returns the leader's handle, after sampling its queue and loop cost."""
        async def timed(handle):
            started = time.perf_counter()
            answer = await asyncio.wait_for(handle.health.remote(), CALL_TIMEOUT_S)
            return answer, (time.perf_counter() - started) * 1000
        answers = await asyncio.gather(*(timed(h) for h in self._replicas.values()), return_exceptions=True)
        leader = None
        for handle, answer in zip(self._replicas.values(), answers):
            if isinstance(answer, BaseException):
                continue
            health, rtt_ms = answer
            self.core.observe_rtt(rtt_ms)
            if health["leader"] and not health["halted"]:
                leader = handle
                self.core.observe_pending(health["pending"], now_ms)
                if self._next_height is None:
                    self._next_height = health["height"] + 1
        if leader is not None:
            try:
                stats = await asyncio.wait_for(leader.loop_stats.remote(), CALL_TIMEOUT_S)
                self.core.observe_loop(stats["step_ms"], stats["applied_txs"], stats["max_step_ms"])
            except (TimeoutError, ray.exceptions.RayError):
                pass
        return leader

    async def _follow_blocks(self, leader, now_ms: int) -> None:
        seen = 0
        while seen < MAX_BLOCKS_PER_ROUND:
            try:
                records = await asyncio.wait_for(leader.get_blocks.remote(self._next_height, BLOCKS_PER_CALL),
                                                 CALL_TIMEOUT_S)
            except (TimeoutError, ray.exceptions.RayError):
                return
            for record in records:
                block, _ = decode_block_record(record)
                flags = self.core.observe_block(block, len(record), now_ms)
                if flags:
                    self.flag_log.append(encode_flag, flags)
                    self._metrics["flagged"].inc(len(flags))
                    if self.settings.anomaly_hold:
                        self.flag_log.hold({f.sender for f in flags})
                self._next_height = block.header.height + 1
            seen += len(records)
            if len(records) < BLOCKS_PER_CALL:
                break

    async def _push_hold(self) -> None:
        """The whole held list, every round: a restarted ingress gets it back, a release takes effect."""
        with contextlib.suppress(TimeoutError, ray.exceptions.RayError):
            await asyncio.wait_for(self._ingress.hold_senders.remote(sorted(self.flag_log.held)), CALL_TIMEOUT_S)

    async def _push_knobs(self, knobs) -> None:
        data = encode_knobs(knobs)
        results = await asyncio.gather(*(asyncio.wait_for(r.set_knobs.remote(data), CALL_TIMEOUT_S)
                                         for r in self._replicas.values()), return_exceptions=True)
        for node_id, result in zip(self._replicas, results):
            if isinstance(result, ray.exceptions.RayTaskError):
                log.error("replica %d refused knobs %s: %s", node_id, knobs, result.cause)

    # --- queries ----------------------------------------------------------------------------------

    async def status(self) -> dict:
        return {**self.core.status(), "next_height": self._next_height, "flag_log": self.flag_log.last_sequence,
                "features": self.store.counts(), "held_senders": len(self.flag_log.held), "training": self._training,
                "postgres_mirror": None if self.mirror is None else {"error": self.mirror.last_error,
                                                                     "dropped_rows": self.mirror.dropped}}

    async def release(self, sender: bytes) -> bool:
        """Stop holding `sender` (the hold policy); False if it was not held. Takes effect at the
        ingress within a round."""
        released = self.flag_log.release(sender)
        if released:
            log.warning("sender %s released from review", sender.hex())
            await self._push_hold()
        return released

    async def anomalies(self, from_sequence: int, limit: int) -> bytes:
        """`ListAnomaliesResponse` bytes: flags from `from_sequence` on, at most `limit` (0: 1,000)."""
        records = self.flag_log.read(from_sequence, limit or ANOMALY_LIST_DEFAULT)
        start = max(1, from_sequence)
        return encode_anomalies(records, start + len(records), self.flag_log.last_sequence)

    async def models(self, name: str = "") -> bytes:
        """`ListModelsResponse` bytes: every version of `name` (or of every model), serving marked."""
        names = [check_name(name)] if name else ["load", "anomaly"]
        found = []
        for n in names:
            serving = self.registry.serving(n)
            found += [(v, serving is not None and v.version == serving.version) for v in self.registry.versions(n)]
        return encode_versions(found)

    async def dataset(self, since_ms: int = 0) -> dict:
        """The feature store's rows from `since_ms` on (`FeatureStore.dataset`), for the caller to
        keep or save (`aurigraph.ml.export_dataset`)."""
        return await asyncio.to_thread(self.store.dataset, since_ms)

    # --- model changes ----------------------------------------------------------------------------

    async def _record(self, detail: str, principal: str) -> None:
        """Commit the audit note of a model change before making it (`aurigraph.node.notary`)."""
        name, namespace = self._recorder
        if name is None:
            return
        try:
            await ray.get_actor(name, namespace=namespace).record.remote("model_promotion", detail, principal)
        except ray.exceptions.RayTaskError as e:
            raise RuntimeError(str(e.cause)) from None

    async def promote(self, name: str, version: int, principal: str = "") -> bytes:
        """Serve `version` of `name` from the next round; `ModelChangeResponse` bytes."""
        self.registry.version(check_name(name), version)  # UnknownVersion before anything is recorded
        await self._record(f"serve the {name} model v{version}", principal)
        chosen = self.registry.promote(name, version)
        self._swap(name)
        return encode_change(chosen)

    async def rollback(self, name: str, principal: str = "") -> bytes:
        target = self.registry.rollback_target(check_name(name))  # refusals before anything is recorded
        await self._record(f"roll the {name} model back to v{target.version}", principal)
        chosen = self.registry.rollback(name)
        self._swap(name)
        return encode_change(chosen)

    def _swap(self, name: str) -> None:
        version, net = self.registry.load(name)  # checked by promote / rollback: a load failure raises there
        self.core.use_model(name, version.version, net)
        log.warning("now serving %s model v%d", name, version.version)

    async def retrain(self, name: str, since_ms: int = 0, promote: bool = False, seed: int = 0,
                      principal: str = "") -> bytes:
        """Train a candidate of `name` on the stored features from `since_ms` (a Ray task), compare it
        with the serving version on the same holdout, register it, and serve it if it is better (or
        if `promote`). `RetrainResponse` bytes. ValueError when there is too little data."""
        check_name(name)
        if self._training is not None:
            raise RuntimeError(f"a retrain of the {self._training} model is running; wait for it")
        self._training = name
        try:
            data, window = await asyncio.to_thread(self._training_data, name, since_ms)
            try:
                serving_artifact = self.registry.artifact(name)[1]
            except ModelUnavailable:
                serving_artifact = None  # none serving, or its file is damaged: the candidate competes alone
            log.info("retraining the %s model on %d rows", name, window["rows"])
            result = await train_candidate.remote(name, data, serving_artifact, seed)
            candidate = self.registry.register(name, result["artifact"], metrics=result["candidate"],
                                               data_window=window, source="retrain")
            promoted = bool(result["better"] or promote)
            reason = result["reason"] + ("" if result["better"] or not promote else "; promoted as asked")
            if promoted:
                await self._record(f"serve the {name} model v{candidate.version} (retrained: {reason})", principal)
                self.registry.promote(name, candidate.version)
                self._swap(name)
            return encode_retrain(candidate, result["candidate"], result["serving"], promoted, reason)
        finally:
            self._training = None

    def _training_data(self, name: str, since_ms: int) -> tuple[dict, dict]:
        if name == "load":
            start_ms, values = self.store.windows(since_ms)
            data, times = {"rates": values[:, _INGRESS].astype(np.float64)}, start_ms
        else:
            at_ms, _, x, _ = self.store.txs(since_ms)
            if len(x) > MAX_TRAINING_TXS:
                at_ms, x = at_ms[-MAX_TRAINING_TXS:], x[-MAX_TRAINING_TXS:]
            data, times = {"X": x}, at_ms
        rows = len(times)
        window = {"since_ms": int(times[0]) if rows else since_ms, "until_ms": int(times[-1]) if rows else 0,
                  "rows": rows}
        return data, window
