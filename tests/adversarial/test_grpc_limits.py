"""gRPC messages at the size limits and batches at the count limit.

The gateway's gRPC servers take messages up to `GRPC_MAX_MESSAGE_BYTES` (128 MiB,
serve_apps/grpc_server.py): one byte more and gRPC itself answers RESOURCE_EXHAUSTED.
Within it, the gateway applies REST's limits (serve_apps/service.py): a single transaction over
128 KiB, or a batch over 96 MiB of transactions, is RESOURCE_EXHAUSTED / PAYLOAD_TOO_LARGE before it
travels on to the node's actors (before: a 128 MiB SubmitTransaction went through the ingress to a
validator, ~10 s, to be rejected there as OVERSIZE).
"""

from __future__ import annotations

import grpc
import pytest

from aurigraph.codec import encode_signed
from aurigraph.ledger import MAX_TX_BYTES
from aurigraph.v1 import services_pb2_grpc, transaction_pb2
from serve_apps.grpc_server import GRPC_MAX_MESSAGE_BYTES
from tests.adversarial.conftest import Sender, fund
from tests.adversarial.wire import blob, uint

MAX_BATCH_TXS = 10_000


@pytest.fixture(scope="module")
def channel(stack):
    options = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]
    with grpc.insecure_channel(stack.grpc_target, options=options) as ch:
        grpc.channel_ready_future(ch).result(timeout=30)
        yield ch


def raw(channel, method: str):
    return channel.unary_unary(f"/aurigraph.v1.TransactionService/{method}", request_serializer=None,
                               response_deserializer=None)


def sized(total: int, wrap) -> bytes:
    """`wrap(filler)` grown to exactly `total` bytes (filler: the body of one SignedTransaction)."""
    n = total
    while len(message := wrap(b"\x00" * n)) != total:
        n -= len(message) - total
    return message


def refusal(call, message: bytes, timeout_s: float = 120) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(message, timeout=timeout_s)
    return caught.value


def test_a_message_at_the_grpc_limit_is_refused_by_the_gateway_and_one_byte_more_by_grpc(channel):
    batch = raw(channel, "BatchSubmitTransactions")
    def one_transaction(filler):
        return blob(1, blob(1, filler))  # BatchSubmitRequest{transactions: [{body}]}
    at_limit = refusal(batch, sized(GRPC_MAX_MESSAGE_BYTES, one_transaction))
    assert at_limit.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert at_limit.details().startswith("PAYLOAD_TOO_LARGE:"), at_limit.details()
    over = refusal(batch, sized(GRPC_MAX_MESSAGE_BYTES + 1, one_transaction))
    assert over.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "larger than max" in over.details(), over.details()


def test_single_transactions_get_rests_limits(channel):
    submit = raw(channel, "SubmitTransaction")
    def request(filler):
        return blob(1, blob(1, filler))  # SubmitRequest{transaction: {body}}
    too_big = refusal(submit, sized(128 * 1024 + 64, request))
    assert too_big.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and too_big.details().startswith("PAYLOAD_TOO_LARGE:")
    oversize = refusal(submit, sized(MAX_TX_BYTES + 64, request))  # under the body limit: the ledger's rule
    assert oversize.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert oversize.details().startswith("REJECTED: OVERSIZE"), oversize.details()


def test_a_batch_of_exactly_max_batch_txs_commits_and_one_more_is_refused_whole(stack, http, channel, witness):
    sender = Sender(stack.chain_id, fund(stack, http, 10**8), 0)
    full = [transaction_pb2.SignedTransaction.FromString(
        encode_signed(sender.transfer(amount=1)))
        for _ in range(MAX_BATCH_TXS)]
    service = services_pb2_grpc.TransactionServiceStub(channel)
    response = service.BatchSubmitTransactions(
        transaction_pb2.BatchSubmitRequest(transactions=full, wait_committed=True), timeout=300)
    assert len(response.results) == MAX_BATCH_TXS
    assert all(r.status == transaction_pb2.TRANSACTION_STATUS_COMMITTED for r in response.results)
    for i in (0, MAX_BATCH_TXS // 2, MAX_BATCH_TXS - 1):
        witness.acknowledged(response.results[i].tx_id, response.results[i].receipt.height)

    over = [transaction_pb2.SignedTransaction.FromString(
        encode_signed(sender.transfer(amount=1)))
        for _ in range(MAX_BATCH_TXS + 1)]
    refused = refusal(service.BatchSubmitTransactions,
                      transaction_pb2.BatchSubmitRequest(transactions=over, wait_committed=True))
    assert refused.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert refused.details().startswith(f"BATCH_TOO_LARGE: {MAX_BATCH_TXS + 1} transactions"), refused.details()
    account = http.get(f"/v11/accounts/{sender.key.address.hex()}").json()
    assert account["nonce"] == str(MAX_BATCH_TXS), "none of the refused batch was ordered"


def test_the_node_still_commits_after_the_grpc_limits(witness):
    witness.check()


def test_wait_flag_is_a_plain_varint(channel):
    """The hand-made `SubmitRequest` framing used above is what the generated code writes."""
    request = transaction_pb2.SubmitRequest(transaction=transaction_pb2.SignedTransaction(body=b"x"), wait_committed=True)
    assert request.SerializeToString() == blob(1, blob(1, b"x")) + uint(2, 1)
