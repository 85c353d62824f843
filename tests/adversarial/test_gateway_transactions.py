"""The signature, replay and encoding attacks again, through a running node's REST and gRPC
gateway: each comes back REJECTED with its reason, none reaches a block, the honest transaction
they imitate still commits once, and resubmitting it is answered from the ledger, not applied again."""

from __future__ import annotations

import os
import time

import grpc
import nacl.bindings as sodium
import pytest

from aurigraph.client import Client
from aurigraph.codec import encode_signed, sign_transaction
from aurigraph.codec.names import reason_name
from aurigraph.crypto import SIGNATURE_SIZE, Scheme, generate_keypair
from aurigraph.ledger import Transfer, TxBody, sign_body, signing_message
from aurigraph.v1 import block_pb2, services_pb2_grpc, transaction_pb2
from tests.adversarial.conftest import PROTOBUF, envelope
from tests.adversarial.wire import UNKNOWN_FIELDS, blob, uint

ED_SIG = SIGNATURE_SIZE[Scheme.ED25519]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@pytest.fixture(scope="module")
def victim(stack):
    """A funded hybrid account (funding acknowledged as committed)."""
    key = generate_keypair(Scheme.HYBRID)
    with Client(stack.url) as node:
        assert node.transfer(stack.faucet, key.address, 10**6).status == transaction_pb2.TRANSACTION_STATUS_COMMITTED
    return key


def signed(stack, key, nonce: int, *, chain_id: str | None = None, amount: int = 5, to: bytes = b"\x05" * 32):
    return sign_transaction(TxBody(chain_id or stack.chain_id, key.address, nonce, 1, now_ms(), Transfer(to, amount)), key)


def batch(http, wire: list[bytes], wait: bool = True) -> list:
    body = transaction_pb2.TransactionBatch(transactions=wire).SerializeToString()
    r = http.post("/v11/transactions/batch", params={"wait": "committed"} if wait else {}, content=body,
                  headers={"content-type": PROTOBUF, "accept": PROTOBUF})
    assert r.status_code == 200, r.text
    return list(transaction_pb2.BatchSubmitResponse.FromString(r.content).results)


