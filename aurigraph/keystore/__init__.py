"""Keys at rest: encrypted key files, and the node keystore that holds validator keys.

Two layers:

* `files` — the key file format (JSON, the secret key under Argon2id + XSalsa20-Poly1305), for any
  key: accounts, the faucet, the node's ML-KEM key and validator keys.
* `node` / `hsm` — `NodeKeystore`, where a node keeps its validator keys, with two backends:
  `FileKeystore` (encrypted files in the data dir, the default) and `Pkcs11Keystore` (the Ed25519
  key inside a PKCS#11 HSM, non-extractable; the ML-DSA-87 half of a hybrid key in an encrypted
  file, until HSMs support ML-DSA). Both hand out `aurigraph.crypto.Signer`s, so the ledger signs
  blocks the same way whichever holds the key. `open_node_keystore(settings, data_dir)` picks the
  backend from the node settings.

This is an adapter: the pure core never imports it. `pkcs11` is imported only when an HSM
keystore is opened.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aurigraph.keystore.files import (
    FORMAT_VERSION,
    KEM_ALGORITHM,
    KeyFileError,
    load_kem_public,
    load_keypair,
    load_public,
    save_kem_keypair,
    save_keypair,
)
from aurigraph.keystore.node import (
    HSM_PIN_ENV,
    FileKeystore,
    FileSigner,
    KeyNotFound,
    KeystoreError,
    NodeKeystore,
    open_node_keystore,
)

if TYPE_CHECKING:
    from aurigraph.keystore.hsm import HsmSigner, Pkcs11Keystore

__all__ = [
    "FORMAT_VERSION", "HSM_PIN_ENV", "KEM_ALGORITHM", "FileKeystore", "FileSigner", "HsmSigner", "KeyFileError",
    "KeyNotFound", "KeystoreError", "NodeKeystore", "Pkcs11Keystore", "load_kem_public", "load_keypair",
    "load_public", "open_node_keystore", "save_kem_keypair", "save_keypair",
]


def __getattr__(name: str):
    # The HSM backend imports `pkcs11` (and asn1crypto): only for code that uses it.
    if name in ("Pkcs11Keystore", "HsmSigner"):
        from aurigraph.keystore import hsm

        return getattr(hsm, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
