"""Governance: administrative actions and compliance rules, as the state machine applies them.

An administrative action is an ordinary signed transaction (`TxBody.kind` is one of `ADMIN_ACTIONS`)
that only a chain admin (an address in the genesis `admins`) may send. Because it is ordered and
committed like any transaction, every change of governance is in the chain and in the audit export.

Governance state lives in the ledger's *meta* key space (`StateReader.meta`), committed by the
state digest like balances:

    b"rules"              u64 height the rule set was set at, then the set (`ComplianceRules.encode`)
    b"kyc/" + address     b"\\x01" while the account holds a KYC attestation
    b"day/" + address     (UTC day, rule-set height, amount sent that day) while a daily rule exists;
                          a total from another day or an earlier rule set counts as 0
    b"vkey/" + u64 id     scheme byte + public key of a validator whose key was rotated

Compliance rules are checked for every transfer and data write when a block is built and when it
is replayed, against the state as of that transaction, so every replica reaches the same verdict.
A REJECT rule refuses the transaction (`Rejection.COMPLIANCE`); a FLAG rule lets it commit and names
itself in the receipt. The day of a daily limit is the block's (the proposer's clock, checked to
never go backwards), not the client's.
"""

from __future__ import annotations

import enum
import json
import re
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from aurigraph.crypto import ADDRESS_SIZE, CryptoError, Scheme, check_public_key, derive_address, verify
from aurigraph.ledger.errors import Rejection, TxRejected

DAY_MS = 86_400_000
MAX_RULES = 64
MAX_DENIED_ADDRESSES = 4096
MAX_NOTE_DETAIL_BYTES = 1024
MAX_PRINCIPAL_BYTES = 128
ROTATION_DOMAIN = b"AG1/key-rotation\x00"
_NAME = re.compile(r"[a-z0-9_-]{1,64}")
_U64_MAX = 2**64 - 1

RULES_KEY = b"rules"
_KYC = b"kyc/"
_DAY = b"day/"
_VKEY = b"vkey/"
_DAY_VALUE = struct.Struct(">IQQ")  # day number, height of the rule set it counts under, amount sent
_RULES_AT = struct.Struct(">Q")
KYC_ATTESTED = b"\x01"
ABSENT = b""  # a meta value of b"" means the entry is gone (stores delete it)


def kyc_key(address: bytes) -> bytes:
    return _KYC + address


def daily_key(address: bytes) -> bytes:
    return _DAY + address


def validator_meta_key(validator_id: int) -> bytes:
    return _VKEY + struct.pack(">Q", validator_id)


def _check_name(what: str, name: str) -> None:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise TxRejected(Rejection.MALFORMED, f"{what} {name!r} must be 1 to 64 of [a-z0-9_-]")


