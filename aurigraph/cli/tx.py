"""`aurigraph tx sign`: build and sign a transaction offline; prints it as protobuf JSON."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from aurigraph.cli.common import CliError, add_passphrase_args, read_passphrase
from aurigraph.cli.remote import register_tx_commands
from aurigraph.cli.sealing import add_seal_args, seal_recipients
from aurigraph.codec import sign_transaction, signed_to_json
from aurigraph.crypto import address_from_text
from aurigraph.keystore import load_keypair
from aurigraph.ledger import DataWrite, Transfer, TxBody, seal_data_write


def register(sub: argparse._SubParsersAction) -> None:
    tx = sub.add_parser("tx", help="sign, send and look up transactions")
    tx_sub = tx.add_subparsers(dest="tx_command", required=True)
    s = tx_sub.add_parser("sign", help="sign a transfer or data write; prints SignedTransaction JSON")
    s.add_argument("--key", type=Path, required=True, help="sender's key file")
    s.add_argument("--chain-id", required=True)
    s.add_argument("--nonce", type=int, required=True, help="sender's next nonce (0 for a new account)")
    s.add_argument("--fee", type=int, default=1)
    s.add_argument("--timestamp-ms", type=int, help="default: now")
    s.add_argument("--to", help="transfer: recipient address (ag…)")
    s.add_argument("--amount", type=int, help="transfer: amount (> 0)")
    s.add_argument("--data-key", help="data write: key (UTF-8, at most 128 bytes)")
    s.add_argument("--data-value", help="data write: value (UTF-8 text)")
    s.add_argument("--data-file", type=Path, help="data write: value read from this file")
    add_seal_args(s)
    s.add_argument("--out", type=Path, help="write the JSON here instead of stdout")
    add_passphrase_args(s)
    s.set_defaults(func=cmd_sign)
    register_tx_commands(tx_sub)


def _kind(args: argparse.Namespace) -> Transfer | DataWrite:
    is_transfer = args.to is not None or args.amount is not None
    is_data = args.data_key is not None
    if is_transfer == is_data:
        raise CliError("give either --to and --amount (transfer) or --data-key with a value (data write)")
    if is_transfer:
        if args.to is None or args.amount is None:
            raise CliError("a transfer needs both --to and --amount")
        return Transfer(address_from_text(args.to), args.amount)
    if (args.data_value is None) == (args.data_file is None):
        raise CliError("a data write needs exactly one of --data-value or --data-file")
    value = args.data_value.encode() if args.data_value is not None else args.data_file.read_bytes()
    return DataWrite(args.data_key, value)


def cmd_sign(args: argparse.Namespace) -> int:
    kind = _kind(args)
    recipients = seal_recipients(args, kind)
    keypair = load_keypair(args.key, read_passphrase(args))
    if recipients:
        kind = seal_data_write(args.chain_id, keypair.address, kind.key, kind.value, recipients)
    timestamp_ms = args.timestamp_ms if args.timestamp_ms is not None else time.time_ns() // 1_000_000
    body = TxBody(args.chain_id, keypair.address, args.nonce, args.fee, timestamp_ms, kind)
    text = signed_to_json(sign_transaction(body, keypair))
    if args.out is not None:
        args.out.write_text(text + "\n")
    else:
        print(text)
    return 0
