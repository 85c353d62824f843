"""TransactionValidator: the verify stage. A pool of these (default: one per CPU) checks batches of
wire transactions — decoding, stateless rules, one batched signature verification — so nothing
malformed or badly signed ever reaches the leader."""

from __future__ import annotations

import time

import ray

from aurigraph.codec.crypto import verify_request
from aurigraph.codec.genesis import genesis_from_json
from aurigraph.codec.node import checked_to_response, decode_batch
from aurigraph.ledger import StatelessValidator
from aurigraph.node.ingest import check_batch


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)
class TransactionValidator:
    def __init__(self, genesis_json: str) -> None:
        genesis = genesis_from_json(genesis_json)
        self._validator = StatelessValidator(genesis.chain_id, genesis.params, lambda: time.time_ns() // 1_000_000)

    def validate(self, batch: bytes) -> bytes:
        """`TransactionBatch` bytes in; `BatchSubmitResponse` bytes out, in the same order:
        PENDING (passed, with tx id) or REJECTED (reason, detail)."""
        return checked_to_response(check_batch(self._validator, decode_batch(batch)))

    def verify_signatures(self, request: bytes) -> bytes:
        """`VerifyRequest` bytes in, `VerifyResponse` bytes out (the CryptoService helper); raises
        `InvalidVerifyRequest` for a request that does not parse or is too large."""
        return verify_request(request)

    def ping(self) -> bool:
        return True
