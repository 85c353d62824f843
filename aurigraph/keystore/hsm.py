"""Validator keys in a PKCS#11 HSM (tested against SoftHSM2): `Pkcs11Keystore` and `HsmSigner`.

The Ed25519 key is generated inside the token (CKM_EC_EDWARDS_KEY_PAIR_GEN on edwards25519),
sensitive and non-extractable, labelled `aurigraph-node-<id>-<n>`, and signs with CKM_EDDSA (pure
Ed25519: the same 64-byte signatures libsodium makes and `aurigraph.crypto.verify` checks). HSMs
do not hold ML-DSA keys yet, so the ML-DSA-87 half of a HYBRID key stays in an encrypted key file
(`DataDir.node_key_half`); the signer concatenates both halves into the usual hybrid signature.

Each key the keystore makes is also described in the data dir (`DataDir.node_key_hsm`: token,
label, scheme, public key, address — nothing secret): that file, not a search of the token, says
which keys belong to this node, so a token shared by several data dirs is not a problem, and the
key's public part is checked against it when the key is listed.

Sessions: PKCS#11 logs in per application and per token, so this process keeps one logged-in
session per (module, token), shared by every keystore opened on it and closed with the last one;
signing through it is serialized by a lock. Nothing here can be pickled: each process (each Ray
actor) opens its own keystore from the node settings.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import pkcs11
from asn1crypto.core import ObjectIdentifier, OctetString, PrintableString
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11 import exceptions as p11

from aurigraph.crypto import Scheme, address_to_text, derive_address, generate_keypair
from aurigraph.crypto.passphrase import DEFAULT_MEMLIMIT, DEFAULT_OPSLIMIT
from aurigraph.crypto.signing import ED25519_PUBLIC_KEY_SIZE, ED25519_SIGNATURE_SIZE
from aurigraph.keystore.files import (
    FORMAT_VERSION,
    KeyFileError,
    _public_part,
    _read,
    _write_document,
    save_keypair,
)
from aurigraph.keystore.node import FileSigner, KeystoreError, NodeKeystore, NodeSigner

if TYPE_CHECKING:
    from aurigraph.node.datadir import DataDir

LABEL_PREFIX = "aurigraph-node-"
# CKA_EC_PARAMS of an edwards25519 key: PKCS#11 3.0 allows the curve's OID (RFC 8410 id-Ed25519,
# what SoftHSM2 takes) or its name as a PrintableString (what some HSMs want): tried in that order.
ED25519_PARAMS = (ObjectIdentifier("1.3.101.112").dump(), PrintableString("edwards25519").dump())
_UNSUPPORTED_PARAMS = (p11.AttributeValueInvalid, p11.DomainParamsInvalid, p11.TemplateInconsistent,
                       p11.MechanismInvalid, p11.FunctionFailed)


def hsm_label(node_id: int, number: int) -> str:
    return f"{LABEL_PREFIX}{node_id}-{number}"


class _TokenSession:
    """The process's one logged-in session on a token, shared and reference-counted."""

    def __init__(self, module: str, label: str, session, pin_digest: bytes) -> None:
        self.module = module
        self.label = label
        self.session = session
        self.pin_digest = pin_digest
        self.lock = threading.Lock()  # one operation at a time on a session (PKCS#11 rule)
        self.refs = 0

    def __reduce__(self):
        raise TypeError("an HSM session cannot be pickled: open a keystore in each process (open_node_keystore)")


_sessions: dict[tuple[str, str], _TokenSession] = {}
_sessions_lock = threading.Lock()


