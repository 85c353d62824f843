"""The `aurigraph` CLI as a user drives it: keys, tx sign, genesis, selfcheck, bench; clear errors."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from aurigraph.codec import signed_from_json
from aurigraph.codec.genesis import genesis_from_json
from aurigraph.crypto import address_from_text
from aurigraph.ledger import ChainParams, StatelessValidator
from aurigraph.node.config import usable_cpus
from tests.conftest import NOW_MS
from tests.unit.cli.conftest import PASSPHRASE, run


def new_key(capsys, path: Path, scheme="ed25519") -> dict:
    code, out, err = run(capsys, "keys", "new", "--scheme", scheme, "--out", path, "--kdf", "interactive", "--json")
    assert code == 0, err
    return json.loads(out)


def test_keys_new_and_show(tmp_path, capsys):
    path = tmp_path / "alice.key"
    created = new_key(capsys, path, "hybrid")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert PASSPHRASE not in path.read_text()
    code, out, _ = run(capsys, "keys", "show", path, "--json")
    shown = json.loads(out)
    assert code == 0 and shown["address"] == created["address"] and shown["scheme"] == "hybrid"
    code, out, _ = run(capsys, "keys", "show", path)
    assert code == 0 and created["address"] in out


def test_keys_new_refuses_to_overwrite(tmp_path, capsys):
    path = tmp_path / "k.key"
    new_key(capsys, path)
    before = path.read_text()
    code, _, err = run(capsys, "keys", "new", "--out", path, "--kdf", "interactive")
    assert code == 1 and "refusing to overwrite" in err and path.read_text() == before


def test_tx_sign_produces_a_valid_transaction(tmp_path, capsys):
    alice, bob = tmp_path / "alice.key", tmp_path / "bob.key"
    new_key(capsys, alice, "ml-dsa-87")
    bob_address = new_key(capsys, bob)["address"]
    code, out, err = run(capsys, "tx", "sign", "--key", alice, "--chain-id", "devnet", "--nonce", 0, "--fee", 2,
                         "--to", bob_address, "--amount", 50, "--timestamp-ms", NOW_MS)
    assert code == 0, err
    tx = signed_from_json(out)
    assert tx.body.kind.amount == 50 and tx.body.kind.recipient == address_from_text(bob_address)
    StatelessValidator("devnet", ChainParams(), lambda: NOW_MS).validate(tx)

    out_file = tmp_path / "tx.json"
    code, _, _ = run(capsys, "tx", "sign", "--key", alice, "--chain-id", "devnet", "--nonce", 1,
                     "--data-key", "note", "--data-value", "hello", "--out", out_file)
    assert code == 0 and signed_from_json(out_file.read_text()).body.kind.value == b"hello"


@pytest.mark.parametrize("extra,code,message", [
    (["--to", "ag00", "--amount", "5"], 1, "address"),
    (["--amount", "5"], 2, "both --to and --amount"),
    (["--data-key", "k"], 2, "exactly one of --data-value"),
    ([], 2, "either --to"),
    (["--to", "BOB", "--amount", "-5"], 1, "invalid_amount"),
    (["--to", "BOB", "--amount", str(2**64)], 1, "invalid_amount"),
    (["--data-key", "k" * 200, "--data-value", "v"], 1, "oversize"),
])
def test_tx_sign_bad_input_is_a_clear_error(tmp_path, capsys, extra, code, message):
    alice, bob = tmp_path / "alice.key", tmp_path / "bob.key"
    new_key(capsys, alice)
    bob_address = new_key(capsys, bob)["address"]
    extra = [bob_address if e == "BOB" else e for e in extra]
    got, out, err = run(capsys, "tx", "sign", "--key", alice, "--chain-id", "c", "--nonce", 0, *extra)
    assert got == code and message in err and "Traceback" not in err and out == ""


def test_wrong_passphrase_and_missing_files(tmp_path, capsys, monkeypatch):
    path = tmp_path / "k.key"
    new_key(capsys, path)
    monkeypatch.setenv("AURIGRAPH_PASSPHRASE", "wrong")
    code, _, err = run(capsys, "tx", "sign", "--key", path, "--chain-id", "c", "--nonce", 0, "--data-key", "k", "--data-value", "v")
    assert code == 1 and "wrong passphrase" in err
    code, _, err = run(capsys, "keys", "show", tmp_path / "missing.key")
    assert code == 1 and "no such key file" in err
    (tmp_path / "junk.key").write_text("{not json")
    code, _, err = run(capsys, "keys", "show", tmp_path / "junk.key")
    assert code == 1 and "not a readable key file" in err


def test_passphrase_file_and_no_passphrase(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("AURIGRAPH_PASSPHRASE")
    secret = tmp_path / "pass.txt"
    secret.write_text("from a file\n")
    path = tmp_path / "k.key"
    code, _, err = run(capsys, "keys", "new", "--out", path, "--kdf", "interactive", "--passphrase-file", secret)
    assert code == 0, err
    code, _, err = run(capsys, "tx", "sign", "--key", path, "--chain-id", "c", "--nonce", 0, "--data-key", "k",
                       "--data-value", "v", "--passphrase-file", secret)
    assert code == 0, err
    code, _, err = run(capsys, "keys", "new", "--out", tmp_path / "k2.key")  # stdin is not a terminal under pytest
    assert code == 2 and "no passphrase" in err


def test_genesis_new(tmp_path, capsys):
    v1, v2, alice = tmp_path / "v1.key", tmp_path / "v2.key", tmp_path / "alice.key"
    new_key(capsys, v1, "hybrid")
    new_key(capsys, v2)
    alice_address = new_key(capsys, alice)["address"]
    out_path = tmp_path / "genesis.json"
    code, out, err = run(capsys, "genesis", "new", "--chain-id", "devnet", "--validator", f"{v1}:10", "--validator", v2,
                         "--balance", f"{alice_address}=1000000", "--out", out_path, "--json")
    assert code == 0, err
    genesis = genesis_from_json(out_path.read_text())
    assert [v.stake for v in genesis.validators] == [10, 1] and [v.id for v in genesis.validators] == [1, 2]
    assert genesis.balances == ((address_from_text(alice_address), 1_000_000),)
    created = json.loads(out)
    assert len(created["genesis_hash"]) == 128
    code, out, _ = run(capsys, "genesis", "show", out_path, "--json")
    shown = json.loads(out)
    assert code == 0 and shown["genesis_hash"] == created["genesis_hash"] and shown["supply"] == 1_000_000
    assert [v["stake"] for v in shown["validators"]] == [10, 1]
    code, out, _ = run(capsys, "genesis", "show", out_path)
    assert code == 0 and created["genesis_hash"] in out
    (tmp_path / "bad.json").write_text('{"chain_id": "x"}')
    code, _, err = run(capsys, "genesis", "show", tmp_path / "bad.json")
    assert code == 1 and "at least one validator" in err
    code, _, err = run(capsys, "genesis", "new", "--chain-id", "devnet", "--validator", v1, "--out", out_path)
    assert code == 2 and "already exists" in err
    code, _, err = run(capsys, "genesis", "new", "--chain-id", "x", "--out", tmp_path / "g2.json")
    assert code == 1 and "at least one validator" in err
    code, _, err = run(capsys, "genesis", "new", "--chain-id", "x", "--validator", f"{v1}:abc", "--out", tmp_path / "g3.json")
    assert code == 2 and "stake must be an integer" in err


def test_selfcheck(capsys):
    code, out, _ = run(capsys, "selfcheck")
    assert code == 0 and "selfcheck passed" in out and out.count("  ok  ") == 5


def test_bench_crypto_writes_a_result(tmp_path, capsys):
    code, out, err = run(capsys, "bench", "crypto", "--batch", 40, "--rounds", 1, "--out-dir", tmp_path, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert {r["scheme"] for r in result["schemes"]} == {"ed25519", "ml-dsa-87", "hybrid"}
    assert all(r["bare_verify_per_s"] > 0 and r["batch_verify_ratio"] > 0 for r in result["schemes"])
    files = list(tmp_path.glob("crypto-*.json"))
    assert len(files) == 1 and json.loads(files[0].read_text())["machine"]["cpus"] == usable_cpus()


def test_installed_entry_point_runs():
    exe = Path(sys.executable).with_name("aurigraph")
    out = subprocess.run([exe, "--help"], capture_output=True, text=True, check=True).stdout
    for command in ("keys", "tx", "genesis", "bench", "selfcheck"):
        assert command in out
    bad = subprocess.run([exe, "keys", "show"], capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and "usage" in bad.stderr


def test_models_since_takes_durations_times_and_milliseconds():
    from aurigraph.cli.common import CliError
    from aurigraph.cli.models import parse_since

    now_ms = 1_800_000_000_000
    assert parse_since(None, now_ms) == 0
    assert parse_since("30m", now_ms) == now_ms - 30 * 60_000
    assert parse_since("2h", now_ms) == now_ms - 2 * 3_600_000
    assert parse_since("1795600000000", now_ms) == 1_795_600_000_000
    assert parse_since("2026-11-26T08:00:00Z", now_ms) == 1_795_680_000_000
    with pytest.raises(CliError, match="30m / 2h / 7d"):
        parse_since("yesterday", now_ms)