def test_forgeries_of_a_hybrid_transfer_are_rejected_and_the_real_one_commits_once(stack, http, witness, victim):
    honest = signed(stack, victim, 0, amount=77)
    ed, ml = honest.signature[:ED_SIG], honest.signature[ED_SIG:]
    s = int.from_bytes(ed[32:], "little") + 2**252 + 27742317777372353535851937790883648493
    thief = generate_keypair(Scheme.HYBRID)
    stolen = sign_transaction(TxBody(stack.chain_id, victim.address, 0, 1, now_ms(), Transfer(thief.address, 10**5)),
                              thief)
    downgrade = sodium.crypto_sign(signing_message(honest.body_bytes), victim.secret_key[:64])[:ED_SIG]
    relaxed = honest.body_bytes + uint(15, 1)  # an unknown field, signed by the owner
    attacks = {
        "random signature": (envelope(honest, signature=os.urandom(len(honest.signature))), "BAD_SIGNATURE"),
        "ed25519 half zeroed": (envelope(honest, signature=bytes(ED_SIG) + ml), "BAD_SIGNATURE"),
        "ml-dsa half zeroed": (envelope(honest, signature=ed + bytes(len(ml))), "BAD_SIGNATURE"),
        "ml-dsa half missing": (envelope(honest, signature=ed), "MALFORMED"),
        "halves swapped": (envelope(honest, signature=ml + ed), "BAD_SIGNATURE"),
        "ed25519 S + L": (envelope(honest, signature=ed[:32] + s.to_bytes(32, "little") + ml), "BAD_SIGNATURE"),
        "another key's valid signature": (encode_signed(stolen), "SENDER_MISMATCH"),
        "another key's signature, victim's key": (envelope(stolen, public_key=victim.public_key), "BAD_SIGNATURE"),
        "downgraded to ed25519": (envelope(honest, scheme=int(Scheme.ED25519), public_key=victim.public_key[:32],
                                           signature=downgrade), "SENDER_MISMATCH"),
        "signed for another chain": (encode_signed(signed(stack, victim, 0, chain_id="another-chain")), "WRONG_CHAIN"),
        "unknown envelope field": (encode_signed(honest) + UNKNOWN_FIELDS["varint"], "MALFORMED"),
        "body field twice": (blob(1, honest.body_bytes) + encode_signed(honest), "MALFORMED"),
        "owner-signed body with an unknown field": (encode_signed(sign_body(honest.body, relaxed, victim)), "MALFORMED"),
    }
    results = batch(http, [wire for wire, _ in attacks.values()])
    for (name, (_, reason)), result in zip(attacks.items(), results):
        assert result.status == transaction_pb2.TRANSACTION_STATUS_REJECTED, name
        assert reason_name(result.reason) == reason.lower(), (name, result.detail)
    assert http.get(f"/v11/accounts/{victim.address.hex()}").json()["nonce"] == "0", "nothing reached a block"
    # Only the forgeries the owner signed (the wrong-chain one) are attributed to the owner: the others
    # share the honest body's id, and must not make the honest transaction look rejected.
    assert [r.authenticated for r in results] == [name == "signed for another chain" for name in attacks]
    poisoned = http.get(f"/v11/transactions/{honest.tx_id.hex()}").json()
    assert poisoned["status"] == "TRANSACTION_STATUS_UNKNOWN", poisoned

    first = batch(http, [encode_signed(honest)])[0]
    assert first.status == transaction_pb2.TRANSACTION_STATUS_COMMITTED, first
    witness.acknowledged(honest.tx_id, first.receipt.height)
    record = http.get(f"/v11/transactions/{honest.tx_id.hex()}").json()  # forged copies shared its id
    assert record["status"] == "TRANSACTION_STATUS_COMMITTED"
    account = http.get(f"/v11/accounts/{victim.address.hex()}").json()
    again = batch(http, [encode_signed(honest)])[0]  # the same bytes: answered from the ledger
    assert again.status == transaction_pb2.TRANSACTION_STATUS_COMMITTED and again.receipt.height == first.receipt.height
    double = batch(http, [encode_signed(signed(stack, victim, 0, amount=78))])[0]  # same nonce, new body
    assert reason_name(double.reason) == "nonce_replay"
    assert http.get(f"/v11/accounts/{victim.address.hex()}").json() == account, "applied once"


def test_grpc_re_encodes_the_envelope_but_keeps_the_signed_body_bytes(stack, http, witness, victim):
    """gRPC hands the gateway a parsed `SubmitRequest`, which it re-serializes canonically: a
    duplicated `body` field collapses to the last one (protobuf's rule). The stored body is then
    exactly the bytes whose signature verified — and a last body that is not the signed one fails."""
    nonce = int(http.get(f"/v11/accounts/{victim.address.hex()}").json()["nonce"])
    honest = signed(stack, victim, nonce)
    rest = encode_signed(honest)[len(blob(1, honest.body_bytes)):]
    call = grpc.insecure_channel(stack.grpc_target).unary_unary(
        "/aurigraph.v1.TransactionService/SubmitTransaction", request_serializer=None, response_deserializer=None)

    def submit(tx_bytes: bytes):
        return call(blob(1, tx_bytes) + uint(2, 1), timeout=30)  # SubmitRequest{transaction, wait_committed}

    with pytest.raises(grpc.RpcError) as caught:  # the real body first, a tampered one last
        submit(blob(1, honest.body_bytes) + blob(1, signed(stack, victim, nonce, amount=6).body_bytes) + rest)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details().startswith("REJECTED: BAD_SIGNATURE")
    result = transaction_pb2.SubmitResponse.FromString(submit(blob(1, b"junk") + blob(1, honest.body_bytes) + rest))
    assert result.status == transaction_pb2.TRANSACTION_STATUS_COMMITTED and result.tx_id == honest.tx_id
    witness.acknowledged(honest.tx_id, result.receipt.height)
    storage = services_pb2_grpc.StorageServiceStub(grpc.insecure_channel(stack.grpc_target))
    block = storage.GetBlock(block_pb2.GetBlockRequest(height=result.receipt.height), timeout=10)
    stored = [t for t in block.block.transactions if t.body == honest.body_bytes]
    assert len(stored) == 1 and stored[0].signature == honest.signature


def test_the_node_still_commits_and_lost_nothing(witness):
    witness.check()
