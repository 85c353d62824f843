"""Generated protobuf code is current, and the core's enums agree with the wire enums."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

from aurigraph.crypto import Scheme
from aurigraph.ledger import ReceiptStatus, Rejection
from aurigraph.v1 import common_pb2, transaction_pb2

ROOT = Path(__file__).resolve().parents[3]


def test_checked_in_code_matches_a_fresh_generation(tmp_path):
    # In a process of its own: protoc's C++ protobuf must not meet another copy of it (TensorFlow's,
    # loaded by the ML tests in this process), which crashes the interpreter.
    subprocess.run([sys.executable, str(ROOT / "protos" / "generate.py"), "--out", str(tmp_path)],
                   check=True, capture_output=True)
    fresh_dir, checked_in_dir = tmp_path / "aurigraph" / "v1", ROOT / "aurigraph" / "v1"
    fresh = sorted(p.name for p in fresh_dir.iterdir() if p.is_file())
    checked_in = sorted(p.name for p in checked_in_dir.iterdir() if p.is_file())
    assert fresh == checked_in, "generated file set differs: run `make protos` and commit"
    _, mismatch, errors = filecmp.cmpfiles(fresh_dir, checked_in_dir, fresh, shallow=False)
    assert not mismatch and not errors, f"stale generated code {mismatch}: run `make protos` and commit"


def test_rejection_numbers_match_the_wire_enum():
    wire = {v.number: v.name for v in common_pb2.RejectReason.DESCRIPTOR.values if v.number}
    assert wire == {r.value: f"REJECT_REASON_{r.name}" for r in Rejection}


def test_scheme_numbers_match_the_wire_enum():
    wire = {v.number: v.name for v in common_pb2.SignatureScheme.DESCRIPTOR.values if v.number}
    assert wire == {s.value: f"SIGNATURE_SCHEME_{s.name}" for s in Scheme}


def test_receipt_status_numbers_match_the_wire_enum():
    for status in ReceiptStatus:
        assert transaction_pb2.TransactionStatus.Value(f"TRANSACTION_STATUS_{status.name}") == status.value
