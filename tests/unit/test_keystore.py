"""Key files: round trip, wrong passphrase, tampering and mismatched halves are all caught."""

from __future__ import annotations

import json

import pytest

from aurigraph.crypto import DecryptionError, Scheme, generate_keypair
from aurigraph.keystore import KeyFileError, load_keypair, load_public, save_keypair

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
