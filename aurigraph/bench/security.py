"""Security benchmark: what the issue-9 machinery costs, each next to its baseline in the same run.

- **Compliance rules in the state machine.** The same block of signed transfers (many senders and
  recipients) applied with `apply_transactions` with no rules, and with one rule of every kind (a
  1,000-address denied list, a per-transaction limit, a daily limit, a KYC threshold), all passing,
  so both runs commit the same transactions. Ratio = transfers/s with rules ÷ without.
- **Block signing in an HSM.** A hybrid block signature made with the Ed25519 half in SoftHSM2
  (PKCS#11, `aurigraph.keystore`) and the ML-DSA-87 half from memory, ÷ the same signature made with
  both halves in memory (`KeyPair.sign`); and the Ed25519 signature alone, HSM ÷ libsodium. Skipped,
  and said so, when SoftHSM2 is not installed.

Rounds are interleaved and the median ratio counts (shared, noisy machines).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from aurigraph.codec import sign_transaction
from aurigraph.crypto import ZERO_DIGEST, Scheme, generate_keypair
from aurigraph.ledger import (
    ComplianceRule,
    ComplianceRules,
    Condition,
    MemoryState,
    RuleAction,
    Transfer,
    TxBody,
    apply_transactions,
)
from aurigraph.ledger.governance import RULES_KEY, rules_entry
from aurigraph.ledger.state import Account

SOFTHSM_MODULES = ("/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
                   "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so")
CHAIN = "bench-security"


def _rules() -> ComplianceRules:
    denied = frozenset(generate_keypair().address for _ in range(1000))
    return ComplianceRules((
        ComplianceRule("sanctions", RuleAction.REJECT, Condition.DENIED, denied=denied),
        ComplianceRule("large", RuleAction.FLAG, Condition.MAX_TX_AMOUNT, limit=10**6),
        ComplianceRule("daily", RuleAction.REJECT, Condition.MAX_DAILY_AMOUNT, limit=10**12),
        ComplianceRule("kyc", RuleAction.REJECT, Condition.KYC_ABOVE_BALANCE, limit=10**15),
    ))


def _block(txs_count: int, senders_count: int):
    senders = [generate_keypair() for _ in range(senders_count)]
    recipients = [generate_keypair().address for _ in range(senders_count)]
    per_sender = txs_count // senders_count
    txs = [sign_transaction(TxBody(CHAIN, s.address, n, 1, 1_000, Transfer(recipients[(i + n) % senders_count], 5)), s)
           for n in range(per_sender) for i, s in enumerate(senders)]
    return {s.address: Account(10**9) for s in senders}, txs


def _apply_rate(accounts, txs, rules: ComplianceRules | None) -> float:
    state = MemoryState(accounts)
    if rules is not None:
        state.meta_entries[RULES_KEY] = rules_entry(rules, 0)
    start = time.perf_counter()
    result = apply_transactions(state, txs, chain_id=CHAIN, height=1, proposer=b"\xee" * 32, min_fee=1,
                                prev_state_digest=ZERO_DIGEST, timestamp_ms=1_000)
    elapsed = time.perf_counter() - start
    if len(result.committed) != len(txs):
        raise RuntimeError("the benchmark block must commit whole")
    return len(txs) / elapsed


def compliance(txs: int, rounds: int, log: Callable[[str], None]) -> dict:
    accounts, block = _block(txs, max(1, txs // 10))
    rules = _rules()
    bare, ruled = [], []
    for r in range(rounds):
        bare.append(_apply_rate(accounts, block, None))
        ruled.append(_apply_rate(accounts, block, rules))
        log(f"compliance round {r + 1}/{rounds}: {ruled[-1]:,.0f} tx/s with 4 rules, {bare[-1]:,.0f} without")
    return {"transfers": len(block), "rules": len(rules.rules),
            "with_rules_tx_per_s": statistics.median(ruled), "without_rules_tx_per_s": statistics.median(bare),
            "ratio": statistics.median(a / b for a, b in zip(ruled, bare))}


def _softhsm() -> Path | None:
    module = next((Path(p) for p in SOFTHSM_MODULES if Path(p).is_file()), None)
    return module if module is not None and shutil.which("softhsm2-util") else None


def hsm_signing(signatures: int, rounds: int, log: Callable[[str], None]) -> dict:
    module = _softhsm()
    if module is None:
        return {"skipped": "SoftHSM2 is not installed (apt-get install softhsm2)"}
    from aurigraph.keystore import Pkcs11Keystore
    from aurigraph.node.datadir import DataDir

    with tempfile.TemporaryDirectory(prefix="aurigraph-bench-hsm-") as tmp:
        root = Path(tmp)
        (root / "tokens").mkdir()
        conf = root / "softhsm2.conf"
        conf.write_text(f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
        saved = {k: os.environ.get(k) for k in ("SOFTHSM2_CONF", "AURIGRAPH_NODE_PASSPHRASE")}
        os.environ.update(SOFTHSM2_CONF=str(conf), AURIGRAPH_NODE_PASSPHRASE="bench")  # nosec B106  # a throwaway token
        try:
            subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "bench", "--pin", "1234",
                            "--so-pin", "5678"], check=True, capture_output=True)  # nosec B603 B607  # fixed args
            with Pkcs11Keystore(DataDir(root / "data"), module=module, token="bench", pin="1234",  # nosec B106
                                opslimit=1, memlimit=8 * 1024) as keystore:
                out = {}
                for scheme, count in ((Scheme.HYBRID, signatures), (Scheme.ED25519, signatures * 20)):
                    out[scheme.label] = _signing_rates(keystore.create(1, scheme).unlock(), generate_keypair(scheme),
                                                       count, rounds, log)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    return out


def _signing_rates(in_hsm, in_memory, signatures: int, rounds: int, log: Callable[[str], None]) -> dict:
    message = b"AG1/block-sign\x00" + bytes(64)
    hsm_rates, memory_rates = [], []
    for r in range(rounds):
        for signer, rates in ((in_hsm, hsm_rates), (in_memory, memory_rates)):
            start = time.perf_counter()
            for _ in range(signatures):
                signer.sign(message)
            rates.append(signatures / (time.perf_counter() - start))
        log(f"{in_memory.scheme.label} signing round {r + 1}/{rounds}: {hsm_rates[-1]:,.0f}/s with the HSM, "
            f"{memory_rates[-1]:,.0f}/s in memory")
    return {"signatures": signatures, "hsm_per_s": statistics.median(hsm_rates),
            "memory_per_s": statistics.median(memory_rates),
            "ratio": statistics.median(a / b for a, b in zip(hsm_rates, memory_rates))}


def run(txs: int, signatures: int, rounds: int, log: Callable[[str], None]) -> dict:
    return {"compliance": compliance(txs, rounds, log), "hsm_signing": hsm_signing(signatures, rounds, log),
            "rounds": rounds}


def format_table(result: dict) -> str:
    c, h = result["compliance"], result["hsm_signing"]
    lines = [(f"compliance: {c['transfers']:,} transfers, {c['rules']} rules: "
              f"{c['with_rules_tx_per_s']:,.0f} tx/s vs {c['without_rules_tx_per_s']:,.0f} without rules "
              f"(ratio {c['ratio']:.3f})")]
    if "skipped" in h:
        lines.append(f"hsm signing: skipped ({h['skipped']})")
    else:
        for scheme, r in h.items():
            lines.append(f"{scheme} signing: {r['hsm_per_s']:,.0f}/s with the Ed25519 key (half) in SoftHSM2 vs "
                         f"{r['memory_per_s']:,.0f}/s in memory (ratio {r['ratio']:.3f})")
    return "\n".join(lines)