def _acquire(module: Path, token_label: str, pin: str) -> _TokenSession:
    module_path = str(Path(module).resolve())
    pin_digest = hashlib.sha256(pin.encode()).digest()
    with _sessions_lock:
        held = _sessions.get((module_path, token_label))
        if held is not None:
            # Logged in already with the token's PIN: a different one is a wrong one.
            if not hmac.compare_digest(held.pin_digest, pin_digest):
                raise KeystoreError(f"wrong PIN for HSM token {token_label!r}")
            held.refs += 1
            return held
        if not Path(module_path).is_file():
            raise KeystoreError(f"PKCS#11 module {module} not found")
        try:
            lib = pkcs11.lib(module_path)
        except p11.PKCS11Error as e:
            raise KeystoreError(f"cannot load PKCS#11 module {module}: {e}") from None
        try:
            token = lib.get_token(token_label=token_label)
        except p11.NoSuchToken:
            _finalize_if_unused(module_path)
            raise KeystoreError(
                f"no HSM token labelled {token_label!r} in {module} (SoftHSM2: softhsm2-util --init-token "
                f"--free --label {token_label} …)") from None
        except p11.MultipleTokensReturned:
            _finalize_if_unused(module_path)
            raise KeystoreError(f"more than one HSM token is labelled {token_label!r} in {module}") from None
        try:
            session = token.open(rw=True, user_pin=pin)
        except (p11.PinIncorrect, p11.PinLenRange, p11.PinInvalid):
            _finalize_if_unused(module_path)
            raise KeystoreError(f"wrong PIN for HSM token {token_label!r}") from None
        except p11.PinLocked:
            _finalize_if_unused(module_path)
            raise KeystoreError(f"the PIN of HSM token {token_label!r} is locked (too many wrong tries)") from None
        except p11.PKCS11Error as e:
            _finalize_if_unused(module_path)
            raise KeystoreError(f"cannot log in to HSM token {token_label!r}: {type(e).__name__}") from None
        held = _sessions[(module_path, token_label)] = _TokenSession(module_path, token_label, session, pin_digest)
        held.refs = 1
        return held


def _release(held: _TokenSession) -> None:
    with _sessions_lock:
        held.refs -= 1
        if held.refs > 0 or _sessions.get((held.module, held.label)) is not held:
            return
        del _sessions[(held.module, held.label)]
        with held.lock, contextlib.suppress(p11.PKCS11Error):  # a token gone away: nothing to close
            held.session.close()
        _finalize_if_unused(held.module)


def _finalize_if_unused(module_path: str) -> None:
    # Finalized with its last session, the module reads its configuration afresh when next opened
    # (SoftHSM2: $SOFTHSM2_CONF), and a test can give every case a token directory of its own.
    if any(m == module_path for m, _ in _sessions):
        return
    lib = pkcs11._loaded.get(module_path)
    if lib is not None and lib.initialized:
        with contextlib.suppress(p11.PKCS11Error):
            lib.finalize()


def _ed25519_public_key(public_key_object) -> bytes:
    """The 32-byte key from CKA_EC_POINT: a DER OCTET STRING (PKCS#11 3.0), or raw on some HSMs."""
    point = bytes(public_key_object[Attribute.EC_POINT])
    if len(point) != ED25519_PUBLIC_KEY_SIZE:
        try:
            point = bytes(OctetString.load(point).native)
        except ValueError:
            point = b""
    if len(point) != ED25519_PUBLIC_KEY_SIZE:
        raise KeystoreError("the HSM returned an Ed25519 public key of an unexpected form")
    return point


