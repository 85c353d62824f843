"""`aurigraph admin`: administrative actions, each a signed transaction from a chain admin key
(`aurigraph.ledger.governance`), committed like any other and part of the audit export.

    aurigraph admin rules check FILE          parse a rules file (TOML) and print what it means
    aurigraph admin rules set FILE --key K    replace the compliance rules on chain
    aurigraph admin rules show                the rules in force
    aurigraph admin kyc ADDRESS --attest|--revoke --key K
    aurigraph admin rotate-key --data-dir D --validator N --key K

A rules file lists `[[rules]]` tables, each with a `name`, an `action` ("reject" or "flag") and
exactly one condition:

    [[rules]]
    name = "sanctions"
    action = "reject"
    denied = ["ag1…", "ag1…"]        # sender or recipient

    [[rules]]
    name = "large-transfer"
    action = "flag"
    max_tx_amount = 1_000_000        # a transfer above this

    [[rules]]
    name = "daily-cap"
    action = "reject"
    max_daily_amount = 5_000_000     # a sender's transfers in one UTC day (block time) above this

    [[rules]]
    name = "kyc"
    action = "reject"
    kyc_above_balance = 10_000_000   # sender or recipient above this without a KYC attestation
"""

from __future__ import annotations

import argparse
import tomllib
from pathlib import Path

from aurigraph.cli.common import CliError, add_passphrase_args, read_passphrase, settings_error
from aurigraph.cli.remote import _address_arg, _out, add_remote_args, connect
from aurigraph.codec.governance import rules_from_proto
from aurigraph.codec.names import reason_name, status_name
from aurigraph.crypto import address_from_text, address_to_text
from aurigraph.keystore import KeystoreError, load_keypair, open_node_keystore
from aurigraph.ledger import (
    ComplianceRules,
    Condition,
    RotateKey,
    SetKyc,
    SetRules,
    TxRejected,
    rotation_message,
    rules_from_json,
)
from aurigraph.node.config import NodeSettings
from aurigraph.node.datadir import DataDir


def register(sub: argparse._SubParsersAction) -> None:
    admin = sub.add_parser("admin", help="administrative actions: compliance rules, KYC, validator key rotation")
    admin_sub = admin.add_subparsers(dest="admin_command", required=True)

    rules = admin_sub.add_parser("rules", help="compliance rules").add_subparsers(dest="rules_command", required=True)
    check = rules.add_parser("check", help="parse a rules file (TOML) and print the rules it sets")
    check.add_argument("file", type=Path)
    check.set_defaults(func=cmd_rules_check)
    set_ = rules.add_parser("set", help="replace the rules on chain with a rules file's (an empty file clears them)")
    set_.add_argument("file", type=Path)
    _signing_args(set_)
    set_.set_defaults(func=cmd_rules_set)
    show = rules.add_parser("show", help="the rules in force")
    add_remote_args(show)
    show.set_defaults(func=cmd_rules_show)

    kyc = admin_sub.add_parser("kyc", help="attest or revoke an account's KYC")
    kyc.add_argument("address", help="account address (ag…)")
    which = kyc.add_mutually_exclusive_group(required=True)
    which.add_argument("--attest", action="store_true")
    which.add_argument("--revoke", action="store_true")
    _signing_args(kyc)
    kyc.set_defaults(func=cmd_kyc)

    rotate = admin_sub.add_parser(
        "rotate-key", help="rotate a validator's node key: the newest key its keystore holds (`keys node-new`)")
    rotate.add_argument("--data-dir", type=Path, default=Path("data"), help="the node's data dir (its keystore)")
    rotate.add_argument("--validator", type=int, required=True, help="validator (replica) id")
    rotate.add_argument("--keystore", choices=("file", "pkcs11"), default="file")
    rotate.add_argument("--hsm-module", type=Path, help="PKCS#11 module (with --keystore pkcs11)")
    rotate.add_argument("--hsm-token", help="token label (with --keystore pkcs11; PIN from $AURIGRAPH_HSM_PIN)")
    _signing_args(rotate)
    rotate.set_defaults(func=cmd_rotate_key)


def _signing_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--key", type=Path, required=True, help="a chain admin's key file (genesis `admins`)")
    p.add_argument("--fee", type=int, default=1)
    add_passphrase_args(p)
    add_remote_args(p)


# --- rules files --------------------------------------------------------------------------------

