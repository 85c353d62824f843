"""The ingress's verification cost estimate, from sizes alone: Ed25519 transactions are one unit,
those signed with ML-DSA-87 (alone or hybrid) six, so a batch verified in the ingress's own loop
stays within its budget whatever the schemes."""

from __future__ import annotations

import pytest

from actors.ingress import INLINE_VERIFY_MAX_UNITS
from aurigraph.codec import encode_signed
from aurigraph.crypto import Scheme
from aurigraph.node.ingest import POST_QUANTUM_VERIFY_UNITS, verify_cost_units


@pytest.mark.parametrize(("scheme", "units"), [(Scheme.ED25519, 1), (Scheme.ML_DSA_87, POST_QUANTUM_VERIFY_UNITS),
                                               (Scheme.HYBRID, POST_QUANTUM_VERIFY_UNITS)])
def test_each_scheme_costs_its_units(chain, keypairs, scheme, units) -> None:
    wire = encode_signed(chain.tx(keypairs[scheme], 0, amount=1))
    assert verify_cost_units([wire]) == units
    assert verify_cost_units([wire] * 5) == 5 * units


def test_the_inline_budget_takes_dozens_of_ed25519_and_a_handful_of_post_quantum(chain, keypairs) -> None:
    ed = encode_signed(chain.tx(keypairs[Scheme.ED25519], 0, amount=1))
    pq = encode_signed(chain.tx(keypairs[Scheme.HYBRID], 0, amount=1))
    assert verify_cost_units([ed] * 48) <= INLINE_VERIFY_MAX_UNITS < verify_cost_units([ed] * 49)
    assert verify_cost_units([pq] * 8) <= INLINE_VERIFY_MAX_UNITS < verify_cost_units([pq] * 9)
    assert verify_cost_units([]) == 0