class HsmSigner:
    """A validator key whose Ed25519 part is in the HSM: ED25519 alone, or HYBRID with the ML-DSA-87
    half in a key file (`half`). Signatures are the scheme's wire format, so nothing else changes."""

    def __init__(self, held: _TokenSession, private_key, label: str, scheme: Scheme, public_key: bytes,
                 half: FileSigner | None, description: Path) -> None:
        self._held = held
        self._private_key = private_key
        self.label = label
        self.scheme = scheme
        self.public_key = public_key
        self.address = derive_address(scheme, public_key)
        self._half = half
        self.description = description

    @property
    def source(self) -> str:
        where = f"pkcs11:{self._held.label}/{self.label}"
        return f"{where} + {self._half.path}" if self._half else where

    def unlock(self) -> HsmSigner:
        """The HSM key is usable already (the session is logged in); this decrypts the ML-DSA half."""
        if self._half is not None:
            self._half.unlock()
        return self

    def sign(self, message: bytes) -> bytes:
        with self._held.lock:
            try:
                signature = bytes(self._private_key.sign(message, mechanism=Mechanism.EDDSA))
            except p11.PKCS11Error as e:  # e.g. the keystore was closed, or the token removed
                raise KeystoreError(f"HSM key {self.label!r} could not sign: {type(e).__name__}") from None
        if len(signature) != ED25519_SIGNATURE_SIZE:
            raise KeystoreError(f"HSM key {self.label!r} gave a {len(signature)}-byte Ed25519 signature")
        return signature + self._half.sign(message) if self._half is not None else signature

    def __reduce__(self):
        raise TypeError("an HSM-held key cannot be pickled: open a keystore in each process (open_node_keystore)")

    def __repr__(self) -> str:
        return f"HsmSigner({self.scheme.label}, {address_to_text(self.address)}, {self.source})"


