"""Merkle trees over a block's transactions, with inclusion proofs (RFC 6962 shape).

Leaf and interior hashes use different domain tags, so a leaf can never pose as an interior node
(the second-preimage attack on naive Merkle trees). A tree of n leaves splits at the largest power
of two below n, as in Certificate Transparency, so proofs are at most ceil(log2 n) hashes.
"""

from __future__ import annotations

from collections.abc import Sequence

from aurigraph.crypto import Tag, digest

EMPTY_ROOT = digest(Tag.MERKLE_NODE)


def leaf_hash(data: bytes) -> bytes:
    return digest(Tag.MERKLE_LEAF, data)


def _node(left: bytes, right: bytes) -> bytes:
    return digest(Tag.MERKLE_NODE, left, right)


def _split(n: int) -> int:
    """Largest power of two strictly less than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """Root over already-hashed leaves (`leaf_hash`). Iterative: pairs up level by level."""
    if not leaves:
        return EMPTY_ROOT
    return _root(list(leaves))


def _root(hashes: list[bytes]) -> bytes:
    n = len(hashes)
    if n == 1:
        return hashes[0]
    k = _split(n)
    return _node(_root(hashes[:k]), _root(hashes[k:]))


def merkle_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """Audit path for `leaves[index]`, from the leaf's sibling up to the root's children."""
    if not 0 <= index < len(leaves):
        raise IndexError(f"leaf index {index} out of range for {len(leaves)} leaves")
    path: list[bytes] = []
    hashes = list(leaves)
    while len(hashes) > 1:
        k = _split(len(hashes))
        if index < k:
            path.append(_root(hashes[k:]))
            hashes = hashes[:k]
        else:
            path.append(_root(hashes[:k]))
            hashes, index = hashes[k:], index - k
    path.reverse()
    return path


def merkle_proofs(leaves: Sequence[bytes]) -> list[list[bytes]]:
    """Every leaf's audit path (each as `merkle_proof` gives it), in O(n log n) instead of O(n^2)."""
    proofs: list[list[bytes]] = [[] for _ in leaves]

    def subtree(lo: int, hi: int) -> bytes:  # the root of leaves[lo:hi]; extends their paths
        if hi - lo == 1:
            return leaves[lo]
        k = lo + _split(hi - lo)
        left, right = subtree(lo, k), subtree(k, hi)
        for i in range(lo, k):
            proofs[i].append(right)
        for i in range(k, hi):
            proofs[i].append(left)
        return _node(left, right)

    if leaves:
        subtree(0, len(leaves))
    return proofs


def verify_proof(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """True if `leaf` (a leaf hash) is at `index` in a tree of `size` leaves with this `root`."""
    if not 0 <= index < size:
        return False
    # Recompute the descent from the top to know, at each level, which side the leaf was on.
    sides: list[bool] = []  # True: the sibling is on the right
    n, i = size, index
    while n > 1:
        k = _split(n)
        if i < k:
            sides.append(True)
            n = k
        else:
            sides.append(False)
            n, i = n - k, i - k
    if len(sides) != len(proof):
        return False
    h = leaf
    for sibling, sibling_on_right in zip(proof, reversed(sides)):
        h = _node(h, sibling) if sibling_on_right else _node(sibling, h)
    return h == root
