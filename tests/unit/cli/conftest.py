"""Shared by the CLI tests: a passphrase in the environment, and running `aurigraph` in-process."""

from __future__ import annotations

import pytest

from aurigraph.cli.main import main

PASSPHRASE = "test passphrase"


@pytest.fixture(autouse=True)
def passphrase_env(monkeypatch):
    monkeypatch.setenv("AURIGRAPH_PASSPHRASE", PASSPHRASE)


def run(capsys, *argv):
    """`aurigraph *argv` in this process: (exit code, stdout, stderr)."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err
