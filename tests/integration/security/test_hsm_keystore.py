"""Validator keys in a real PKCS#11 HSM (SoftHSM2): Ed25519 made and kept in the token, hybrid
signatures that verify like any other, the key never readable, clear errors, rotation keys, and a
node that signs its blocks through the HSM.

Every test initializes a token of its own in its own directory (SOFTHSM2_CONF under tmp_path);
the keystore finalizes the module when its last session closes, so the next test's token is read
afresh. Without SoftHSM2 (Debian: apt-get install softhsm2, or `make setup` as root) they skip.

SoftHSM2's library and TensorFlow crash when both are loaded in one process (a segfault inside the
token's crypto; the node never loads both in one process: TensorFlow runs only in training tasks),
and the suite's model tests load TensorFlow. So under the whole suite these tests run in a fresh
interpreter of their own (`test_the_hsm_tests_in_their_own_process`), and in this one only when
that interpreter is the one running them.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from aurigraph.crypto import SIGNATURE_SIZE, Scheme, address_to_text, generate_keypair, verify
from aurigraph.keystore import HSM_PIN_ENV, FileKeystore, KeyNotFound, KeystoreError
from aurigraph.node.datadir import PASSPHRASE_ENV, DataDir, check_node_keys, prepare

MODULE_CANDIDATES = ("/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
                     "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so", "/usr/local/lib/softhsm/libsofthsm2.so")
MODULE = next((Path(p) for p in MODULE_CANDIDATES if Path(p).is_file()), None)
pytestmark = pytest.mark.skipif(
    MODULE is None or shutil.which("softhsm2-util") is None,
    reason="SoftHSM2 is not installed (Debian: apt-get install softhsm2; `make setup` does it as root)")

OWN_PROCESS = "AURIGRAPH_HSM_TESTS_OWN_PROCESS"
HERE = os.environ.get(OWN_PROCESS) == "1"


@pytest.mark.skipif(HERE, reason="this is that process")
def test_the_hsm_tests_in_their_own_process():
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__],
                          env={**os.environ, OWN_PROCESS: "1"}, capture_output=True, text=True, timeout=900,
                          cwd=Path(__file__).resolve().parents[3], check=False)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    summary = done.stdout.strip().splitlines()[-1]
    assert re.search(r"\b9 passed", summary) and "1 skipped" in summary, summary  # (the skip: this test)


TOKEN, PIN, SO_PIN = "aurigraph-test", "246810", "13579111"
FAST = {"opslimit": 1, "memlimit": 8 * 1024}  # the ML-DSA halves' key files: cheap in tests
MESSAGE = b"AG1/test\x00a block hash"


class Hsm:
    """A fresh SoftHSM2 token in tmp_path, and keystores on it that are closed after the test."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = DataDir(root / "data")
        self.opened: list = []

    def keystore(self, *, data: DataDir | None = None, token: str = TOKEN, pin: str = PIN, module: Path | None = None):
        from aurigraph.keystore import Pkcs11Keystore

        keystore = Pkcs11Keystore(data or self.data, module=module or MODULE, token=token, pin=pin, **FAST)
        self.opened.append(keystore)
        return keystore

    def raw_session(self):
        """A plain python-pkcs11 session on the token (with no keystore open: PKCS#11 logs in per process)."""
        import pkcs11

        return pkcs11.lib(str(MODULE.resolve())).get_token(token_label=TOKEN).open(user_pin=PIN, rw=True)

    def close_all(self) -> None:
        for keystore in self.opened:
            keystore.close()


@pytest.fixture
def hsm(tmp_path, monkeypatch):
    if not HERE:
        pytest.skip("run in a process of their own (see the module docstring)")
    tokens = tmp_path / "tokens"
    tokens.mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n")
    monkeypatch.setenv("SOFTHSM2_CONF", str(conf))
    monkeypatch.setenv(PASSPHRASE_ENV, "test passphrase")
    monkeypatch.setenv(HSM_PIN_ENV, PIN)
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", TOKEN, "--pin", PIN, "--so-pin", SO_PIN],
                   check=True, capture_output=True)
    h = Hsm(tmp_path)
    yield h
    h.close_all()
    from aurigraph.keystore import hsm as backend

    assert not backend._sessions, "a test left an HSM session open"


def test_an_hsm_ed25519_signature_verifies_with_libsodium(hsm):
    keystore = hsm.keystore()
    signer = keystore.create(1, Scheme.ED25519)
    assert signer.scheme is Scheme.ED25519 and len(signer.public_key) == 32
    signature = signer.sign(MESSAGE)
    assert len(signature) == 64
    assert verify(Scheme.ED25519, signer.public_key, MESSAGE, signature)
    assert not verify(Scheme.ED25519, signer.public_key, MESSAGE + b"!", signature)
    # Only a description stays in the data dir: no key file holds any Ed25519 secret.
    assert [p.name for p in sorted(hsm.data.keys.iterdir())] == ["node-1.1.hsm.json"]


