"""The evidence archive: blobs + ledger + signing key, and verification of the whole."""

from __future__ import annotations

import json
import mimetypes
import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from evidence import ledger, merkle
from evidence.blobs import CHUNK, BlobStore, hash_file
from evidence.canonical import canonical_json, clean_metadata, secret_word
from evidence.errors import (EntryNotFound, LedgerError, MetadataError, ProofError,
                             SecretInMetadata, SigningKeyError)
from evidence.keys import key_files, key_id, load_private_key, load_public_key, public_pem
from evidence.model import (LEAF_VERSION, BlobRef, Checkpoint, Entry, Problem,
                            VerificationReport, format_time)

KIND_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
FILE_NAME_RE = re.compile(r"^[^/\\\x00]{1,200}$")
MAX_PROBLEMS_PER_CODE = 50  # a rewritten log would otherwise list every later entry


def _utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc_bound(value: date | datetime | None, *, end: bool) -> datetime | None:
    """A date range bound as a UTC datetime; a bare date ends at the end of that day."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    moment = datetime.combine(value, time.min, tzinfo=UTC)
    return moment + timedelta(days=1) - timedelta(microseconds=1) if end else moment


@dataclass(frozen=True)
class _StoredCheckpoint:
    id: int
    checkpoint: Checkpoint


class EvidenceArchive:
    """The evidence archive of one workspace: blob store, SQL ledger and signing key.

    Open it with :meth:`open`. Every method is safe to call from several threads and processes
    at once (appends are serialised by the database).
    """

    def __init__(self, evidence_dir: Path, engine: Engine,
                 clock: Callable[[], datetime] = _utcnow, *, blobs_dir: Path | None = None,
                 key_file: Path | None = None) -> None:
        self.evidence_dir = Path(evidence_dir)
        self.engine = engine
        self.blobs_dir = Path(blobs_dir) if blobs_dir is not None else self.evidence_dir / "blobs"
        self.blobs = BlobStore(self.blobs_dir)
        self.key_file, self.public_key_file = key_files(self.evidence_dir, key_file)
        self._clock = clock

    @classmethod
    def open(cls, evidence_dir: Path, engine: Engine, *,
             clock: Callable[[], datetime] | None = None, blobs_dir: Path | None = None,
             key_file: Path | None = None) -> EvidenceArchive:
        """Open (creating its folders and tables if needed) the archive at ``evidence_dir``.

        ``clock`` (returning an aware datetime) replaces the system clock, for tests and imports.
        ``blobs_dir`` and ``key_file`` put the blobs and the signing key elsewhere (a folder and a
        key shared by every machine that appends to the same ledger); by default they are
        ``<evidence_dir>/blobs`` and ``<evidence_dir>/keys/signing.key``.
        """
        archive = cls(Path(evidence_dir), engine, clock or _utcnow, blobs_dir=blobs_dir,
                      key_file=key_file)
        archive.blobs_dir.mkdir(parents=True, exist_ok=True)
        ledger.create_schema(engine)
        return archive

    # --- recording -----------------------------------------------------------------------------

    def record(self, kind: str, claim: str | None, actor: str, metadata: dict[str, Any],
               files: Mapping[str, Path | bytes] | None = None) -> Entry:
        """Store ``files`` as blobs and append one event to the ledger; return the entry.

        ``files`` maps a name (``"receipt.pdf"``, ``"step-3.png"``) to a path or bytes.
        Raises :class:`MetadataError` (or :class:`SecretInMetadata`) before anything is written.
        """
        if not KIND_RE.match(kind or ""):
            raise MetadataError("kind", f"{kind!r} is not a dotted lower-case event kind")
        if claim is not None and (not isinstance(claim, str) or not claim.strip()):
            raise MetadataError("claim", "must be a non-empty string or None")
        if not isinstance(actor, str) or not actor.strip():
            raise MetadataError("actor", "must be a non-empty string")
        clean = clean_metadata(dict(metadata))
        files = dict(files or {})
        for name in files:
            if not FILE_NAME_RE.match(name):
                raise MetadataError(f"files/{name}", "a file name without slashes, 1-200 chars")
            word = secret_word(name)
            if word is not None:
                raise SecretInMetadata(f"files/{name}", word)
        refs: dict[str, dict[str, Any]] = {}
        journal = self.blobs.journal() if files else None
        for name, source in sorted(files.items()):
            digest, size = self.blobs.put(source, journal)
            media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
            refs[name] = BlobRef(digest, size, media_type).to_json()

        def make_leaf(index: int) -> tuple[bytes, dict[str, Any]]:
            # the time is taken under the append lock, so times never go backwards along the log
            when = format_time(self._clock())
            leaf = canonical_json({"v": LEAF_VERSION, "index": index, "kind": kind,
                                   "claim": claim, "time": when, "actor": actor,
                                   "metadata": clean, "blobs": refs})
            return leaf, {"kind": kind, "claim": claim, "recorded_at": when}

        _, leaf, leaf_hash = ledger.append(self.engine, make_leaf)
        if journal is not None:   # committed: its blobs are referenced now
            journal.unlink(missing_ok=True)
        return Entry.from_leaf(leaf, leaf_hash)

    def checkpoint(self) -> Checkpoint:
        """Sign and store a checkpoint of the whole log (or return the latest if nothing is new)."""
        key = load_private_key(self.evidence_dir, self.key_file)
        with ledger.write_transaction(self.engine) as conn:
            size, compact = ledger.read_state(conn)
            latest = self._latest(conn)
            if latest is not None and latest.tree_size == size:
                return latest
            cp = Checkpoint(size, merkle.compact_root(compact), format_time(self._clock()),
                            key_id(key.public_key())).signed(key)
            conn.execute(ledger.checkpoints_table.insert().values(
                tree_size=cp.tree_size, root_hash=cp.root_hash, time=cp.time, key_id=cp.key_id,
                signature=cp.signature))
        return cp

    # --- reading -------------------------------------------------------------------------------

    @staticmethod
    def _latest(conn: Any) -> Checkpoint | None:
        t = ledger.checkpoints_table
        row = conn.execute(select(t).order_by(t.c.id.desc()).limit(1)).first()
        return _checkpoint_from_row(row) if row else None

    def latest_checkpoint(self) -> Checkpoint | None:
        """The most recent signed checkpoint, if any."""
        with self._read() as conn:
            return self._latest(conn)

    def checkpoints(self) -> list[Checkpoint]:
        """Every stored checkpoint, oldest first."""
        return [s.checkpoint for s in self._stored_checkpoints()]

    def _stored_checkpoints(self) -> list[_StoredCheckpoint]:
        t = ledger.checkpoints_table
        with self._read() as conn:
            return [_StoredCheckpoint(row.id, _checkpoint_from_row(row))
                    for row in conn.execute(select(t).order_by(t.c.id))]

    def size(self) -> int:
        """The number of entries in the log."""
        with self._read() as conn:
            return ledger.read_state(conn)[0]

    def entries(self, claim: str | None = None, since: date | datetime | None = None,
                until: date | datetime | None = None) -> list[Entry]:
        """The entries (of one claim and/or within a time range, bounds inclusive), in log order."""
        t = ledger.entries_table
        query = select(t.c.leaf, t.c.leaf_hash).order_by(t.c.idx)
        if claim is not None:
            query = query.where(t.c.claim == claim)
        lo, hi = as_utc_bound(since, end=False), as_utc_bound(until, end=True)
        if lo is not None:
            query = query.where(t.c.recorded_at >= format_time(lo))
        if hi is not None:
            query = query.where(t.c.recorded_at <= format_time(hi))
        with self._read() as conn:
            return [Entry.from_leaf(bytes(r.leaf), bytes(r.leaf_hash)) for r in conn.execute(query)]

    def entry(self, index: int) -> Entry:
        """The entry at ``index``."""
        t = ledger.entries_table
        with self._read() as conn:
            row = conn.execute(select(t.c.leaf, t.c.leaf_hash).where(t.c.idx == index)).first()
        if row is None:
            raise EntryNotFound(index)
        return Entry.from_leaf(bytes(row.leaf), bytes(row.leaf_hash))

    def tree(self, size: int | None = None) -> merkle.MerkleTree:
        """The Merkle tree of the first ``size`` stored leaf hashes (default: all)."""
        t = ledger.entries_table
        query = select(t.c.leaf_hash).order_by(t.c.idx)
        if size is not None:
            query = query.where(t.c.idx < size)
        with self._read() as conn:
            hashes = [bytes(h) for (h,) in
                      conn.execution_options(yield_per=10_000).execute(query)]
        return merkle.MerkleTree.from_leaf_hashes(hashes)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """The inclusion proof of entry ``index`` in the log of ``size`` entries (default: all).

        Reads O(log n) cached nodes and at most a few hundred leaf hashes.
        """
        with self._read() as conn:
            return merkle.path_of(ledger.subtree_reader(conn), index, self._size_arg(conn, size))

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """The consistency proof from the log at ``old_size`` to ``new_size`` (default: now)."""
        with self._read() as conn:
            return merkle.consistency_path(ledger.subtree_reader(conn), old_size,
                                           self._size_arg(conn, new_size))

    def root(self, size: int | None = None) -> bytes:
        """The root hash of the log's first ``size`` entries (default: all), from stored hashes."""
        with self._read() as conn:
            size = self._size_arg(conn, size)
            return merkle.EMPTY_ROOT if size == 0 else ledger.subtree_reader(conn)(0, size)

    @staticmethod
    def _size_arg(conn: Any, size: int | None) -> int:
        current = ledger.read_state(conn)[0]
        if size is None:
            return current
        if not 0 <= size <= current:
            raise ProofError(f"tree size {size} is outside 0..{current}")
        return size

    def public_key(self) -> Ed25519PublicKey:
        """The archive's public key (``keys/signing.pub``, or the ``.pub`` beside ``key_file``)."""
        return load_public_key(self.public_key_file)

    def public_key_pem(self) -> bytes:
        """The archive's public key as PEM."""
        return public_pem(self.public_key())

    def _read(self) -> Any:
        return _Reading(self.engine)

    # --- verification --------------------------------------------------------------------------

    def verify(self, claim: str | None = None, *,
               trusted_key: Ed25519PublicKey | Path | bytes | None = None,
               trusted_checkpoints: Iterable[Checkpoint] = ()) -> VerificationReport:
        """Check blobs, leaves, tree, checkpoint signatures and consistency; report every problem.

        The whole log is always checked (the tree needs every leaf); with ``claim`` only that
        claim's blobs are hashed. ``trusted_key`` pins the public key (an auditor's copy; default:
        the workspace's ``signing.pub``). ``trusted_checkpoints`` are checkpoints saved earlier
        (e.g. from an export): each must still be consistent with this log.
        """
        report = VerificationReport(subject=f"evidence archive {self.evidence_dir}"
                                    + (f" (claim {claim})" if claim else ""))
        key = self._verification_key(report, trusted_key)
        tree, referenced = self._verify_ledger(report, claim)
        if claim is not None and not report.checked.get("claim entries"):
            report.warn("claim-unknown", f"claim {claim}", "no evidence recorded for this claim")
        self._verify_checkpoints(report, tree, key, list(trusted_checkpoints))
        self._verify_blobs(report, referenced, all_blobs=claim is None)
        return report

    def _verification_key(self, report: VerificationReport,
                          trusted: Ed25519PublicKey | Path | bytes | None
                          ) -> Ed25519PublicKey | None:
        try:
            workspace_key: Ed25519PublicKey | None = self.public_key()
        except SigningKeyError as err:
            workspace_key = None
            if trusted is None:
                report.fail("key-missing", str(self.public_key_file.parent), str(err))
        key = workspace_key
        if trusted is not None:
            key = trusted if isinstance(trusted, Ed25519PublicKey) else load_public_key(trusted)
            if workspace_key is not None and key_id(workspace_key) != key_id(key):
                report.fail("key-replaced", str(self.public_key_file),
                            f"the workspace public key (id {key_id(workspace_key)}) is not the "
                            f"trusted key (id {key_id(key)})")
        report.key_id = key_id(key) if key is not None else None
        return key

    def _verify_ledger(self, report: VerificationReport, claim: str | None
                       ) -> tuple[merkle.MerkleTree, dict[str, tuple[int, str]]]:
        t = ledger.entries_table
        hashes: list[bytes] = []
        referenced: dict[str, tuple[int, str]] = {}
        seen: dict[str, int] = {}

        def fail(code: str, where: str, message: str) -> None:
            seen[code] = seen.get(code, 0) + 1
            if seen[code] <= MAX_PROBLEMS_PER_CODE:
                report.fail(code, where, message)

        expected = 0
        query = select(t.c.idx, t.c.leaf, t.c.leaf_hash, t.c.kind, t.c.claim,
                       t.c.recorded_at).order_by(t.c.idx)
        with self._read() as conn:
            state_size, compact = ledger.read_state(conn)
            for row in conn.execution_options(yield_per=10_000).execute(query):
                idx, leaf, where = int(row.idx), bytes(row.leaf), f"entry {row.idx}"
                if idx != expected:
                    fail("entry-missing", f"entries {expected}..{idx - 1}",
                         f"{idx - expected} entr{'y' if idx - expected == 1 else 'ies'} missing "
                         "from the ledger (removed)")
                expected = idx + 1
                lh = merkle.leaf_hash(leaf)
                if lh != bytes(row.leaf_hash):
                    fail("entry-altered", where, "leaf bytes no longer match the leaf hash stored "
                         "when the entry was appended")
                hashes.append(lh)
                report.count("entries")
                try:
                    data = json.loads(leaf.decode("utf-8"))
                    if canonical_json(data) != leaf:
                        fail("entry-not-canonical", where, "leaf is not canonical JSON")
                    entry = Entry.from_leaf(leaf, lh)
                except (ValueError, KeyError, TypeError, AttributeError) as err:
                    fail("entry-unreadable", where, f"leaf is not a valid event: {err}")
                    continue
                if entry.index != idx:
                    fail("entry-moved", where, f"leaf records index {entry.index}: entries "
                         "reordered, inserted or removed")
                if (entry.kind, entry.claim, format_time(entry.time)) != (
                        row.kind, row.claim, row.recorded_at):
                    fail("entry-columns", where, "kind/claim/time columns differ from the leaf")
                if claim is not None and entry.claim == claim:
                    report.count("claim entries")
                if claim is None or entry.claim == claim:
                    for name, ref in entry.blobs.items():
                        referenced.setdefault(ref.sha256, (ref.size, f"{where} file {name!r}"))
        tree = merkle.MerkleTree.from_leaf_hashes(hashes)
        nodes = ledger.nodes_table
        with self._read() as conn:
            for row in conn.execution_options(yield_per=10_000).execute(
                    select(nodes.c.height, nodes.c.idx, nodes.c.hash)):
                report.count("cached nodes")
                if tree.node(int(row.height), int(row.idx)) != bytes(row.hash):
                    fail("node-altered", f"evidence_nodes height {row.height} index {row.idx}",
                         "cached subtree hash differs from the leaves' (proofs served from it "
                         "would fail)")
        if state_size != tree.size:
            report.fail("state-size", "evidence_state", f"records {state_size} entries but the "
                        f"ledger holds {tree.size}")
        elif merkle.compact_root(compact) != tree.root():
            report.fail("state-root", "evidence_state", "the stored compact range does not match "
                        "the ledger's leaves")
        return tree, referenced

    def _verify_checkpoints(self, report: VerificationReport, tree: merkle.MerkleTree,
                            key: Ed25519PublicKey | None, trusted: list[Checkpoint]) -> None:
        stored = self._stored_checkpoints()
        n = tree.size
        previous: Checkpoint | None = None
        verified_sizes = [0]  # sizes whose signed root matched the ledger
        for item in stored:
            cp = item.checkpoint
            where = f"checkpoint #{item.id} (size {cp.tree_size}, {cp.time})"
            report.count("checkpoints")
            if key is not None and not cp.signature_valid(key):
                report.fail("checkpoint-signature", where, "signature does not verify with key "
                            f"{key_id(key)}: forged, edited, or signed with another key")
            if previous is not None and (cp.tree_size < previous.tree_size
                                         or cp.time < previous.time):
                report.fail("checkpoint-order", where, f"goes back from size "
                            f"{previous.tree_size} at {previous.time}: the log was truncated")
            if cp.tree_size > n:
                report.fail("checkpoint-size", where, f"signs {cp.tree_size} entries but the "
                            f"ledger holds {n}: entries removed")
            elif tree.root(cp.tree_size) != cp.root_hash:
                good = max(s for s in verified_sizes if s <= cp.tree_size)
                report.fail("checkpoint-root", where, "signed root differs from the ledger's: "
                            f"entries {good}..{cp.tree_size - 1} were changed, removed, reordered "
                            "or inserted")
            else:
                verified_sizes.append(cp.tree_size)
                if previous is not None and previous.tree_size <= cp.tree_size:
                    proof = tree.consistency_proof(previous.tree_size, cp.tree_size)
                    report.count("consistency proofs")
                    if not merkle.verify_consistency(previous.tree_size, cp.tree_size,
                                                     previous.root_hash, cp.root_hash, proof):
                        report.fail("checkpoint-inconsistent", where, "not consistent with the "
                                    f"checkpoint before it (size {previous.tree_size})")
            previous = cp
        latest = stored[-1].checkpoint if stored else None
        report.checkpoint = latest
        for cp in trusted:
            where = f"trusted checkpoint (size {cp.tree_size}, {cp.time})"
            report.count("trusted checkpoints")
            if key is not None and not cp.signature_valid(key):
                report.fail("checkpoint-signature", where, "signature does not verify with key "
                            f"{key_id(key)}")
            if cp.tree_size > n:
                report.fail("checkpoint-size", where, f"signs {cp.tree_size} entries but the "
                            f"ledger holds {n}: entries removed")
                continue
            target = latest.tree_size if latest and latest.tree_size >= cp.tree_size else n
            proof = tree.consistency_proof(cp.tree_size, target)
            if not merkle.verify_consistency(cp.tree_size, target, cp.root_hash,
                                             tree.root(target), proof):
                report.fail("checkpoint-inconsistent", where, "the log is no longer consistent "
                            f"with it: entries before {cp.tree_size} were rewritten")
        covered = latest.tree_size if latest else 0
        if n > covered:
            report.warn("not-checkpointed", f"entries {covered}..{n - 1}",
                        "not yet covered by a signed checkpoint")

    def _verify_blobs(self, report: VerificationReport, referenced: dict[str, tuple[int, str]],
                      all_blobs: bool) -> None:
        for problem in check_blobs(self.blobs, referenced):
            report.problems.append(problem)
        report.count("blobs", len(referenced))
        report.count("blob bytes", sum(size for size, _ in referenced.values()))
        if not all_blobs:
            return
        interrupted = self.blobs.pending()
        for digest, path in self.blobs.files():
            if digest is None:
                report.fail("blob-unexpected", str(path), "a file in the blob store that is not "
                            "named by a SHA-256 digest")
            elif digest not in referenced and digest in interrupted:
                report.warn("blob-interrupted", str(path), "stored by a record that was cut "
                            "short before its ledger entry (e.g. a killed process), or is "
                            "still being recorded; no entry refers to it")
            elif digest not in referenced:
                report.fail("blob-unreferenced", str(path), "no entry refers to this blob "
                            "(added, or left by an interrupted record)")

    # --- export --------------------------------------------------------------------------------

    def export(self, out: Path, claim: str | None = None, since: date | datetime | None = None,
               until: date | datetime | None = None, *, actor: str = "evidence") -> Path:
        """Write a self-contained BagIt bag of the selected entries to ``out``; return ``out``.

        Records an ``evidence.exported`` event, signs a checkpoint covering it, and builds the bag
        in a temporary folder beside ``out`` that is renamed into place when complete. Raises
        :class:`~evidence.errors.ExportExists` if ``out`` exists.
        """
        from evidence.export import build_export

        return build_export(self, Path(out), claim=claim, since=since, until=until, actor=actor)


