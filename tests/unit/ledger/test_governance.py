"""Governance in the state machine: who may send administrative actions, each compliance rule
(reject and flag), KYC attestations, daily limits by block day, validator key rotation, and that
replicas replaying the same blocks agree on the digest."""

from __future__ import annotations

import pytest

from aurigraph.codec import decode_signed, encode_signed, sign_transaction
from aurigraph.crypto import ZERO_DIGEST, Scheme, generate_keypair
from aurigraph.ledger import (
    AdminNote,
    ChainParams,
    ComplianceRule,
    ComplianceRules,
    Condition,
    Genesis,
    ReceiptStatus,
    Rejection,
    RotateKey,
    RuleAction,
    SetKyc,
    SetRules,
    StatelessValidator,
    Transfer,
    TxBody,
    TxRejected,
    Validator,
    apply_transactions,
    build_block,
    current_validator_keys,
    genesis_block,
    replay_block,
    rotated,
    rotation_message,
    rules_from_json,
    verify_block,
)
from aurigraph.ledger.errors import StateDivergence
from aurigraph.ledger.governance import DAY_MS, by_address
from tests.conftest import CHAIN_ID, NOW_MS

PROPOSER = b"\xee" * 32


@pytest.fixture(scope="module")
def gov_chain():
    admin = generate_keypair()
    nodes = [generate_keypair(Scheme.ED25519) for _ in range(2)]
    users = [generate_keypair() for _ in range(4)]
    genesis = Genesis(
        CHAIN_ID, NOW_MS - 1000, tuple((k.address, 1_000_000) for k in [admin, *users]),
        tuple(Validator(i + 1, n.scheme, n.public_key, 10) for i, n in enumerate(nodes)),
        ChainParams(min_fee=1), admins=(admin.address,),
    )
    return genesis, admin, nodes, users


class Ledger:
    """A state and the sender nonces, applying one transaction list per call."""

    def __init__(self, genesis):
        self.genesis = genesis
        self.state = genesis.state()
        self.nonces: dict[bytes, int] = {}

    def tx(self, key, kind, fee=1):
        nonce = self.nonces.get(key.address, 0)
        self.nonces[key.address] = nonce + 1
        return sign_transaction(TxBody(CHAIN_ID, key.address, nonce, fee, NOW_MS, kind), key)

    def apply(self, txs, *, day=0, commit=True):
        result = apply_transactions(self.state, txs, chain_id=CHAIN_ID, height=1, proposer=PROPOSER, min_fee=1,
                                    prev_state_digest=ZERO_DIGEST, timestamp_ms=NOW_MS + day * DAY_MS,
                                    governance=self.genesis.governance)
        if commit:
            self.state.commit(result.delta)
        for tx, r in zip(txs, result.receipts):  # a rejected transaction does not use its nonce
            if r.status is ReceiptStatus.REJECTED:
                self.nonces[tx.body.sender] -= 1
        return result.receipts

    def each(self, *specs, day=0):
        """Apply (key, kind) pairs one block each, so a rejection does not leave a nonce gap."""
        return [self.apply([self.tx(key, kind)], day=day)[0] for key, kind in specs]


def rules(*items) -> SetRules:
    return SetRules(ComplianceRules(tuple(items)))


def test_only_admins_may_send_admin_actions(gov_chain):
    genesis, admin, _, users = gov_chain
    ledger = Ledger(genesis)
    note = AdminNote("membership", "added node 4", "ops")
    [r] = ledger.apply([ledger.tx(users[0], note)])
    assert (r.status, r.reason) == (ReceiptStatus.REJECTED, Rejection.NOT_AUTHORIZED)
    [r] = ledger.apply([ledger.tx(admin, note)])
    assert r.status is ReceiptStatus.COMMITTED
    # The validators refuse it before ordering, too.
    validator = StatelessValidator(CHAIN_ID, genesis.params, lambda: NOW_MS, frozenset(genesis.admins))
    verdicts = validator.validate_batch([ledger.tx(users[0], note), ledger.tx(admin, note)])
    assert verdicts[0].reason is Rejection.NOT_AUTHORIZED and verdicts[1] is None


def test_denied_addresses_reject_sender_and_recipient(gov_chain):
    genesis, admin, _, (a, b, c, _d) = gov_chain
    ledger = Ledger(genesis)
    ledger.apply([ledger.tx(admin, rules(ComplianceRule("sanctions", RuleAction.REJECT, Condition.DENIED,
                                                         denied=frozenset({c.address}))))])
    receipts = ledger.each((a, Transfer(c.address, 5)), (c, Transfer(a.address, 5)), (a, Transfer(b.address, 5)))
    assert [(r.status, r.reason, r.rules) for r in receipts] == [
        (ReceiptStatus.REJECTED, Rejection.COMPLIANCE, ("sanctions",)),
        (ReceiptStatus.REJECTED, Rejection.COMPLIANCE, ("sanctions",)),
        (ReceiptStatus.COMMITTED, None, ()),
    ]


