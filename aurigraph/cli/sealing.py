"""`--seal-to`, shared by `aurigraph tx sign` and `aurigraph tx send`: confidential data writes.

The value of a data write given with one or more `--seal-to` recipients is sealed to their
ML-KEM-1024 public keys (`aurigraph.ledger.sealed`) instead of being written in clear.
"""

from __future__ import annotations

import argparse

from aurigraph.cli.common import CliError
from aurigraph.kemkeys import parse_kem_recipient
from aurigraph.ledger import DataWrite, Transfer


def add_seal_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seal-to", action="append", metavar="KEM_KEY", default=[],
                   help="data write: seal the value to this recipient (an ML-KEM-1024 key file, a file holding "
                        "the public key in hex, or the hex); repeat for more recipients (at most 16)")


def seal_recipients(args: argparse.Namespace, kind: Transfer | DataWrite) -> list[bytes]:
    """The --seal-to public keys, parsed and checked before any passphrase is asked for."""
    if args.seal_to and not isinstance(kind, DataWrite):
        raise CliError("--seal-to applies to data writes only")
    return [parse_kem_recipient(text) for text in args.seal_to]
