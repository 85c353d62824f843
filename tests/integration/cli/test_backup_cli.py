"""`aurigraph backup` (stopped node), `aurigraph backup verify` and `aurigraph restore` as an operator
runs them, on a real data dir: results on stdout, progress on stderr, one `error:` line for mistakes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from aurigraph.cli.main import main
from aurigraph.storage.rocks import open_db
from tests.integration.storage.test_backup import BLOCKS, write_node_data_dir


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def test_backup_verify_restore_from_the_command_line(tmp_path, chain, capsys):
    write_node_data_dir(tmp_path / "node", chain)
    code, out, err = run(capsys, "backup", "--data-dir", tmp_path / "node", "--dest", tmp_path / "bk")
    assert code == 0, err
    assert "checkpointed replica-1" in err and "hashed" in err
    assert f"replica-1/ledger: ledger at height {BLOCKS}" in out
    assert f"backup of chain {chain.genesis.chain_id} written to {tmp_path / 'bk'}" in out

    code, out, err = run(capsys, "backup", "verify", tmp_path / "bk")
    assert code == 0, err
    assert "all digests match" in out and "verified" in err

    code, out, err = run(capsys, "restore", "--from", tmp_path / "bk", "--data-dir", tmp_path / "new", "--json")
    assert code == 0, err
    restored = json.loads(out)
    assert restored["databases"]["replica-1/ledger"]["head_height"] == BLOCKS
    assert restored["shards"] == 2 and (tmp_path / "new" / "genesis.json").exists()

    code, out, err = run(capsys, "restore", "--from", tmp_path / "bk", "--data-dir", tmp_path / "other")
    assert code == 0, err
    assert f"aurigraph up --data-dir {tmp_path / 'other'} --shards 2" in out


def test_mistakes_get_one_clear_line(tmp_path, chain, capsys):
    write_node_data_dir(tmp_path / "node", chain)
    code, _, err = run(capsys, "backup", "--data-dir", tmp_path / "node")
    assert code == 2 and "error: --dest is required" in err

    held = open_db(tmp_path / "node" / "shard-0" / "archive")
    try:
        code, _, err = run(capsys, "backup", "--data-dir", tmp_path / "node", "--dest", tmp_path / "bk")
    finally:
        held.close()
    assert code == 2 and "is in use (is the node running?" in err
    assert not (tmp_path / "bk").exists()

    code, _, err = run(capsys, "backup", "--data-dir", tmp_path / "node", "--dest", tmp_path / "bk")
    assert code == 0, err
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("")
    code, _, err = run(capsys, "restore", "--from", tmp_path / "bk", "--data-dir", tmp_path / "taken")
    assert code == 2 and "exists and is not empty" in err

    code, _, err = run(capsys, "restore", "--from", tmp_path / "node", "--data-dir", tmp_path / "x")
    assert code == 2 and "has no manifest.json" in err

    key = tmp_path / "bk" / "keys" / "node-1.key"
    key.write_bytes(key.read_bytes()[:-1] + b"!")  # a copy, not a link: safe to write in place
    for argv in (("backup", "verify", tmp_path / "bk"), ("restore", "--from", tmp_path / "bk", "--verify-only"),
                 ("restore", "--from", tmp_path / "bk", "--data-dir", tmp_path / "new")):
        code, _, err = run(capsys, *argv)
        assert code == 2 and "keys/node-1.key: BLAKE3 digest does not match" in err, argv
    assert not (tmp_path / "new").exists()

    code, _, err = run(capsys, "restore", "--from", tmp_path / "bk")
    assert code == 2 and "--data-dir is required" in err


def test_an_address_where_no_node_listens_fails_fast(tmp_path):
    """(A subprocess: the online path configures Ray's token before importing Ray.)"""
    exe = str(Path(sys.executable).with_name("aurigraph"))
    done = subprocess.run([exe, "backup", "--address", "127.0.0.1:1", "--data-dir", str(tmp_path / "node"),
                           "--dest", str(tmp_path / "bk")], check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "error: nothing answers at 127.0.0.1:1" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "bk").exists()
