"""Signing checkpoints without ever signing a rewritten log.

Before a new checkpoint is signed, the log as it is now must be proven consistent (RFC 9162
§2.1.4) with the last signed checkpoint — the one in the database *and* the one in the
append-only checkpoint file kept beside the signing key, outside the database
(``keys/checkpoints.jsonl``, one checkpoint per line, never rewritten). A rewritten, forked or
truncated log, a tampered state row, or checkpoints deleted from the database stop signing with
:class:`~evidence.errors.LogRewritten` naming where.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, func, insert, select

from evidence import ledger, merkle
from evidence.canonical import canonical_json
from evidence.errors import CheckpointsDeleted, LedgerError, LogRewritten
from evidence.keys import key_id, keys_dir
from evidence.model import Checkpoint, Problem, format_time
from evidence.verifier_core import entry_count, entry_span, open_regular

CHECKPOINT_FILE = "checkpoints.jsonl"
TAIL = 1 << 16  # more than a checkpoint line: where the file's last line is read from


def checkpoint_file(evidence_dir: Path) -> Path:
    """The append-only file of signed checkpoints, beside the signing key."""
    return keys_dir(evidence_dir) / CHECKPOINT_FILE


def read_checkpoint_file(path: Path) -> list[Checkpoint]:
    """Every checkpoint in the file, in file order, each once; a line that is not a signed
    checkpoint, or a file that cannot be read, is a :class:`LedgerError` naming it. (Lines out
    of order or not in their written form are read: :func:`scan_checkpoint_file` reports them.)"""
    saved, problems = scan_checkpoint_file(path)
    for problem in problems:
        if problem.code == "checkpoint-file":
            raise LedgerError(f"{problem.where}: {problem.message}")
    return saved


def scan_checkpoint_file(path: Path) -> tuple[list[Checkpoint], list[Problem]]:
    """Every checkpoint in the file (in file order, each once) and every breach of the file's
    rules (docs/evidence-format.md §3): each line is exactly the canonical JSON the log writes
    and ``\\n`` (``checkpoint-file-form``: no CR, no space, no empty line, not cut short), and
    each checkpoint's tree size is larger, and its time no earlier, than every earlier line's
    (``checkpoint-file-order``). A line repeating an earlier one byte for byte is read once (a
    checkpoint filed both by the next seal and by the process that signed it, before appends
    were ordered). A line that is no signed checkpoint, or a file that cannot be read, is
    ``checkpoint-file``."""
    try:
        with open_regular(path) as f:  # a FIFO put in its place: refused, never waited on
            data = f.read()
    except FileNotFoundError:
        return [], []
    except OSError as err:
        return [], [Problem("checkpoint-file", str(path),
                            f"cannot read the checkpoint file ({err})")]
    out: list[Checkpoint] = []
    problems: list[Problem] = []
    seen: set[bytes] = set()
    top: tuple[int, Checkpoint] | None = None  # the line of the largest checkpoint so far
    lines = data.split(b"\n")
    for n, raw in enumerate(lines, 1):
        last, repeat = n == len(lines), raw in seen
        if (last and not raw) or (repeat and not last):
            continue
        seen.add(raw)
        where = f"{path} line {n}"
        cp, code, why = _checkpoint_line(raw, cut=last)
        if code is not None:
            problems.append(Problem(code, where, why))
        if cp is None or repeat:
            continue
        if top is not None and (cp.tree_size <= top[1].tree_size or cp.time < top[1].time):
            problems.append(Problem(
                "checkpoint-file-order", where, f"tree size {cp.tree_size} ({cp.time}) after "
                f"tree size {top[1].tree_size} ({top[1].time}) on line {top[0]}: lines "
                "reordered, or a checkpoint inserted or forked (each line's tree size is larger, "
                "and its time no earlier, than every line's before it)"))
        if top is None or cp.tree_size > top[1].tree_size:
            top = (n, cp)
        out.append(cp)
    return out, problems


def _checkpoint_line(raw: bytes, *, cut: bool) -> tuple[Checkpoint | None, str | None, str]:
    """(checkpoint, problem code, why) of one line of the checkpoint file (without its ``\\n``;
    ``cut``: the file ends without one)."""
    if not raw.strip():
        return None, "checkpoint-file-form", "an empty line (the log writes none)"
    try:
        cp = Checkpoint.from_json(json.loads(raw.decode("utf-8")))
    except RecursionError:
        return None, "checkpoint-file", "not a signed checkpoint (JSON nested too deeply to read)"
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        return None, "checkpoint-file", f"not a signed checkpoint ({str(err)[:200]})"
    if cut:
        return cp, "checkpoint-file-form", "cut short: no \\n at its end (an interrupted write " \
            "or an edit)"
    if raw.endswith(b"\r"):
        return cp, "checkpoint-file-form", "ends in CR (a CRLF line end): the log writes \\n only"
    if canonical_json(cp.to_json()) != raw:
        return cp, "checkpoint-file-form", "not the canonical JSON the log writes (keys sorted " \
            "and each once, no spaces, no field but its own): reformatted or edited"
    return cp, None, ""


def append_checkpoint_file(path: Path, cp: Checkpoint) -> None:
    """Append ``cp`` to the checkpoint file (created 0600), flushed to disk, unless the file
    already ends with it or with a larger checkpoint (filed by the next seal, which files a
    checkpoint its own process had not filed yet): the file stays in order. Appends are
    serialised by an exclusive lock on the file."""
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "r+b") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)  # released when the file is closed
        if _last_size(f) >= cp.tree_size:
            return
        f.write(canonical_json(cp.to_json()) + b"\n")
        f.flush()
        os.fsync(f.fileno())


def _last_size(f: BinaryIO) -> int:
    """The tree size of the checkpoint file's last line (-1: none, or not readable)."""
    end = f.seek(0, os.SEEK_END)
    f.seek(max(0, end - TAIL))
    lines = f.read().split(b"\n")
    try:
        size = json.loads(lines[-2] if len(lines) > 1 else b"")["tree_size"]
    except (ValueError, KeyError, TypeError, RecursionError):
        return -1
    return size if isinstance(size, int) else -1


