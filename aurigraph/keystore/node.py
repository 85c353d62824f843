"""The node keystore: where a node keeps its validator keys, behind one small interface.

`NodeKeystore` hands out `Signer`s (`aurigraph.crypto.Signer`) for a validator id:

* `signers(node_id)` — every key this keystore holds for the validator, oldest first (the genesis
  key, then the keys `create` added for rotation). Public parts are read at once; a secret kept
  in a file is decrypted on first use, or by `unlock()`.
* `signer(node_id, address)` — the one with that address, unlocked (`KeyNotFound` if none).
* `create(node_id, scheme)` — a new key, stored next to the others, never over one.

Backends: `FileKeystore` (this module: the data dir's encrypted key files, the default) and
`Pkcs11Keystore` (`aurigraph.keystore.hsm`: Ed25519 in a PKCS#11 token, the ML-DSA-87 half of a
hybrid key in a file). `open_node_keystore(settings, data_dir)` opens the one the settings name.

A keystore and its signers belong to one process: an HSM session cannot be pickled or shared, so
each actor opens its own keystore from the node settings. Signers stay usable while their keystore
is open. Where the files go is `DataDir`'s business (`aurigraph.node.datadir`).
"""

from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Protocol

from aurigraph.crypto import KeyPair, Scheme, Signer, address_to_text, generate_keypair
from aurigraph.crypto.passphrase import DEFAULT_MEMLIMIT, DEFAULT_OPSLIMIT
from aurigraph.keystore.files import load_keypair, load_public, save_keypair

if TYPE_CHECKING:
    from aurigraph.node.config import NodeSettings
    from aurigraph.node.datadir import DataDir

HSM_PIN_ENV = "AURIGRAPH_HSM_PIN"


class KeystoreError(ValueError):
    """The keystore cannot be opened, or does not hold what was asked for; the message says which."""


class KeyNotFound(KeystoreError):
    """No key of the validator in this keystore has the address asked for."""


class NodeSigner(Signer, Protocol):
    """A keystore's signer: a `Signer` that can say where its key lives and check its secret early."""

    @property
    def source(self) -> str: ...

    def unlock(self) -> NodeSigner: ...


class FileSigner:
    """A key in an encrypted key file. The public part is read when listed; the secret is decrypted
    (Argon2id, about a second) on `unlock()` or the first `sign()`, then kept in memory, never in
    `repr` and never pickled."""

    def __init__(self, path: Path, passphrase: Callable[[], str], keypair: KeyPair | None = None) -> None:
        self.path = Path(path)
        self.scheme, self.public_key, self.address = (
            (keypair.scheme, keypair.public_key, keypair.address) if keypair else load_public(self.path))
        self._passphrase = passphrase
        self._keypair = keypair
        self._lock = threading.Lock()

    @property
    def source(self) -> str:
        return str(self.path)

    def unlock(self) -> FileSigner:
        """Decrypt the secret key now: a wrong passphrase or a damaged file shows here, not at signing."""
        with self._lock:
            if self._keypair is None:
                keypair = load_keypair(self.path, self._passphrase())
                if keypair.public_key != self.public_key:  # the file changed since it was listed
                    raise KeystoreError(f"{self.path}: the key file changed while in use")
                self._keypair = keypair
        return self

    def sign(self, message: bytes) -> bytes:
        keypair = self._keypair or self.unlock()._keypair
        return keypair.sign(message)

    def __getstate__(self) -> dict:
        return {"path": self.path, "passphrase": self._passphrase}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["path"], state["passphrase"])

    def __repr__(self) -> str:
        return f"FileSigner({self.scheme.label}, {address_to_text(self.address)}, {self.path})"


