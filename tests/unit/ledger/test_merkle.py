"""Merkle trees: every proof verifies for every size and index; anything altered fails."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from aurigraph.ledger.merkle import (
    EMPTY_ROOT,
    leaf_hash,
    merkle_proof,
    merkle_proofs,
    merkle_root,
    verify_proof,
)


def leaves(n):
    return [leaf_hash(b"tx%d" % i) for i in range(n)]


def test_every_proof_verifies_for_sizes_up_to_70():
    for n in range(1, 71):
        ls = leaves(n)
        root = merkle_root(ls)
        for i in range(n):
            proof = merkle_proof(ls, i)
            assert len(proof) <= max(1, (n - 1).bit_length())
            assert verify_proof(ls[i], i, n, proof, root), (n, i)


def test_all_proofs_at_once_equal_one_at_a_time():
    assert merkle_proofs([]) == []
    for n in range(1, 71):
        ls = leaves(n)
        assert merkle_proofs(ls) == [merkle_proof(ls, i) for i in range(n)], n


def test_altered_inputs_fail():
    ls = leaves(13)
    root = merkle_root(ls)
    proof = merkle_proof(ls, 5)
    assert not verify_proof(ls[6], 5, 13, proof, root)  # other leaf
    assert not verify_proof(ls[5], 6, 13, proof, root)  # other index
    assert not verify_proof(ls[5], 5, 7, proof, root)  # other size, other tree shape
    assert not verify_proof(ls[5], 5, 13, proof[:-1], root)  # short proof
    assert not verify_proof(ls[5], 5, 13, [proof[0][::-1], *proof[1:]], root)
    assert not verify_proof(ls[5], 13, 13, proof, root)  # out of range
    assert not verify_proof(ls[5], -1, 13, proof, root)


def test_root_depends_on_order_and_content_and_leaf_cannot_pose_as_node():
    ls = leaves(4)
    assert merkle_root(ls) != merkle_root(ls[::-1])
    assert merkle_root([]) == EMPTY_ROOT != merkle_root(leaves(1))
    # A two-leaf tree's root must not equal the leaf hash of the concatenated children.
    assert merkle_root(ls[:2]) != leaf_hash(ls[0] + ls[1])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=40), min_size=1, max_size=300), st.data())
def test_proofs_verify_property(data_items, data):
    ls = [leaf_hash(d) for d in data_items]
    i = data.draw(st.integers(0, len(ls) - 1))
    assert verify_proof(ls[i], i, len(ls), merkle_proof(ls, i), merkle_root(ls))