def row_checkpoint(row: Any) -> Checkpoint:
    """A checkpoint from its ``evidence_checkpoints`` row (``ValueError``: a malformed cell)."""
    root, sig = ledger.as_bytes(row.root_hash), ledger.as_bytes(row.signature)
    origin = getattr(row, "origin", None)
    key_hash = ledger.as_bytes(getattr(row, "key_hash", None)) or b""
    size = row.tree_size
    if root is None or sig is None or not isinstance(size, int):
        raise ValueError("a cell of the checkpoint row is not of its type")
    return Checkpoint(int(size), root, str(row.time), str(row.key_id),
                      sig, origin, key_hash)


def latest_stored(conn: Connection) -> tuple[int, Checkpoint] | None:
    """(row id, checkpoint) of the newest checkpoint in the database, if any."""
    t = ledger.checkpoints_table
    row = conn.execute(select(t).order_by(t.c.id.desc()).limit(1)).first()
    if row is None:
        return None
    try:
        return int(row.id), row_checkpoint(row)
    except ValueError as err:
        raise LogRewritten(f"checkpoint #{row.id}", str(err)) from err


def seal(conn: Connection, evidence_dir: Path, key: Ed25519PrivateKey,
         clock: Callable[[], datetime], *, every: bool = True) -> tuple[Checkpoint, bool]:
    """Sign a checkpoint of the log as it is (in ``conn``'s write transaction), after proving it
    consistent with every last signed checkpoint. Returns (checkpoint, whether it is new); a new
    one must be appended to the checkpoint file once the transaction commits. ``every``: the
    file witnesses every checkpoint (:func:`files_every_checkpoint`); then one a stopped process
    left unfiled is filed here."""
    size, compact = ledger.read_state(conn)
    subtree = ledger.subtree_reader(conn)
    root = merkle.EMPTY_ROOT if size == 0 else subtree(0, size)
    if root != merkle.compact_root(compact):
        raise LogRewritten("evidence_state", "the stored tree state does not match the entries' "
                           "hashes (edited)")
    saved = read_checkpoint_file(checkpoint_file(evidence_dir))
    stored = latest_stored(conn)
    public = key.public_key()
    references = [("the database", stored[1])] if stored else []
    if saved:
        last = max(saved, key=lambda c: c.tree_size)
        references.append((f"{checkpoint_file(evidence_dir)}", last))
        _check_not_deleted(conn, saved, last)
    for source, cp in references:
        where = f"checkpoint of size {cp.tree_size} ({cp.time}) in {source}"
        if not cp.signature_valid(public):
            raise LogRewritten(where, f"its signature does not verify with key {key_id(public)}")
        _check_consistent(subtree, size, root, cp, where, [c for _, c in references] + saved)
    if every and stored and unfiled([stored[1]], saved) and crash_gap(_all_stored(conn), saved):
        # a stopped process left the newest unfiled (read every row only then)
        append_checkpoint_file(checkpoint_file(evidence_dir), stored[1])
    if stored and stored[1].tree_size == size:
        return stored[1], False
    cp = Checkpoint(size, root, format_time(clock()), key_id(public)).signed(key)
    conn.execute(insert(ledger.checkpoints_table).values(
        tree_size=cp.tree_size, root_hash=cp.root_hash, time=cp.time, key_id=cp.key_id,
        signature=cp.signature, origin=cp.origin, key_hash=cp.key_hash))
    return cp, True


