"""`aurigraph models`: the optimizer's models on a running node (through `aurigraph.ml`).

    aurigraph models list [--model load|anomaly]
    aurigraph models retrain --model load|anomaly [--since 2h|2026-11-26T08:00Z|MS] [--promote]
    aurigraph models promote --model M --version N
    aurigraph models rollback --model M
    aurigraph models status
    aurigraph models anomalies [--from SEQ] [--limit N]
    aurigraph models release SENDER
    aurigraph models export --out features.npz [--since …]

Every command takes `--address` (the node's Ray address, as `aurigraph up` printed it; default
"auto": the local Ray instance), `--data-dir` (where the cluster's Ray token is) and `--json`.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from aurigraph.cli.common import CliError
from aurigraph.crypto import address_from_text
from aurigraph.ml.registry import MODEL_NAMES

_RELATIVE = re.compile(r"^(\d+)([smhd])$")
_UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def parse_since(text: str | None, now_ms: int | None = None) -> int:
    """`30m`, `2h`, `7d` (that long ago), an ISO 8601 time, or epoch milliseconds; None: 0 (all)."""
    if not text:
        return 0
    now_ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    if m := _RELATIVE.match(text):
        return max(0, now_ms - int(m.group(1)) * _UNIT_MS[m.group(2)])
    if text.isdigit():
        return int(text)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise CliError(f"--since {text!r}: use 30m / 2h / 7d, an ISO 8601 time, or epoch milliseconds") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="the optimizer's models: list, retrain, promote, roll back, anomalies",
                       description="Manage the AI optimizer's models on a running node (started with --optimizer).")
    cmds = p.add_subparsers(dest="models_command", required=True, metavar="SUBCOMMAND")

    def command(name: str, help_text: str, func) -> argparse.ArgumentParser:
        c = cmds.add_parser(name, help=help_text)
        c.add_argument("--address", default="auto", help="the node's Ray address (default: the local instance)")
        c.add_argument("--data-dir", type=Path, help="the node's data dir, for the Ray token of a remote cluster")
        c.add_argument("--json", action="store_true", help="print JSON")
        c.set_defaults(func=func)
        return c

    c = command("list", "registered versions, the serving one marked", _cmd_list)
    c.add_argument("--model", choices=MODEL_NAMES)
    c = command("retrain", "train a candidate on the node's data; serve it if it beats the serving one", _cmd_retrain)
    c.add_argument("--model", choices=MODEL_NAMES, required=True)
    c.add_argument("--since", help="train on data from then: 30m, 2h, 7d, an ISO time, or epoch ms (default: all)")
    c.add_argument("--promote", action="store_true", help="serve the candidate even if it is not better")
    c.add_argument("--seed", type=int, default=0)
    c = command("promote", "serve a registered version", _cmd_promote)
    c.add_argument("--model", choices=MODEL_NAMES, required=True)
    c.add_argument("--version", type=int, required=True)
    c = command("rollback", "serve the version that served before the current one", _cmd_rollback)
    c.add_argument("--model", choices=MODEL_NAMES, required=True)
    command("status", "serving versions, fallbacks, knobs in force, inference cost", _cmd_status)
    c = command("anomalies", "the anomaly audit log", _cmd_anomalies)
    c.add_argument("--from", dest="from_sequence", type=int, default=1)
    c.add_argument("--limit", type=int, default=100)
    c = command("release", "stop holding a flagged sender (with --anomaly-hold)", _cmd_release)
    c.add_argument("sender", help="the sender's address")
    c = command("export", "save the node's feature rows as an .npz dataset", _cmd_export)
    c.add_argument("--out", type=Path, required=True)
    c.add_argument("--since", help="rows from then: 30m, 2h, 7d, an ISO time, or epoch ms (default: all)")


def _api(args: argparse.Namespace):
    from aurigraph import ml

    print(f"connecting to the node at {args.address} …", file=sys.stderr, flush=True)
    ml.connect(args.address, args.data_dir)
    return ml


def _print(args: argparse.Namespace, data, human: str) -> None:
    print(json.dumps(data, indent=2) if args.json else human)


def _version_line(v: dict) -> str:
    metrics = ", ".join(f"{k}={val:.4g}" for k, val in sorted(v.get("metrics", {}).items()))
    data = v.get("data", {})
    return (f"{'*' if v.get('serving') else ' '} {v['name']:<8} v{v['version']:<4} {v['source']:<8} "
            f"rows={data.get('rows', 0):<8} {metrics}")


def _cmd_list(args: argparse.Namespace) -> int:
    versions = _api(args).list_models(args.model or "")
    _print(args, versions, "\n".join(_version_line(v) for v in versions) or "no models registered")
    return 0


def _cmd_retrain(args: argparse.Namespace) -> int:
    ml = _api(args)
    since_ms = parse_since(args.since)
    print(f"training a {args.model} candidate on the cluster …", file=sys.stderr, flush=True)
    try:
        result = ml.retrain(args.model, since_ms, args.promote, args.seed)
    except (ValueError, RuntimeError) as e:
        raise CliError(str(e)) from None
    verdict = "promoted: now serving" if result["promoted"] else "registered, not promoted"
    _print(args, result, f"{_version_line(result['candidate'])}\n{result['reason']}\n{verdict}")
    return 0


def _cmd_promote(args: argparse.Namespace) -> int:
    try:
        serving = _api(args).promote(args.model, args.version)
    except ValueError as e:
        raise CliError(str(e)) from None
    _print(args, serving, _version_line(serving))
    return 0


def _cmd_rollback(args: argparse.Namespace) -> int:
    try:
        serving = _api(args).rollback(args.model)
    except ValueError as e:
        raise CliError(str(e)) from None
    _print(args, serving, _version_line(serving))
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    status = _api(args).status()
    _print(args, status, json.dumps(status, indent=2))
    return 0


def _cmd_anomalies(args: argparse.Namespace) -> int:
    found = _api(args).anomalies(args.from_sequence, args.limit)
    lines = [f"#{a['sequence']} height {a['height']} tx {a['tx_id'][:16]}… sender {a['sender'][:16]}… "
             f"score {a['score']:.3g} (threshold {a['threshold']:.3g}, {a['model_version']})"
             for a in found.get("anomalies", [])]
    _print(args, found, "\n".join(lines) or "no anomalies flagged")
    return 0


def _cmd_release(args: argparse.Namespace) -> int:
    try:
        sender = address_from_text(args.sender)
    except ValueError as e:
        raise CliError(str(e)) from None
    released = _api(args).release(sender)
    _print(args, {"released": released}, "released" if released else "that sender was not held")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    counts = _api(args).export_dataset(args.out, parse_since(args.since))
    _print(args, counts, f"wrote {counts['windows']} windows and {counts['txs']} transactions to {args.out}")
    return 0
