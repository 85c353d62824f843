"""`aurigraph audit export` (a range of blocks from a node's gateway, as NDJSON) and
`aurigraph audit verify` (check such a file against the chain's genesis, offline)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import httpx

from aurigraph.cli.common import CliError
from aurigraph.cli.remote import KEY_ENV, URL_ENV
from aurigraph.codec.audit import AuditFailure, verify_audit
from aurigraph.codec.genesis import genesis_from_json
from aurigraph.ledger import GenesisError


def register(sub: argparse._SubParsersAction) -> None:
    a = sub.add_parser("audit", help="export and verify the audit trail")
    a_sub = a.add_subparsers(dest="audit_command", required=True)
    e = a_sub.add_parser("export", help="download blocks FROM..TO as NDJSON AuditRecords")
    e.add_argument("--url", default=None, help=f"gateway http(s)://HOST:PORT (default ${URL_ENV} or "
                                                "http://127.0.0.1:8000)")
    e.add_argument("--api-key", default=None, help=f"API key (default ${KEY_ENV})")
    e.add_argument("--from", dest="from_height", type=int, default=1)
    e.add_argument("--to", dest="to_height", type=int, help="default: the head")
    e.add_argument("-o", "--output", type=Path, required=True, help="file to write (- for stdout)")
    e.set_defaults(func=cmd_export)
    v = a_sub.add_parser("verify", help="check an export: hashes, links, roots, proofs and signatures")
    v.add_argument("file", type=Path, help="an export (- for stdin)")
    v.add_argument("--genesis", type=Path, required=True, help="the chain's genesis.json")
    v.set_defaults(func=cmd_verify)


def cmd_export(args: argparse.Namespace) -> int:
    url = args.url or os.environ.get(URL_ENV, "http://127.0.0.1:8000")
    if not url.startswith(("http://", "https://")):
        raise CliError("audit export needs the gateway's REST URL (http:// or https://)")
    key = args.api_key or os.environ.get(KEY_ENV)
    params = {"from": args.from_height, **({"to": args.to_height} if args.to_height is not None else {})}
    headers = {"x-api-key": key} if key else {}
    out = sys.stdout if str(args.output) == "-" else args.output.open("w")
    lines = blocks = 0
    last_height = promised = None
    started = time.monotonic()
    try:
        with httpx.stream("GET", f"{url.rstrip('/')}/v11/audit/export", params=params, headers=headers,
                          timeout=httpx.Timeout(60, read=300)) as r:
            if r.status_code != 200:
                r.read()
                raise CliError(f"the gateway answered {r.status_code}: {r.text[:300]}")
            promised = int(r.headers["x-audit-to"]), int(r.headers["x-audit-from"])
            for line in r.iter_lines():
                out.write(line + "\n")
                lines += 1
                if line.startswith('{"block"'):
                    blocks += 1
                    last_height = int(json.loads(line)["block"]["header"].get("height", 0))
                    if blocks % 100 == 0:
                        print(f"  {blocks} blocks, {lines} records", file=sys.stderr, flush=True)
    except httpx.HTTPError as e:
        raise CliError(f"export from {url} failed after {blocks} blocks: {e}") from None
    finally:
        if out is not sys.stdout:
            out.close()
    to_height, from_height = promised
    if to_height >= from_height and last_height != to_height:
        raise CliError(f"the export ended at block {last_height}, not at {to_height} as promised: the file is "
                       f"incomplete; export again")
    print(f"exported blocks {from_height}..{to_height} ({blocks} blocks, {lines} records) in "
          f"{time.monotonic() - started:.1f} s", file=sys.stderr)
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    try:
        genesis = genesis_from_json(args.genesis.read_text())
    except GenesisError as e:
        raise CliError(f"{args.genesis}: {e}") from None
    source = sys.stdin if str(args.file) == "-" else args.file.open()
    try:
        summary = verify_audit(source, genesis)
    except AuditFailure as e:
        print(f"FAILED: {e}", file=sys.stderr)
        return 1
    finally:
        if source is not sys.stdin:
            source.close()
    if summary.blocks == 0:
        print("FAILED: the file holds no blocks", file=sys.stderr)
        return 1
    link = ("linked to the genesis" if summary.first_parent_checked else
            f"its first block's parent (height {summary.first_height - 1}) is not in the file: "
            "check that hash against the node")
    print(f"OK: blocks {summary.first_height}..{summary.last_height} ({summary.blocks} blocks, "
          f"{summary.transactions} transactions) verify; {link}")
    return 0