def _check_not_deleted(conn: Connection, saved: list[Checkpoint], last: Checkpoint) -> None:
    t = ledger.checkpoints_table
    count = conn.execute(select(func.count()).select_from(t)).scalar_one()
    found = conn.execute(select(t.c.id).where(t.c.tree_size == last.tree_size,
                                              t.c.root_hash == last.root_hash)).first()
    if found is None:
        raise CheckpointsDeleted(f"checkpoint of size {last.tree_size} ({last.time})",
                                 "signed and kept in the checkpoint file, but no longer in the "
                                 "database: checkpoints were deleted")
    if count < len(saved):
        raise CheckpointsDeleted("evidence_checkpoints", f"holds {count} checkpoints but "
                                 f"{len(saved)} were signed: checkpoints were deleted")


def files_every_checkpoint(evidence_dir: Path, key_file: Path) -> bool:
    """Whether the folder's checkpoint file witnesses every checkpoint of the database: when
    the folder signs with its own key. A fleet shares one key (and ledger) between folders,
    and each folder files only the checkpoints it signed."""
    return Path(key_file).parent == keys_dir(evidence_dir)


def unfiled(stored: Sequence[Checkpoint], saved: Sequence[Checkpoint]) -> list[Checkpoint]:
    """The database's signed checkpoints (``stored``, oldest first) that the checkpoint file
    (``saved``) lacks; legacy (v1) checkpoints predate the file and are never in it."""
    in_file = {(c.tree_size, c.root_hash) for c in saved}
    return [c for c in stored
            if c.origin is not None and (c.tree_size, c.root_hash) not in in_file]


def crash_gap(stored: Sequence[Checkpoint], saved: Sequence[Checkpoint]) -> bool:
    """Only the database's newest checkpoint is missing from the file: the window between its
    commit and its line in the file (a process stopped there). Nothing is hidden by it (the
    database's checkpoint is checked against the ledger) and the next checkpoint files it; any
    other gap is the file cut, replaced or deleted."""
    missing = unfiled(stored, saved)
    return len(missing) == 1 and missing[0] is stored[-1]


def _all_stored(conn: Connection) -> list[Checkpoint]:
    t = ledger.checkpoints_table
    try:
        return [row_checkpoint(row) for row in conn.execute(select(t).order_by(t.c.id))]
    except ValueError as err:
        raise LogRewritten("evidence_checkpoints", str(err)) from err


def _check_consistent(subtree: merkle.Subtree, size: int, root: bytes, cp: Checkpoint,
                      where: str, known: list[Checkpoint]) -> None:
    if cp.tree_size > size:
        raise LogRewritten(where, f"signs {entry_count(cp.tree_size)} but the ledger holds {size}: "
                           "entries were removed")
    if cp.tree_size == size:
        ok = cp.root_hash == root
    else:
        proof = merkle.consistency_path(subtree, cp.tree_size, size)
        ok = merkle.verify_consistency(cp.tree_size, size, cp.root_hash, root, proof)
    if not ok:
        good = max([c.tree_size for c in known if c.tree_size < cp.tree_size
                    and c.tree_size <= size and _root(subtree, c.tree_size) == c.root_hash],
                   default=0)
        raise LogRewritten(where, "the log is not consistent with it: "
                           f"{entry_span(good, cp.tree_size, verb=True)} changed, removed, "
                           "reordered or inserted")


def _root(subtree: merkle.Subtree, size: int) -> bytes:
    return merkle.EMPTY_ROOT if size == 0 else subtree(0, size)
