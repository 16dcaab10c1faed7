"""RFC 9162 tree hashing against the published RFC 6962 test vectors, and proof properties."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evidence import merkle
from evidence.errors import ProofError

# The test vectors published with the RFC 6962 reference implementation (certificate-transparency,
# also in transparency-dev/merkle testdata and Chromium's ct_test_util): leaves, roots of sizes
# 1..8, inclusion paths (0-based leaf index) and consistency proofs.
LEAVES = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f")]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
INCLUSION = [
    (0, 1, []),
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]
CONSISTENCY = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]
HASHES = [merkle.leaf_hash(leaf) for leaf in LEAVES]


def h(i: int) -> bytes:
    return hashlib.sha256(i.to_bytes(8, "big")).digest()


def test_empty_tree_root_is_sha256_of_nothing() -> None:
    assert merkle.EMPTY_ROOT.hex() == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    assert merkle.root_hash([]) == merkle.MerkleTree().root() == merkle.EMPTY_ROOT


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_match_rfc6962_vectors(size: int) -> None:
    assert merkle.root_hash(HASHES[:size]).hex() == ROOTS[size - 1]
    assert merkle.MerkleTree(HASHES).root(size).hex() == ROOTS[size - 1]


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_inclusion_proofs_match_rfc6962_vectors(index: int, size: int, path: list[str]) -> None:
    proof = merkle.inclusion_proof(HASHES, index, size)
    assert [p.hex() for p in proof] == path
    root = bytes.fromhex(ROOTS[size - 1])
    assert merkle.verify_inclusion(HASHES[index], index, size, proof, root)


@pytest.mark.parametrize(("old", "new", "path"), CONSISTENCY)
def test_consistency_proofs_match_rfc6962_vectors(old: int, new: int, path: list[str]) -> None:
    proof = merkle.consistency_proof(HASHES, old, new)
    assert [p.hex() for p in proof] == path
    assert merkle.verify_consistency(old, new, bytes.fromhex(ROOTS[old - 1]),
                                     bytes.fromhex(ROOTS[new - 1]), proof)


def test_proofs_outside_the_tree_are_refused() -> None:
    tree = merkle.MerkleTree(HASHES)
    with pytest.raises(ProofError):
        tree.inclusion_proof(8)
    with pytest.raises(ProofError):
        tree.inclusion_proof(0, 9)
    with pytest.raises(ProofError):
        tree.consistency_proof(5, 4)


def test_compact_range_gives_the_same_roots_as_the_full_tree() -> None:
    tree = merkle.MerkleTree()
    compact: list[bytes] = []
    for i in range(300):
        assert merkle.compact_root(compact) == tree.root()
        compact = merkle.compact_append(compact, i, h(i))
        tree.append(h(i))
        assert len(compact) == bin(i + 1).count("1")


# --- properties over every tree size up to a few hundred --------------------------------------
TREE = merkle.MerkleTree([h(i) for i in range(400)])


def _flip(b: bytes) -> bytes:
    return bytes([b[0] ^ 1]) + b[1:]


@settings(max_examples=200, deadline=None)
@given(data=st.data(), size=st.integers(1, 400))
def test_inclusion_proofs_verify_and_corruptions_are_rejected(data: st.DataObject, size: int
                                                             ) -> None:
    index = data.draw(st.integers(0, size - 1))
    root = TREE.root(size)
    assert root == merkle.root_hash([h(i) for i in range(size)])
    proof = TREE.inclusion_proof(index, size)
    assert len(proof) <= (size - 1).bit_length()
    assert merkle.verify_inclusion(h(index), index, size, proof, root)
    # wrong index, wrong size, wrong leaf, altered path, truncated or extended path
    other = data.draw(st.integers(0, size - 1).filter(lambda i: i != index)) if size > 1 else None
    if other is not None:
        assert not merkle.verify_inclusion(h(index), other, size, proof, root)
        assert not merkle.verify_inclusion(h(other), index, size, proof, root)
    # A proof does not bind the size on its own when two sizes give the path the same shape (RFC
    # 9162 leaves that to the signed tree head), so a wrong size is checked two ways: against the
    # root of that size, and with a different tree height against the same root.
    wrong_size = data.draw(st.integers(1, 400).filter(lambda s: s != size))
    assert not merkle.verify_inclusion(h(index), index, wrong_size, proof, TREE.root(wrong_size))
    for other_height in (size * 2, size // 2):
        assert not merkle.verify_inclusion(h(index), index, other_height, proof, root)
    if proof:
        at = data.draw(st.integers(0, len(proof) - 1))
        bad = list(proof)
        bad[at] = _flip(bad[at])
        assert not merkle.verify_inclusion(h(index), index, size, bad, root)
        assert not merkle.verify_inclusion(h(index), index, size, proof[:-1], root)
    assert not merkle.verify_inclusion(h(index), index, size, [*proof, h(0)], root)
    assert not merkle.verify_inclusion(h(index), index, size, proof, _flip(root))


@settings(max_examples=200, deadline=None)
@given(data=st.data(), new=st.integers(1, 400))
def test_consistency_proofs_verify_and_corruptions_are_rejected(data: st.DataObject, new: int
                                                               ) -> None:
    old = data.draw(st.integers(1, new))
    old_root, new_root = TREE.root(old), TREE.root(new)
    proof = TREE.consistency_proof(old, new)
    assert proof == merkle.consistency_proof([h(i) for i in range(new)], old)
    assert merkle.verify_consistency(old, new, old_root, new_root, proof)
    assert len(proof) <= 2 * (new - 1).bit_length()
    if old == new:
        assert proof == []
        return
    # a rewritten old tree, a wrong size, an altered or shortened path
    assert not merkle.verify_consistency(old, new, _flip(old_root), new_root, proof)
    assert not merkle.verify_consistency(old, new, old_root, _flip(new_root), proof)
    wrong = data.draw(st.integers(1, new).filter(lambda s: s != old))
    assert not merkle.verify_consistency(wrong, new, TREE.root(wrong), new_root, proof)
    wrong_new = data.draw(st.integers(old, 400).filter(lambda s: s != new))
    assert not merkle.verify_consistency(old, wrong_new, old_root, TREE.root(wrong_new), proof)
    assert not merkle.verify_consistency(old, new * 2, old_root, new_root, proof)
    at = data.draw(st.integers(0, len(proof) - 1))
    bad = list(proof)
    bad[at] = _flip(bad[at])
    assert not merkle.verify_consistency(old, new, old_root, new_root, bad)
    assert not merkle.verify_consistency(old, new, old_root, new_root, proof[:-1])
    assert not merkle.verify_consistency(old, new, old_root, new_root, [*proof, h(0)])


def test_every_leaf_of_every_tree_up_to_300_proves_its_inclusion() -> None:
    for size in range(1, 301):
        root = TREE.root(size)
        for index in range(size):
            proof = TREE.inclusion_proof(index, size)
            assert merkle.verify_inclusion(h(index), index, size, proof, root), (index, size)
            if index:
                assert not merkle.verify_inclusion(h(index), index - 1, size, proof, root)


@pytest.mark.parametrize("new", range(1, 65))
def test_consistency_for_every_pair_of_small_sizes(new: int) -> None:
    for old in range(0, new + 1):
        proof = TREE.consistency_proof(old, new)
        assert merkle.verify_consistency(old, new, TREE.root(old), TREE.root(new), proof)
        # a tree that differs in its first `old` leaves is not a prefix
        if old:
            forged = merkle.MerkleTree([_flip(h(0)), *(h(i) for i in range(1, new))])
            assert not merkle.verify_consistency(old, new, forged.root(old), TREE.root(new), proof)


def test_bulk_built_trees_equal_appended_ones_and_keep_growing() -> None:
    grown = merkle.MerkleTree()
    for n in range(0, 300):
        bulk = merkle.MerkleTree.from_leaf_hashes([h(i) for i in range(n)])
        assert bulk._levels == grown._levels and bulk.root() == grown.root()
        bulk.append(h(n))
        grown.append(h(n))
        assert bulk.root() == grown.root() == TREE.root(n + 1)
    with pytest.raises(ValueError):
        merkle.MerkleTree.from_leaf_hashes([b"short"])
