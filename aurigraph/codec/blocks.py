"""Blocks: `aurigraph.v1.Block` <-> `aurigraph.ledger.Block`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from google.protobuf.message import DecodeError

from aurigraph.codec.transactions import (
    parse_canonical,
    receipt_from_proto,
    receipt_to_proto,
    signed_from_proto,
    signed_to_proto,
)
from aurigraph.crypto import Scheme, UnknownSchemeError
from aurigraph.ledger import (
    Block,
    BlockHeader,
    BlockSignature,
    InvalidBlock,
    Receipt,
    SignedTx,
    TxRejected,
    block_hash,
    transaction_id,
)
from aurigraph.v1 import block_pb2, common_pb2


def header_to_proto(h: BlockHeader) -> block_pb2.BlockHeader:
    return block_pb2.BlockHeader(
        chain_id=h.chain_id, shard_id=h.shard_id, height=h.height, prev_hash=h.prev_hash, tx_root=h.tx_root,
        state_digest=h.state_digest, proposer=h.proposer, timestamp_ms=h.timestamp_ms, tx_count=h.tx_count,
    )


def header_from_proto(m: block_pb2.BlockHeader) -> BlockHeader:
    return BlockHeader(
        chain_id=m.chain_id, shard_id=m.shard_id, height=m.height, prev_hash=m.prev_hash, tx_root=m.tx_root,
        state_digest=m.state_digest, proposer=m.proposer, timestamp_ms=m.timestamp_ms, tx_count=m.tx_count,
    )


def block_to_proto(b: Block) -> block_pb2.Block:
    return block_pb2.Block(
        header=header_to_proto(b.header),
        transactions=[signed_to_proto(tx) for tx in b.transactions],
        signatures=[
            block_pb2.BlockSignature(
                signer=s.signer,
                signature=common_pb2.Signature(scheme=int(s.scheme), public_key=s.public_key, signature=s.signature),
            )
            for s in b.signatures
        ],
    )


def block_from_proto(m: block_pb2.Block) -> Block:
    """Raises `InvalidBlock` if a transaction or signature in the block does not decode."""
    try:
        txs = tuple(signed_from_proto(t) for t in m.transactions)
        sigs = tuple(
            BlockSignature(s.signer, Scheme.parse(s.signature.scheme), s.signature.public_key, s.signature.signature)
            for s in m.signatures
        )
    except (TxRejected, UnknownSchemeError) as e:
        raise InvalidBlock(f"block {m.header.height}: {e}") from None
    return Block(header_from_proto(m.header), txs, sigs)


def _parse(message, data: bytes, what: str):
    """Strictly parse `data` into `message`; a bad encoding is an `InvalidBlock`."""
    try:
        parse_canonical(message, data, what)
    except TxRejected as e:
        raise InvalidBlock(str(e)) from None
    return message


def encode_block(b: Block) -> bytes:
    return block_to_proto(b).SerializeToString(deterministic=True)


def decode_block(data: bytes) -> Block:
    return block_from_proto(_parse(block_pb2.Block(), data, "block"))


def encode_header(h: BlockHeader) -> bytes:
    return header_to_proto(h).SerializeToString(deterministic=True)


def decode_header(data: bytes) -> BlockHeader:
    return header_from_proto(_parse(block_pb2.BlockHeader(), data, "block header"))


# --- block records: a block with its receipts, as stored and served --------------------------

@dataclass(frozen=True)
class RecordIndex:
    """What an archive needs to file a `BlockRecord` without decoding its transactions."""

    height: int
    hash: bytes
    tx_ids: tuple[bytes, ...]


def encode_block_record(block_bytes: bytes, receipts: Sequence[Receipt], confidence: float = 0.0) -> bytes:
    """A `BlockRecord` around already-encoded block bytes (they are embedded, not re-encoded)."""
    m = block_pb2.BlockRecord(receipts=[receipt_to_proto(r) for r in receipts], confidence=confidence)
    m.block.MergeFromString(block_bytes)
    m.hash = block_hash(header_from_proto(m.block.header))
    return m.SerializeToString(deterministic=True)


def parse_block_record(data: bytes) -> block_pb2.BlockRecord:
    try:
        return block_pb2.BlockRecord.FromString(data)
    except DecodeError as e:
        raise InvalidBlock(f"block record is not valid protobuf: {e}") from None


def index_block_record(data: bytes) -> RecordIndex:
    """Height, hash and transaction ids; checks the stated hash against the header."""
    m = parse_block_record(data)
    header = header_from_proto(m.block.header)
    if m.hash != block_hash(header):
        raise InvalidBlock(f"block record {header.height}: hash does not match the header")
    return RecordIndex(header.height, m.hash, tuple(transaction_id(t.body) for t in m.block.transactions))


def decode_block_record(data: bytes) -> tuple[Block, list[Receipt]]:
    m = parse_block_record(data)
    return block_from_proto(m.block), [receipt_from_proto(r) for r in m.receipts]


def record_transaction(data: bytes, index: int) -> tuple[SignedTx, Receipt]:
    """One transaction of a record and its receipt, decoding only that transaction."""
    m = parse_block_record(data)
    return signed_from_proto(m.block.transactions[index]), receipt_from_proto(m.receipts[index])


def with_confidence(data: bytes, confidence: float) -> bytes:
    m = parse_block_record(data)
    m.confidence = confidence
    return m.SerializeToString(deterministic=True)


# --- ledger snapshots ---------------------------------------------------------------------------

@dataclass(frozen=True)
class LedgerSnapshotData:
    genesis_hash: bytes
    head: BlockHeader
    accounts: tuple[tuple[bytes, int, int], ...]  # (address, balance, nonce)
    data: tuple[tuple[bytes, str, bytes], ...]  # (address, key, value digest)
    meta: tuple[tuple[bytes, bytes], ...] = ()  # governance state (key, value)


def encode_ledger_snapshot(s: LedgerSnapshotData) -> bytes:
    return block_pb2.LedgerSnapshot(
        genesis_hash=s.genesis_hash, head=header_to_proto(s.head),
        accounts=[block_pb2.Account(address=a, balance=b, nonce=n) for a, b, n in s.accounts],
        data=[block_pb2.DataDigest(address=a, key=k, value_digest=d) for a, k, d in s.data],
        meta=[block_pb2.MetaEntry(key=k, value=v) for k, v in s.meta],
    ).SerializeToString(deterministic=True)


def decode_ledger_snapshot(data: bytes) -> LedgerSnapshotData:
    try:
        m = block_pb2.LedgerSnapshot.FromString(data)
    except DecodeError as e:
        raise InvalidBlock(f"ledger snapshot is not valid protobuf: {e}") from None
    return LedgerSnapshotData(
        m.genesis_hash, header_from_proto(m.head), tuple((a.address, a.balance, a.nonce) for a in m.accounts),
        tuple((d.address, d.key, d.value_digest) for d in m.data), tuple((e.key, e.value) for e in m.meta),
    )
