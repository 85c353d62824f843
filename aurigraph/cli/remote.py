"""Commands that talk to a running node through its gateway, with the SDK: `tx send`, `tx get`,
`block get`, `account get`, `status`, `watch`, and `apikey new` for the gateway's keys file.

Every command takes `--url` (REST http(s)://… or grpc://…; default $AURIGRAPH_URL, else
http://127.0.0.1:8000), `--api-key` (default $AURIGRAPH_API_KEY) and `--json` (protobuf JSON
mapping instead of the human-readable text).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from aurigraph.apikeys import Role, add_key
from aurigraph.cli.common import CliError, add_passphrase_args, read_passphrase
from aurigraph.cli.sealing import add_seal_args, seal_recipients
from aurigraph.client import Client
from aurigraph.codec.names import health_name, reason_name, role_name, status_name
from aurigraph.codec.names import to_json_dict as _json
from aurigraph.crypto import address_from_text, address_to_text
from aurigraph.keystore import load_keypair
from aurigraph.ledger import DataWrite, Transfer, seal_data_write

URL_ENV, KEY_ENV = "AURIGRAPH_URL", "AURIGRAPH_API_KEY"
EVENT_KINDS = ["transaction_committed", "transaction_rejected", "block_committed", "leader_changed", "node_status"]


def add_remote_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--url", default=os.environ.get(URL_ENV, "http://127.0.0.1:8000"),
                   help=f"gateway: http(s)://HOST:PORT or grpc://HOST:PORT (default ${URL_ENV} or %(default)s)")
    p.add_argument("--api-key", default=os.environ.get(KEY_ENV), help=f"API key (default ${KEY_ENV})")
    p.add_argument("--json", action="store_true", help="print protobuf JSON")


def connect(args: argparse.Namespace) -> Client:
    try:
        return Client(args.url, api_key=args.api_key)
    except ValueError as e:
        raise CliError(str(e)) from None


def _out(args: argparse.Namespace, message, human: str) -> None:
    print(json.dumps(_json(message), indent=2) if args.json else human, flush=True)


def _time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"


def _address_arg(text: str) -> bytes:
    try:
        return address_from_text(text)
    except ValueError as e:
        raise CliError(str(e)) from None


def _tx_id_arg(text: str) -> bytes:
    try:
        tx_id = bytes.fromhex(text)
    except ValueError:
        raise CliError("a transaction id is 128 hex digits") from None
    if len(tx_id) != 64:
        raise CliError(f"a transaction id is 64 bytes (128 hex digits), got {len(tx_id)}")
    return tx_id


# --- commands ---------------------------------------------------------------------------------

def cmd_tx_send(args: argparse.Namespace) -> int:
    is_transfer, is_data = args.to is not None, args.data_key is not None
    if is_transfer == is_data:
        raise CliError("give --to and --amount (transfer) or --data-key and --data-value (data write)")
    if is_transfer and args.amount is None:
        raise CliError("a transfer needs --amount")
    if is_data and args.data_value is None:
        raise CliError("a data write needs --data-value")
    kind = Transfer(_address_arg(args.to), args.amount) if is_transfer else DataWrite(args.data_key, args.data_value.encode())
    recipients = seal_recipients(args, kind)
    key = load_keypair(args.key, read_passphrase(args))
    with connect(args) as node:
        if recipients:
            kind = seal_data_write(node.chain_id(), key.address, kind.key, kind.value, recipients)
        signed = node.sign(key, kind, fee=args.fee, nonce=args.nonce)
        result = node.submit(signed, wait=not args.no_wait, timeout_ms=args.timeout_ms)
    human = f"{status_name(result.status)}: tx {result.tx_id.hex()}"
    if result.receipt.height:
        human += f" in block {result.receipt.height} (index {result.receipt.index}, fee {result.receipt.fee_paid})"
    _out(args, result, human)
    return 0


def cmd_tx_get(args: argparse.Namespace) -> int:
    with connect(args) as node:
        record = node.transaction(_tx_id_arg(args.tx_id))
    lines = [f"tx {record.tx_id.hex()}: {status_name(record.status)}"]
    if record.receipt.height:
        lines.append(f"  block {record.receipt.height}, index {record.receipt.index}, fee {record.receipt.fee_paid}, "
                     f"confidence {record.confidence:.2f}")
    if record.reason:
        lines.append(f"  reason: {reason_name(record.reason)} ({record.detail})")
    _out(args, record, "\n".join(lines))
    return 0 if record.status else 1


def cmd_block_get(args: argparse.Namespace) -> int:
    height = None if args.height == "latest" else _height_arg(args.height)
    with connect(args) as node:
        record = node.block(height)
    h = record.block.header
    lines = [f"block {h.height}  {record.hash.hex()}",
             f"  time      {_time(h.timestamp_ms)}",
             f"  proposer  {address_to_text(h.proposer) if h.proposer else '(genesis)'}",
             f"  parent    {h.prev_hash.hex()}",
             f"  state     {h.state_digest.hex()}",
             f"  txs       {h.tx_count}, confidence {record.confidence:.2f}"]
    lines += [f"    {r.tx_id.hex()} {status_name(r.status)}" for r in record.receipts[:args.show_txs]]
    if len(record.receipts) > args.show_txs:
        lines.append(f"    … {len(record.receipts) - args.show_txs} more (--show-txs N)")
    _out(args, record, "\n".join(lines))
    return 0


def _height_arg(text: str) -> int:
    if not text.isdigit():
        raise CliError("height must be a non-negative integer or 'latest'")
    return int(text)


def cmd_account_get(args: argparse.Namespace) -> int:
    with connect(args) as node:
        account = node.account(_address_arg(args.address))
    _out(args, account, f"{args.address}: balance {account.balance}, next nonce {account.nonce}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    with connect(args) as node:
        status, nodes = node.status(), node.nodes()
    lines = [(f"height {status.height}, term {status.term}, leader replica {status.leader_id or 'none'}, "
              f"commit index {status.commit_index}, applied {status.applied_index}"),
             f"knobs: max batch {status.knobs.max_batch_txs} txs, batch wait {status.knobs.batch_wait_ms} ms"]
    progress = {p.node_id: p for p in status.replicas}
    for info in nodes.nodes:
        v, p = info.validator, progress.get(info.validator.id)
        lag = f", lag {p.lag}" if p is not None else ""
        lines.append(f"  replica {v.id} ({v.name}): {role_name(info.role)}, {health_name(info.health)}, "
                     f"stake {v.stake}{lag}")
    if args.json:
        print(json.dumps({"consensus": _json(status), "nodes": _json(nodes)}, indent=2))
    else:
        print("\n".join(lines))
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    kinds = [k.strip() for k in args.kinds.split(",")] if args.kinds else []
    for k in kinds:
        if k not in EVENT_KINDS:
            raise CliError(f"unknown event kind {k!r} (one of {', '.join(EVENT_KINDS)})")
    account = _address_arg(args.account) if args.account else None
    seen = 0
    with connect(args) as node:
        for event in node.events(kinds=kinds, account=account, from_height=args.from_height):
            print(json.dumps(_json(event)) if args.json else _describe(event), flush=True)
            seen += 1
            if args.count and seen >= args.count:
                break
    return 0


def _describe(event) -> str:
    which = event.WhichOneof("payload")
    if which == "transaction_committed":
        r = event.transaction_committed.receipt
        return f"tx committed  {r.tx_id.hex()[:32]}… block {r.height} index {r.index}"
    if which == "transaction_rejected":
        r = event.transaction_rejected
        return f"tx rejected   {r.tx_id.hex()[:32]}… {reason_name(r.reason)} {r.detail}"
    if which == "block_committed":
        b = event.block_committed
        return f"block         {b.height} {b.hash.hex()[:32]}… {b.tx_count} txs"
    if which == "leader_changed":
        return f"leader        replica {event.leader_changed.leader_id} (term {event.leader_changed.term})"
    if which == "node_status":
        n = event.node_status
        return f"node          replica {n.validator.id}: {health_name(n.health)}, {role_name(n.role)}"
    return f"event         {which}"


def cmd_apikey_new(args: argparse.Namespace) -> int:
    try:
        key = add_key(args.file, args.name, Role.parse(args.role))
    except ValueError as e:
        raise CliError(str(e)) from None
    print(key)
    print(f"added {args.role} key {args.name!r} to {args.file} (only its digest is stored: keep the key now)",
          file=sys.stderr)
    return 0


# --- registration -----------------------------------------------------------------------------

def register_tx_commands(tx_sub: argparse._SubParsersAction) -> None:
    s = tx_sub.add_parser("send", help="sign a transfer or data write and submit it to a node")
    s.add_argument("--key", type=Path, required=True, help="sender's key file")
    s.add_argument("--to", help="transfer: recipient address (ag…)")
    s.add_argument("--amount", type=int, help="transfer: amount (> 0)")
    s.add_argument("--data-key", help="data write: key")
    s.add_argument("--data-value", help="data write: value (UTF-8 text)")
    add_seal_args(s)
    s.add_argument("--fee", type=int, default=1)
    s.add_argument("--nonce", type=int, help="default: the account's next nonce, asked of the node")
    s.add_argument("--no-wait", action="store_true", help="return once accepted, without waiting for the commit")
    s.add_argument("--timeout-ms", type=int, help="how long to wait for the commit (capped by the server)")
    add_passphrase_args(s)
    add_remote_args(s)
    s.set_defaults(func=cmd_tx_send)
    g = tx_sub.add_parser("get", help="a transaction's status: pending, committed, rejected, dropped or unknown")
    g.add_argument("tx_id", help="128 hex digits")
    add_remote_args(g)
    g.set_defaults(func=cmd_tx_get)


def register(sub: argparse._SubParsersAction) -> None:
    block = sub.add_parser("block", help="read blocks").add_subparsers(dest="block_command", required=True)
    b = block.add_parser("get", help="a block by height, or the latest")
    b.add_argument("height", nargs="?", default="latest")
    b.add_argument("--show-txs", type=int, default=20, help="list at most this many transaction ids")
    add_remote_args(b)
    b.set_defaults(func=cmd_block_get)
    account = sub.add_parser("account", help="read accounts").add_subparsers(dest="account_command", required=True)
    a = account.add_parser("get", help="balance and next nonce")
    a.add_argument("address", help="ag…")
    add_remote_args(a)
    a.set_defaults(func=cmd_account_get)
    st = sub.add_parser("status", help="consensus status and validators of a node")
    add_remote_args(st)
    st.set_defaults(func=cmd_status)
    w = sub.add_parser("watch", help="print live events (Ctrl-C to stop)")
    w.add_argument("--kinds", help=f"comma-separated, of: {', '.join(EVENT_KINDS)} (default: all)")
    w.add_argument("--account", help="only this account's transactions (ag…)")
    w.add_argument("--from-height", type=int, help="replay from this block height first")
    w.add_argument("--count", type=int, help="stop after this many events")
    add_remote_args(w)
    w.set_defaults(func=cmd_watch)
    k = sub.add_parser("apikey", help="API keys of the gateway").add_subparsers(dest="apikey_command", required=True)
    n = k.add_parser("new", help="add a key to a keys file (for aurigraph up --api-keys); prints the key once")
    n.add_argument("--file", type=Path, required=True)
    n.add_argument("--name", required=True)
    n.add_argument("--role", default="submitter", choices=[r.name.lower() for r in Role])
    n.set_defaults(func=cmd_apikey_new)