def test_flag_rules_commit_and_name_themselves(gov_chain):
    genesis, admin, _, (a, b, _c, _d) = gov_chain
    ledger = Ledger(genesis)
    ledger.apply([ledger.tx(admin, rules(
        ComplianceRule("large", RuleAction.FLAG, Condition.MAX_TX_AMOUNT, limit=1000),
        ComplianceRule("watch", RuleAction.FLAG, Condition.DENIED, denied=frozenset({b.address}))))])
    small, big = ledger.apply([ledger.tx(a, Transfer(b.address, 1000)), ledger.tx(a, Transfer(b.address, 1001))])
    assert (small.status, small.rules) == (ReceiptStatus.COMMITTED, ("watch",))
    assert (big.status, big.rules) == (ReceiptStatus.COMMITTED, ("large", "watch"))
    assert ledger.state.account(b.address).balance == 1_000_000 + 2001


def test_per_transaction_limit_rejects(gov_chain):
    genesis, admin, _, (a, b, _c, _d) = gov_chain
    ledger = Ledger(genesis)
    ledger.apply([ledger.tx(admin, rules(ComplianceRule("cap", RuleAction.REJECT, Condition.MAX_TX_AMOUNT, limit=500)))])
    ok, refused = ledger.apply([ledger.tx(a, Transfer(b.address, 500)), ledger.tx(a, Transfer(b.address, 501))])
    assert ok.status is ReceiptStatus.COMMITTED
    assert (refused.reason, refused.rules) == (Rejection.COMPLIANCE, ("cap",))


def test_daily_limit_counts_the_block_day_and_resets(gov_chain):
    genesis, admin, _, (a, b, _c, _d) = gov_chain
    ledger = Ledger(genesis)
    ledger.apply([ledger.tx(admin, rules(ComplianceRule("daily", RuleAction.REJECT, Condition.MAX_DAILY_AMOUNT,
                                                         limit=1000)))])
    first = ledger.apply([ledger.tx(a, Transfer(b.address, 600)), ledger.tx(a, Transfer(b.address, 400))])
    assert [r.status for r in first] == [ReceiptStatus.COMMITTED] * 2
    [over] = ledger.apply([ledger.tx(a, Transfer(b.address, 1))])  # same day, another block
    assert (over.reason, over.rules) == (Rejection.COMPLIANCE, ("daily",))
    [other_sender] = ledger.apply([ledger.tx(b, Transfer(a.address, 1000))])
    assert other_sender.status is ReceiptStatus.COMMITTED, "the limit is per sender"
    [next_day] = ledger.apply([ledger.tx(a, Transfer(b.address, 1000))], day=1)
    assert next_day.status is ReceiptStatus.COMMITTED


def test_kyc_is_required_above_the_threshold_until_attested(gov_chain):
    genesis, admin, _, (a, b, _c, _d) = gov_chain
    ledger = Ledger(genesis)
    ledger.apply([ledger.tx(admin, rules(ComplianceRule("kyc", RuleAction.REJECT, Condition.KYC_ABOVE_BALANCE,
                                                         limit=1_000_500)))])
    [r] = ledger.apply([ledger.tx(a, Transfer(b.address, 501))])  # b would hold 1,000,501
    assert (r.reason, r.rules) == (Rejection.COMPLIANCE, ("kyc",))
    [ok] = ledger.apply([ledger.tx(a, Transfer(b.address, 500))])
    assert ok.status is ReceiptStatus.COMMITTED
    ledger.apply([ledger.tx(admin, SetKyc(b.address, True))])
    [r] = ledger.apply([ledger.tx(a, Transfer(b.address, 10))])
    assert r.status is ReceiptStatus.COMMITTED
    ledger.apply([ledger.tx(admin, SetKyc(b.address, False))])  # revoked: b now sits above the line
    [r] = ledger.apply([ledger.tx(b, Transfer(a.address, 1))])
    assert (r.reason, r.rules) == (Rejection.COMPLIANCE, ("kyc",))


def test_a_rule_change_applies_to_the_rest_of_its_block(gov_chain):
    genesis, admin, _, (a, b, _c, _d) = gov_chain
    ledger = Ledger(genesis)
    before, change, after = ledger.apply([
        ledger.tx(a, Transfer(b.address, 900)),
        ledger.tx(admin, rules(ComplianceRule("cap", RuleAction.REJECT, Condition.MAX_TX_AMOUNT, limit=100))),
        ledger.tx(a, Transfer(b.address, 900)),
    ])
    assert [before.status, change.status, after.reason] == [ReceiptStatus.COMMITTED, ReceiptStatus.COMMITTED,
                                                            Rejection.COMPLIANCE]
    ledger.apply([ledger.tx(admin, SetRules(ComplianceRules()))])  # an empty set removes every rule
    [r] = ledger.apply([ledger.tx(a, Transfer(b.address, 900))])
    assert r.status is ReceiptStatus.COMMITTED


