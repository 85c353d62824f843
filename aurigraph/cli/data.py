"""`aurigraph data open`: read a confidential (sealed) data write with a recipient's ML-KEM-1024 key.

    aurigraph data open --url http://127.0.0.1:8000 --tx TXID --kem-key me.kem [--out FILE]
    aurigraph data open --tx-file signed.json --kem-key me.kem        # offline, `tx sign` output

The transaction is fetched from the node (it must be committed), or read from a file, and its
sealed value opened locally: the node never sees the key or the plaintext. The plaintext goes to
stdout as raw bytes, or to --out. A key that is not a recipient, a value that is not sealed and
an unknown transaction are one-line errors with exit code 2.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from pathlib import Path

from aurigraph.cli.common import CliError, add_passphrase_args, read_passphrase
from aurigraph.cli.remote import _tx_id_arg, add_remote_args, connect
from aurigraph.codec import signed_from_json, signed_from_proto
from aurigraph.codec.names import status_name
from aurigraph.crypto import DecryptionError, address_to_text
from aurigraph.crypto.kem import kem_key_id
from aurigraph.kemkeys import load_kem_keypair
from aurigraph.keystore import load_kem_public
from aurigraph.ledger import NotSealedError, SignedTx, open_data_write, sealed_recipient_ids


def register(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("data", help="confidential data writes").add_subparsers(dest="data_command", required=True)
    o = data.add_parser("open", help="decrypt a sealed data write with a recipient's ML-KEM-1024 key file")
    source = o.add_mutually_exclusive_group(required=True)
    source.add_argument("--tx", help="transaction id (128 hex digits), fetched from the node at --url")
    source.add_argument("--tx-file", type=Path, help="a SignedTransaction JSON file (as `aurigraph tx sign` prints)")
    o.add_argument("--kem-key", type=Path, required=True, help="the recipient's ML-KEM-1024 key file")
    o.add_argument("--out", type=Path, help="write the plaintext here instead of stdout")
    add_passphrase_args(o)
    add_remote_args(o)
    o.set_defaults(func=cmd_open)


def _fetch(args: argparse.Namespace) -> SignedTx:
    if args.tx_file is not None:
        return signed_from_json(args.tx_file.read_text())
    tx_id = _tx_id_arg(args.tx)
    with connect(args) as node:
        record = node.transaction(tx_id)
    status = status_name(record.status)
    if status == "unknown" or not record.HasField("transaction"):
        raise CliError(f"unknown transaction {args.tx}")
    if status != "committed":
        raise CliError(f"transaction {args.tx} is {status}, not committed")
    return signed_from_proto(record.transaction)


def cmd_open(args: argparse.Namespace) -> int:
    tx = _fetch(args)
    # Both checks before the passphrase: they need only public data.
    try:
        recipient_ids = sealed_recipient_ids(tx.body)
    except NotSealedError as e:
        raise CliError(f"not a sealed value: {e}") from None
    key_id = kem_key_id(load_kem_public(args.kem_key))
    if key_id not in recipient_ids:
        raise CliError(f"not a recipient: key {key_id.hex()} is not among the {len(recipient_ids)} recipients "
                       f"of data key {tx.body.kind.key!r}")
    keypair = load_kem_keypair(args.kem_key, read_passphrase(args))  # a wrong passphrase: exit 1
    try:
        plaintext = open_data_write(tx.body, keypair)
    except DecryptionError as e:
        raise CliError(f"cannot open: {e}") from None
    if args.out is not None:
        args.out.write_bytes(plaintext)
    if args.json:
        print(json.dumps({"tx_id": tx.tx_id.hex(), "sender": address_to_text(tx.body.sender), "key": tx.body.kind.key,
                          "value": base64.b64encode(plaintext).decode()}, indent=2))
    elif args.out is None:
        sys.stdout.buffer.write(plaintext)
        sys.stdout.buffer.flush()
    return 0