class _Reading:
    """A read-only connection whose SQLAlchemy errors become :class:`LedgerError`."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def __enter__(self) -> Any:
        try:
            self._cm = self._engine.connect()
            return self._cm.__enter__()
        except SQLAlchemyError as err:
            raise LedgerError(f"evidence ledger read failed: {err}") from err

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self._cm.__exit__(exc_type, exc, tb)
        if isinstance(exc, SQLAlchemyError):
            raise LedgerError(f"evidence ledger read failed: {exc}") from exc


def _checkpoint_from_row(row: Any) -> Checkpoint:
    return Checkpoint(int(row.tree_size), bytes(row.root_hash), row.time, row.key_id,
                      bytes(row.signature))


_local = threading.local()


def _check_one(path: Path, digest: str, size: int) -> str | None:
    buf = getattr(_local, "buf", None)
    if buf is None:
        buf = _local.buf = bytearray(CHUNK)
    try:
        actual, actual_size = hash_file(path, buf)
    except FileNotFoundError:
        return "missing"
    except OSError as err:
        return f"unreadable: {err.strerror}"
    if actual_size != size:
        return f"size {actual_size}, recorded {size}"
    if actual != digest:
        return f"content hashes to {actual}"
    return None


def check_blobs(store: BlobStore, referenced: dict[str, tuple[int, str]]) -> list[Problem]:
    """Hash every referenced blob (in parallel threads: hashlib releases the GIL); return problems.

    ``referenced`` maps digest to (recorded size, where it is referenced).
    """
    items = sorted(referenced.items(), key=lambda kv: -kv[1][0])
    workers = min(8, os.cpu_count() or 2)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(lambda kv: _check_one(store.path(kv[0]), kv[0], kv[1][0]), items))
    problems = []
    for (digest, (_, where)), result in zip(items, results, strict=True):
        if result == "missing":
            problems.append(Problem("blob-missing", f"blob {digest} ({where})",
                                    "not in the blob store (removed)"))
        elif result is not None:
            problems.append(Problem("blob-altered", f"blob {digest} ({where})",
                                    f"{result}: changed or replaced"))
    return sorted(problems, key=lambda p: p.where)


def format_log(entries: Sequence[Entry]) -> list[str]:
    """The timeline as readable lines: index, time, claim, kind, actor, files, metadata."""
    lines = []
    for e in entries:
        files = ", ".join(f"{name} ({ref.size} B)" for name, ref in sorted(e.blobs.items()))
        meta = " ".join(f"{k}={json.dumps(v, ensure_ascii=False)}"
                        for k, v in sorted(e.metadata.items()))
        lines.append(f"#{e.index:<6} {format_time(e.time)[:19].replace('T', ' ')}Z  "
                     f"{e.claim or '-':<14} {e.kind:<28} by {e.actor}"
                     + (f"\n         files: {files}" if files else "")
                     + (f"\n         {meta}" if meta else ""))
    return lines