def rotation(genesis, validator_id, new_key, signer=None):
    proof = (signer or new_key).sign(rotation_message(genesis.chain_id, validator_id, new_key.public_key))
    return RotateKey(validator_id, new_key.scheme, new_key.public_key, proof)


def test_key_rotation_needs_proof_of_the_new_key(gov_chain):
    genesis, admin, nodes, _ = gov_chain
    ledger = Ledger(genesis)
    new = generate_keypair(Scheme.HYBRID)
    bad_proof, unknown, taken, good = ledger.each(
        (admin, rotation(genesis, 1, new, signer=generate_keypair(Scheme.HYBRID))),
        (admin, rotation(genesis, 9, new)),
        (admin, rotation(genesis, 1, nodes[1])),  # validator 2's key
        (admin, rotation(genesis, 1, new)),
    )
    assert [r.reason for r in (bad_proof, unknown, taken)] == [Rejection.INVALID_ADMIN_ACTION] * 3
    assert good.status is ReceiptStatus.COMMITTED
    keys = current_validator_keys(genesis.governance, ledger.state)
    assert keys[1].public_key == new.public_key and keys[2].public_key == nodes[1].public_key


def test_blocks_after_a_rotation_need_the_new_key(gov_chain):
    genesis, admin, nodes, users = gov_chain
    ledger = Ledger(genesis)
    new = generate_keypair(Scheme.HYBRID)
    keys = current_validator_keys(genesis.governance, genesis.state())
    parent = genesis_block(genesis).header
    # The rotation block is signed with the old key ...
    built = build_block(parent, ledger.state, [ledger.tx(admin, rotation(genesis, 1, new))], proposer=nodes[0],
                        timestamp_ms=NOW_MS, min_fee=1, max_txs=10, governance=genesis.governance)
    verify_block(built.block, parent, by_address(keys))
    ledger.state.commit(built.result.delta)
    keys = rotated(genesis.governance, keys, CHAIN_ID, [(tx.body.sender, tx.body.kind) for tx in built.block.transactions])
    impostor = generate_keypair(Scheme.HYBRID)  # a rotation the state machine would refuse is not followed
    assert rotated(genesis.governance, keys, CHAIN_ID, [(users[0].address, rotation(genesis, 1, impostor))]) == keys
    assert keys == current_validator_keys(genesis.governance, ledger.state)
    # ... and the next one must be signed with the new key.
    parent = built.block.header
    tx = ledger.tx(users[0], Transfer(users[1].address, 5))
    old_signed = build_block(parent, ledger.state, [tx], proposer=nodes[0], timestamp_ms=NOW_MS, min_fee=1, max_txs=10,
                             governance=genesis.governance)
    with pytest.raises(Exception, match="proposer is not a validator"):
        verify_block(old_signed.block, parent, by_address(keys))
    new_signed = build_block(parent, ledger.state, [tx], proposer=new, timestamp_ms=NOW_MS, min_fee=1, max_txs=10,
                             governance=genesis.governance)
    verify_block(new_signed.block, parent, by_address(keys))


def test_replicas_agree_and_governance_is_part_of_the_digest(gov_chain):
    genesis, admin, _, (a, b, c, _d) = gov_chain
    ledger = Ledger(genesis)
    txs = [ledger.tx(admin, rules(ComplianceRule("daily", RuleAction.REJECT, Condition.MAX_DAILY_AMOUNT, limit=50),
                                  ComplianceRule("big", RuleAction.FLAG, Condition.MAX_TX_AMOUNT, limit=10))),
           ledger.tx(a, Transfer(b.address, 20)), ledger.tx(admin, SetKyc(c.address, True))]
    parent = genesis_block(genesis).header
    node = generate_keypair()
    built = build_block(parent, genesis.state(), txs, proposer=node, timestamp_ms=NOW_MS, min_fee=1, max_txs=10,
                        governance=genesis.governance)
    assert built.rejected == () and built.result.receipts[1].rules == ("big",)
    again = replay_block(built.block, genesis.state(), prev_state_digest=parent.state_digest, min_fee=1,
                         governance=genesis.governance)
    assert again.state_digest == built.result.state_digest and again.delta.meta_writes == built.result.delta.meta_writes
    with pytest.raises(StateDivergence):  # a replica without the admin list would refuse the admin actions
        replay_block(built.block, genesis.state(), prev_state_digest=parent.state_digest, min_fee=1)


