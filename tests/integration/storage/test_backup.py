"""Backups on real RocksDB, without Ray: checkpoints of a stopped node's data dir, the manifest,
verification that names what is wrong, and restores that write nothing unless everything checks out."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from aurigraph.codec import encode_block
from aurigraph.codec.blocks import encode_block_record
from aurigraph.codec.genesis import genesis_to_json
from aurigraph.consensus import ConfState, Entry
from aurigraph.keystore import save_keypair
from aurigraph.ledger import block_hash, build_block, genesis_block
from aurigraph.node.backup import backup_stopped_node
from aurigraph.node.datadir import DataDir
from aurigraph.storage.archive import BlockArchive
from aurigraph.storage.backup import BackupError, checkpoint_db, describe_db, restore, verify_backup
from aurigraph.storage.ledger_store import LedgerStore
from aurigraph.storage.raft_log import RocksRaftStorage
from aurigraph.storage.rocks import open_db
from tests.conftest import NOW_MS

BLOCKS = 6


def write_node_data_dir(root: Path, chain) -> list:
    """A stopped one-validator node's data dir: genesis, keys, a replica's ledger and log, two shards."""
    data = DataDir(root)
    data.root.mkdir(parents=True, exist_ok=True)
    data.genesis.write_text(genesis_to_json(chain.genesis))
    save_keypair(data.node_key(1), chain.node, "pw", opslimit=1, memlimit=8 * 1024)
    (root / "keys" / "passphrase").write_text("pw")
    os.chmod(root / "keys" / "passphrase", 0o600)
    (root / "keys" / "ray_auth_token").write_text("local ray token")
    ledger_db, log_db = open_db(data.replica(1) / "ledger"), open_db(data.replica(1) / "log")
    shard_dbs = [open_db(data.shard(i)) for i in range(2)]
    ledger = LedgerStore(ledger_db, chain.genesis)
    log = RocksRaftStorage.bootstrap(log_db, ConfState(voters=(1,), stakes={1: 10}))
    headers = []
    for n in range(BLOCKS):
        txs = [chain.tx(chain.accounts[0], 3 * n + i) for i in range(3)]
        built = build_block(ledger.head, ledger, txs, proposer=chain.node, timestamp_ms=NOW_MS, min_fee=1, max_txs=10)
        raw = encode_block(built.block)
        log.append([Entry(term=1, index=log.last_index() + 1, data=raw)])
        ledger.apply(built.block, raw, built.result.receipts, built.result.delta)
        BlockArchive(shard_dbs[built.block.header.height % 2]).put([encode_block_record(raw, built.result.receipts)])
        headers.append(built.block.header)
    for db in (ledger_db, log_db, *shard_dbs):
        db.close()
    return headers


def contents(folder: Path) -> dict[bytes, bytes]:
    db = open_db(folder)
    try:
        return dict(db.items())
    finally:
        db.close()


@pytest.fixture
def backup(tmp_path, chain):
    headers = write_node_data_dir(tmp_path / "node", chain)
    backup_stopped_node(DataDir(tmp_path / "node"), tmp_path / "backup")
    return tmp_path / "backup", headers


def test_backup_restores_every_database_byte_for_byte(tmp_path, chain, backup):
    root, headers = backup
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["chain_id"] == chain.genesis.chain_id
    assert manifest["genesis_hash"] == block_hash(genesis_block(chain.genesis).header).hex()
    assert (manifest["replicas"], manifest["shards"]) == (1, 2)
    ledger = manifest["databases"]["replica-1/ledger"]
    assert ledger == {"kind": "ledger", "head_height": BLOCKS, "head_hash": block_hash(headers[-1]).hex(),
                      "state_digest": headers[-1].state_digest.hex()}
    assert manifest["databases"]["replica-1/log"]["last_index"] == BLOCKS + 1
    assert manifest["databases"]["shard-0/archive"]["latest_height"] == BLOCKS
    assert manifest["databases"]["shard-1/archive"]["latest_height"] == BLOCKS - 1
    paths = {f["path"] for f in manifest["files"]}
    assert {"genesis.json", "keys/node-1.key", "keys/passphrase"} <= paths
    assert "keys/ray_auth_token" not in paths, "the local Ray token is not part of a node's backup"
    assert oct((root / "keys" / "passphrase").stat().st_mode & 0o777) == "0o600"

    restored = tmp_path / "restored"
    restore(root, restored)
    for rel in manifest["databases"]:
        assert contents(restored / rel) == contents(tmp_path / "node" / rel), rel
    for rel in ("genesis.json", "keys/node-1.key", "keys/passphrase"):
        assert (restored / rel).read_bytes() == (tmp_path / "node" / rel).read_bytes()
    assert oct((restored / "keys" / "passphrase").stat().st_mode & 0o777) == "0o600"
    assert oct(restored.stat().st_mode & 0o777) == "0o700"
    state = LedgerStore(open_db(restored / "replica-1" / "ledger"), chain.genesis)  # same chain: opens
    assert block_hash(state.head) == block_hash(headers[-1])
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == [], "staging folder left behind"


def test_a_changed_byte_is_named_and_nothing_is_restored(tmp_path, backup):
    root, _ = backup
    sst = next((root / "replica-1" / "ledger").glob("*.sst"))
    raw = bytearray(sst.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    sst.unlink()  # a hard link to the live file: replace it, do not write through it
    sst.write_bytes(bytes(raw))
    with pytest.raises(BackupError, match=rf"replica-1/ledger/{sst.name}: BLAKE3 digest does not match"):
        verify_backup(root)
    with pytest.raises(BackupError, match="digest does not match"):
        restore(root, tmp_path / "restored")
    assert not (tmp_path / "restored").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_missing_unlisted_and_resized_files_are_each_named(tmp_path, backup):
    root, _ = backup
    (root / "keys" / "node-1.key").unlink()
    (root / "shard-0" / "archive" / "stray.sst").write_bytes(b"x")
    (root / "genesis.json").write_text((root / "genesis.json").read_text() + " ")
    with pytest.raises(BackupError) as e:
        verify_backup(root)
    message = str(e.value)
    assert "keys/node-1.key: missing" in message
    assert "shard-0/archive/stray.sst: not in the manifest" in message
    assert "genesis.json: size" in message


def test_a_folder_without_a_manifest_is_not_a_backup(tmp_path, backup):
    root, _ = backup
    (root / "manifest.json").unlink()
    with pytest.raises(BackupError, match=r"no manifest.json.*incomplete"):
        verify_backup(root)


def test_a_manifest_cannot_point_outside_the_backup(tmp_path, backup):
    root, _ = backup
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["files"][0]["path"] = "../outside"
    (root / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BackupError, match=r"malformed: unsafe path '../outside'"):
        restore(root, tmp_path / "restored")
    assert not (tmp_path / "restored").exists()


def test_restore_refuses_a_non_empty_target_and_accepts_an_empty_one(tmp_path, backup):
    root, _ = backup
    target = tmp_path / "target"
    target.mkdir()
    (target / "something").write_text("mine")
    with pytest.raises(BackupError, match="exists and is not empty"):
        restore(root, target)
    assert (target / "something").read_text() == "mine"
    (target / "something").unlink()
    restore(root, target)
    assert (target / "genesis.json").exists()


def test_backup_refuses_a_used_destination_and_a_database_in_use(tmp_path, chain):
    write_node_data_dir(tmp_path / "node", chain)
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "x").write_text("")
    with pytest.raises(BackupError, match="not an empty folder"):
        backup_stopped_node(DataDir(tmp_path / "node"), tmp_path / "used")
    with pytest.raises(BackupError, match="inside the data dir"):
        backup_stopped_node(DataDir(tmp_path / "node"), tmp_path / "node" / "backups" / "today")
    held = open_db(tmp_path / "node" / "replica-1" / "ledger")  # as a running node holds it
    try:
        with pytest.raises(BackupError, match=r"in use .*is the node running"):
            backup_stopped_node(DataDir(tmp_path / "node"), tmp_path / "backup")
    finally:
        held.close()
    assert not (tmp_path / "backup").exists(), "a failed backup leaves nothing behind"


def test_a_checkpoint_is_the_moment_it_was_taken(tmp_path, chain):
    """What the owner of an open database relies on (online backups): writes after the checkpoint
    stay out of it, and the live database keeps working."""
    write_node_data_dir(tmp_path / "node", chain)
    db = open_db(tmp_path / "node" / "replica-1" / "ledger")
    ledger = LedgerStore(db, chain.genesis)
    described = checkpoint_db(db, tmp_path / "cp", "ledger")
    head = ledger.head
    txs = [chain.tx(chain.accounts[0], 3 * BLOCKS)]
    built = build_block(head, ledger, txs, proposer=chain.node, timestamp_ms=NOW_MS, min_fee=1, max_txs=10)
    ledger.apply(built.block, encode_block(built.block), built.result.receipts, built.result.delta)
    assert ledger.head.height == BLOCKS + 1
    assert described == describe_db(tmp_path / "cp", "ledger")
    assert described["head_height"] == BLOCKS and described["head_hash"] == block_hash(head).hex()
    db.close()


def test_restore_checks_each_restored_database_against_the_manifest(tmp_path, backup):
    root, _ = backup
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["databases"]["replica-1/ledger"]["head_height"] += 1
    (root / "manifest.json").write_text(json.dumps(manifest))
    verify_backup(root)  # every file is as listed ...
    with pytest.raises(BackupError, match="restored database replica-1/ledger does not match the manifest"):
        restore(root, tmp_path / "restored")  # ... but the ledger is not at the height the manifest says
    assert not (tmp_path / "restored").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
