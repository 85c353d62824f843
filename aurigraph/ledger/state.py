"""The ledger state machine: accounts (balance, nonce) and data, changed only by applying blocks.

`apply_transactions` is deterministic: the same state and the same transactions give the same
receipts, the same writes and the same state digest on every replica. It reads through a
`StateReader` and returns a `StateDelta`; the caller decides whether to commit the delta (a
follower applying a committed block) or throw it away (a leader trying a candidate block).

State digest: `digest(STATE, previous digest, height, canonical encoding of the block's receipts
and writes)`. It chains block to block, so two replicas agree on it iff they applied the same
writes in the same order from the same genesis — cheap to compare, no full-state Merkle tree.

Fees go to the block's proposer. Amounts never overflow: genesis caps total supply at 2^64-1, and
transfers only move value.

Administrative actions and compliance rules (`aurigraph.ledger.governance`) are applied here too:
their state is the *meta* key space, committed by the digest like balances and data.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from aurigraph.crypto import Tag, digest
from aurigraph.ledger.errors import Rejection
from aurigraph.ledger.governance import (
    ADMIN_ACTIONS,
    DAY_MS,
    NO_GOVERNANCE,
    PASS,
    ComplianceRules,
    Governance,
    SetRules,
    admin_writes,
    check_admin,
    check_compliance,
    daily_write,
    load_rules,
)
from aurigraph.ledger.transaction import DataWrite, SignedTx, Transfer


@dataclass(frozen=True)
class Account:
    balance: int = 0
    nonce: int = 0  # the next nonce this account must use


EMPTY_ACCOUNT = Account()


class StateReader(Protocol):
    """Read access to committed state (in memory, or RocksDB in the replica actor)."""

    def account(self, address: bytes) -> Account: ...

    def data_digest(self, address: bytes, key: str) -> bytes | None: ...

    def meta(self, key: bytes) -> bytes | None: ...


class ReceiptStatus(enum.IntEnum):
    """Numbers match `aurigraph.v1.TransactionStatus` for the two outcomes a block can give."""

    COMMITTED = 2
    REJECTED = 3


@dataclass(frozen=True)
class Receipt:
    tx_id: bytes
    status: ReceiptStatus
    reason: Rejection | None
    height: int
    index: int
    fee_paid: int
    rules: tuple[str, ...] = ()  # compliance rules: the one that rejected it, or those that flagged it


@dataclass
class StateDelta:
    """Writes of one or more blocks on top of a base `StateReader`; itself a `StateReader`.

    A leader stacks deltas for blocks in flight (proposed, not yet committed) and builds the next
    block on top of them.
    """

    base: StateReader
    accounts: dict[bytes, Account] = field(default_factory=dict)
    data: dict[tuple[bytes, str], bytes] = field(default_factory=dict)  # value digests
    meta_writes: dict[bytes, bytes] = field(default_factory=dict)  # governance state; b"" means removed

    def account(self, address: bytes) -> Account:
        found = self.accounts.get(address)
        return found if found is not None else self.base.account(address)

    def data_digest(self, address: bytes, key: str) -> bytes | None:
        found = self.data.get((address, key))
        return found if found is not None else self.base.data_digest(address, key)

    def meta(self, key: bytes) -> bytes | None:
        found = self.meta_writes.get(key)
        return found if found is not None else self.base.meta(key)


class MemoryState:
    """An in-memory `StateReader` that deltas are committed into. Used by tests and tools."""

    def __init__(self, accounts: Mapping[bytes, Account] | None = None) -> None:
        self.accounts: dict[bytes, Account] = dict(accounts or {})
        self.data: dict[tuple[bytes, str], bytes] = {}
        self.meta_entries: dict[bytes, bytes] = {}

    def account(self, address: bytes) -> Account:
        return self.accounts.get(address, EMPTY_ACCOUNT)

    def data_digest(self, address: bytes, key: str) -> bytes | None:
        return self.data.get((address, key))

    def meta(self, key: bytes) -> bytes | None:
        return self.meta_entries.get(key)

    def commit(self, delta: StateDelta) -> None:
        self.accounts.update(delta.accounts)
        self.data.update(delta.data)
        for key, value in delta.meta_writes.items():
            if value:
                self.meta_entries[key] = value
            else:
                self.meta_entries.pop(key, None)


@dataclass(frozen=True)
class BlockResult:
    receipts: tuple[Receipt, ...]
    delta: StateDelta
    state_digest: bytes

    @property
    def committed(self) -> list[Receipt]:
        return [r for r in self.receipts if r.status is ReceiptStatus.COMMITTED]


def check_stateful(state: StateReader, tx: SignedTx, min_fee: int) -> Rejection | None:
    """The checks that depend on state: nonce, fee floor, balance. None means it would apply."""
    body = tx.body
    sender = state.account(body.sender)
    if body.nonce < sender.nonce:
        return Rejection.NONCE_REPLAY
    if body.nonce > sender.nonce:
        return Rejection.NONCE_GAP
    if body.fee < min_fee:
        return Rejection.FEE_TOO_LOW
    if sender.balance < body.spend:
        return Rejection.INSUFFICIENT_BALANCE
    return None


def apply_transactions(
    state: StateReader,
    txs: Iterable[SignedTx],
    *,
    chain_id: str,
    height: int,
    proposer: bytes,
    min_fee: int,
    prev_state_digest: bytes,
    timestamp_ms: int = 0,
    governance: Governance = NO_GOVERNANCE,
) -> BlockResult:
    """Apply `txs` in order on top of `state`; failing transactions get a REJECTED receipt and change
    nothing. `timestamp_ms` is the block's (the day of daily limits); `governance` says who may send
    administrative actions."""
    delta = StateDelta(state)
    receipts: list[Receipt] = []
    rules, rules_height = load_rules(state)
    tracks_daily = rules.tracks_daily
    day = timestamp_ms // DAY_MS
    for index, tx in enumerate(txs):
        body = tx.body
        kind = body.kind
        reason = Rejection.WRONG_CHAIN if body.chain_id != chain_id else check_stateful(delta, tx, min_fee)
        is_admin = isinstance(kind, ADMIN_ACTIONS)
        if reason is None and is_admin:
            reason = check_admin(governance, delta, body.sender, chain_id, kind)
        verdict = PASS
        if reason is None and rules.rules and not is_admin:
            verdict = _compliance(rules, rules_height, delta, tx, day)
            if verdict.rejected_by:
                reason = Rejection.COMPLIANCE
        if reason is not None:
            named = (verdict.rejected_by,) if verdict.rejected_by else ()
            receipts.append(Receipt(tx.tx_id, ReceiptStatus.REJECTED, reason, height, index, 0, named))
            continue
        sender = delta.account(body.sender)
        delta.accounts[body.sender] = Account(sender.balance - body.spend, sender.nonce + 1)
        if isinstance(kind, Transfer):
            recipient = delta.account(kind.recipient)
            delta.accounts[kind.recipient] = Account(recipient.balance + kind.amount, recipient.nonce)
            if tracks_daily:
                delta.meta_writes.update(daily_write(delta, body.sender, day, rules_height, kind.amount))
        elif isinstance(kind, DataWrite):
            delta.data[(body.sender, kind.key)] = kind.value_digest
        else:
            delta.meta_writes.update(admin_writes(kind, height))
            if isinstance(kind, SetRules):
                rules, rules_height = kind.rules, height
                tracks_daily = rules.tracks_daily
        if body.fee:
            producer = delta.account(proposer)
            delta.accounts[proposer] = Account(producer.balance + body.fee, producer.nonce)
        receipts.append(Receipt(tx.tx_id, ReceiptStatus.COMMITTED, None, height, index, body.fee, verdict.flagged_by))
    receipts_t = tuple(receipts)
    return BlockResult(receipts_t, delta, chain_state_digest(prev_state_digest, height, receipts_t, delta))


def _compliance(rules: ComplianceRules, rules_height: int, state: StateDelta, tx: SignedTx, day: int):
    body = tx.body
    kind = body.kind
    transfer = isinstance(kind, Transfer)
    to_self = transfer and kind.recipient == body.sender
    balances = {body.sender: state.account(body.sender).balance - body.spend + (kind.amount if to_self else 0)}
    if transfer and not to_self:
        balances[kind.recipient] = state.account(kind.recipient).balance + kind.amount
    return check_compliance(rules, state, sender=body.sender, recipient=kind.recipient if transfer else None,
                            amount=kind.amount if transfer else 0, balances_after=balances, day=day,
                            rules_height=rules_height)


_U64 = struct.Struct(">Q")


def chain_state_digest(prev: bytes, height: int, receipts: Iterable[Receipt], delta: StateDelta) -> bytes:
    """Canonical, order-independent encoding of the writes (sorted keys) plus receipts in order."""
    parts: list[bytes] = [_U64.pack(height)]
    for r in receipts:
        parts += [r.tx_id, struct.pack(">BBIQH", r.status, r.reason or 0, r.index, r.fee_paid, len(r.rules))]
        parts += [struct.pack(">H", len(n)) + n.encode() for n in r.rules]
    parts.append(_U64.pack(len(delta.accounts)))
    for address in sorted(delta.accounts):
        account = delta.accounts[address]
        parts += [address, struct.pack(">QQ", account.balance, account.nonce)]
    parts.append(_U64.pack(len(delta.data)))
    for address, key in sorted(delta.data):
        encoded_key = key.encode()
        parts += [address, struct.pack(">H", len(encoded_key)), encoded_key, delta.data[(address, key)]]
    parts.append(_U64.pack(len(delta.meta_writes)))
    for key in sorted(delta.meta_writes):
        value = delta.meta_writes[key]
        parts += [struct.pack(">H", len(key)), key, struct.pack(">I", len(value)), value]
    return digest(Tag.STATE, prev, *parts)