class Pkcs11Keystore(NodeKeystore):
    """Validator keys in a PKCS#11 token (see the module docstring). `create` makes HYBRID (the
    default, what validators use) or ED25519 keys; ML-DSA-87 keys belong in the file keystore."""

    kind = "pkcs11"

    def __init__(self, data_dir: DataDir, *, module: Path, token: str, pin: str,
                 opslimit: int = DEFAULT_OPSLIMIT, memlimit: int = DEFAULT_MEMLIMIT) -> None:
        self.data_dir = data_dir
        self.module = Path(module)
        self.token = token
        self._kdf = {"opslimit": opslimit, "memlimit": memlimit}
        self._held: _TokenSession | None = _acquire(self.module, token, pin)

    def describe(self) -> str:
        return f"HSM token {self.token!r}"

    def close(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            _release(held)

    def __reduce__(self):
        raise TypeError("an HSM session cannot be pickled: open a keystore in each process (open_node_keystore)")

    def __repr__(self) -> str:
        return f"Pkcs11Keystore(module={str(self.module)!r}, token={self.token!r})"

    def _open(self) -> _TokenSession:
        if self._held is None:
            raise KeystoreError(f"{self.describe()}: the keystore is closed")
        return self._held

    def signers(self, node_id: int) -> list[NodeSigner]:
        found: list[NodeSigner] = []
        for number, path in self.data_dir.node_key_hsm_files(node_id):
            document = _read(path)
            if document.get("backend") != self.kind or document.get("token") != self.token:
                continue  # a key on another token (e.g. before the node moved to this one)
            found.append(self._signer(node_id, number, path, document))
        return found

    def _signer(self, node_id: int, number: int, path: Path, document: dict) -> HsmSigner:
        scheme, public_key, _ = _public_part(path, document)
        label = document.get("label")
        if scheme not in (Scheme.ED25519, Scheme.HYBRID) or not isinstance(label, str):
            raise KeyFileError(f"{path}: not an HSM key description")
        held = self._open()
        with held.lock:
            try:
                private_key = held.session.get_key(ObjectClass.PRIVATE_KEY, KeyType.EC_EDWARDS, label=label)
                public_object = held.session.get_key(ObjectClass.PUBLIC_KEY, KeyType.EC_EDWARDS, label=label)
            except p11.NoSuchKey:
                raise KeystoreError(f"{self.describe()} has no Ed25519 key labelled {label!r} "
                                    f"(named by {path})") from None
            except p11.MultipleObjectsReturned:
                raise KeystoreError(f"{self.describe()} has more than one key labelled {label!r}") from None
            ed_public = _ed25519_public_key(public_object)
            extractable = private_key[Attribute.EXTRACTABLE] or not private_key[Attribute.SENSITIVE]
        if extractable:
            raise KeystoreError(f"HSM key {label!r} is extractable or not sensitive: a node key must never leave the HSM")
        if ed_public != public_key[:ED25519_PUBLIC_KEY_SIZE]:
            raise KeystoreError(f"HSM key {label!r} is not the key {path} describes")
        half = None
        if scheme is Scheme.HYBRID:
            half = FileSigner(self.data_dir.node_key_half(node_id, number), self.data_dir.passphrase)
            if half.scheme is not Scheme.ML_DSA_87 or half.public_key != public_key[ED25519_PUBLIC_KEY_SIZE:]:
                raise KeystoreError(f"{half.path} is not the ML-DSA-87 half of the key {path} describes")
        return HsmSigner(held, private_key, label, scheme, public_key, half, path)

    def create(self, node_id: int, scheme: Scheme = Scheme.HYBRID) -> NodeSigner:
        scheme = Scheme.parse(scheme)
        if scheme is Scheme.ML_DSA_87:
            raise KeystoreError("HSMs hold no ML-DSA-87 keys yet: keep ML-DSA-87 keys in the file keystore")
        number = self.data_dir.next_node_key_number(node_id)
        while self._label_taken(hsm_label(node_id, number)):  # e.g. another data dir on this token
            number += 1
        label = hsm_label(node_id, number)
        half = None
        if scheme is Scheme.HYBRID:
            ml_keypair = generate_keypair(Scheme.ML_DSA_87)
            half_path = self.data_dir.node_key_half(node_id, number)
            save_keypair(half_path, ml_keypair, self.data_dir.passphrase(), **self._kdf)
            half = FileSigner(half_path, self.data_dir.passphrase, ml_keypair)
        try:
            private_key, ed_public = self._generate_ed25519(label)
        except BaseException:
            if half is not None:
                half.path.unlink(missing_ok=True)
            raise
        public_key = ed_public + (half.public_key if half is not None else b"")
        description = self.data_dir.node_key_hsm(node_id, number)
        _write_document(description, {
            "version": FORMAT_VERSION,
            "backend": self.kind,
            "scheme": scheme.label,
            "address": address_to_text(derive_address(scheme, public_key)),
            "public_key": public_key.hex(),
            "token": self.token,
            "label": label,
        }, overwrite=False)
        return HsmSigner(self._open(), private_key, label, scheme, public_key, half, description)

    def _label_taken(self, label: str) -> bool:
        held = self._open()
        with held.lock:
            return next(iter(held.session.get_objects({Attribute.LABEL: label})), None) is not None

    def _generate_ed25519(self, label: str):
        """A new Ed25519 key pair on the token: the private half sensitive, non-extractable, sign-only."""
        private_template = {Attribute.SIGN: True, Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False,
                            Attribute.PRIVATE: True, Attribute.DERIVE: False, Attribute.DECRYPT: False,
                            Attribute.UNWRAP: False}
        last_error: Exception | None = None
        held = self._open()
        with held.lock:
            for params in ED25519_PARAMS:
                try:
                    public, private = held.session.generate_keypair(
                        KeyType.EC_EDWARDS, store=True, label=label, id=label.encode(),
                        mechanism=Mechanism.EC_EDWARDS_KEY_PAIR_GEN,
                        public_template={Attribute.EC_PARAMS: params, Attribute.VERIFY: True,
                                         Attribute.ENCRYPT: False, Attribute.WRAP: False, Attribute.DERIVE: False},
                        private_template=private_template)
                except _UNSUPPORTED_PARAMS as e:
                    last_error = e
                    continue
                except p11.PKCS11Error as e:
                    raise KeystoreError(f"{self.describe()} could not make an Ed25519 key: {type(e).__name__}") from None
                return private, _ed25519_public_key(public)
        raise KeystoreError(f"{self.describe()} does not make Ed25519 keys (CKM_EC_EDWARDS_KEY_PAIR_GEN): "
                            f"{type(last_error).__name__}")
