"""`aurigraph keys new|show`: create and inspect encrypted key files."""

from __future__ import annotations

import argparse
from pathlib import Path

from aurigraph.cli.common import (
    KDF_PROFILES,
    CliError,
    add_passphrase_args,
    emit,
    read_passphrase,
    settings_error,
)
from aurigraph.crypto import Scheme, address_to_text, generate_keypair
from aurigraph.crypto.kem import generate_kem_keypair, kem_key_id
from aurigraph.kemkeys import is_kem_key_file
from aurigraph.keystore import (
    KeystoreError,
    NodeKeystore,
    load_kem_public,
    load_public,
    open_node_keystore,
    save_kem_keypair,
    save_keypair,
)
from aurigraph.node.config import NodeSettings
from aurigraph.node.datadir import DataDir


def register(sub: argparse._SubParsersAction) -> None:
    keys = sub.add_parser("keys", help="create and inspect key files")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)

    new = keys_sub.add_parser("new", help="generate a key pair into an encrypted key file")
    new.add_argument("--scheme", default="ed25519", type=Scheme.parse, help="ed25519 (default), ml-dsa-87 or hybrid")
    new.add_argument("--out", type=Path, required=True, help="key file to write (mode 0600)")
    new.add_argument("--kdf", choices=sorted(KDF_PROFILES), default="moderate", help="Argon2id cost profile")
    new.add_argument("--force", action="store_true", help="overwrite an existing file")
    new.add_argument("--json", action="store_true")
    add_passphrase_args(new)
    new.set_defaults(func=cmd_new)

    kem = keys_sub.add_parser("new-kem", help="generate an ML-KEM-1024 recipient key (opens sealed data) "
                                              "into an encrypted key file")
    kem.add_argument("--out", type=Path, required=True, help="key file to write (mode 0600)")
    kem.add_argument("--force", action="store_true", help="overwrite an existing file")
    kem.add_argument("--json", action="store_true")
    add_passphrase_args(kem)
    kem.set_defaults(func=cmd_new_kem)

    show = keys_sub.add_parser("show", help="print a key file's scheme, address (or KEM key id) and public key")
    show.add_argument("path", type=Path)
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_show)

    node_new = keys_sub.add_parser("node-new", help="create a new key of a validator in the node's keystore "
                                                    "(e.g. for a key rotation); prints its public key")
    _add_node_keystore_args(node_new)
    node_new.add_argument("--scheme", default=Scheme.HYBRID, type=Scheme.parse, help="hybrid (default) or ed25519")
    node_new.set_defaults(func=cmd_node_new)
    node_list = keys_sub.add_parser("node-list", help="list a validator's keys in the node's keystore, oldest first")
    _add_node_keystore_args(node_list)
    node_list.set_defaults(func=cmd_node_list)


def cmd_new(args: argparse.Namespace) -> int:
    passphrase = read_passphrase(args, confirm=True)
    keypair = generate_keypair(args.scheme)
    opslimit, memlimit = KDF_PROFILES[args.kdf]
    save_keypair(args.out, keypair, passphrase, overwrite=args.force, opslimit=opslimit, memlimit=memlimit)
    address = address_to_text(keypair.address)
    emit(args, {"path": str(args.out), "scheme": keypair.scheme.label, "address": address},
         f"wrote {args.out}\nscheme   {keypair.scheme.label}\naddress  {address}")
    return 0


def cmd_new_kem(args: argparse.Namespace) -> int:
    passphrase = read_passphrase(args, confirm=True)
    keypair = generate_kem_keypair()
    save_kem_keypair(args.out, keypair, passphrase, overwrite=args.force)
    emit(args, {"path": str(args.out), "scheme": "ml-kem-1024", "key_id": keypair.key_id.hex()},
         f"wrote {args.out}\nscheme   ml-kem-1024\nkey id   {keypair.key_id.hex()}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    if is_kem_key_file(args.path):
        public_key = load_kem_public(args.path)
        key_id = kem_key_id(public_key).hex()
        emit(args, {"scheme": "ml-kem-1024", "key_id": key_id, "public_key": public_key.hex()},
             f"scheme      ml-kem-1024\nkey id      {key_id}\npublic key  {public_key.hex()}")
        return 0
    scheme, public_key, address = load_public(args.path)
    text_address = address_to_text(address)
    emit(args, {"scheme": scheme.label, "address": text_address, "public_key": public_key.hex()},
         f"scheme      {scheme.label}\naddress     {text_address}\npublic key  {public_key.hex()}")
    return 0


# --- validator keys in the node keystore (`aurigraph.keystore`, docs/security.md) ----------------

def _add_node_keystore_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", type=Path, required=True, help="the node's data dir")
    p.add_argument("--validator", type=int, required=True, help="the validator id (node-<id>)")
    p.add_argument("--keystore", choices=("file", "pkcs11"), default="file",
                   help="file: encrypted key files in the data dir (passphrase: $AURIGRAPH_NODE_PASSPHRASE "
                        "or the data dir's dev passphrase); pkcs11: an HSM (PIN: $AURIGRAPH_HSM_PIN)")
    p.add_argument("--hsm-module", type=Path, help="with --keystore pkcs11: the PKCS#11 module (.so)")
    p.add_argument("--hsm-token", help="with --keystore pkcs11: the token label")
    p.add_argument("--hsm-pin-file", type=Path, help="the HSM user PIN, if $AURIGRAPH_HSM_PIN is not set")
    p.add_argument("--json", action="store_true")


def _open_node_keystore(args: argparse.Namespace) -> NodeKeystore:
    try:
        settings = NodeSettings(data_dir=args.data_dir, keystore=args.keystore, hsm_module=args.hsm_module,
                                hsm_token=args.hsm_token, hsm_pin_file=args.hsm_pin_file)
    except ValueError as e:
        raise settings_error(e) from None
    try:
        return open_node_keystore(settings, DataDir(args.data_dir))
    except KeystoreError as e:
        raise CliError(str(e)) from None


def _describe_signer(signer) -> dict:
    return {"scheme": signer.scheme.label, "address": address_to_text(signer.address),
            "public_key": signer.public_key.hex(), "source": signer.source}


def cmd_node_new(args: argparse.Namespace) -> int:
    try:
        with _open_node_keystore(args) as keystore:
            signer = _describe_signer(keystore.create(args.validator, args.scheme))
    except KeystoreError as e:
        raise CliError(str(e)) from None
    emit(args, signer, f"new key of validator {args.validator} in {signer['source']}\n"
                       f"scheme      {signer['scheme']}\naddress     {signer['address']}\n"
                       f"public key  {signer['public_key']}")
    return 0


def cmd_node_list(args: argparse.Namespace) -> int:
    data = DataDir(args.data_dir)
    genesis_key = None
    if data.genesis.exists():
        genesis_key = next((v.address for v in data.load_genesis().validators if v.id == args.validator), None)
    try:
        with _open_node_keystore(args) as keystore:
            signers = [dict(_describe_signer(s), genesis=s.address == genesis_key)
                       for s in keystore.signers(args.validator)]
    except KeystoreError as e:
        raise CliError(str(e)) from None
    lines = [f"{'*' if s['genesis'] else ' '} {s['scheme']:<8} {s['address']}  {s['source']}" for s in signers]
    emit(args, {"validator": args.validator, "keys": signers},
         "\n".join(lines) if lines else f"no keys of validator {args.validator} in this keystore")
    return 0
