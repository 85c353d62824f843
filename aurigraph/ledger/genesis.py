"""The genesis document: chain id, initial balances, the initial validator set, chain parameters.

`Genesis` is validated on construction (`GenesisError` names the problem). `genesis_block` is the
block at height 0: no transactions, no proposer, and a state digest that commits to the whole
document, so two nodes started from different genesis files can never agree on a block.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from aurigraph.crypto import ZERO_DIGEST, CryptoError, Scheme, Tag, derive_address, digest
from aurigraph.ledger.block import Block, BlockHeader
from aurigraph.ledger.errors import GenesisError
from aurigraph.ledger.governance import Governance, ValidatorKey
from aurigraph.ledger.merkle import EMPTY_ROOT
from aurigraph.ledger.state import Account, MemoryState
from aurigraph.ledger.transaction import MAX_CHAIN_ID_BYTES, U64_MAX

DEFAULT_MAX_BLOCK_TXS = 10_000


@dataclass(frozen=True)
class ChainParams:
    min_fee: int = 1
    max_block_txs: int = DEFAULT_MAX_BLOCK_TXS
    max_clock_skew_ms: int = 30_000  # how far ahead of a validator's clock a timestamp may be
    max_tx_age_ms: int = 3_600_000  # how far behind

    def __post_init__(self) -> None:
        for name in ("min_fee", "max_clock_skew_ms", "max_tx_age_ms"):
            if not 0 <= getattr(self, name) <= U64_MAX:
                raise GenesisError(f"params.{name} must be in [0, 2^64-1]")
        if not 1 <= self.max_block_txs <= 100_000:
            raise GenesisError("params.max_block_txs must be in [1, 100000]")


@dataclass(frozen=True)
class Validator:
    id: int  # consensus node id, > 0
    scheme: Scheme
    public_key: bytes = field(repr=False)
    stake: int
    name: str = ""

    @property
    def address(self) -> bytes:
        return derive_address(self.scheme, self.public_key)

    @property
    def key(self) -> ValidatorKey:
        return ValidatorKey(self.address, self.scheme, self.public_key)


@dataclass(frozen=True)
class Genesis:
    chain_id: str
    timestamp_ms: int
    balances: tuple[tuple[bytes, int], ...]
    validators: tuple[Validator, ...]
    params: ChainParams = ChainParams()
    admins: tuple[bytes, ...] = ()  # addresses that may send administrative actions (none: governance is off)

    def __post_init__(self) -> None:
        if not 0 < len(self.chain_id.encode()) <= MAX_CHAIN_ID_BYTES:
            raise GenesisError(f"chain_id must be 1 to {MAX_CHAIN_ID_BYTES} bytes")
        if not 0 <= self.timestamp_ms <= U64_MAX:
            raise GenesisError("timestamp_ms must be in [0, 2^64-1]")
        if not self.validators:
            raise GenesisError("genesis needs at least one validator")
        ids = [v.id for v in self.validators]
        if len(set(ids)) != len(ids) or min(ids) < 1:
            raise GenesisError(f"validator ids must be unique and >= 1, got {ids}")
        for v in self.validators:
            try:
                v.address  # noqa: B018 - checks the key length for the scheme
            except CryptoError as e:
                raise GenesisError(f"validator {v.id}: {e}") from None
            if not 1 <= v.stake <= U64_MAX:
                raise GenesisError(f"validator {v.id}: stake must be in [1, 2^64-1]")
        addresses = [a for a, _ in self.balances]
        if len(set(addresses)) != len(addresses):
            raise GenesisError("an address appears twice in balances")
        if any(len(a) != 32 for a in addresses):
            raise GenesisError("balance addresses must be 32 bytes")
        if any(amount < 0 for _, amount in self.balances) or sum(a for _, a in self.balances) > U64_MAX:
            raise GenesisError("balances must be >= 0 and total supply at most 2^64-1")
        if any(not isinstance(a, bytes) or len(a) != 32 for a in self.admins) or len(set(self.admins)) != len(self.admins):
            raise GenesisError("admins must be distinct 32-byte addresses")

    @property
    def validator_keys(self) -> dict[bytes, ValidatorKey]:
        return {v.address: v.key for v in self.validators}

    @property
    def governance(self) -> Governance:
        return Governance(frozenset(self.admins), {v.id: v.key for v in self.validators})

    def state(self) -> MemoryState:
        return MemoryState({address: Account(balance=amount) for address, amount in self.balances if amount})


def genesis_digest(g: Genesis) -> bytes:
    """Commits to every field of the document, in a canonical order."""
    chain = g.chain_id.encode()
    parts = [struct.pack(">H", len(chain)), chain, struct.pack(">QI", g.timestamp_ms, len(g.balances))]
    for address, amount in sorted(g.balances):
        parts += [address, struct.pack(">Q", amount)]
    parts.append(struct.pack(">I", len(g.validators)))
    for v in sorted(g.validators, key=lambda v: v.id):
        name = v.name.encode()
        parts += [
            struct.pack(">QBIQH", v.id, v.scheme, len(v.public_key), v.stake, len(name)), v.public_key, name
        ]
    p = g.params
    parts.append(struct.pack(">QIQQ", p.min_fee, p.max_block_txs, p.max_clock_skew_ms, p.max_tx_age_ms))
    if g.admins:  # (a genesis without admins keeps the encoding it had before governance existed)
        parts += [struct.pack(">I", len(g.admins)), *sorted(g.admins)]
    return digest(Tag.GENESIS, *parts)


def genesis_block(g: Genesis) -> Block:
    header = BlockHeader(
        chain_id=g.chain_id, shard_id=0, height=0, prev_hash=ZERO_DIGEST, tx_root=EMPTY_ROOT,
        state_digest=genesis_digest(g), proposer=b"", timestamp_ms=g.timestamp_ms, tx_count=0,
    )
    return Block(header, ())
