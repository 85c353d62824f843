"""Blocks: hash-chained, Merkle-rooted, state-committing, signed by the proposer's node key.

The block hash is BLAKE3-512 over a canonical fixed-layout encoding of the header (`header_bytes`),
not over protobuf bytes, whose encoding is not canonical across implementations. The proposer
signs `BLOCK_SIGNING_DOMAIN + hash`.

A leader calls `build_block`: it applies the candidate transactions speculatively, keeps the ones
that commit, and returns the block with its `BlockResult`. A follower calls `verify_block` then
`replay_block`, which recomputes the state digest and raises `StateDivergence` on a mismatch.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from aurigraph.crypto import DIGEST_SIZE, Scheme, Signer, Tag, digest, verify_batch
from aurigraph.ledger.errors import InvalidBlock, Rejection, StateDivergence
from aurigraph.ledger.governance import NO_GOVERNANCE, Governance, ValidatorKey
from aurigraph.ledger.merkle import leaf_hash, merkle_proof, merkle_proofs, merkle_root, verify_proof
from aurigraph.ledger.state import BlockResult, ReceiptStatus, StateReader, apply_transactions
from aurigraph.ledger.transaction import SignedTx

BLOCK_SIGNING_DOMAIN = b"AG1/block-sign\x00"


@dataclass(frozen=True)
class BlockHeader:
    chain_id: str
    shard_id: int
    height: int
    prev_hash: bytes
    tx_root: bytes
    state_digest: bytes
    proposer: bytes  # node address; empty for genesis
    timestamp_ms: int
    tx_count: int


@dataclass(frozen=True)
class BlockSignature:
    signer: bytes
    scheme: Scheme
    public_key: bytes = field(repr=False)
    signature: bytes = field(repr=False)


@dataclass(frozen=True)
class Block:
    header: BlockHeader
    transactions: tuple[SignedTx, ...]
    signatures: tuple[BlockSignature, ...] = ()

    @property
    def hash(self) -> bytes:
        return block_hash(self.header)


def header_bytes(h: BlockHeader) -> bytes:
    chain = h.chain_id.encode()
    return b"".join(
        (
            struct.pack(">H", len(chain)), chain,
            struct.pack(">IQ", h.shard_id, h.height),
            h.prev_hash, h.tx_root, h.state_digest,
            struct.pack(">H", len(h.proposer)), h.proposer,
            struct.pack(">QI", h.timestamp_ms, h.tx_count),
        )
    )


def block_hash(header: BlockHeader) -> bytes:
    return digest(Tag.BLOCK, header_bytes(header))


def tx_leaf(tx: SignedTx) -> bytes:
    """A transaction's Merkle leaf commits to its id and its signature material."""
    return leaf_hash(tx.tx_id + tx.auth_hash)


def tx_root(txs: Sequence[SignedTx]) -> bytes:
    return merkle_root([tx_leaf(tx) for tx in txs])


def tx_inclusion_proof(block: Block, index: int) -> list[bytes]:
    return merkle_proof([tx_leaf(tx) for tx in block.transactions], index)


def tx_inclusion_proofs(block: Block) -> list[list[bytes]]:
    """Every transaction's inclusion proof (as `tx_inclusion_proof` gives it), in O(n log n)."""
    return merkle_proofs([tx_leaf(tx) for tx in block.transactions])


def verify_tx_inclusion(tx: SignedTx, index: int, header: BlockHeader, proof: Sequence[bytes]) -> bool:
    return verify_proof(tx_leaf(tx), index, header.tx_count, proof, header.tx_root)


def sign_header(header: BlockHeader, signer: Signer) -> BlockSignature:
    signature = signer.sign(BLOCK_SIGNING_DOMAIN + block_hash(header))
    return BlockSignature(signer.address, signer.scheme, signer.public_key, signature)


@dataclass(frozen=True)
class BuiltBlock:
    block: Block
    result: BlockResult
    rejected: tuple[tuple[SignedTx, Rejection, str], ...]  # dropped from the block: reason and detail


