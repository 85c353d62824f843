"""`aurigraph bench crypto`: run a benchmark, print it, and write its JSON result."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from aurigraph.bench import crypto
from aurigraph.bench.results import DEFAULT_RESULTS_DIR, write_result


def register(sub: argparse._SubParsersAction) -> None:
    b = sub.add_parser("bench", help="run benchmarks (results under benchmarks/results/)")
    b_sub = b.add_subparsers(dest="bench_command", required=True)
    c = b_sub.add_parser("crypto", help="sign/verify rates per scheme; verify_batch vs the bare library loop")
    c.add_argument("--batch", type=int, default=10_000, help="Ed25519 batch size (ML-DSA/hybrid use batch/5)")
    c.add_argument("--rounds", type=int, default=5, help="interleaved rounds (median of per-round ratios)")
    c.add_argument("--out-dir", type=Path, default=DEFAULT_RESULTS_DIR)
    c.add_argument("--json", action="store_true", help="print the JSON result instead of a table")
    c.set_defaults(func=cmd_crypto)


def cmd_crypto(args: argparse.Namespace) -> int:
    if args.batch < 1 or args.rounds < 1:
        print("error: --batch and --rounds must be >= 1", file=sys.stderr)
        return 2
    result = crypto.run(args.batch, args.rounds, lambda msg: print(msg, file=sys.stderr, flush=True))
    path = write_result("crypto", result, args.out_dir)
    print(json.dumps(result, indent=2) if args.json else crypto.format_table(result))
    print(f"result written to {path}", file=sys.stderr)
    return 0