def test_admin_actions_survive_the_wire_canonically(gov_chain):
    genesis, admin, _, (a, b, _c, _d) = gov_chain
    ledger = Ledger(genesis)
    actions = [
        rules(ComplianceRule("s", RuleAction.REJECT, Condition.DENIED, denied=frozenset({a.address, b.address})),
              ComplianceRule("k", RuleAction.FLAG, Condition.KYC_ABOVE_BALANCE, limit=7)),
        SetKyc(a.address, True), rotation(genesis, 2, generate_keypair(Scheme.HYBRID)),
        AdminNote("model_promotion", "load model v3", "ops"),
    ]
    for action in actions:
        tx = ledger.tx(admin, action)
        back = decode_signed(encode_signed(tx))
        assert back.body == tx.body and back.tx_id == tx.tx_id


def test_rule_files_are_checked():
    ok = rules_from_json([{"name": "cap", "action": "reject", "max_tx_amount": 5},
                          {"name": "deny", "action": "flag", "denied": ["ab" * 32]}])
    assert [r.condition for r in ok.rules] == [Condition.MAX_TX_AMOUNT, Condition.DENIED]
    assert rules_from_json(__import__("json").loads(ok.encode())) == ok
    bad = [
        [{"name": "x", "action": "reject"}],  # no condition
        [{"name": "x", "action": "reject", "max_tx_amount": 1, "max_daily_amount": 2}],  # two
        [{"name": "x", "action": "block", "max_tx_amount": 1}],  # unknown action
        [{"name": "Bad Name", "action": "reject", "max_tx_amount": 1}],
        [{"name": "x", "action": "reject", "max_tx_amount": -1}],
        [{"name": "x", "action": "reject", "denied": ["zz"]}],
        [{"name": "x", "action": "reject", "denied": ["ab" * 31]}],
        [{"name": "x", "action": "reject", "max_tx_amount": 1}, {"name": "x", "action": "flag", "max_tx_amount": 1}],
        [{"name": "x", "action": "reject", "max_tx_amount": 1, "colour": "red"}],
    ]
    for items in bad:
        with pytest.raises(TxRejected):
            rules_from_json(items)


def test_genesis_admins_are_committed_by_the_genesis_digest(gov_chain):
    from aurigraph.ledger import genesis_digest

    genesis, _admin, _, _ = gov_chain
    other = Genesis(genesis.chain_id, genesis.timestamp_ms, genesis.balances, genesis.validators, genesis.params,
                    admins=(generate_keypair().address,))
    plain = Genesis(genesis.chain_id, genesis.timestamp_ms, genesis.balances, genesis.validators, genesis.params)
    assert len({genesis_digest(g) for g in (genesis, other, plain)}) == 3


def test_a_daily_limit_counts_from_the_rule_set_that_sets_it(gov_chain):
    genesis, admin, _, (a, b, _c, _d) = gov_chain
    ledger = Ledger(genesis)
    cap = rules(ComplianceRule("daily", RuleAction.REJECT, Condition.MAX_DAILY_AMOUNT, limit=1000))
    ledger.apply([ledger.tx(admin, cap)])
    assert ledger.each((a, Transfer(b.address, 900)))[0].status is ReceiptStatus.COMMITTED
    # Set again (the same day, at another height: `Ledger.apply` uses height 1, so apply at height 2).
    result = apply_transactions(ledger.state, [ledger.tx(admin, cap)], chain_id=CHAIN_ID, height=2, proposer=PROPOSER,
                                min_fee=1, prev_state_digest=ZERO_DIGEST, timestamp_ms=NOW_MS,
                                governance=genesis.governance)
    ledger.state.commit(result.delta)
    result = apply_transactions(ledger.state, [ledger.tx(a, Transfer(b.address, 900))], chain_id=CHAIN_ID, height=3,
                                proposer=PROPOSER, min_fee=1, prev_state_digest=ZERO_DIGEST, timestamp_ms=NOW_MS,
                                governance=genesis.governance)
    assert result.receipts[0].status is ReceiptStatus.COMMITTED, "the new rule set counts from 0"


def test_a_transfer_to_oneself_does_not_hide_a_balance_above_the_kyc_line(gov_chain):
    genesis, admin, _, (a, _b, _c, _d) = gov_chain
    ledger = Ledger(genesis)
    ledger.apply([ledger.tx(admin, rules(ComplianceRule("kyc", RuleAction.REJECT, Condition.KYC_ABOVE_BALANCE,
                                                         limit=500_000)))])
    [r] = ledger.each((a, Transfer(a.address, 900_000)))  # a holds 1,000,000 before and after
    assert (r.reason, r.rules) == (Rejection.COMPLIANCE, ("kyc",))
