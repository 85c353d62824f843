"""Key files: round trip, wrong passphrase, tampering and mismatched halves are all caught; the node
keystore's file backend lists, creates and finds validator keys."""

from __future__ import annotations

import json
import pickle

import pytest

from aurigraph.crypto import DecryptionError, Scheme, generate_keypair, verify
from aurigraph.keystore import (
    HSM_PIN_ENV,
    FileKeystore,
    KeyFileError,
    KeyNotFound,
    KeystoreError,
    load_keypair,
    load_public,
    open_node_keystore,
    save_keypair,
)
from aurigraph.node.config import NodeSettings
from aurigraph.node.datadir import PASSPHRASE_ENV, DataDir, check_node_keys, prepare

FAST = {"opslimit": 1, "memlimit": 8 * 1024}


@pytest.mark.parametrize("scheme", list(Scheme))
def test_round_trip(tmp_path, keypairs, scheme):
    path = tmp_path / "k.key"
    save_keypair(path, keypairs[scheme], "pw", **FAST)
    assert load_keypair(path, "pw") == keypairs[scheme]
    assert load_public(path) == (scheme, keypairs[scheme].public_key, keypairs[scheme].address)


def test_wrong_passphrase_and_tampering(tmp_path, keypairs):
    path = tmp_path / "k.key"
    kp = keypairs[Scheme.ED25519]
    save_keypair(path, kp, "pw", **FAST)
    with pytest.raises(DecryptionError):
        load_keypair(path, "other")
    document = json.loads(path.read_text())
    other = generate_keypair()
    # Public half swapped for another key (address updated to match): the secret no longer fits.
    swapped = tmp_path / "swapped.key"
    save_keypair(swapped, other, "pw", **FAST)
    mixed = dict(json.loads(swapped.read_text()), secret_key=document["secret_key"])
    swapped.write_text(json.dumps(mixed))
    with pytest.raises(KeyFileError, match="does not belong"):
        load_keypair(swapped, "pw")
    path.write_text(json.dumps(dict(document, address=json.loads(swapped.read_text())["address"])))
    with pytest.raises(KeyFileError, match="does not match"):
        load_public(path)
    path.write_text(json.dumps(dict(document, version=9)))
    with pytest.raises(KeyFileError, match="unknown key file format"):
        load_public(path)
    path.write_text(json.dumps(dict(document, secret_key="zz")))
    with pytest.raises(KeyFileError, match="not hex"):
        load_keypair(path, "pw")


# --- the node keystore's file backend (the HSM backend: tests/integration/security) ---------------

def _file_keystore(tmp_path, monkeypatch) -> FileKeystore:
    monkeypatch.delenv(PASSPHRASE_ENV, raising=False)  # the data dir's dev passphrase file
    return FileKeystore(DataDir(tmp_path), **FAST)


def test_file_keystore_lists_keys_oldest_first_and_never_overwrites(tmp_path, monkeypatch):
    keystore = _file_keystore(tmp_path, monkeypatch)
    data = keystore.data_dir
    assert keystore.signers(1) == [] and data.next_node_key_number(1) == 1
    created = [keystore.create(1), keystore.create(1, Scheme.ED25519), keystore.create(1)]
    keystore.create(2)  # another validator's keys are not listed with validator 1's
    assert [p.name for _, p in data.node_key_files(1)] == ["node-1.key", "node-1.2.key", "node-1.3.key"]
    listed = keystore.signers(1)
    assert [s.address for s in listed] == [c.address for c in created]
    assert [s.scheme for s in listed] == [Scheme.HYBRID, Scheme.ED25519, Scheme.HYBRID]
    message = b"AG1/test\x00block"
    for signer in listed:  # listed from the public parts; decrypted on first use
        assert verify(signer.scheme, signer.public_key, message, signer.sign(message))
    # The first key is where `DataDir.node_key` has always put it, in the usual file format.
    assert load_public(data.node_key(1))[2] == created[0].address


def test_signer_by_address_unlocks_and_misses_clearly(tmp_path, monkeypatch):
    keystore = _file_keystore(tmp_path, monkeypatch)
    first, second = keystore.create(3), keystore.create(3)
    found = keystore.signer(3, first.address)
    assert found.address == first.address and found.path == keystore.data_dir.node_key(3)
    assert "secret" not in repr(found) and found.public_key.hex() not in repr(found)
    assert keystore.signer(3, second.address).source.endswith("node-3.2.key")
    with pytest.raises(KeyNotFound, match="none of the 2 keys of validator 3"):
        keystore.signer(3, generate_keypair().address)


def test_wrong_passphrase_shows_at_unlock(tmp_path, monkeypatch):
    keystore = _file_keystore(tmp_path, monkeypatch)
    keystore.create(1, Scheme.ED25519)
    monkeypatch.setenv(PASSPHRASE_ENV, "not the dev passphrase")
    (signer,) = keystore.signers(1)
    with pytest.raises(DecryptionError):
        signer.unlock()


def test_a_file_signer_pickles_without_its_secret(tmp_path, monkeypatch):
    keystore = _file_keystore(tmp_path, monkeypatch)
    signer = keystore.create(1, Scheme.ED25519)
    state = pickle.dumps(signer)
    assert signer._keypair.secret_key not in state
    copy = pickle.loads(state)
    assert copy.address == signer.address and verify(Scheme.ED25519, copy.public_key, b"m", copy.sign(b"m"))


def test_prepare_makes_validator_keys_through_the_keystore(tmp_path, monkeypatch):
    keystore = _file_keystore(tmp_path, monkeypatch)
    genesis = prepare(keystore.data_dir, "aurigraph-test", 2, log=lambda *_: None, keystore=keystore)
    check_node_keys(keystore, genesis)
    for validator in genesis.validators:
        assert keystore.signer(validator.id, validator.address).scheme is Scheme.HYBRID
    keystore.data_dir.node_key(2).unlink()
    with pytest.raises(KeyNotFound, match="no key of validator 2"):
        check_node_keys(keystore, genesis)


def test_settings_name_the_keystore(tmp_path, monkeypatch):
    monkeypatch.delenv(PASSPHRASE_ENV, raising=False)
    settings = NodeSettings(data_dir=tmp_path)
    assert settings.keystore == "file"
    assert isinstance(open_node_keystore(settings, DataDir(tmp_path)), FileKeystore)
    with pytest.raises(ValueError, match="needs an HSM module"):
        NodeSettings(data_dir=tmp_path, keystore="pkcs11", hsm_token="t")
    with pytest.raises(ValueError):
        NodeSettings(data_dir=tmp_path, keystore="tpm")
    pkcs11 = NodeSettings(data_dir=tmp_path, keystore="pkcs11", hsm_module=tmp_path / "m.so", hsm_token="t")
    assert "pin" not in pkcs11.model_dump_json().lower().replace("hsm_pin_file", "")
    monkeypatch.delenv(HSM_PIN_ENV, raising=False)
    with pytest.raises(KeystoreError, match="no HSM PIN"):
        open_node_keystore(pkcs11, DataDir(tmp_path))
