"""The audit export: committed blocks as NDJSON `aurigraph.v1.AuditRecord` lines (protobuf JSON
mapping), and the verifier that checks such a file against the chain's genesis.

A block line carries its header, hash and signatures; a transaction line its signed bytes as
stored, its receipt, and its Merkle inclusion proof — so one transaction line can be checked alone
against a block hash, and a whole file checks as a chain: every header hash recomputed, every link,
every transaction root, proposer signature and transaction signature.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from google.protobuf import json_format

from aurigraph.codec.blocks import block_from_proto, header_from_proto, parse_block_record
from aurigraph.codec.names import to_json_dict
from aurigraph.codec.transactions import decode_signed
from aurigraph.crypto import verify_batch
from aurigraph.ledger import (
    Block,
    BlockHeader,
    Genesis,
    InvalidBlock,
    block_hash,
    by_address,
    genesis_block,
    rotated,
    tx_inclusion_proofs,
    verify_block,
    verify_block_contents,
    verify_tx_inclusion,
)
from aurigraph.v1 import block_pb2, query_pb2, transaction_pb2


def audit_lines(record: bytes) -> list[str]:
    """The NDJSON lines (newline-terminated) of one `BlockRecord`: the block, then its transactions."""
    m = parse_block_record(record)
    block = block_from_proto(m.block)
    header = query_pb2.AuditRecord(block=query_pb2.AuditBlock(header=m.block.header, hash=m.hash,
                                                              signatures=m.block.signatures))
    lines = [_line(header)]
    for position, (tx, receipt, proof) in enumerate(zip(m.block.transactions, m.receipts,
                                                        tx_inclusion_proofs(block))):
        lines.append(_line(query_pb2.AuditRecord(transaction=query_pb2.AuditTransaction(
            height=m.block.header.height, position=position, block_hash=m.hash, transaction=tx, receipt=receipt,
            proof=proof, body=transaction_pb2.TransactionBody.FromString(tx.body)))))
    return lines


def _line(message: query_pb2.AuditRecord) -> str:
    return json.dumps(to_json_dict(message), separators=(",", ":")) + "\n"


class AuditFailure(ValueError):
    """The export does not verify; the message says which line and why."""


@dataclass
class AuditSummary:
    blocks: int = 0
    transactions: int = 0
    first_height: int | None = None
    last_height: int | None = None
    first_parent_checked: bool = False  # the first block's link checked (it follows genesis)


def verify_audit(lines: Iterable[str], genesis: Genesis) -> AuditSummary:
    """Check an export (its lines in order); raise `AuditFailure` at the first problem."""
    summary = AuditSummary()
    keys = {v.id: v.key for v in genesis.validators}  # followed through the key rotations the export shows
    parent: BlockHeader | None = None
    gov = genesis.governance
    for block, number, committed in _blocks(lines):
        h = block.header
        validators = by_address(keys)
        try:
            if parent is None:
                if h.height == 1:
                    verify_block(block, genesis_block(genesis).header, validators)
                    summary.first_parent_checked = True
                else:
                    verify_block_contents(block, validators)
                summary.first_height = h.height
            else:
                verify_block(block, parent, validators)
        except InvalidBlock as e:
            raise AuditFailure(f"line {number}: {e}") from None
        if block.transactions:
            checks = [tx.verify_item() for tx in block.transactions]
            ok = verify_batch(checks)
            if not all(ok):
                raise AuditFailure(f"line {number}: block {h.height}: transaction "
                                   f"{ok.index(False)} has an invalid signature")
        keys = rotated(gov, keys, genesis.chain_id,
                       ((tx.body.sender, tx.body.kind) for tx, ok in zip(block.transactions, committed) if ok))
        summary.blocks += 1
        summary.transactions += len(block.transactions)
        summary.last_height = h.height
        parent = h
    return summary


def _blocks(lines: Iterable[str]) -> Iterator[tuple[Block, int]]:
    """Blocks rebuilt from the lines, each with the line number of its block record and whether each
    transaction's receipt says COMMITTED; every transaction line is checked against its stated block
    hash and inclusion proof on the way."""
    current: query_pb2.AuditBlock | None = None
    start = 0
    txs: list = []
    committed: list[bool] = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        record = query_pb2.AuditRecord()
        try:
            json_format.Parse(text, record)
        except json_format.ParseError as e:
            raise AuditFailure(f"line {number}: not an AuditRecord: {e}") from None
        kind = record.WhichOneof("record")
        if kind == "block":
            if current is not None:
                yield _assemble(current, txs, start), start, committed
            current, start, txs, committed = record.block, number, [], []
            if block_hash(header_from_proto(current.header)) != current.hash:
                raise AuditFailure(f"line {number}: block {current.header.height}: hash does not match its header")
        elif kind == "transaction":
            txs.append(_checked_tx(record.transaction, current, len(txs), number))
            committed.append(record.transaction.receipt.status == transaction_pb2.TRANSACTION_STATUS_COMMITTED)
        else:
            raise AuditFailure(f"line {number}: empty record")
    if current is not None:
        yield _assemble(current, txs, start), start, committed


def _checked_tx(t: query_pb2.AuditTransaction, block: query_pb2.AuditBlock | None, position: int, number: int):
    if block is None or t.block_hash != block.hash or t.height != block.header.height or t.position != position:
        raise AuditFailure(f"line {number}: transaction is not at position {position} of the block before it")
    try:
        tx = decode_signed(t.transaction.SerializeToString())
    except ValueError as e:
        raise AuditFailure(f"line {number}: transaction does not decode: {e}") from None
    if tx.tx_id != t.receipt.tx_id:
        raise AuditFailure(f"line {number}: the receipt is for another transaction")
    if t.HasField("body") and t.body != transaction_pb2.TransactionBody.FromString(t.transaction.body):
        raise AuditFailure(f"line {number}: the decoded body differs from the signed body bytes")
    if not verify_tx_inclusion(tx, position, header_from_proto(block.header), list(t.proof)):
        raise AuditFailure(f"line {number}: inclusion proof does not lead to the block's transaction root")
    return tx


def _assemble(b: query_pb2.AuditBlock, txs: list, number: int) -> Block:
    shell = block_from_proto(block_pb2.Block(header=b.header, signatures=b.signatures))
    if len(txs) != shell.header.tx_count:
        raise AuditFailure(f"line {number}: block {shell.header.height} has {shell.header.tx_count} transactions, "
                           f"the export {len(txs)}")
    return Block(shell.header, tuple(txs), shell.signatures)