def _check_u64(what: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= _U64_MAX:
        raise TxRejected(Rejection.MALFORMED, f"{what} must be an integer in [0, 2^64-1], got {value!r}")


# --- compliance rules ---------------------------------------------------------------------------


class RuleAction(enum.IntEnum):
    """Numbers match `aurigraph.v1.ComplianceAction`."""

    REJECT = 1
    FLAG = 2

    @property
    def label(self) -> str:
        return self.name.lower()


class Condition(enum.Enum):
    DENIED = "denied"
    MAX_TX_AMOUNT = "max_tx_amount"
    MAX_DAILY_AMOUNT = "max_daily_amount"
    KYC_ABOVE_BALANCE = "kyc_above_balance"


@dataclass(frozen=True)
class ComplianceRule:
    """One rule: a condition (`denied` addresses, or an amount limit) and what a match does."""

    name: str
    action: RuleAction
    condition: Condition
    limit: int = 0  # the amount of the three amount conditions
    denied: frozenset[bytes] = frozenset()

    def __post_init__(self) -> None:
        _check_name("compliance rule name", self.name)
        if not isinstance(self.action, RuleAction):
            raise TxRejected(Rejection.MALFORMED, f"rule {self.name}: action must be reject or flag")
        if self.condition is Condition.DENIED:
            if not self.denied or len(self.denied) > MAX_DENIED_ADDRESSES:
                raise TxRejected(Rejection.MALFORMED,
                                 f"rule {self.name}: denied needs 1 to {MAX_DENIED_ADDRESSES} addresses")
            if any(not isinstance(a, bytes) or len(a) != ADDRESS_SIZE for a in self.denied):
                raise TxRejected(Rejection.MALFORMED, f"rule {self.name}: denied addresses must be 32 bytes")
        else:
            _check_u64(f"rule {self.name}: {self.condition.value}", self.limit)

    def to_json(self) -> dict:
        value = sorted(a.hex() for a in self.denied) if self.condition is Condition.DENIED else self.limit
        return {"name": self.name, "action": self.action.label, self.condition.value: value}


@dataclass(frozen=True)
class ComplianceRules:
    rules: tuple[ComplianceRule, ...] = ()

    def __post_init__(self) -> None:
        if len(self.rules) > MAX_RULES:
            raise TxRejected(Rejection.MALFORMED, f"at most {MAX_RULES} compliance rules")
        names = [r.name for r in self.rules]
        if len(set(names)) != len(names):
            raise TxRejected(Rejection.MALFORMED, "compliance rule names must be unique")

    @property
    def tracks_daily(self) -> bool:
        return any(r.condition is Condition.MAX_DAILY_AMOUNT for r in self.rules)

    def encode(self) -> bytes:
        """Canonical bytes (for the meta key space and the state digest)."""
        return json.dumps([r.to_json() for r in self.rules], sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, raw: bytes | None) -> ComplianceRules:
        return cls() if not raw else rules_from_json(json.loads(raw))


NO_RULES = ComplianceRules()


def rules_entry(rules: ComplianceRules, height: int) -> bytes:
    """The meta value of a rule set set at `height`."""
    return _RULES_AT.pack(height) + rules.encode()


def load_rules(state: MetaReader) -> tuple[ComplianceRules, int]:
    """The rules in force and the height they were set at ((no rules, 0) if never set)."""
    raw = state.meta(RULES_KEY)
    if not raw:
        return NO_RULES, 0
    return ComplianceRules.decode(raw[_RULES_AT.size:]), _RULES_AT.unpack(raw[:_RULES_AT.size])[0]


def rules_from_json(items: object) -> ComplianceRules:
    """Rules from their JSON form: a list of {"name", "action": "reject"|"flag", <one condition>}.
    Addresses are hex (the CLI's TOML loader accepts `ag…` text too and converts before this)."""
    if not isinstance(items, list):
        raise TxRejected(Rejection.MALFORMED, "compliance rules must be a list")
    rules = []
    for item in items:
        if not isinstance(item, dict):
            raise TxRejected(Rejection.MALFORMED, "each compliance rule must be a table/object")
        conditions = [c for c in Condition if c.value in item]
        unknown = set(item) - {"name", "action"} - {c.value for c in Condition}
        if len(conditions) != 1 or unknown:
            raise TxRejected(Rejection.MALFORMED, f"rule {item.get('name')!r} needs exactly one of "
                             f"{', '.join(c.value for c in Condition)}" + (f"; unknown: {sorted(unknown)}" if unknown else ""))
        try:
            action = RuleAction[str(item.get("action", "")).upper()]
        except KeyError:
            raise TxRejected(Rejection.MALFORMED, f"rule {item.get('name')!r}: action must be reject or flag") from None
        condition = conditions[0]
        value = item[condition.value]
        if condition is Condition.DENIED:
            try:
                denied = frozenset(bytes.fromhex(a) for a in value)
            except (TypeError, ValueError):
                raise TxRejected(Rejection.MALFORMED, f"rule {item.get('name')!r}: denied must be hex addresses") from None
            rules.append(ComplianceRule(item.get("name"), action, condition, denied=denied))
        else:
            rules.append(ComplianceRule(item.get("name"), action, condition, limit=value))
    return ComplianceRules(tuple(rules))


# --- administrative actions ---------------------------------------------------------------------


@dataclass(frozen=True)
class SetRules:
    """Replace the whole compliance rule set."""

    rules: ComplianceRules


@dataclass(frozen=True)
class SetKyc:
    account: bytes
    attested: bool

    def __post_init__(self) -> None:
        if not isinstance(self.account, bytes) or len(self.account) != ADDRESS_SIZE:
            raise TxRejected(Rejection.MALFORMED, "KYC account must be a 32-byte address")


@dataclass(frozen=True)
class RotateKey:
    """Replace a validator's node key; `proof` is the new key's signature of `rotation_message`."""

    validator_id: int
    scheme: Scheme
    public_key: bytes = field(repr=False)
    proof: bytes = field(repr=False)

    def __post_init__(self) -> None:
        _check_u64("validator id", self.validator_id)
        try:
            check_public_key(Scheme(self.scheme), self.public_key)
        except (CryptoError, ValueError) as e:
            raise TxRejected(Rejection.MALFORMED, f"rotation key: {e}") from None


@dataclass(frozen=True)
class AdminNote:
    """An action taken outside the ledger (membership change, model promotion), recorded."""

    kind: str
    detail: str
    principal: str = ""

    def __post_init__(self) -> None:
        _check_name("note kind", self.kind)
        if not isinstance(self.detail, str) or len(self.detail.encode()) > MAX_NOTE_DETAIL_BYTES:
            raise TxRejected(Rejection.OVERSIZE, f"note detail is longer than {MAX_NOTE_DETAIL_BYTES} bytes")
        if not isinstance(self.principal, str) or len(self.principal.encode()) > MAX_PRINCIPAL_BYTES:
            raise TxRejected(Rejection.OVERSIZE, f"note principal is longer than {MAX_PRINCIPAL_BYTES} bytes")


ADMIN_ACTIONS = (SetRules, SetKyc, RotateKey, AdminNote)
AdminAction = SetRules | SetKyc | RotateKey | AdminNote


def rotation_message(chain_id: str, validator_id: int, public_key: bytes) -> bytes:
    chain = chain_id.encode()
    return ROTATION_DOMAIN + struct.pack(">H", len(chain)) + chain + struct.pack(">Q", validator_id) + public_key


# --- validator keys -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ValidatorKey:
    """What a follower needs to check a proposer: its address, scheme and public key."""

    address: bytes
    scheme: Scheme
    public_key: bytes


def validator_key(scheme: Scheme, public_key: bytes) -> ValidatorKey:
    return ValidatorKey(derive_address(scheme, public_key), scheme, public_key)


@dataclass(frozen=True)
class Governance:
    """What the state machine needs from the genesis to apply administrative actions."""

    admins: frozenset[bytes] = frozenset()
    genesis_keys: Mapping[int, ValidatorKey] = field(default_factory=dict)  # by validator id


NO_GOVERNANCE = Governance()


class MetaReader(Protocol):
    """The part of a `StateReader` governance reads (see `aurigraph.ledger.state`)."""

    def meta(self, key: bytes) -> bytes | None: ...


def current_validator_keys(gov: Governance, state: MetaReader) -> dict[int, ValidatorKey]:
    """Every validator's key as of `state`: the genesis key unless a rotation replaced it."""
    keys = {}
    for validator_id, genesis_key in gov.genesis_keys.items():
        raw = state.meta(validator_meta_key(validator_id))
        keys[validator_id] = validator_key(Scheme(raw[0]), raw[1:]) if raw else genesis_key
    return keys


def by_address(keys: Mapping[int, ValidatorKey]) -> dict[bytes, ValidatorKey]:
    return {k.address: k for k in keys.values()}


def rotated(gov: Governance, keys: Mapping[int, ValidatorKey], chain_id: str,
            committed: Iterable[tuple[bytes, object]]) -> dict[int, ValidatorKey]:
    """`keys` after the rotations among a block's committed transactions, given as (sender, kind),
    checked as the state machine checks them (for a reader that has the blocks but not the state:
    the audit verifier)."""
    out = dict(keys)
    for sender, kind in committed:
        if isinstance(kind, RotateKey) and sender in gov.admins and rotation_applies(gov, out, chain_id, kind):
            out[kind.validator_id] = validator_key(kind.scheme, kind.public_key)
    return out


def check_admin(gov: Governance, state: MetaReader, sender: bytes, chain_id: str, action: AdminAction) -> Rejection | None:
    """Whether `sender` may apply `action` on `state`; None when it applies."""
    if sender not in gov.admins:
        return Rejection.NOT_AUTHORIZED
    if isinstance(action, RotateKey) and not rotation_applies(gov, current_validator_keys(gov, state), chain_id, action):
        return Rejection.INVALID_ADMIN_ACTION
    return None


def rotation_applies(gov: Governance, keys: Mapping[int, ValidatorKey], chain_id: str, action: RotateKey) -> bool:
    """A known validator, a key no validator uses (`keys`: the current ones), a proof that verifies."""
    if action.validator_id not in gov.genesis_keys:
        return False
    new = validator_key(action.scheme, action.public_key)
    if any(k.address == new.address for k in keys.values()):
        return False  # already some validator's key (or a no-op)
    try:
        return verify(action.scheme, action.public_key, rotation_message(chain_id, action.validator_id,
                                                                         action.public_key), action.proof)
    except CryptoError:
        return False


def admin_writes(action: AdminAction, height: int) -> dict[bytes, bytes]:
    """The meta writes of an administrative action that applies in the block at `height`."""
    if isinstance(action, SetRules):
        return {RULES_KEY: rules_entry(action.rules, height)}
    if isinstance(action, SetKyc):
        return {kyc_key(action.account): KYC_ATTESTED if action.attested else ABSENT}
    if isinstance(action, RotateKey):
        return {validator_meta_key(action.validator_id): bytes((action.scheme,)) + action.public_key}
    return {}


def meta_keys_read(txs: Iterable, validator_ids: Iterable[int]) -> set[bytes]:
    """Every meta key that applying `txs` (signed transactions) may read: what a store that keeps
    only part of the state (the SQL index) loads before replaying them."""
    keys = {RULES_KEY, *(validator_meta_key(i) for i in validator_ids)}
    for tx in txs:
        sender, kind = tx.body.sender, tx.body.kind
        keys |= {kyc_key(sender), daily_key(sender)}
        recipient = getattr(kind, "recipient", None) or getattr(kind, "account", None)
        if recipient is not None:
            keys.add(kyc_key(recipient))
    return keys


# --- compliance checks --------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    rejected_by: str | None = None  # the first REJECT rule that matched
    flagged_by: tuple[str, ...] = ()  # FLAG rules that matched


PASS = Verdict()


def spent_today(state: MetaReader, sender: bytes, day: int, rules_height: int) -> int:
    """What `sender` sent on `day` under the rule set set at `rules_height` (a daily limit counts
    from the block that set it, also when an earlier rule set counted the same day)."""
    raw = state.meta(daily_key(sender))
    if not raw:
        return 0
    stored_day, stored_rules, amount = _DAY_VALUE.unpack(raw)
    return amount if (stored_day, stored_rules) == (day, rules_height) else 0


def daily_write(state: MetaReader, sender: bytes, day: int, rules_height: int, amount: int) -> dict[bytes, bytes]:
    total = min(spent_today(state, sender, day, rules_height) + amount, _U64_MAX)
    return {daily_key(sender): _DAY_VALUE.pack(day % 2**32, rules_height, total)}


def check_compliance(
    rules: ComplianceRules, state: MetaReader, *, sender: bytes, recipient: bytes | None, amount: int,
    balances_after: Mapping[bytes, int], day: int, rules_height: int,
) -> Verdict:
    """Evaluate every rule for one transaction (`recipient` None and `amount` 0 for a data write);
    `balances_after` holds the sender's and recipient's balances if it commits."""
    rejected_by = None
    flagged: list[str] = []
    for rule in rules.rules:
        c = rule.condition
        if c is Condition.DENIED:
            hit = sender in rule.denied or recipient in rule.denied
        elif c is Condition.MAX_TX_AMOUNT:
            hit = amount > rule.limit
        elif c is Condition.MAX_DAILY_AMOUNT:
            hit = amount > 0 and spent_today(state, sender, day, rules_height) + amount > rule.limit
        else:
            hit = any(balance > rule.limit and state.meta(kyc_key(address)) != KYC_ATTESTED
                      for address, balance in balances_after.items())
        if not hit:
            continue
        if rule.action is RuleAction.REJECT:
            rejected_by = rejected_by or rule.name
        else:
            flagged.append(rule.name)
    return Verdict(rejected_by, tuple(flagged)) if rejected_by or flagged else PASS
