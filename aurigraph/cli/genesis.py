"""`aurigraph genesis new`: write a genesis file from validator key files and initial balances."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from aurigraph.cli.common import CliError, emit
from aurigraph.codec.genesis import genesis_from_json, genesis_to_json
from aurigraph.crypto import address_from_text, address_to_text
from aurigraph.keystore import load_public
from aurigraph.ledger import ChainParams, Genesis, Validator, block_hash, genesis_block


def register(sub: argparse._SubParsersAction) -> None:
    g = sub.add_parser("genesis", help="create and inspect genesis files")
    g_sub = g.add_subparsers(dest="genesis_command", required=True)
    new = g_sub.add_parser("new", help="write a genesis file")
    new.add_argument("--chain-id", required=True)
    new.add_argument("--validator", action="append", default=[], metavar="KEYFILE[:STAKE]",
                     help="a validator's key file, optionally with its stake (default 1); repeatable, ids follow the order")
    new.add_argument("--balance", action="append", default=[], metavar="ADDRESS=AMOUNT", help="initial balance; repeatable")
    new.add_argument("--min-fee", type=int, default=ChainParams.min_fee)
    new.add_argument("--max-block-txs", type=int, default=ChainParams.max_block_txs)
    new.add_argument("--timestamp-ms", type=int, help="default: now")
    new.add_argument("--out", type=Path, required=True)
    new.add_argument("--force", action="store_true", help="overwrite an existing file")
    new.add_argument("--json", action="store_true")
    new.set_defaults(func=cmd_new)

    show = g_sub.add_parser("show", help="validate a genesis file and print its hash, validators and supply")
    show.add_argument("path", type=Path)
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_show)


def _validator(index: int, spec: str) -> Validator:
    path, _, stake = spec.partition(":")
    try:
        stake_value = int(stake) if stake else 1
    except ValueError:
        raise CliError(f"--validator {spec!r}: stake must be an integer") from None
    scheme, public_key, _ = load_public(Path(path))
    return Validator(id=index + 1, scheme=scheme, public_key=public_key, stake=stake_value, name=f"node-{index + 1}")


def _balance(spec: str) -> tuple[bytes, int]:
    address, sep, amount = spec.partition("=")
    if not sep:
        raise CliError(f"--balance {spec!r}: expected ADDRESS=AMOUNT")
    try:
        return address_from_text(address), int(amount)
    except ValueError as e:
        raise CliError(f"--balance {spec!r}: {e}") from None


def cmd_new(args: argparse.Namespace) -> int:
    if args.out.exists() and not args.force:
        raise CliError(f"{args.out} already exists (use --force to overwrite)")
    genesis = Genesis(
        chain_id=args.chain_id,
        timestamp_ms=args.timestamp_ms if args.timestamp_ms is not None else time.time_ns() // 1_000_000,
        balances=tuple(_balance(b) for b in args.balance),
        validators=tuple(_validator(i, v) for i, v in enumerate(args.validator)),
        params=ChainParams(min_fee=args.min_fee, max_block_txs=args.max_block_txs),
    )
    args.out.write_text(genesis_to_json(genesis))
    _describe(args, genesis, f"wrote {args.out}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    _describe(args, genesis_from_json(args.path.read_text()), str(args.path))
    return 0


def _describe(args: argparse.Namespace, genesis: Genesis, heading: str) -> None:
    genesis_hash = block_hash(genesis_block(genesis).header).hex()
    supply = sum(amount for _, amount in genesis.balances)
    validators = [{"id": v.id, "name": v.name, "scheme": v.scheme.label, "stake": v.stake,
                   "address": address_to_text(v.address)} for v in genesis.validators]
    lines = [heading, f"chain id      {genesis.chain_id}", f"genesis hash  {genesis_hash}",
             f"supply        {supply} in {len(genesis.balances)} accounts", "validators"]
    lines += [f"  {v['id']:>3}  {v['name']:<10} {v['scheme']:<10} stake {v['stake']:<8} {v['address']}" for v in validators]
    emit(args, {"chain_id": genesis.chain_id, "genesis_hash": genesis_hash, "supply": supply,
                "validators": validators}, "\n".join(lines))
