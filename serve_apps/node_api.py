"""`NodeApi`: what the gateway asks of the node, in one place for REST and gRPC alike.

It holds Ray actor handles (looked up by name in the node's namespace), makes every remote call
with a timeout, and answers with `aurigraph.v1` messages. Errors a client should see come out as
`ApiFailure` (NOT_FOUND, UNAVAILABLE with a retry hint); nothing here decides business rules.

Reads go to the leader replica (its applied state is the freshest), fall back to the other
replicas, and for blocks and transactions a replica no longer holds (skipped by a snapshot
catch-up) to the storage shards.
"""

from __future__ import annotations

import asyncio
import time

import ray

from actors.supervisor import INGRESS_NAME, SUPERVISOR_NAME, replica_name, shard_name, validator_name
from aurigraph import telemetry
from aurigraph.codec import encode_block
from aurigraph.codec.blocks import encode_block_record
from aurigraph.codec.crypto import MAX_VERIFY_CHECKS, kem_public_key
from aurigraph.codec.genesis import genesis_from_json
from aurigraph.keystore import load_kem_public
from aurigraph.ledger import block_hash, genesis_block
from aurigraph.storage.archive import shard_for
from aurigraph.v1 import block_pb2, consensus_pb2, crypto_pb2, monitoring_pb2, node_pb2, transaction_pb2
from serve_apps.errors import ApiFailure

CALL_TIMEOUT_S = 5.0
LEADER_CACHE_S = 1.0
RETRY_AFTER_MS = 500


async def _call(ref, timeout_s: float = CALL_TIMEOUT_S):
    try:
        return await asyncio.wait_for(ref, timeout_s)
    except (TimeoutError, ray.exceptions.RayError) as e:  # down, restarting, halted, slow
        raise ApiFailure("UNAVAILABLE", f"node actor did not answer ({type(e).__name__})",
                         retry_after_ms=RETRY_AFTER_MS) from None


