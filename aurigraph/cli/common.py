"""Helpers shared by the CLI commands: passphrases, output, and the errors a user can cause."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path

from pydantic import ValidationError

from aurigraph.client.errors import ApiError
from aurigraph.crypto import CryptoError
from aurigraph.crypto.passphrase import DEFAULT_MEMLIMIT, DEFAULT_OPSLIMIT
from aurigraph.keystore import KeyFileError
from aurigraph.ledger import GenesisError, TxRejected
from aurigraph.ml.api import OptimizerUnavailable

PASSPHRASE_ENV = "AURIGRAPH_PASSPHRASE"  # nosec B105  # the name of an environment variable, not a password
# Errors caused by input, reported as one line without a traceback.
USER_ERRORS = (CryptoError, KeyFileError, GenesisError, TxRejected, OSError, ApiError, TimeoutError,
               OptimizerUnavailable)

# Argon2id cost profiles for new key files (libsodium's names). "interactive" is for tests and
# throwaway dev keys; keep "moderate" (the default) or "sensitive" for keys that guard value.
KDF_PROFILES = {
    "interactive": (2, 64 * 1024**2),
    "moderate": (DEFAULT_OPSLIMIT, DEFAULT_MEMLIMIT),
    "sensitive": (4, 1024**3),
}


class CliError(Exception):
    """A usage problem the user can fix; printed as `error: …`."""


def settings_error(e: ValueError) -> CliError:
    """A settings object's validation error as one line: each problem with the field it is about."""
    if isinstance(e, ValidationError):
        return CliError("; ".join(f"{'.'.join(map(str, err['loc'])) or 'settings'}: "
                                  f"{err['msg'].removeprefix('Value error, ')}" for err in e.errors()))
    return CliError(str(e))


def add_passphrase_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--passphrase-file", type=Path,
        help=f"read the key passphrase from this file (else ${PASSPHRASE_ENV}, else a prompt)",
    )


def read_passphrase(args: argparse.Namespace, *, confirm: bool = False) -> str:
    if args.passphrase_file is not None:
        return args.passphrase_file.read_text().rstrip("\n")
    if os.environ.get(PASSPHRASE_ENV):
        return os.environ[PASSPHRASE_ENV]
    if not sys.stdin.isatty():
        raise CliError(f"no passphrase: use --passphrase-file or set {PASSPHRASE_ENV}")
    first = getpass.getpass("key passphrase: ")
    if confirm and getpass.getpass("repeat passphrase: ") != first:
        raise CliError("passphrases do not match")
    return first


def emit(args: argparse.Namespace, data: dict, human: str) -> None:
    """Print `data` as JSON with --json, else the human-readable text."""
    print(json.dumps(data, indent=2) if getattr(args, "json", False) else human)
