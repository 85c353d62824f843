"""Entry point of the `aurigraph` command. Each command group registers itself from its module."""

from __future__ import annotations

import argparse
import sys

from aurigraph import __version__
from aurigraph.cli import (
    admin,
    audit,
    backup,
    bench,
    certs,
    data,
    genesis,
    index,
    keys,
    models,
    remote,
    selfcheck,
    tx,
    up,
)
from aurigraph.cli.common import USER_ERRORS, CliError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aurigraph", description="Aurigraph DLT: a permissioned, quantum-safe ledger on Ray."
    )
    parser.add_argument("--version", action="version", version=f"aurigraph {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (keys, tx, data, genesis, up, remote, index, audit, bench, models, selfcheck, backup, certs,
                   admin):
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CliError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except USER_ERRORS as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
