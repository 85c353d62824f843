"""Block archive and state store on a real RocksDB: durable, idempotent, crash-consistent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from aurigraph.codec import encode_block
from aurigraph.codec.blocks import encode_block_record
from aurigraph.codec.genesis import genesis_to_json
from aurigraph.keystore import save_keypair
from aurigraph.ledger import InvalidBlock, build_block, genesis_block
from aurigraph.storage.archive import BlockArchive, ConflictingBlock
from aurigraph.storage.rocks import open_db
from aurigraph.storage.state_store import GenesisMismatch, RocksState
from aurigraph.v1 import block_pb2
from tests.conftest import NOW_MS

ROOT = Path(__file__).resolve().parents[3]


def grow_chain(chain, state, blocks: int, per_block: int = 3, first_nonce: int = 0):
    """Build `blocks` blocks on `state` (committing each) and return them with their receipts."""
    built = []
    nonce = first_nonce
    for _ in range(blocks):
        txs = [chain.tx(chain.accounts[0], nonce + i) for i in range(per_block)]
        nonce += per_block
        b = build_block(state.head, state, txs, proposer=chain.node, timestamp_ms=NOW_MS, min_fee=1, max_txs=100)
        state.commit_block(b.block.header, b.result.delta)
        built.append(b)
    return built


def test_state_starts_at_genesis_and_survives_reopen(tmp_path, chain):
    db = open_db(tmp_path / "state")
    state = RocksState.open(db, chain.genesis)
    assert state.head == genesis_block(chain.genesis).header
    grow_chain(chain, state, 3)
    head, balance = state.head, state.account(chain.accounts[0].address)
    db.close()
    reopened = RocksState.open(open_db(tmp_path / "state"), chain.genesis)
    assert reopened.head == head and head.height == 3
    assert reopened.account(chain.accounts[0].address) == balance and balance.nonce == 9


def test_state_refuses_another_genesis_and_non_extending_blocks(tmp_path, chain):
    db = open_db(tmp_path / "state")
    state = RocksState.open(db, chain.genesis)
    with pytest.raises(GenesisMismatch):
        RocksState.open(db, replace(chain.genesis, chain_id="another"))
    b = build_block(state.head, state, [chain.tx(chain.accounts[0], 0)], proposer=chain.node, timestamp_ms=NOW_MS,
                    min_fee=1, max_txs=10)
    state.commit_block(b.block.header, b.result.delta)
    with pytest.raises(ValueError, match="does not extend"):
        state.commit_block(b.block.header, b.result.delta)  # the same block twice


def test_archive_round_trip_idempotent_and_conflict(tmp_path, chain):
    state = RocksState.open(open_db(tmp_path / "state"), chain.genesis)
    built = grow_chain(chain, state, 2)
    archive = BlockArchive(open_db(tmp_path / "archive"))
    assert archive.latest_height() is None and archive.block(1) is None
    records = [encode_block_record(encode_block(b.block), b.result.receipts) for b in built]
    archive.put(records)  # both in one write
    archive.put(records[1:])  # idempotent
    assert archive.latest_height() == 2
    stored = archive.block(1)
    assert stored.block == built[0].block and stored.receipts == built[0].result.receipts
    tx = built[1].block.transactions[2]
    found = archive.transaction(tx.tx_id)
    assert found.tx == tx and found.height == 2 and found.receipt.index == 2
    assert archive.transaction(b"\x00" * 64) is None
    other = grow_chain(chain, RocksState.open(open_db(tmp_path / "other"), chain.genesis), 1, first_nonce=0, per_block=1)
    with pytest.raises(ConflictingBlock):
        archive.put([encode_block_record(encode_block(other[0].block), other[0].result.receipts)])
    picky = BlockArchive(open_db(tmp_path / "picky"), owns=lambda height: height % 2 == 0)
    with pytest.raises(ValueError, match="does not own height 1"):
        picky.put([encode_block_record(encode_block(built[0].block), built[0].result.receipts)])
    forged = block_pb2.BlockRecord.FromString(encode_block_record(encode_block(built[1].block), []))
    forged.hash = b"\x00" * 64
    with pytest.raises(InvalidBlock, match="hash does not match"):
        archive.put([forged.SerializeToString()])


CRASHER = textwrap.dedent("""
    import sys
    from aurigraph.codec.genesis import genesis_from_json
    from aurigraph.codec import sign_transaction
    from aurigraph.ledger import Transfer, TxBody, build_block
    from aurigraph.storage.rocks import open_db
    from aurigraph.storage.state_store import RocksState
    from aurigraph.keystore import load_keypair

    genesis = genesis_from_json(open(sys.argv[2]).read())
    node = load_keypair(sys.argv[3], "pw")
    sender = load_keypair(sys.argv[4], "pw")
    state = RocksState.open(open_db(sys.argv[1]), genesis)
    nonce = state.account(sender.address).nonce
    while True:
        txs = [sign_transaction(TxBody(genesis.chain_id, sender.address, nonce + i, 1, 1, Transfer(node.address, 1)), sender)
               for i in range(50)]
        b = build_block(state.head, state, txs, proposer=node, timestamp_ms=1, min_fee=1, max_txs=100)
        state.commit_block(b.block.header, b.result.delta)
        nonce += 50
        print(b.block.header.height, flush=True)  # acknowledged only after the durable commit
""")


def test_killed_writer_loses_no_acknowledged_block_and_leaves_no_partial_block(tmp_path, chain):
    (tmp_path / "genesis.json").write_text(genesis_to_json(chain.genesis))
    fast = {"opslimit": 1, "memlimit": 8 * 1024}
    save_keypair(tmp_path / "node.key", chain.node, "pw", **fast)
    save_keypair(tmp_path / "sender.key", chain.accounts[0], "pw", **fast)
    script = tmp_path / "crasher.py"
    script.write_text(CRASHER)
    args = [sys.executable, str(script), str(tmp_path / "state"), str(tmp_path / "genesis.json"),
            str(tmp_path / "node.key"), str(tmp_path / "sender.key")]
    acknowledged = 0
    for round_ in range(3):  # crash, recover and continue, three times
        proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        start = acknowledged
        while acknowledged < start + 5 + round_ * 3:
            line = proc.stdout.readline()
            assert line, "writer died on its own"
            acknowledged = int(line)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        db = open_db(tmp_path / "state")
        state = RocksState.open(db, chain.genesis)
        head = state.head
        assert head.height >= acknowledged, "an acknowledged block was lost"
        sender = state.account(chain.accounts[0].address)
        assert sender.nonce == 50 * head.height, "state is not exactly that after some whole block"
        assert sender.balance == 1_000_000 - 2 * sender.nonce
        acknowledged = head.height
        db.close()
