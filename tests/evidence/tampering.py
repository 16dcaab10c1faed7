"""What an attacker with write access to the database and the files would do (test helpers)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, delete, insert, select, update

from evidence import EvidenceArchive, ledger, merkle
from evidence.canonical import canonical_json
from evidence.keys import key_id
from evidence.model import Checkpoint, format_time


def leaves(engine: Engine) -> list[bytes]:
    t = ledger.entries_table
    with engine.connect() as conn:
        return [bytes(r.leaf) for r in conn.execute(select(t.c.leaf).order_by(t.c.idx))]


def edit_leaf(leaf: bytes, **changes: object) -> bytes:
    data = json.loads(leaf)
    for k, v in changes.items():
        if k == "metadata":
            data["metadata"].update(v)  # type: ignore[arg-type]
        else:
            data[k] = v
    return canonical_json(data)


def set_row(engine: Engine, idx: int, leaf: bytes, *, rehash: bool) -> None:
    """Overwrite one entry's leaf; with ``rehash`` also its stored leaf hash (careful attacker)."""
    t = ledger.entries_table
    values: dict[str, object] = {"leaf": leaf}
    if rehash:
        values["leaf_hash"] = merkle.leaf_hash(leaf)
    with engine.begin() as conn:
        conn.execute(update(t).where(t.c.idx == idx).values(**values))


def rechain(all_leaves: list[bytes]) -> list[bytes]:
    """What a careful forger does after editing leaves: make each event of a claim name the
    (new) leaf hash of the claim's previous event again."""
    heads: dict[str, bytes] = {}
    out = []
    for leaf in all_leaves:
        data = json.loads(leaf)
        if data.get("v", 1) >= 2 and data["claim"] is not None:
            previous = heads.get(data["claim"])
            data["prev_claim_leaf"] = previous.hex() if previous else None
            leaf = canonical_json(data)
        if data["claim"] is not None:
            heads[data["claim"]] = merkle.leaf_hash(leaf)
        out.append(leaf)
    return out


def rewrite_log(engine: Engine, new_leaves: list[bytes], key: Ed25519PrivateKey | None,
                *, keep_checkpoints: bool = False) -> Checkpoint | None:
    """Replace the whole ledger with ``new_leaves``, consistently: hashes, columns, state.

    Re-chains each claim's events, drops the checkpoints (unless ``keep_checkpoints``) and,
    given a key, signs a fresh one."""
    new_leaves = rechain(new_leaves)
    e, c, s = ledger.entries_table, ledger.checkpoints_table, ledger.state_table
    compact: list[bytes] = []
    with engine.begin() as conn:
        conn.execute(delete(e))
        conn.execute(delete(ledger.nodes_table))
        for i, leaf in enumerate(new_leaves):
            data = json.loads(leaf)
            conn.execute(insert(e).values(idx=i, leaf=leaf, leaf_hash=merkle.leaf_hash(leaf),
                                          kind=data["kind"], claim=data["claim"],
                                          recorded_at=data["time"]))
            compact, made = merkle.compact_append_nodes(compact, i, merkle.leaf_hash(leaf))
            for height, index, node in made:
                if height >= ledger.NODE_MIN_HEIGHT:
                    conn.execute(insert(ledger.nodes_table).values(height=height, idx=index,
                                                                   hash=node))
        conn.execute(update(s).values(size=len(new_leaves), compact=b"".join(compact)))
        if not keep_checkpoints:
            conn.execute(delete(c))
        if key is None:
            return None
        cp = Checkpoint(len(new_leaves), merkle.compact_root(compact),
                        format_time(datetime.now(UTC)),
                        key_id(key.public_key())).signed(key)
        conn.execute(insert(c).values(tree_size=cp.tree_size, root_hash=cp.root_hash,
                                      time=cp.time, key_id=cp.key_id, signature=cp.signature,
                                      origin=cp.origin, key_hash=cp.key_hash))
    return cp


def flip_byte(path: Path, at: int | None = None) -> None:
    """Flip one bit of one byte of a file (the middle byte by default)."""
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    at = len(data) // 2 if at is None else at
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def blob_paths(archive: EvidenceArchive) -> list[tuple[str, Path]]:
    return [(d, p) for d, p in archive.blobs.files() if d is not None]


def refile_checkpoints(evidence_dir: Path, checkpoints: list[Checkpoint | None]) -> None:
    """Rewrite the checkpoint file kept outside the database with ``checkpoints`` (what an
    attacker holding the whole machine does after :func:`rewrite_log`)."""
    path = evidence_dir / "keys" / "checkpoints.jsonl"
    path.write_bytes(b"".join(canonical_json(cp.to_json()) + b"\n"
                              for cp in checkpoints if cp is not None))


def recompute_manifests(bag: Path) -> None:
    """What a careful tamperer does after editing a bag: make its BagIt manifests match again."""
    payload = sorted(p for p in (bag / "data").rglob("*") if p.is_file())
    (bag / "manifest-sha256.txt").write_text("".join(
        f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(bag).as_posix()}\n"
        for p in payload))
    info = (bag / "bag-info.txt").read_text().splitlines()
    oxum = f"{sum(p.stat().st_size for p in payload)}.{len(payload)}"
    (bag / "bag-info.txt").write_text("\n".join(
        f"Payload-Oxum: {oxum}" if line.startswith("Payload-Oxum") else line for line in info)
        + "\n")
    if (bag / "tagmanifest-sha256.txt").exists():
        recompute_tags(bag)


def recompute_tags(bag: Path) -> None:
    """Make the tag manifest match the tag files again (after editing one of them)."""
    (bag / "tagmanifest-sha256.txt").write_text("".join(
        f"{hashlib.sha256((bag / n).read_bytes()).hexdigest()}  {n}\n"
        for n in ("bagit.txt", "bag-info.txt", "manifest-sha256.txt", "verify.py")))
