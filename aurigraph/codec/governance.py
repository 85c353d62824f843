"""Administrative actions: `aurigraph.v1.AdminAction` <-> `aurigraph.ledger.governance` types."""

from __future__ import annotations

from aurigraph.crypto import Scheme, UnknownSchemeError
from aurigraph.ledger import (
    AdminAction,
    AdminNote,
    ComplianceRule,
    ComplianceRules,
    Condition,
    RotateKey,
    RuleAction,
    SetKyc,
    SetRules,
)
from aurigraph.ledger.errors import Rejection, TxRejected
from aurigraph.v1 import transaction_pb2


def rules_from_proto(m: transaction_pb2.ComplianceRules) -> ComplianceRules:
    rules = []
    for r in m.rules:
        if r.action not in (RuleAction.REJECT, RuleAction.FLAG):
            raise TxRejected(Rejection.MALFORMED, f"rule {r.name!r}: action must be reject or flag")
        which = r.WhichOneof("condition")
        if which is None:
            raise TxRejected(Rejection.MALFORMED, f"rule {r.name!r} has no condition")
        condition = Condition(which)
        if condition is Condition.DENIED:
            rules.append(ComplianceRule(r.name, RuleAction(r.action), condition, denied=frozenset(r.denied.addresses)))
        else:
            rules.append(ComplianceRule(r.name, RuleAction(r.action), condition, limit=getattr(r, which)))
    return ComplianceRules(tuple(rules))


def rules_to_proto(rules: ComplianceRules) -> transaction_pb2.ComplianceRules:
    m = transaction_pb2.ComplianceRules()
    for rule in rules.rules:
        r = m.rules.add(name=rule.name, action=int(rule.action))
        if rule.condition is Condition.DENIED:
            r.denied.addresses.extend(sorted(rule.denied))
        else:
            setattr(r, rule.condition.value, rule.limit)
    return m


def rules_record(rules: ComplianceRules) -> bytes:
    """`aurigraph.v1.ComplianceRules` bytes: the rules in force, as the node serves them."""
    return rules_to_proto(rules).SerializeToString(deterministic=True)


def admin_from_proto(m: transaction_pb2.AdminAction) -> AdminAction:
    which = m.WhichOneof("action")
    if which == "set_rules":
        return SetRules(rules_from_proto(m.set_rules))
    if which == "set_kyc":
        return SetKyc(m.set_kyc.account, m.set_kyc.attested)
    if which == "rotate_key":
        r = m.rotate_key
        try:
            scheme = Scheme.parse(r.scheme)
        except UnknownSchemeError as e:
            raise TxRejected(Rejection.UNKNOWN_SCHEME, f"rotation key: {e}") from None
        return RotateKey(r.validator_id, scheme, r.public_key, r.proof)
    if which == "note":
        return AdminNote(m.note.kind, m.note.detail, m.note.principal)
    raise TxRejected(Rejection.MALFORMED, "admin action has no action")


def admin_to_proto(action: AdminAction) -> transaction_pb2.AdminAction:
    m = transaction_pb2.AdminAction()
    if isinstance(action, SetRules):
        m.set_rules.CopyFrom(rules_to_proto(action.rules))
    elif isinstance(action, SetKyc):
        m.set_kyc.account, m.set_kyc.attested = action.account, action.attested
    elif isinstance(action, RotateKey):
        m.rotate_key.validator_id, m.rotate_key.scheme = action.validator_id, int(action.scheme)
        m.rotate_key.public_key, m.rotate_key.proof = action.public_key, action.proof
    else:
        m.note.kind, m.note.detail, m.note.principal = action.kind, action.detail, action.principal
    return m
