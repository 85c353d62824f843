"""TransactionValidator: the verify stage. A pool of these (default: one per CPU) checks batches of
wire transactions — decoding, stateless rules, one batched signature verification — so nothing
malformed or badly signed ever reaches the leader."""

from __future__ import annotations

import time

import ray
from ray.util.metrics import Counter

from aurigraph import telemetry
from aurigraph.codec.crypto import verify_request
from aurigraph.codec.genesis import genesis_from_json
from aurigraph.codec.node import checked_to_response, decode_batch
from aurigraph.ledger import StatelessValidator
from aurigraph.node.ingest import check_batch


class VerifyStage:
    """Decoding, the stateless rules and one batched signature verification of a chain's
    transactions, counted in `aurigraph_validator_transactions`: what a validator does with a batch,
    and what the ingress does itself with a batch too small to be worth a validator's round trip."""

    def __init__(self, genesis_json: str) -> None:
        genesis = genesis_from_json(genesis_json)
        self._checked = Counter("aurigraph_validator_transactions", "transactions checked",
                                tag_keys=("result",))
        self._validator = StatelessValidator(genesis.chain_id, genesis.params, lambda: time.time_ns() // 1_000_000,
                                             frozenset(genesis.admins))

    def check(self, wire: list[bytes]) -> bytes:
        """Wire transactions in; `BatchSubmitResponse` bytes out, in the same order."""
        checked = check_batch(self._validator, wire)
        rejected = sum(1 for c in checked if c.rejection is not None)
        for result, count in (("passed", len(checked) - rejected), ("rejected", rejected)):
            if count:  # Ray counters refuse 0
                self._checked.inc(count, {"result": result})
        return checked_to_response(checked)


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)
class TransactionValidator:
    def __init__(self, genesis_json: str) -> None:
        telemetry.configure("validator")
        self._stage = VerifyStage(genesis_json)

    def validate(self, batch: bytes, ctx: dict | None = None) -> bytes:
        """`TransactionBatch` bytes in; `BatchSubmitResponse` bytes out, in the same order:
        PENDING (passed, with tx id) or REJECTED (reason, detail). `ctx`: the request's telemetry."""
        wire = decode_batch(batch)
        with telemetry.span("validator.validate", ctx or {}, txs=len(wire)):
            return self._stage.check(wire)

    def verify_signatures(self, request: bytes) -> bytes:
        """`VerifyRequest` bytes in, `VerifyResponse` bytes out (the CryptoService helper); raises
        `InvalidVerifyRequest` for a request that does not parse or is too large."""
        return verify_request(request)

    def ping(self) -> bool:
        return True