def test_a_hybrid_hsm_and_file_signature_verifies_and_each_half_is_checked(hsm):
    keystore = hsm.keystore()
    signer = keystore.create(1)  # HYBRID: Ed25519 in the token, ML-DSA-87 in an encrypted file
    signature = signer.sign(MESSAGE)
    assert signer.scheme is Scheme.HYBRID and len(signature) == SIGNATURE_SIZE[Scheme.HYBRID]
    assert verify(Scheme.HYBRID, signer.public_key, MESSAGE, signature)
    assert verify(Scheme.ED25519, signer.public_key[:32], MESSAGE, signature[:64])
    assert verify(Scheme.ML_DSA_87, signer.public_key[32:], MESSAGE, signature[64:])
    for position in (10, 64 + 100):  # a flipped bit in the Ed25519 half, then in the ML-DSA-87 half
        tampered = bytearray(signature)
        tampered[position] ^= 1
        assert not verify(Scheme.HYBRID, signer.public_key, MESSAGE, bytes(tampered))
    assert (hsm.data.keys / "node-1.1.ml-dsa.key").exists() and not hsm.data.node_key(1).exists()
    # Signers are not sent anywhere: each process opens its own session.
    with pytest.raises(TypeError, match="open a keystore in each process"):
        pickle.dumps(signer)
    with pytest.raises(TypeError):
        pickle.dumps(keystore)
    assert PIN not in repr(keystore) and PIN not in repr(signer)


def test_the_key_cannot_be_read_out_of_the_token(hsm):
    import pkcs11
    from pkcs11 import Attribute, KeyType, ObjectClass

    with hsm.keystore() as keystore:
        label = keystore.create(1).label
    session = hsm.raw_session()
    try:
        key = session.get_key(ObjectClass.PRIVATE_KEY, KeyType.EC_EDWARDS, label=label)
        with pytest.raises(pkcs11.exceptions.AttributeSensitive):
            key[Attribute.VALUE]
        assert key[Attribute.SENSITIVE] and not key[Attribute.EXTRACTABLE]
        assert key[Attribute.ALWAYS_SENSITIVE] and key[Attribute.NEVER_EXTRACTABLE] and key[Attribute.TOKEN]
    finally:
        session.close()
        pkcs11.lib(str(MODULE.resolve())).finalize()


def test_clear_errors_for_pin_module_token_and_label(hsm):
    from pkcs11 import Attribute

    with pytest.raises(KeystoreError, match=f"wrong PIN for HSM token '{TOKEN}'"):
        hsm.keystore(pin="000000")
    with pytest.raises(KeystoreError, match="no HSM token labelled 'elsewhere'"):
        hsm.keystore(token="elsewhere")
    with pytest.raises(KeystoreError, match=r"PKCS#11 module .* not found"):
        hsm.keystore(module=hsm.root / "no-such-module.so")
    keystore = hsm.keystore()
    signer = keystore.create(1, Scheme.ED25519)
    with pytest.raises(KeystoreError, match="wrong PIN"):  # while a session is open, too
        hsm.keystore(pin="000000")
    with pytest.raises(KeystoreError, match="HSMs hold no ML-DSA-87 keys"):
        keystore.create(1, Scheme.ML_DSA_87)
    keystore.close()
    session = hsm.raw_session()  # the key goes away from the token, its description stays
    for obj in list(session.get_objects({Attribute.LABEL: signer.label})):
        obj.destroy()
    session.close()
    with hsm.keystore() as keystore, pytest.raises(KeystoreError, match="has no Ed25519 key labelled 'aurigraph-node-1-1'"):
        keystore.signers(1)
    with pytest.raises(KeystoreError, match="could not sign"):  # a signer outlives its closed keystore
        signer.sign(MESSAGE)


def test_create_adds_keys_that_signers_lists_newest_last(hsm):
    with hsm.keystore() as keystore:
        created = [keystore.create(1), keystore.create(1, Scheme.ED25519), keystore.create(1)]
        keystore.create(2)
        assert [s.label for s in created] == ["aurigraph-node-1-1", "aurigraph-node-1-2", "aurigraph-node-1-3"]
    with hsm.keystore() as keystore:  # listed again from the data dir and the token, by a new session
        listed = keystore.signers(1)
        assert [s.address for s in listed] == [c.address for c in created]
        assert [s.scheme for s in listed] == [Scheme.HYBRID, Scheme.ED25519, Scheme.HYBRID]
        newest = keystore.signer(1, created[-1].address)
        assert verify(Scheme.HYBRID, newest.public_key, MESSAGE, newest.sign(MESSAGE))
        with pytest.raises(KeyNotFound):
            keystore.signer(1, generate_keypair().address)
        # A second data dir on the same token: its first key takes the next free label, and the
        # two nodes' key lists stay apart.
        other = DataDir(hsm.root / "other")
        with hsm.keystore(data=other) as second:
            mine = second.create(1)
            assert mine.label == "aurigraph-node-1-4" and [s.address for s in second.signers(1)] == [mine.address]
        assert len(keystore.signers(1)) == 3
        # The file keystore of the same data dir holds none of these.
        assert FileKeystore(hsm.data).signers(1) == []


