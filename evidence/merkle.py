"""RFC 9162 (Certificate Transparency v2) Merkle tree hashing, proofs and their verifiers.

Pure functions and one in-memory tree; no I/O. Hashes are raw 32-byte ``bytes``.

* leaf hash ``SHA-256(0x00 || leaf)``, node hash ``SHA-256(0x01 || left || right)``;
  the tree over ``n`` leaves splits at ``k``, the largest power of two below ``n`` (§2.1.1).
* :func:`inclusion_proof` / :func:`verify_inclusion` — RFC 9162 §2.1.3.
* :func:`consistency_proof` / :func:`verify_consistency` — RFC 9162 §2.1.4.
* :class:`MerkleTree` keeps every complete subtree hash (2n hashes, in flat ``bytearray`` levels) so
  any root, inclusion or consistency proof over a prefix is O(log n) after an O(n) build.
* :func:`compact_append` / :func:`compact_root` keep only the O(log n) right edge ("compact
  range"), which is what the ledger stores to sign a checkpoint without reading every leaf.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

from evidence.errors import ProofError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256


def leaf_hash(leaf: bytes) -> bytes:
    """Return the RFC 9162 hash of one leaf: ``SHA-256(0x00 || leaf)``."""
    return _sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 9162 hash of an interior node: ``SHA-256(0x01 || left || right)``."""
    return _sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleTree:
    """An append-only RFC 9162 tree over leaf hashes, keeping every complete subtree hash.

    ``levels[h]`` holds, back to back, the hashes of the complete subtrees of ``2**h`` leaves in
    order; incomplete right edges are combined on demand, so any prefix of the log has its root
    and proofs available.
    """

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._levels: list[bytearray] = [bytearray()]
        self._size = 0
        for h in leaf_hashes:
            self.append(h)

    @classmethod
    def from_leaf_hashes(cls, leaf_hashes: Sequence[bytes]) -> MerkleTree:
        """Build a tree in bulk, one level at a time (several times faster than appending)."""
        if any(len(h) != HASH_SIZE for h in leaf_hashes):
            raise ValueError("a leaf hash is 32 bytes")
        tree = cls()
        level = list(leaf_hashes)
        tree._levels = [bytearray(b"".join(level))]
        tree._size = len(level)
        while len(level) >= 2:
            level = [_sha256(b"\x01" + level[i] + level[i + 1]).digest()
                     for i in range(0, len(level) - 1, 2)]
            tree._levels.append(bytearray(b"".join(level)))
        return tree

    @property
    def size(self) -> int:
        """The number of leaves."""
        return self._size

    def append(self, leaf_hash_: bytes) -> None:
        """Add a leaf (by its hash) on the right."""
        if len(leaf_hash_) != HASH_SIZE:
            raise ValueError("a leaf hash is 32 bytes")
        levels = self._levels
        levels[0] += leaf_hash_
        self._size += 1
        height = 0
        # A level with an even count has just completed a pair: hash it into the level above.
        while (len(levels[height]) // HASH_SIZE) % 2 == 0:
            level = levels[height]
            parent = node_hash(bytes(level[-2 * HASH_SIZE:-HASH_SIZE]), bytes(level[-HASH_SIZE:]))
            if len(levels) == height + 1:
                levels.append(bytearray())
            levels[height + 1] += parent
            height += 1

    def leaf(self, index: int) -> bytes:
        """The hash of leaf ``index``."""
        if not 0 <= index < self._size:
            raise ProofError(f"leaf {index} is outside a tree of {self._size} leaves")
        return bytes(self._levels[0][index * HASH_SIZE:(index + 1) * HASH_SIZE])

    def _subtree(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) for a range that is a node of the RFC tree (``start`` aligned)."""
        width = end - start
        if width & (width - 1) == 0:  # a complete subtree: stored
            height = width.bit_length() - 1
            at = (start >> height) * HASH_SIZE
            return bytes(self._levels[height][at:at + HASH_SIZE])
        k = _split(width)
        return node_hash(self._subtree(start, start + k), self._subtree(start + k, end))

    def _check_size(self, size: int | None) -> int:
        if size is None:
            return self._size
        if not 0 <= size <= self._size:
            raise ProofError(f"tree size {size} is outside 0..{self._size}")
        return size

    def root(self, size: int | None = None) -> bytes:
        """The root hash of the first ``size`` leaves (default: all)."""
        size = self._check_size(size)
        return EMPTY_ROOT if size == 0 else self._subtree(0, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """The audit path of leaf ``index`` in the tree of the first ``size`` leaves."""
        return path_of(self._subtree, index, self._check_size(size))

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """The proof that the tree of ``old_size`` leaves is a prefix of the one of ``new_size``."""
        return consistency_path(self._subtree, old_size, self._check_size(new_size))

    def node(self, height: int, index: int) -> bytes | None:
        """The hash of the ``index``-th complete subtree of ``2**height`` leaves, if it exists."""
        if height >= len(self._levels) or (index + 1) * HASH_SIZE > len(self._levels[height]):
            return None
        return bytes(self._levels[height][index * HASH_SIZE:(index + 1) * HASH_SIZE])


Subtree = Callable[[int, int], bytes]
"""``subtree(start, end)`` returns MTH(D[start:end]) for a range that is a node of the tree."""


def path_of(subtree: Subtree, index: int, size: int) -> list[bytes]:
    """The inclusion proof of leaf ``index`` in a tree of ``size`` leaves (RFC 9162 §2.1.3.1),
    reading subtree hashes from ``subtree``."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is outside a tree of {size} leaves")
    path: list[bytes] = []
    start, end = 0, size
    # Walk down from the root; each sibling is collected root-side first, then reversed.
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            path.append(subtree(start + k, end))
            end = start + k
        else:
            path.append(subtree(start, start + k))
            start = start + k
    path.reverse()
    return path


