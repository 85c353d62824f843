"""`aurigraph selfcheck`: prove this installation works, end to end, in a few seconds.

Signs and verifies with every scheme, seals and opens a payload, builds a genesis, signs and
decodes transactions through the protobuf codec, validates them, builds a block, and replays it as
a follower would, checking the state digest. No node, no network, no disk.
"""

from __future__ import annotations

import argparse
import time

from aurigraph.codec import decode_block, decode_signed, encode_block, encode_signed, sign_transaction
from aurigraph.crypto import Scheme, generate_kem_keypair, generate_keypair, open_sealed, seal, verify
from aurigraph.ledger import (
    ChainParams,
    Genesis,
    StatelessValidator,
    Transfer,
    TxBody,
    Validator,
    build_block,
    genesis_block,
    replay_block,
    verify_block,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("selfcheck", help="check that crypto, codec and ledger core work on this machine")
    p.set_defaults(func=cmd_selfcheck)


def _step(name: str, fn) -> None:
    started = time.perf_counter()
    fn()
    print(f"  ok  {name} ({(time.perf_counter() - started) * 1000:.0f} ms)", flush=True)


def _fail(message: str) -> None:
    raise RuntimeError(message)


def cmd_selfcheck(args: argparse.Namespace) -> int:
    print("aurigraph selfcheck")
    for scheme in Scheme:
        def check_scheme(scheme: Scheme = scheme) -> None:
            kp = generate_keypair(scheme)
            sig = kp.sign(b"selfcheck")
            if not verify(scheme, kp.public_key, b"selfcheck", sig) or verify(scheme, kp.public_key, b"other", sig):
                _fail(f"{scheme.label} sign/verify is broken")
        _step(f"sign/verify {scheme.label}", check_scheme)

    def check_sealing() -> None:
        kem = generate_kem_keypair()
        if open_sealed(seal(b"secret", [kem.public_key]), kem) != b"secret":
            _fail("ML-KEM-1024 sealing is broken")
    _step("seal/open ml-kem-1024", check_sealing)

    def check_ledger() -> None:
        node, alice, bob = generate_keypair(Scheme.HYBRID), generate_keypair(), generate_keypair()
        now_ms = time.time_ns() // 1_000_000
        genesis = Genesis("selfcheck", now_ms, ((alice.address, 1_000),), (Validator(1, node.scheme, node.public_key, 1),))
        parent = genesis_block(genesis).header
        txs = [
            decode_signed(encode_signed(sign_transaction(TxBody("selfcheck", alice.address, n, 1, now_ms, Transfer(bob.address, 10)), alice)))
            for n in range(3)
        ]
        if any(StatelessValidator("selfcheck", ChainParams(), lambda: now_ms).validate_batch(txs)):
            _fail("valid transactions were rejected")
        built = build_block(parent, genesis.state(), txs, proposer=node, timestamp_ms=now_ms, min_fee=1, max_txs=100)
        block = decode_block(encode_block(built.block))
        verify_block(block, parent, genesis.validator_keys)
        replayed = replay_block(block, genesis.state(), prev_state_digest=parent.state_digest, min_fee=1)
        if len(replayed.committed) != 3 or replayed.delta.account(bob.address).balance != 30:
            _fail("block replay gave the wrong state")
    _step("genesis → transactions → block → replay", check_ledger)
    print("selfcheck passed")
    return 0