class NodeKeystore(ABC):
    """Validator keys of one node (see the module docstring). Use as a context manager, or `close()`."""

    kind: ClassVar[str]

    @abstractmethod
    def signers(self, node_id: int) -> list[NodeSigner]:
        """Every key of validator `node_id` in this keystore, oldest first (newest last)."""

    @abstractmethod
    def create(self, node_id: int, scheme: Scheme = Scheme.HYBRID) -> NodeSigner:
        """Generate and store a new key for validator `node_id` (never replacing one); it is listed
        last by `signers` from now on. Returns its signer, ready to sign."""

    @abstractmethod
    def describe(self) -> str:
        """Where the keys are, for messages: no secrets."""

    def signer(self, node_id: int, address: bytes) -> NodeSigner:
        """The key of validator `node_id` with this address, unlocked; `KeyNotFound` if there is none."""
        candidates = self.signers(node_id)
        for candidate in reversed(candidates):
            if candidate.address == address:
                return candidate.unlock()
        raise KeyNotFound(f"none of the {len(candidates)} keys of validator {node_id} in {self.describe()} "
                          f"has address {address_to_text(address)}")

    def close(self) -> None:  # noqa: B027 (a no-op unless the backend holds something open)
        """Release what the keystore holds open (an HSM session); its signers stop working."""

    def __enter__(self) -> NodeKeystore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class FileKeystore(NodeKeystore):
    """Validator keys as encrypted key files in the data dir (`keys/node-<id>.key`, then
    `keys/node-<id>.<n>.key` for each key `create` adds), under the data dir's passphrase."""

    kind = "file"

    def __init__(self, data_dir: DataDir, *, opslimit: int = DEFAULT_OPSLIMIT,
                 memlimit: int = DEFAULT_MEMLIMIT) -> None:
        self.data_dir = data_dir
        self._kdf = {"opslimit": opslimit, "memlimit": memlimit}

    def describe(self) -> str:
        return f"the file keystore {self.data_dir.keys}"

    def signers(self, node_id: int) -> list[NodeSigner]:
        return [FileSigner(path, self.data_dir.passphrase) for _, path in self.data_dir.node_key_files(node_id)]

    def create(self, node_id: int, scheme: Scheme = Scheme.HYBRID) -> NodeSigner:
        keypair = generate_keypair(scheme)
        path = self.data_dir.node_key(node_id, self.data_dir.next_node_key_number(node_id))
        save_keypair(path, keypair, self.data_dir.passphrase(), **self._kdf)
        return FileSigner(path, self.data_dir.passphrase, keypair)


def read_hsm_pin(pin_file: Path | None) -> str:
    """The HSM user PIN: $AURIGRAPH_HSM_PIN, else the content of `pin_file` (whitespace stripped). Never an argument
    or a setting, so it stays out of `ps`, shell history and the settings JSON."""
    if os.environ.get(HSM_PIN_ENV):
        return os.environ[HSM_PIN_ENV]
    if pin_file is None:
        raise KeystoreError(f"no HSM PIN: set ${HSM_PIN_ENV} or name a PIN file (--hsm-pin-file)")
    try:
        pin = Path(pin_file).read_text().strip()
    except OSError as e:
        raise KeystoreError(f"cannot read the HSM PIN file {pin_file}: {e.strerror}") from None
    if not pin:
        raise KeystoreError(f"the HSM PIN file {pin_file} is empty")
    return pin


def open_node_keystore(settings: NodeSettings, data_dir: DataDir) -> NodeKeystore:
    """The keystore `settings.keystore` names: "file" (default) or "pkcs11" (module, token and PIN
    from the settings and $AURIGRAPH_HSM_PIN). Raises `KeystoreError` with a one-line reason."""
    if settings.keystore == "file":
        return FileKeystore(data_dir)
    if settings.keystore == "pkcs11":
        from aurigraph.keystore.hsm import Pkcs11Keystore  # imports pkcs11: only when asked for

        if settings.hsm_module is None or settings.hsm_token is None:
            raise KeystoreError("the pkcs11 keystore needs an HSM module and a token label")
        return Pkcs11Keystore(data_dir, module=settings.hsm_module, token=settings.hsm_token,
                              pin=read_hsm_pin(settings.hsm_pin_file))
    raise KeystoreError(f"unknown keystore {settings.keystore!r} (expected file or pkcs11)")
