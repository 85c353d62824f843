"""Committed blocks to SQL rows, checked: each block is replayed on the indexed state (the ledger's
own `replay_block`), so its rows carry the same balances the replicas computed and a block whose
state digest or parent does not match the index stops the indexer instead of being written.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from aurigraph.codec.blocks import decode_block_record
from aurigraph.ledger import (
    NO_GOVERNANCE,
    Account,
    Block,
    DataWrite,
    Governance,
    MemoryState,
    Transfer,
    block_hash,
    replay_block,
)
from aurigraph.ledger.governance import meta_keys_read

BLOCK_COLUMNS = ("height", "hash", "prev_hash", "tx_root", "state_digest", "proposer", "timestamp_ms", "tx_count",
                 "shard_id")
TX_COLUMNS = ("tx_id", "height", "position", "sender", "nonce", "fee", "timestamp_ms", "scheme", "kind", "recipient",
              "amount", "data_key", "status", "reason", "fee_paid", "compliance_rules")


class IndexGap(RuntimeError):
    """A block does not extend the indexed head (wrong parent or state digest)."""


@dataclass(frozen=True)
class IndexHead:
    """The last indexed block: what the next block must extend."""

    height: int
    hash: bytes
    state_digest: bytes


@dataclass
class BlockRows:
    """The rows of consecutive blocks, and the accounts and data entries they leave changed."""

    head: IndexHead
    blocks: list[tuple] = field(default_factory=list)
    transactions: list[tuple] = field(default_factory=list)
    accounts: dict[bytes, tuple[Account, int]] = field(default_factory=dict)  # address -> (account, height)
    data: dict[tuple[bytes, str], tuple[bytes, int]] = field(default_factory=dict)  # -> (value digest, height)
    meta: dict[bytes, tuple[bytes, int]] = field(default_factory=dict)  # governance state -> (value, height)

    @property
    def row_count(self) -> int:
        return len(self.blocks) + len(self.transactions) + len(self.accounts) + len(self.data) + len(self.meta)


def decode_records(records: Iterable[bytes]) -> list[tuple[Block, list]]:
    return [decode_block_record(r) for r in records]


def touched(blocks: Sequence[tuple[Block, list]], governance: Governance = NO_GOVERNANCE
            ) -> tuple[set[bytes], set[tuple[bytes, str]], set[bytes]]:
    """Addresses, data keys and meta keys the blocks may read or change: what to read from the
    index before replaying."""
    addresses: set[bytes] = set()
    keys: set[tuple[bytes, str]] = set()
    for block, _ in blocks:
        addresses.add(block.header.proposer)
        for tx in block.transactions:
            addresses.add(tx.body.sender)
            if isinstance(tx.body.kind, Transfer):
                addresses.add(tx.body.kind.recipient)
            elif isinstance(tx.body.kind, DataWrite):
                keys.add((tx.body.sender, tx.body.kind.key))
    meta = meta_keys_read((tx for block, _ in blocks for tx in block.transactions), governance.genesis_keys)
    return addresses, keys, meta


def block_rows(blocks: Sequence[tuple[Block, list]], head: IndexHead, state: MemoryState, min_fee: int,
               governance: Governance = NO_GOVERNANCE) -> BlockRows:
    """Rows for `blocks`, which must extend `head` in order; `state` holds (at least) every account,
    data entry and meta entry they touch as of `head` (`touched`), and is advanced past them."""
    out = BlockRows(head)
    for block, receipts in blocks:
        h = block.header
        if h.height != out.head.height + 1 or h.prev_hash != out.head.hash:
            raise IndexGap(f"block {h.height} does not extend the indexed head {out.head.height}")
        result = replay_block(block, state, prev_state_digest=out.head.state_digest, min_fee=min_fee,
                              governance=governance)
        if [r.tx_id for r in result.receipts] != [r.tx_id for r in receipts]:
            raise IndexGap(f"block {h.height}: stored receipts do not match the replay")
        state.commit(result.delta)
        this_hash = block_hash(h)
        out.blocks.append((h.height, this_hash, h.prev_hash, h.tx_root, h.state_digest, h.proposer,
                           h.timestamp_ms, h.tx_count, h.shard_id))
        for tx, r in zip(block.transactions, result.receipts):
            body, kind = tx.body, tx.body.kind
            transfer = isinstance(kind, Transfer)
            data = isinstance(kind, DataWrite)
            out.transactions.append((
                r.tx_id, h.height, r.index, body.sender, body.nonce, body.fee, body.timestamp_ms, int(tx.scheme),
                "transfer" if transfer else "data" if data else "admin", kind.recipient if transfer else None,
                kind.amount if transfer else None, kind.key.encode() if data else None,
                int(r.status), r.reason.label if r.reason else None, r.fee_paid, list(r.rules) or None,
            ))
        for address, account in result.delta.accounts.items():
            out.accounts[address] = (account, h.height)
        for (address, key), value_digest in result.delta.data.items():
            out.data[(address, key)] = (value_digest, h.height)
        for key, value in result.delta.meta_writes.items():
            out.meta[key] = (value, h.height)
        out.head = IndexHead(h.height, this_hash, h.state_digest)
    return out
