"""The audit export: a file of committed blocks verifies as a chain; any edit is caught, with the line."""

from __future__ import annotations

import json

import pytest

from aurigraph.codec.audit import AuditFailure, audit_lines, verify_audit
from tests.conftest import committed_records


@pytest.fixture(scope="module")
def export(chain):
    records, _ = committed_records(chain, 6, per_block=4)
    return [line for record in records for line in audit_lines(record)]


def test_an_export_from_genesis_verifies_as_a_chain(chain, export):
    assert len(export) == 6 * 5 and all(line.endswith("\n") for line in export)
    summary = verify_audit(export, chain.genesis)
    assert (summary.blocks, summary.transactions, summary.first_height, summary.last_height) == (6, 24, 1, 6)
    assert summary.first_parent_checked


def test_an_export_of_a_later_range_verifies_without_its_first_parent(chain, export):
    summary = verify_audit(export[10:], chain.genesis)  # from block 3
    assert (summary.blocks, summary.first_height, summary.first_parent_checked) == (4, 3, False)


def _edited(export, number, edit):
    lines = list(export)
    record = json.loads(lines[number - 1])
    edit(record)
    lines[number - 1] = json.dumps(record) + "\n"
    return lines


@pytest.mark.parametrize("number, edit, error", [
    (1, lambda r: r["block"]["header"].update(timestamp_ms="1"), "line 1: block 1: hash does not match"),
    (2, lambda r: r["transaction"]["receipt"].update(fee_paid="9"), None),  # receipts: see below
    (3, lambda r: r["transaction"].update(proof=r["transaction"]["proof"][:-1]), "line 3: inclusion proof"),
    (4, lambda r: r["transaction"]["transaction"].update(signature=r["transaction"]["transaction"]["public_key"]),
     "line 4: inclusion proof"),  # the leaf commits to the signature too
    (7, lambda r: r["transaction"].update(position=1), "line 7: transaction is not at position 0"),
])
def test_edits_are_caught_with_their_line(chain, export, number, edit, error):
    lines = _edited(export, number, edit)
    if error is None:
        # A receipt's fee is not covered by the block hash (the state digest commits to it, which
        # only a replay can check): the export says what it verifies, and this is not it.
        verify_audit(lines, chain.genesis)
        return
    with pytest.raises(AuditFailure, match=error):
        verify_audit(lines, chain.genesis)


def test_a_missing_transaction_or_block_is_caught(chain, export):
    with pytest.raises(AuditFailure, match="line 4: transaction is not at position 2"):
        verify_audit(export[:3] + export[4:], chain.genesis)
    with pytest.raises(AuditFailure, match=r"line 6: block 3 does not follow 1|height 3 does not follow 1"):
        verify_audit(export[:5] + export[10:], chain.genesis)
    with pytest.raises(AuditFailure, match="line 1: not an AuditRecord"):
        verify_audit(["{nope\n"], chain.genesis)