def load_rules_file(path: Path) -> ComplianceRules:
    """A TOML rules file; addresses as `ag…` text or 64 hex digits. `CliError` naming the problem."""
    try:
        document = tomllib.loads(path.read_text())
    except OSError as e:
        raise CliError(f"{path}: {e.strerror or e}") from None
    except tomllib.TOMLDecodeError as e:
        raise CliError(f"{path}: not valid TOML ({e})") from None
    unknown = set(document) - {"rules"}
    if unknown:
        raise CliError(f"{path}: unknown top-level keys {sorted(unknown)} (expected [[rules]] tables)")
    items = document.get("rules", [])
    if not isinstance(items, list):
        raise CliError(f"{path}: `rules` must be an array of tables ([[rules]])")
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("denied"), list):
            item["denied"] = [_address_hex(path, item.get("name"), a) for a in item["denied"]]
    try:
        return rules_from_json(items)
    except TxRejected as e:
        raise CliError(f"{path}: {e.detail}") from None


def _address_hex(path: Path, rule: object, text: object) -> str:
    if isinstance(text, str) and len(text) == 64:
        return text
    try:
        return address_from_text(text).hex()
    except (TypeError, ValueError) as e:
        raise CliError(f"{path}: rule {rule!r}: {text!r} is not an address ({e})") from None


def describe_rules(rules: ComplianceRules) -> str:
    if not rules.rules:
        return "no compliance rules"
    lines = []
    for r in rules.rules:
        if r.condition is Condition.DENIED:
            what = f"denied: {len(r.denied)} address(es): " + ", ".join(address_to_text(a) for a in sorted(r.denied)[:3])
            what += " …" if len(r.denied) > 3 else ""
        else:
            what = f"{r.condition.value} = {r.limit}"
        lines.append(f"{r.name:<24} {r.action.label:<7} {what}")
    return "\n".join(lines)


# --- commands -----------------------------------------------------------------------------------

def _submit(args: argparse.Namespace, kind) -> int:
    key = load_keypair(args.key, read_passphrase(args))
    with connect(args) as node:
        result = node.submit(node.sign(key, kind, fee=args.fee), wait=True)
    human = f"{status_name(result.status)}: tx {result.tx_id.hex()}"
    if result.receipt.height:
        human += f" in block {result.receipt.height}"
    if result.reason:
        human += f" ({reason_name(result.reason)}: {result.detail})"
    _out(args, result, human)
    return 0 if result.status == 2 else 1  # COMMITTED


def cmd_rules_check(args: argparse.Namespace) -> int:
    print(describe_rules(load_rules_file(args.file)))
    return 0


def cmd_rules_set(args: argparse.Namespace) -> int:
    return _submit(args, SetRules(load_rules_file(args.file)))


def cmd_rules_show(args: argparse.Namespace) -> int:
    with connect(args) as node:
        message = node.compliance_rules()
    _out(args, message, describe_rules(rules_from_proto(message)))
    return 0


def cmd_kyc(args: argparse.Namespace) -> int:
    return _submit(args, SetKyc(_address_arg(args.address), bool(args.attest)))


def cmd_rotate_key(args: argparse.Namespace) -> int:
    """Sign a rotation to the validator's newest keystore key (its proof of possession is made by
    that key, so it must be on this machine), and submit it with the admin key."""
    data = DataDir(args.data_dir)
    try:
        genesis = data.load_genesis()
    except OSError:
        raise CliError(f"{data.genesis}: no genesis here (is --data-dir the node's data dir?)") from None
    if all(v.id != args.validator for v in genesis.validators):
        raise CliError(f"validator {args.validator} is not in this chain's genesis")
    try:
        settings = NodeSettings(data_dir=args.data_dir, keystore=args.keystore, hsm_module=args.hsm_module,
                                hsm_token=args.hsm_token)
        with open_node_keystore(settings, data) as keystore:
            signers = keystore.signers(args.validator)
            if len(signers) < 2:
                raise CliError(f"the keystore holds only {len(signers)} key(s) of validator {args.validator}: "
                               f"create the new one first (`aurigraph keys node-new --validator {args.validator}`)")
            new = signers[-1].unlock()
            proof = new.sign(rotation_message(genesis.chain_id, args.validator, new.public_key))
    except KeystoreError as e:
        raise CliError(str(e)) from None
    except ValueError as e:  # the keystore settings
        raise settings_error(e) from None
    print(f"rotating validator {args.validator} to {address_to_text(new.address)} ({new.scheme.label})", flush=True)
    return _submit(args, RotateKey(args.validator, new.scheme, new.public_key, proof))