def build_block(
    parent: BlockHeader,
    state: StateReader,
    candidates: Sequence[SignedTx],
    *,
    proposer: Signer,
    timestamp_ms: int,
    min_fee: int,
    max_txs: int,
    governance: Governance = NO_GOVERNANCE,
) -> BuiltBlock:
    """Build the child of `parent` from up to `max_txs` candidates that commit on `state`.

    Candidates are tried in order; ones that would be rejected (replayed nonce, no balance, ...)
    are left out and reported, so blocks carry only transactions that commit.
    """
    timestamp_ms = max(timestamp_ms, parent.timestamp_ms)
    context = dict(chain_id=parent.chain_id, height=parent.height + 1, proposer=proposer.address, min_fee=min_fee,
                   prev_state_digest=parent.state_digest, timestamp_ms=timestamp_ms, governance=governance)
    trial = apply_transactions(state, candidates[:max_txs], **context)
    included = tuple(candidates[r.index] for r in trial.receipts if r.status is ReceiptStatus.COMMITTED)
    rejected = tuple((candidates[r.index], r.reason, _detail(r)) for r in trial.receipts
                     if r.status is ReceiptStatus.REJECTED)
    # Re-apply only the included transactions so receipt indexes match positions in the block.
    result = trial if not rejected else apply_transactions(state, included, **context)
    header = BlockHeader(
        chain_id=parent.chain_id, shard_id=parent.shard_id, height=parent.height + 1,
        prev_hash=block_hash(parent), tx_root=tx_root(included), state_digest=result.state_digest,
        proposer=proposer.address, timestamp_ms=timestamp_ms, tx_count=len(included),
    )
    return BuiltBlock(Block(header, included, (sign_header(header, proposer),)), result, rejected)


def _detail(receipt) -> str:
    if receipt.rules:
        return f"{receipt.reason.label}: refused by compliance rule {receipt.rules[0]!r}"
    return receipt.reason.label


def verify_block(block: Block, parent: BlockHeader, validators: Mapping[bytes, ValidatorKey]) -> None:
    """Structural checks a follower makes before applying: link, root, count, proposer signature."""
    h = block.header
    if h.chain_id != parent.chain_id or h.shard_id != parent.shard_id:
        raise InvalidBlock(f"block {h.height} is for chain {h.chain_id!r}/{h.shard_id}, not {parent.chain_id!r}")
    if h.height != parent.height + 1:
        raise InvalidBlock(f"block height {h.height} does not follow {parent.height}")
    if h.prev_hash != block_hash(parent):
        raise InvalidBlock(f"block {h.height} does not link to the hash of block {parent.height}")
    if h.timestamp_ms < parent.timestamp_ms:
        raise InvalidBlock(f"block {h.height} timestamp goes backwards")
    verify_block_contents(block, validators)


def verify_block_contents(block: Block, validators: Mapping[bytes, ValidatorKey]) -> None:
    """The checks that need no parent: digest size, transaction root and count, proposer signature."""
    h = block.header
    if len(h.state_digest) != DIGEST_SIZE:
        raise InvalidBlock(f"block {h.height} state digest must be {DIGEST_SIZE} bytes")
    if h.tx_count != len(block.transactions) or h.tx_root != tx_root(block.transactions):
        raise InvalidBlock(f"block {h.height} transaction root or count does not match its transactions")
    proposer = validators.get(h.proposer)
    if proposer is None:
        raise InvalidBlock(f"block {h.height} proposer is not a validator")
    message = BLOCK_SIGNING_DOMAIN + block_hash(h)
    signed = [
        s for s in block.signatures
        if s.signer == h.proposer and s.scheme == proposer.scheme and s.public_key == proposer.public_key
    ]
    if not signed or not verify_batch([(s.scheme, s.public_key, message, s.signature) for s in signed])[0]:
        raise InvalidBlock(f"block {h.height} is not signed by its proposer")


def replay_block(block: Block, state: StateReader, *, prev_state_digest: bytes, min_fee: int,
                 governance: Governance = NO_GOVERNANCE) -> BlockResult:
    """Apply a committed block; raise `StateDivergence` if the state digest differs from the header's."""
    h = block.header
    result = apply_transactions(
        state, block.transactions, chain_id=h.chain_id, height=h.height, proposer=h.proposer,
        min_fee=min_fee, prev_state_digest=prev_state_digest, timestamp_ms=h.timestamp_ms, governance=governance,
    )
    if result.state_digest != h.state_digest:
        raise StateDivergence(
            f"block {h.height}: computed state digest {result.state_digest.hex()[:16]}… "
            f"but the header says {h.state_digest.hex()[:16]}…; halting this replica"
        )
    return result