def test_a_description_that_does_not_match_the_token_is_refused(hsm):
    with hsm.keystore() as keystore:
        first, second = keystore.create(1, Scheme.ED25519), keystore.create(1, Scheme.ED25519)
        description = json.loads(first.description.read_text())
        description.update(label=second.label)  # points at another key in the token
        first.description.write_text(json.dumps(description))
        with pytest.raises(KeystoreError, match=r"is not the key .* describes"):
            keystore.signers(1)


def test_prepare_makes_a_dev_chain_with_hsm_keys(hsm):
    with hsm.keystore() as keystore:
        genesis = prepare(hsm.data, "aurigraph-hsm", 2, log=lambda *_: None, keystore=keystore)
        check_node_keys(keystore, genesis)
        for validator in genesis.validators:
            signer = keystore.signer(validator.id, validator.address)
            assert signer.scheme is Scheme.HYBRID and signer.label == f"aurigraph-node-{validator.id}-1"
        with pytest.raises(KeyNotFound):
            check_node_keys(FileKeystore(hsm.data), genesis)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "aurigraph.cli.main", *args], capture_output=True, text=True,
                          timeout=120, check=False)


def test_cli_node_new_and_node_list(hsm, monkeypatch):
    where = ["--data-dir", str(hsm.data.root), "--validator", "1", "--keystore", "pkcs11",
             "--hsm-module", str(MODULE), "--hsm-token", TOKEN]
    made = _cli("keys", "node-new", *where, "--json")
    assert made.returncode == 0, made.stderr
    key = json.loads(made.stdout)
    assert key["scheme"] == "hybrid" and key["source"].startswith(f"pkcs11:{TOKEN}/aurigraph-node-1-1")
    listed = json.loads(_cli("keys", "node-list", *where, "--json").stdout)
    assert [k["address"] for k in listed["keys"]] == [key["address"]]
    monkeypatch.setenv(HSM_PIN_ENV, "000000")
    wrong = _cli("keys", "node-list", *where)
    assert wrong.returncode == 2 and wrong.stderr == f"error: wrong PIN for HSM token '{TOKEN}'\n"
    monkeypatch.delenv(HSM_PIN_ENV)
    pin_file = hsm.root / "pin"
    pin_file.write_text(PIN + "\n")
    assert _cli("keys", "node-list", *where, "--hsm-pin-file", str(pin_file)).returncode == 0
    missing = _cli("keys", "node-list", *where[:-1], "nope", "--hsm-pin-file", str(pin_file))
    assert missing.returncode == 2 and "no HSM token labelled 'nope'" in missing.stderr


def test_a_node_signs_its_blocks_with_the_hsm_key(hsm):
    """`aurigraph up --keystore pkcs11`: the dev chain's validator key is made in the token, the
    replica actor opens its own session, and the committed block's proposer signature verifies
    against the HSM-held public key."""
    from aurigraph.bench.stack import spawn_up
    from aurigraph.client import Client
    from aurigraph.codec.blocks import block_from_proto
    from aurigraph.keystore import load_keypair
    from aurigraph.ledger import BLOCK_SIGNING_DOMAIN, block_hash

    root = Path(__file__).resolve().parents[3]
    stack = spawn_up(hsm.data.root, "--replicas", "1", "--validators", "1", "--shards", "1",
                     "--rate-limit", "0", "--no-grpc", "--keystore", "pkcs11", "--hsm-module", str(MODULE),
                     "--hsm-token", TOKEN, cwd=root)
    try:
        (validator,) = hsm.data.load_genesis().validators
        faucet = load_keypair(hsm.data.faucet_key, hsm.data.passphrase())
        with Client(stack.url) as node:
            result = node.transfer(faucet, generate_keypair().address, 7)
            block = block_from_proto(node.block(result.receipt.height).block)
    finally:
        stack.stop()
    assert stack.process.returncode == 0, "".join(stack.output)
    assert not hsm.data.node_key(1).exists()  # no validator key file: the Ed25519 half is in the token
    with hsm.keystore() as keystore:
        (signer,) = keystore.signers(1)
        ed_public = signer.public_key[:32]  # checked against the token's CKA_EC_POINT when listed
    assert signer.address == validator.address == block.header.proposer
    (signature,) = block.signatures
    assert signature.scheme is Scheme.HYBRID and signature.public_key == signer.public_key
    signed = BLOCK_SIGNING_DOMAIN + block_hash(block.header)
    assert verify(Scheme.HYBRID, signature.public_key, signed, signature.signature)
    assert verify(Scheme.ED25519, ed_public, signed, signature.signature[:64])
    print(f"block {block.header.height} signed by {address_to_text(signer.address)} via {signer.source}")