class NodeApi:
    def __init__(self, namespace: str, kem_public_key_file=None) -> None:
        self.namespace = namespace
        self._supervisor = ray.get_actor(SUPERVISOR_NAME, namespace=namespace)
        self._ingress = ray.get_actor(INGRESS_NAME, namespace=namespace)
        self.genesis = genesis_from_json(ray.get(self._supervisor.genesis.remote(), timeout=CALL_TIMEOUT_S))
        topology = ray.get(self._supervisor.topology.remote(), timeout=CALL_TIMEOUT_S)
        self._replicas = {i: ray.get_actor(replica_name(i), namespace=namespace) for i in topology["replicas"]}
        self._shards = [ray.get_actor(shard_name(i), namespace=namespace) for i in range(topology["shards"])]
        self._validators = [ray.get_actor(validator_name(i), namespace=namespace) for i in range(topology["validators"])]
        self._next_validator = 0
        self._leader: int | None = None
        self._leader_at = 0.0
        self._kem = load_kem_public(kem_public_key_file) if kem_public_key_file else None
        self._genesis_record = encode_block_record(encode_block(genesis_block(self.genesis)), [], confidence=1.0)
        self.genesis_hash = block_hash(genesis_block(self.genesis).header)

    # --- writes ---------------------------------------------------------------------------------

    async def submit(self, wire: list[bytes], wait: bool, timeout_ms: int) -> transaction_pb2.BatchSubmitResponse:
        """Raw `SignedTransaction` bytes in, one result each (same order)."""
        batch = transaction_pb2.TransactionBatch(transactions=wire).SerializeToString()
        # The ingress re-routes around leader changes and caps the wait itself; allow for both.
        reply = await _call(self._ingress.submit.remote(batch, wait, timeout_ms, telemetry.current()),
                            timeout_ms / 1000 + 30)
        return transaction_pb2.BatchSubmitResponse.FromString(reply)

    # --- reads ----------------------------------------------------------------------------------

    async def leader(self) -> int | None:
        if self._leader is None or time.monotonic() - self._leader_at > LEADER_CACHE_S:
            self._leader = await _call(self._ingress.leader.remote())
            self._leader_at = time.monotonic()
        return self._leader

    async def _replicas_leader_first(self) -> list:
        leader = await self.leader()
        order = sorted(self._replicas, key=lambda i: i != leader)
        return [self._replicas[i] for i in order]

    async def _ask_replicas(self, method: str, *args):
        """The first answer of the leader, else of any replica."""
        last: ApiFailure | None = None
        for replica in await self._replicas_leader_first():
            try:
                return await _call(getattr(replica, method).remote(*args))
            except ApiFailure as e:
                self._leader = None
                last = e
        raise last or ApiFailure("UNAVAILABLE", "no replica answered", retry_after_ms=RETRY_AFTER_MS)

    async def transaction(self, tx_id: bytes) -> transaction_pb2.TransactionRecord:
        record = transaction_pb2.TransactionRecord.FromString(await self._ask_replicas("get_transaction", tx_id))
        if record.status != transaction_pb2.TRANSACTION_STATUS_UNKNOWN:
            return record
        for shard_reply in await asyncio.gather(*(_call(s.get_transaction.remote(tx_id)) for s in self._shards)):
            if shard_reply is not None:
                return transaction_pb2.TransactionRecord.FromString(shard_reply)
        rejected = await _call(self._ingress.rejection.remote(tx_id))
        if rejected is not None:
            r = transaction_pb2.SubmitResponse.FromString(rejected)
            return transaction_pb2.TransactionRecord(tx_id=tx_id, status=r.status, reason=r.reason, detail=r.detail)
        return record  # UNKNOWN

    async def head_height(self) -> int:
        return (await self.consensus_status()).height

    async def block(self, height: int | None) -> block_pb2.BlockRecord:
        """The block at `height` (None: the latest), with the leader's finality confidence."""
        if height is None:
            height = await self.head_height()
        if height == 0:
            return block_pb2.BlockRecord.FromString(self._genesis_record)
        data = await self._ask_replicas("get_block", height)
        if data is None and self._shards:
            data = await _call(self._shards[shard_for(height, len(self._shards))].get_block.remote(height))
        if data is None:
            raise ApiFailure("NOT_FOUND", f"no block at height {height}")
        return block_pb2.BlockRecord.FromString(data)

    async def blocks_from(self, height: int, limit: int) -> list[bytes]:
        """Consecutive `BlockRecord` bytes from `height` (fewer at the head; shards fill gaps)."""
        records = await self._ask_replicas("get_blocks", height, limit)
        if not records and self._shards and height <= await self.head_height():
            one = await _call(self._shards[shard_for(height, len(self._shards))].get_block.remote(height))
            records = [one] if one is not None else []
        return records

    async def account(self, address: bytes) -> block_pb2.Account:
        return block_pb2.Account.FromString(await self._ask_replicas("get_account", address))

    async def compliance_rules(self) -> transaction_pb2.ComplianceRules:
        return transaction_pb2.ComplianceRules.FromString(await self._ask_replicas("get_compliance_rules"))

    async def consensus_status(self) -> consensus_pb2.ConsensusStatus:
        return consensus_pb2.ConsensusStatus.FromString(await self._ask_replicas("status"))

    async def topology(self) -> dict:
        return await _call(self._supervisor.topology.remote())

    async def nodes(self) -> node_pb2.ListNodesResponse:
        topology, status = await asyncio.gather(self.topology(), self.consensus_status())
        out = node_pb2.ListNodesResponse()
        for v in self.genesis.validators:
            health = topology["health"].get(f"replica-{v.id}") or {}
            info = out.nodes.add(ray_node_id=health.get("ray_node", ""),
                                 last_heartbeat_ms=topology["last_ok_ms"].get(f"replica-{v.id}", 0))
            info.validator.CopyFrom(node_pb2.Validator(id=v.id, address=v.address, scheme=int(v.scheme),
                                                       public_key=v.public_key, stake=v.stake, name=v.name))
            if "error" in health or not health:
                info.health = node_pb2.NODE_HEALTH_DOWN
            elif health.get("halted"):
                info.health = node_pb2.NODE_HEALTH_DEGRADED
            else:
                info.health = node_pb2.NODE_HEALTH_UP
            info.role = node_pb2.NODE_ROLE_LEADER if v.id == status.leader_id else node_pb2.NODE_ROLE_FOLLOWER
        return out

    async def health(self) -> monitoring_pb2.HealthResponse:
        """Ready when a leader answers and the ingress is not saturated."""
        try:
            leader = await self.leader()
            inflight = await _call(self._ingress.inflight.remote())
        except ApiFailure as e:
            return monitoring_pb2.HealthResponse(live=True, ready=False, detail=e.detail)
        if leader is None:
            return monitoring_pb2.HealthResponse(live=True, ready=False, detail="no leader")
        return monitoring_pb2.HealthResponse(live=True, ready=True, detail=f"leader: replica {leader}, "
                                                                          f"{inflight} batches in flight")

    async def ingress_inflight(self) -> int:
        return await _call(self._ingress.inflight.remote())

    # --- crypto helpers -------------------------------------------------------------------------

    async def verify(self, request: crypto_pb2.VerifyRequest) -> crypto_pb2.VerifyResponse:
        if len(request.checks) > MAX_VERIFY_CHECKS:
            raise ApiFailure("BATCH_TOO_LARGE", f"{len(request.checks)} checks, at most {MAX_VERIFY_CHECKS}")
        validator = self._validators[self._next_validator % len(self._validators)]
        self._next_validator += 1
        reply = await _call(validator.verify_signatures.remote(request.SerializeToString()), 30)
        return crypto_pb2.VerifyResponse.FromString(reply)

    def kem_public_key(self) -> crypto_pb2.KemPublicKey:
        if self._kem is None:
            raise ApiFailure("NOT_FOUND", "this node has no ML-KEM key configured")
        return kem_public_key(self._kem)