def consistency_path(subtree: Subtree, old_size: int, new_size: int) -> list[bytes]:
    """The consistency proof from ``old_size`` to ``new_size`` leaves (RFC 9162 §2.1.4.1),
    reading subtree hashes from ``subtree``."""
    if not 0 <= old_size <= new_size:
        raise ProofError(f"cannot prove size {old_size} consistent with size {new_size}")
    if old_size == 0 or old_size == new_size:
        return []
    proof: list[bytes] = []
    m, start, end, complete = old_size, 0, new_size, True
    # SUBPROOF, unrolled; nodes collected root-side first, then reversed.
    while True:
        width = end - start
        if m == width:
            if not complete:
                proof.append(subtree(start, end))
            break
        k = _split(width)
        if m <= k:
            proof.append(subtree(start + k, end))
            end = start + k
        else:
            proof.append(subtree(start, start + k))
            start, m, complete = start + k, m - k, False
    proof.reverse()
    return proof


def subtree_from(lookup: Callable[[int, int], bytes | None],
                 leaves: Callable[[int, int], Sequence[bytes]], min_height: int) -> Subtree:
    """A ``subtree`` function over stored nodes: ``lookup(height, index)`` gives a cached complete
    subtree (or None), ``leaves(start, end)`` the leaf hashes of a range. Ranges of up to
    ``2**min_height`` leaves are hashed from their leaves; larger ones come from the cache."""
    def subtree(start: int, end: int) -> bytes:
        width = end - start
        if width & (width - 1) == 0:
            height = width.bit_length() - 1
            if height >= min_height:
                cached = lookup(height, start >> height)
                if cached is not None:
                    return cached
            if height <= min_height:
                return MerkleTree.from_leaf_hashes(leaves(start, end)).root()
        k = _split(width)
        return node_hash(subtree(start, start + k), subtree(start + k, end))
    return subtree


def root_hash(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH over the given leaf hashes (RFC 9162 §2.1.1), in O(log n) memory."""
    stack: list[bytes] = []
    for size, h in enumerate(leaf_hashes):
        stack = compact_append(stack, size, h)
    return compact_root(stack)


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int, size: int | None = None
                    ) -> list[bytes]:
    """The RFC 9162 inclusion proof of leaf ``index`` in the tree of the first ``size`` leaves."""
    size = len(leaf_hashes) if size is None else size
    if not 0 <= size <= len(leaf_hashes):
        raise ProofError(f"tree size {size} is outside 0..{len(leaf_hashes)}")
    return MerkleTree.from_leaf_hashes(leaf_hashes[:size]).inclusion_proof(index)


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int, new_size: int | None = None
                      ) -> list[bytes]:
    """The RFC 9162 consistency proof between the trees of ``old_size`` and ``new_size`` leaves."""
    new_size = len(leaf_hashes) if new_size is None else new_size
    if not 0 <= new_size <= len(leaf_hashes):
        raise ProofError(f"tree size {new_size} is outside 0..{len(leaf_hashes)}")
    return MerkleTree.from_leaf_hashes(leaf_hashes[:new_size]).consistency_proof(old_size)


def root_from_inclusion_proof(leaf_hash_: bytes, index: int, size: int,
                              proof: Sequence[bytes]) -> bytes | None:
    """The root an inclusion proof leads to (RFC 9162 §2.1.3.2), or None if it is malformed."""
    if not 0 <= index < size or any(len(p) != HASH_SIZE for p in proof):
        return None
    fn, sn, r = index, size - 1, leaf_hash_
    for p in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def verify_inclusion(leaf_hash_: bytes, index: int, size: int, proof: Sequence[bytes],
                     root: bytes) -> bool:
    """True when ``proof`` shows leaf hash ``leaf_hash_`` at ``index`` in the tree ``root``."""
    return root_from_inclusion_proof(leaf_hash_, index, size, proof) == root


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes,
                       proof: Sequence[bytes]) -> bool:
    """True when ``proof`` shows the tree ``old_root`` is a prefix of ``new_root`` (§2.1.4.2)."""
    if not 0 <= old_size <= new_size or any(len(p) != HASH_SIZE for p in proof):
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof  # the empty tree is a prefix of every tree
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # old tree is a complete subtree: its root is implied
        path.insert(0, old_root)
    if not path:
        return False
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0


def compact_append(compact: Sequence[bytes], size: int, leaf_hash_: bytes) -> list[bytes]:
    """Append a leaf to a compact range (the complete subtrees' roots of a tree of ``size``)."""
    return compact_append_nodes(compact, size, leaf_hash_)[0]


def compact_append_nodes(compact: Sequence[bytes], size: int, leaf_hash_: bytes
                         ) -> tuple[list[bytes], list[tuple[int, int, bytes]]]:
    """:func:`compact_append`, also returning the subtrees it completed as (height, index, hash)."""
    out = list(compact)
    out.append(leaf_hash_)
    made: list[tuple[int, int, bytes]] = []
    s, height = size, 0
    while s & 1:  # each trailing 1 bit of the old size completes one more subtree
        right = out.pop()
        out[-1] = node_hash(out[-1], right)
        height += 1
        made.append((height, ((size + 1) >> height) - 1, out[-1]))
        s >>= 1
    return out, made


def compact_root(compact: Sequence[bytes]) -> bytes:
    """The root hash of the tree whose compact range is ``compact``."""
    if not compact:
        return EMPTY_ROOT
    root = compact[-1]
    for h in reversed(compact[:-1]):
        root = node_hash(h, root)
    return root
