"""Confidential data writes against `aurigraph up`'s stack: a value sealed to two ML-KEM-1024
recipients is committed, served and stored as ciphertext only; each recipient opens it, a third
key does not; and the same through the CLI (`tx send --seal-to`, `data open`).

"Never stored in clear" is checked by searching every file of the node's data directory (RocksDB
SST, WAL and MANIFEST files of the replicas and archive shards, ...) for a random marker; a plain
data write with another marker is searched for too, and must be found, so the search can fail.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from pathlib import Path

import httpx
import pytest

from aurigraph.client import ApiError, Client
from aurigraph.codec import signed_from_json, signed_from_proto
from aurigraph.crypto import DecryptionError, generate_kem_keypair
from aurigraph.keystore import save_keypair
from aurigraph.ledger import DataWrite, NotSealedError, TxRejected
from aurigraph.v1 import transaction_pb2
from tests.e2e.conftest import cli as run_cli

COMMITTED = transaction_pb2.TRANSACTION_STATUS_COMMITTED


def marker(label: str) -> bytes:
    """A long random byte string that cannot occur anywhere by chance."""
    return f"<<{label}:{secrets.token_hex(24)}>>".encode()


@pytest.fixture(scope="module")
def kem():
    return [generate_kem_keypair() for _ in range(3)]  # recipients A and B, and an outsider


def json_bytes(value) -> list[bytes]:
    """Every string of a protobuf-JSON document, as text and, where it is base64, decoded."""
    if isinstance(value, dict):
        return [b for v in value.values() for b in json_bytes(v)]
    if isinstance(value, list):
        return [b for v in value for b in json_bytes(v)]
    if not isinstance(value, str):
        return []
    try:
        return [value.encode(), base64.b64decode(value, validate=True)]
    except ValueError:
        return [value.encode()]


def files_containing(root: Path, needle: bytes) -> list[Path]:
    found = []
    for path in root.rglob("*"):
        try:
            if path.is_file() and not path.is_symlink() and needle in path.read_bytes():
                found.append(path)
        except OSError:  # a file RocksDB removed while we walked
            continue
    return found


def wait_for_files(root: Path, needle: bytes, timeout_s: float = 30.0) -> list[Path]:
    deadline = time.monotonic() + timeout_s
    while not (found := files_containing(root, needle)) and time.monotonic() < deadline:
        time.sleep(0.5)
    return found


@pytest.fixture(params=["rest", "grpc"])
def url(request, stack):
    return stack.url if request.param == "rest" else f"grpc://{stack.grpc_target}"


def test_sealed_write_opens_for_each_recipient_only_and_is_never_stored_in_clear(stack, url, kem):
    a, b, outsider = kem
    secret, plain = marker("sealed"), marker("plain")
    data_key = f"confidential/{secrets.token_hex(4)}"
    with Client(url) as node:
        sent = node.write_sealed(stack.faucet, data_key, b"payload " + secret, [a.public_key, b.public_key])
        assert sent.status == COMMITTED and sent.receipt.height >= 1
        control = node.write_data(stack.faucet, f"{data_key}-plain", plain)  # the positive control
        assert control.status == COMMITTED
        record = node.wait_committed(sent.tx_id)
        assert record.status == COMMITTED and record.HasField("transaction")
        # Each recipient opens it, from the record and by id; nobody else does.
        assert node.open_data(record, a) == b"payload " + secret
        assert node.open_data(record.transaction, b) == b"payload " + secret
        assert node.read_sealed(sent.tx_id, b) == b"payload " + secret
        with pytest.raises(DecryptionError, match="not among"):
            node.open_data(record, outsider)
        with pytest.raises(NotSealedError, match="plain"):
            node.read_sealed(control.tx_id, a)
        with pytest.raises(ApiError) as caught:
            node.read_sealed(b"\x07" * 64, a)
        assert caught.value.code == "NOT_FOUND"
        # What the gateway serves holds the ciphertext only (and the plain control in clear).
        block = node.block(sent.receipt.height)
        assert plain in node.transaction(control.tx_id).SerializeToString()
    assert secret not in record.SerializeToString() and secret not in block.SerializeToString()
    with httpx.Client(base_url=stack.url, timeout=30) as http:
        as_json = http.get(f"/v11/transactions/{sent.tx_id.hex()}").text
        export = http.get("/v11/audit/export", params={"from": sent.receipt.height, "to": control.receipt.height})
    assert export.status_code == 200
    assert secret not in as_json.encode()
    blobs = [blob for line in export.text.splitlines() if line.strip() for blob in json_bytes(json.loads(line))]
    assert any(plain in blob for blob in blobs), "the plain control is not in the export: the search is blind"
    assert not any(secret in blob for blob in blobs)
    # And nothing the node wrote to disk: the plain control shows the search finds values.
    assert wait_for_files(stack.data.root, plain), "the plain control value was not found: the search is blind"
    assert files_containing(stack.data.root, secret) == []
    assert not any(secret.decode() in line for line in list(stack.output))


def test_a_sealed_value_copied_into_another_transaction_does_not_open(stack, kem):
    a = kem[0]
    secret = marker("moved")
    with Client(stack.url) as node:
        sent = node.write_sealed(stack.faucet, "confidential/original", secret, [a.public_key])
        record = node.wait_committed(sent.tx_id)
        original = node.open_data(record, a)
        assert original == secret
        # Copy the sealed payload into a new write under another data key, signed by the same
        # sender: the ledger accepts it (it cannot read it), but it no longer opens.
        sealed = signed_from_proto(record.transaction).body.kind.value
        result = node.submit(node.sign(stack.faucet, DataWrite("confidential/copy", sealed)), wait=True)
        assert result.status == COMMITTED
        with pytest.raises(DecryptionError, match="tampered"):
            node.read_sealed(result.tx_id, a)


def test_sdk_refuses_bad_recipient_sets(stack, kem):
    with Client(stack.url) as node:
        with pytest.raises(TxRejected, match="recipients"):
            node.write_sealed(stack.faucet, "k", b"x", [])
        with pytest.raises(TxRejected, match="recipients"):
            node.write_sealed(stack.faucet, "k", b"x", [generate_kem_keypair().public_key for _ in range(17)])


def cli(*args):
    return run_cli(*args, text=False)  # (the plaintext is compared as bytes)


def test_cli_send_sealed_then_open(stack, tmp_path):
    pw = tmp_path / "pw"
    pw.write_text("pw")
    key_file = tmp_path / "faucet.key"
    save_keypair(key_file, stack.faucet, "pw", opslimit=2, memlimit=64 * 1024**2)
    kem_files = [tmp_path / f"{name}.kem" for name in ("a", "b", "c")]
    for path in kem_files:
        made = cli("keys", "new-kem", "--out", path, "--passphrase-file", pw)
        assert made.returncode == 0, made.stderr
    shown = json.loads(cli("keys", "show", kem_files[1], "--json").stdout)
    (tmp_path / "b.pub").write_text(shown["public_key"])
    secret = marker("cli").decode()
    remote = ["--url", stack.url, "--passphrase-file", pw]
    sent = cli("tx", "send", "--key", key_file, "--data-key", "confidential/cli", "--data-value", secret,
               "--seal-to", kem_files[0], "--seal-to", tmp_path / "b.pub", "--json", *remote)
    assert sent.returncode == 0, sent.stderr
    result = json.loads(sent.stdout)
    assert result["status"] == "TRANSACTION_STATUS_COMMITTED"
    tx_hex = base64.b64decode(result["tx_id"]).hex()
    for recipient in kem_files[:2]:
        opened = cli("data", "open", "--tx", tx_hex, "--kem-key", recipient, *remote)
        assert opened.returncode == 0, opened.stderr
        assert opened.stdout == secret.encode()
    out_file = tmp_path / "plain"
    opened = cli("data", "open", "--tx", tx_hex, "--kem-key", kem_files[0], "--out", out_file,
                 "--url", f"grpc://{stack.grpc_target}", "--passphrase-file", pw)
    assert opened.returncode == 0 and out_file.read_bytes() == secret.encode()
    assert files_containing(stack.data.root, secret.encode()) == []

    # Signed offline with `tx sign --seal-to`, sent as bytes through the SDK, opened by id.
    with Client(stack.url) as node:
        nonce = node.next_nonce(stack.faucet.address)
    offline = cli("tx", "sign", "--key", key_file, "--chain-id", stack.chain_id, "--nonce", nonce,
                  "--data-key", "confidential/offline", "--data-value", secret, "--seal-to", kem_files[2],
                  "--passphrase-file", pw)
    assert offline.returncode == 0, offline.stderr
    with Client(stack.url) as node:
        done = node.submit(signed_from_json(offline.stdout.decode()), wait=True)
    assert done.status == COMMITTED
    opened = cli("data", "open", "--tx", done.tx_id.hex(), "--kem-key", kem_files[2], *remote)
    assert opened.returncode == 0 and opened.stdout == secret.encode()

    plain = cli("tx", "send", "--key", key_file, "--data-key", "confidential/clear", "--data-value", "hi",
                "--json", *remote)
    plain_hex = base64.b64decode(json.loads(plain.stdout)["tx_id"]).hex()
    for args, message in [
        (["--tx", tx_hex, "--kem-key", kem_files[2]], b"error: not a recipient"),
        (["--tx", plain_hex, "--kem-key", kem_files[0]], b"error: not a sealed value"),
        (["--tx", "ab" * 64, "--kem-key", kem_files[0]], b"error: unknown transaction"),
    ]:
        failed = cli("data", "open", *args, *remote)
        assert failed.returncode == 2 and failed.stderr.startswith(message), failed.stderr
        assert failed.stderr.count(b"\n") == 1 and not failed.stdout
