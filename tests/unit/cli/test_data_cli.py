"""Confidential data on the command line, offline: `keys new-kem`, `keys show` on a KEM key,
`tx sign --seal-to`, `data open --tx-file`; and the KEM key file loader (`aurigraph.kemkeys`)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from aurigraph.cli.main import main
from aurigraph.codec import signed_from_json
from aurigraph.crypto import DecryptionError, Sealed, address_to_text, generate_keypair
from aurigraph.kemkeys import load_kem_keypair, parse_kem_recipient
from aurigraph.keystore import KeyFileError, load_kem_public
from aurigraph.ledger import ChainParams, StatelessValidator
from tests.conftest import NOW_MS
from tests.unit.cli.conftest import PASSPHRASE, run

SECRET = "the merger closes on friday 7f3c9e"




@pytest.fixture(scope="module")
def kem_files(tmp_path_factory):
    """Two recipients' KEM key files and a third, outsider's (the default Argon2id cost: once)."""
    folder = tmp_path_factory.mktemp("kem")
    paths = []
    for name in ("alice", "bob", "eve"):
        path = folder / f"{name}.kem"
        assert main(["keys", "new-kem", "--out", str(path)]) == 0
        paths.append(path)
    return paths


@pytest.fixture(scope="module", autouse=True)
def _module_passphrase():
    mp = pytest.MonkeyPatch()
    mp.setenv("AURIGRAPH_PASSPHRASE", PASSPHRASE)
    yield
    mp.undo()


def test_new_kem_key_file_is_encrypted_and_shows_its_key_id(kem_files, capsys):
    path = kem_files[0]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    document = json.loads(path.read_text())
    assert document["scheme"] == "ml-kem-1024" and PASSPHRASE not in path.read_text()
    code, out, err = run(capsys, "keys", "show", path, "--json")
    assert code == 0, err
    shown = json.loads(out)
    keypair = load_kem_keypair(path, PASSPHRASE)
    assert shown["public_key"] == keypair.public_key.hex() == document["public_key"]
    assert shown["key_id"] == keypair.key_id.hex() and shown["scheme"] == "ml-kem-1024"
    code, out, _ = run(capsys, "keys", "show", path)
    assert code == 0 and keypair.key_id.hex() in out
    code, _, err = run(capsys, "keys", "new-kem", "--out", path)
    assert code == 1 and "refusing to overwrite" in err


def test_kem_key_loader_checks_passphrase_and_contents(kem_files, tmp_path):
    with pytest.raises(DecryptionError):
        load_kem_keypair(kem_files[0], "wrong")
    # A file whose secret key belongs to another public key is refused.
    mixed = json.loads(kem_files[0].read_text())
    mixed["secret_key"] = json.loads(kem_files[1].read_text())["secret_key"]
    (tmp_path / "mixed.kem").write_text(json.dumps(mixed))
    with pytest.raises(KeyFileError, match="does not belong"):
        load_kem_keypair(tmp_path / "mixed.kem", PASSPHRASE)


def test_recipients_parse_from_key_file_hex_file_or_hex(kem_files, tmp_path):
    public_key = load_kem_public(kem_files[0])
    (tmp_path / "alice.pub").write_text(public_key.hex() + "\n")
    assert parse_kem_recipient(str(kem_files[0])) == public_key
    assert parse_kem_recipient(str(tmp_path / "alice.pub")) == public_key
    assert parse_kem_recipient(public_key.hex()) == public_key
    for bad in ("abcd", str(tmp_path / "missing.pub"), "zz" * 1568):
        with pytest.raises(KeyFileError, match="ML-KEM-1024"):
            parse_kem_recipient(bad)


def sign_sealed(capsys, tmp_path: Path, recipients: list[Path], *extra) -> tuple[int, str, str]:
    sender = tmp_path / "sender.key"
    if not sender.exists():
        assert main(["keys", "new", "--out", str(sender), "--kdf", "interactive"]) == 0
        capsys.readouterr()
    seal_to = [a for r in recipients for a in ("--seal-to", r)]
    return run(capsys, "tx", "sign", "--key", sender, "--chain-id", "test-chain", "--nonce", 0,
               "--timestamp-ms", NOW_MS, "--data-key", "deals/q4", *extra, *seal_to)


def test_tx_sign_seal_to_then_data_open(kem_files, tmp_path, capsys):
    alice, bob, eve = kem_files
    (tmp_path / "bob.pub").write_text(load_kem_public(bob).hex())
    code, out, err = sign_sealed(capsys, tmp_path, [alice, tmp_path / "bob.pub"], "--data-value", SECRET,
                                 "--out", tmp_path / "tx.json")
    assert code == 0, err
    text = (tmp_path / "tx.json").read_text()
    assert SECRET not in text
    tx = signed_from_json(text)
    StatelessValidator("test-chain", ChainParams(), lambda: NOW_MS).validate(tx)
    assert isinstance(tx.body.kind.value, Sealed) and len(tx.body.kind.value.recipients) == 2
    for who in (alice, bob):
        code, _, err = run(capsys, "data", "open", "--tx-file", tmp_path / "tx.json", "--kem-key", who,
                           "--out", tmp_path / "plain")
        assert code == 0, err
        assert (tmp_path / "plain").read_bytes() == SECRET.encode()
    code, out, _ = run(capsys, "data", "open", "--tx-file", tmp_path / "tx.json", "--kem-key", alice)
    assert code == 0 and out == SECRET
    code, out, err = run(capsys, "data", "open", "--tx-file", tmp_path / "tx.json", "--kem-key", eve)
    assert code == 2 and err.startswith("error: not a recipient") and err.count("\n") == 1 and not out


def test_data_open_errors_are_one_line(kem_files, tmp_path, capsys):
    code, _, err = sign_sealed(capsys, tmp_path, [], "--data-value", "in clear", "--out", tmp_path / "plain.json")
    assert code == 0, err
    code, _, err = run(capsys, "data", "open", "--tx-file", tmp_path / "plain.json", "--kem-key", kem_files[0])
    assert code == 2 and err.startswith("error: not a sealed value") and err.count("\n") == 1
    code, _, err = sign_sealed(capsys, tmp_path, [kem_files[0]], "--data-value", SECRET,
                               "--out", tmp_path / "sealed.json")
    assert code == 0, err
    code, _, err = run(capsys, "data", "open", "--tx-file", tmp_path / "sealed.json", "--kem-key", kem_files[0],
                       "--passphrase-file", _write(tmp_path / "wrong", "wrong"))
    assert code == 1 and err.startswith("error:") and err.count("\n") == 1  # a wrong passphrase
    code, _, err = sign_sealed(capsys, tmp_path, [tmp_path / "nope.pub"], "--data-value", "x")
    assert code == 1 and "ML-KEM-1024" in err and err.count("\n") == 1
    code, _, err = run(capsys, "tx", "sign", "--key", tmp_path / "sender.key", "--chain-id", "c", "--nonce", 0,
                       "--to", address_to_text(generate_keypair().address), "--amount", 1, "--seal-to", kem_files[0])
    assert code == 2 and "data writes only" in err


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
