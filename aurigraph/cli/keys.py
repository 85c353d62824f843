"""`aurigraph keys new|show`: create and inspect encrypted key files."""

from __future__ import annotations

import argparse
from pathlib import Path

from aurigraph.cli.common import KDF_PROFILES, add_passphrase_args, emit, read_passphrase
from aurigraph.crypto import Scheme, address_to_text, generate_keypair
from aurigraph.keystore import load_public, save_keypair


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

    show = keys_sub.add_parser("show", help="print a key file's scheme, address and public key")
    show.add_argument("path", type=Path)
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_show)


def cmd_new(args: argparse.Namespace) -> int:
    passphrase = read_passphrase(args, confirm=True)
    keypair = generate_keypair(args.scheme)
    opslimit, memlimit = KDF_PROFILES[args.kdf]
    save_keypair(args.out, keypair, passphrase, overwrite=args.force, opslimit=opslimit, memlimit=memlimit)
    address = address_to_text(keypair.address)
    emit(args, {"path": str(args.out), "scheme": keypair.scheme.label, "address": address},
         f"wrote {args.out}\nscheme   {keypair.scheme.label}\naddress  {address}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    scheme, public_key, address = load_public(args.path)
    text_address = address_to_text(address)
    emit(args, {"scheme": scheme.label, "address": text_address, "public_key": public_key.hex()},
         f"scheme      {scheme.label}\naddress     {text_address}\npublic key  {public_key.hex()}")
    return 0
