"""The evidence archive: blobs + ledger + signing key + witnesses."""

from __future__ import annotations

import json
import mimetypes
import re
from contextlib import ExitStack
from dataclasses import dataclass
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.exc import SQLAlchemyError

from evidence import auditing, ledger, merkle, note, sealing
from evidence.batch import BlobBatch, Staged, flush_batches
from evidence.blobs import BlobStore
from evidence.canonical import canonical_json, clean_metadata, secret_word
from evidence.errors import (EntryNotFound, LedgerError, MetadataError, ProofError,
                             SecretInMetadata, WitnessError)
from evidence.export import build_export
from evidence.keys import key_files, load_private_key, load_public_key, public_pem
from evidence.model import (LEAF_VERSION, BlobRef, Checkpoint, Entry, VerificationReport,
                            as_utc_bound, format_time)
from evidence.witness import WitnessEndpoint, add_checkpoint

KIND_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
FILE_NAME_RE = re.compile(r"^[^/\\\x00]{1,200}$")


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Record:
    """One event for :meth:`EvidenceArchive.record_many` (the arguments of ``record``)."""

    kind: str
    claim: str | None
    actor: str
    metadata: dict[str, Any]
    files: Mapping[str, Path | bytes | Staged] | None = None
    batch: BlobBatch | None = None


class EvidenceArchive:
    """The evidence archive of one workspace: blob store, SQL ledger, signing key, witnesses.

    Open it with :meth:`open`. Every method is safe to call from several threads and processes
    at once (appends are serialised by the database).
    """

    def __init__(self, evidence_dir: Path, engine: Engine,
                 clock: Callable[[], datetime] = _utcnow,
                 witnesses: Sequence[WitnessEndpoint] = (), *, blobs_dir: Path | None = None,
                 key_file: Path | None = None) -> None:
        self.evidence_dir = Path(evidence_dir)
        self.engine = engine
        self.blobs_dir = Path(blobs_dir) if blobs_dir is not None else self.evidence_dir / "blobs"
        self.blobs = BlobStore(self.blobs_dir)
        self.key_file, self.public_key_file = key_files(self.evidence_dir, key_file)
        self._clock = clock
        self.witnesses = list(witnesses)
        #: what the witnesses answered at the last checkpoint: (name, problem) for each refusal
        self.witness_problems: list[WitnessError] = []

    @classmethod
    def open(cls, evidence_dir: Path, engine: Engine, *,
             clock: Callable[[], datetime] | None = None,
             witnesses: Sequence[WitnessEndpoint] = (),
             create_tables: bool = True, blobs_dir: Path | None = None,
             key_file: Path | None = None) -> EvidenceArchive:
        """Open the archive at ``evidence_dir`` (creating its folders, and its tables unless
        ``create_tables`` is false: a database migrated by Alembic has them).

        ``clock`` (returning an aware datetime) replaces the system clock, for tests and imports;
        each new checkpoint is sent to ``witnesses`` for their cosignatures. ``blobs_dir`` and
        ``key_file`` put the blobs and the signing key elsewhere (a folder and a key shared by
        every machine that appends to the same ledger); by default they are
        ``<evidence_dir>/blobs`` and ``<evidence_dir>/keys/signing.key``.
        """
        archive = cls(Path(evidence_dir), engine, clock or _utcnow, witnesses,
                      blobs_dir=blobs_dir, key_file=key_file)
        archive.blobs_dir.mkdir(parents=True, exist_ok=True)
        if create_tables:
            ledger.create_schema(engine)
        return archive

    # --- recording -----------------------------------------------------------------------------

    def record(self, kind: str, claim: str | None, actor: str, metadata: dict[str, Any],
               files: Mapping[str, Path | bytes | Staged] | None = None, *,
               seal: bool = False, batch: BlobBatch | None = None,
               within: Callable[[Connection], Any] | None = None) -> Entry:
        """Store ``files`` as blobs and append one event to the ledger; return the entry.

        ``files`` maps a name (``"receipt.pdf"``, ``"step-3.png"``) to a path, bytes, or a
        :class:`Staged` blob of ``batch`` (see :meth:`blob_batch`). The blobs are written
        together and made durable with one flush before the entry is committed. The event
        names the leaf hash of its claim's previous event (``prev_claim_leaf``). With ``seal`` a
        checkpoint ending with this event is signed in the same transaction (and sent to the
        witnesses). Raises :class:`MetadataError` (or :class:`SecretInMetadata`) before anything
        is written, and :class:`~evidence.errors.LogRewritten` if sealing finds a rewritten log.

        ``within(conn)`` runs in the entry's own transaction, once the entry is in: the caller's
        write that must commit with the entry or not at all (e.g. a claim's status), in one
        commit instead of two. Whatever it raises rolls the entry back and is raised as is.
        """
        return self.record_many([Record(kind, claim, actor, metadata, files, batch)],
                                seal=seal, within=within)[0]

    def record_many(self, records: Sequence[Record], *, seal: bool = False,
                    within: Callable[[Connection], Any] | None = None) -> list[Entry]:
        """:meth:`record` for each of ``records`` at once: each checked before anything is
        written, every blob made durable by one flush and named in one journal, the events
        appended in order in one transaction (all or none; with ``seal`` the checkpoint ends
        with the last; ``within`` as :meth:`record` has it, once the last is in). Returns the
        entries in order."""
        cleaned = [self._checked(r) for r in records]
        journal: list[Path] = []

        def one_journal() -> Path:
            if not journal:
                journal.append(self.blobs.journal())
            return journal[0]

        # the blobs go in first, journalled, so that a record cut short (a killed process)
        # leaves blobs that verify reports as interrupted rather than as unexplained
        with ExitStack() as stack:
            batches = [stack.enter_context(r.batch or BlobBatch(self.blobs)) for r in records]
            refs = [self._store_files(dict(r.files or {}), b)
                    for r, b in zip(records, batches, strict=True)]
            flush_batches(batches)   # one flush for them all
            for b in batches:
                b.commit(one_journal)   # journalled, then linked

        def after(conn: Connection) -> Any:
            if within is not None:
                within(conn)
            return self._seal_in(conn) if seal else None

        appended, sealed = ledger.append_many(
            self.engine, [(r.claim, self._leaf_maker(r, clean, ref))
                          for r, clean, ref in zip(records, cleaned, refs, strict=True)],
            after=after if seal or within else None)
        for path in journal:   # committed: its blobs are referenced now
            path.unlink(missing_ok=True)
        if sealed is not None:
            self._after_seal(*sealed)
        return [Entry.from_leaf(leaf, leaf_hash) for _, leaf, leaf_hash in appended]

    @staticmethod
    def _checked(r: Record) -> dict[str, Any]:
        """``r``'s metadata cleaned, once its kind, claim and actor are checked."""
        if not KIND_RE.match(r.kind or ""):
            raise MetadataError("kind", f"{r.kind!r} is not a dotted lower-case event kind")
        if r.claim is not None and (not isinstance(r.claim, str) or not r.claim.strip()):
            raise MetadataError("claim", "must be a non-empty string or None")
        if not isinstance(r.actor, str) or not r.actor.strip():
            raise MetadataError("actor", "must be a non-empty string")
        return clean_metadata(dict(r.metadata))

    def _leaf_maker(self, r: Record, clean: dict[str, Any],
                    refs: dict[str, dict[str, Any]]) -> ledger.MakeLeaf:
        def make_leaf(index: int, previous: bytes | None) -> tuple[bytes, dict[str, Any]]:
            # the time is taken under the append lock, so times never go backwards along the log
            when = format_time(self._clock())
            leaf = canonical_json({"v": LEAF_VERSION, "index": index, "kind": r.kind,
                                   "claim": r.claim, "time": when, "actor": r.actor,
                                   "metadata": clean, "blobs": refs,
                                   "prev_claim_leaf": previous.hex() if previous else None})
            return leaf, {"kind": r.kind, "claim": r.claim, "recorded_at": when}
        return make_leaf

    def blob_batch(self) -> BlobBatch:
        """A batch to stage a record's blobs in (a context manager: what is not committed by
        :meth:`record` is removed on exit)."""
        return BlobBatch(self.blobs)

    def _store_files(self, files: dict[str, Path | bytes | Staged],
                     batch: BlobBatch) -> dict[str, dict[str, Any]]:
        for name in files:
            if not FILE_NAME_RE.match(name):
                raise MetadataError(f"files/{name}", "a file name without slashes, 1-200 chars")
            word = secret_word(name)
            if word is not None:
                raise SecretInMetadata(f"files/{name}", word)
        refs: dict[str, dict[str, Any]] = {}
        for name, source in sorted(files.items()):
            staged = source if isinstance(source, Staged) else batch.add(source)
            if not batch.stored(staged.digest):
                raise MetadataError(f"files/{name}", "a staged blob that is not in the batch")
            digest, size = staged.digest, staged.size
            media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
            refs[name] = BlobRef(digest, size, media_type).to_json()
        return refs

    def checkpoint(self) -> Checkpoint:
        """Sign and store a checkpoint of the whole log (or return the latest if nothing is new),
        after proving the log consistent with every checkpoint signed before; then send it to
        the witnesses. Raises :class:`~evidence.errors.LogRewritten` rather than sign a
        rewritten log. Witness refusals are kept in :attr:`witness_problems`."""
        with ledger.write_transaction(self.engine) as conn:
            sealed = self._seal_in(conn)
        return self._after_seal(*sealed)

    def _seal_in(self, conn: Connection) -> tuple[Checkpoint, bool, int]:
        key = load_private_key(self.evidence_dir, self.key_file)
        cp, new = sealing.seal(conn, self.evidence_dir, key, self._clock, every=(
            sealing.files_every_checkpoint(self.evidence_dir, self.key_file)))
        t = ledger.checkpoints_table
        row_id = conn.execute(select(t.c.id).where(t.c.tree_size == cp.tree_size,
                                                   t.c.root_hash == cp.root_hash)
                              .order_by(t.c.id.desc())).scalar_one()
        return cp, new, int(row_id)

    def _after_seal(self, cp: Checkpoint, new: bool, row_id: int) -> Checkpoint:
        if new:
            sealing.append_checkpoint_file(sealing.checkpoint_file(self.evidence_dir), cp)
        self.witness_problems = []
        for endpoint in self.witnesses:
            try:
                self._cosign(endpoint, cp, row_id)
            except (WitnessError, ValueError) as err:
                self.witness_problems.append(err if isinstance(err, WitnessError)
                                             else WitnessError(endpoint.url, str(err)))
        return self._with_cosignatures(cp, row_id)

    def _cosign(self, endpoint: WitnessEndpoint, cp: Checkpoint, row_id: int) -> None:
        name = endpoint.key.name
        c, t = ledger.cosignatures_table, ledger.checkpoints_table
        with self._read() as conn:
            stored = conn.execute(select(c.c.line).where(c.c.checkpoint_id == row_id,
                                                         c.c.witness == name)).scalars().all()
            if any(_cosigns(endpoint, cp, str(line)) for line in stored):
                return
            last = conn.execute(select(t.c.tree_size).join(c, c.c.checkpoint_id == t.c.id)
                                .where(c.c.witness == name, t.c.tree_size <= cp.tree_size)
                                .order_by(t.c.tree_size.desc()).limit(1)).scalar()
        line = add_checkpoint(endpoint, cp, int(last or 0),
                              lambda old: self.consistency_proof(old, cp.tree_size),
                              log_size=self.size())
        if line is None:
            return
        with ledger.write_transaction(self.engine) as conn:
            conn.execute(insert(c).values(checkpoint_id=row_id, witness=name, line=line))

    def witnessed_by(self, cp: Checkpoint) -> list[str]:
        """The witnesses of this archive (claims.toml) whose valid cosignature ``cp`` carries;
        a line of any other witness does not count."""
        return [w.key.name for w in self.witnesses
                if any(_cosigns(w, cp, line) for line in cp.cosignatures)]

    def _with_cosignatures(self, cp: Checkpoint, row_id: int) -> Checkpoint:
        c = ledger.cosignatures_table
        with self._read() as conn:
            lines = tuple(str(line) for (line,) in conn.execute(
                select(c.c.line).where(c.c.checkpoint_id == row_id).order_by(c.c.id)))
        return cp.with_cosignatures(lines)

    # --- reading -------------------------------------------------------------------------------

    def latest_checkpoint(self) -> Checkpoint | None:
        """The most recent signed checkpoint (with its cosignatures), if any."""
        stored = self._stored_checkpoints()
        return stored[-1][1] if stored else None

    def checkpoints(self) -> list[Checkpoint]:
        """Every stored checkpoint (with its cosignatures), oldest first."""
        return [cp for _, cp in self._stored_checkpoints()]

    def _stored_checkpoints(self) -> list[tuple[int, Checkpoint]]:
        report = VerificationReport(subject="checkpoints")
        stored = auditing.stored_checkpoints(self, report)
        if report.problems:
            raise LedgerError(str(report.problems[0]))
        return [(row_id, self._with_cosignatures(cp, row_id)) for row_id, cp in stored]

    def size(self) -> int:
        """The number of entries in the log."""
        with self._read() as conn:
            return ledger.read_state(conn)[0]

    def entries(self, claim: str | None = None, since: date | datetime | None = None,
                until: date | datetime | None = None, *,
                skip_malformed: bool = False) -> list[Entry]:
        """The entries (of one claim and/or within a time range, bounds inclusive), in log order.

        A malformed row raises :class:`LedgerError`, or with ``skip_malformed`` is left out
        (for a caller whose report :meth:`verify` completes: it names each such row)."""
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
            rows = conn.execute(query.add_columns(t.c.idx)).fetchall()
        if not skip_malformed:
            return [_entry_of(r) for r in rows]
        found = []
        for row in rows:
            try:
                found.append(_entry_of(row))
            except LedgerError:
                continue
        return found

    def has_entries(self, claim: str) -> bool:
        """Whether any event of ``claim`` is in the log."""
        t = ledger.entries_table
        with self._read() as conn:
            return conn.execute(select(t.c.idx).where(t.c.claim == claim).limit(1)).first() \
                is not None

    def entry(self, index: int) -> Entry:
        """The entry at ``index``."""
        t = ledger.entries_table
        with self._read() as conn:
            row = conn.execute(select(t.c.leaf, t.c.leaf_hash, t.c.idx)
                               .where(t.c.idx == index)).first()
        if row is None:
            raise EntryNotFound(index)
        return _entry_of(row)

    def tree(self, size: int | None = None) -> merkle.MerkleTree:
        """The Merkle tree of the first ``size`` stored leaf hashes (default: all)."""
        t = ledger.entries_table
        query = select(t.c.leaf_hash).order_by(t.c.idx)
        if size is not None:
            query = query.where(t.c.idx < size)
        with self._read() as conn:
            hashes = [ledger.as_bytes(h) or bytes(32) for (h,) in
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
        """The archive's public key (``keys/signing.pub``)."""
        return load_public_key(self.public_key_file)

    def verifier_key(self) -> str:
        """The log's C2SP verifier key (vkey): its origin, key hash and public key, as a
        witness's ``logs.txt`` (and any signed-note verifier) takes it."""
        key = self.public_key()
        return note.vkey(note.origin_for(key), note.NOTE_ED25519, key)

    def public_key_pem(self) -> bytes:
        """The archive's public key as PEM."""
        return public_pem(self.public_key())

    def _read(self) -> Any:
        return _Reading(self.engine)

    # --- verification --------------------------------------------------------------------------

    def verify(self, claim: str | None = None, *,
               trusted_key: Ed25519PublicKey | Path | bytes | None = None,
               trusted_checkpoints: Iterable[Checkpoint] = ()) -> VerificationReport:
        """Check the archive and report every problem (see
        :func:`evidence.auditing.verify_archive`)."""
        return auditing.verify_archive(self, claim, trusted_key=trusted_key,
                                       trusted_checkpoints=trusted_checkpoints)

    # --- export --------------------------------------------------------------------------------

    def export(self, out: Path, claim: str | None = None, since: date | datetime | None = None,
               until: date | datetime | None = None, *, actor: str = "evidence") -> Path:
        """Write a self-contained BagIt bag of the selected entries to ``out``; return ``out``.

        Records an ``evidence.exported`` event, signs a checkpoint covering it, and builds the bag
        in a temporary folder beside ``out`` that is renamed into place when complete. Raises
        :class:`~evidence.errors.ExportExists` if ``out`` exists.
        """
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


def _entry_of(row: Any) -> Entry:
    """The entry of a ledger row; a malformed row is a :class:`LedgerError` naming it."""
    leaf, leaf_hash = ledger.as_bytes(row.leaf), ledger.as_bytes(row.leaf_hash)
    try:
        if leaf is None or leaf_hash is None:
            raise TypeError("the leaf or leaf_hash cell is not binary")
        return Entry.from_leaf(leaf, leaf_hash)
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise LedgerError(f"evidence entry {row.idx} is malformed ({err}); run `claims evidence "
                          "verify`") from err


def _cosigns(endpoint: WitnessEndpoint, cp: Checkpoint, line: str) -> bool:
    """True when ``line`` is the witness's valid cosignature of ``cp`` (a stored line that is
    not, e.g. one left beside a rewritten checkpoint row, does not count)."""
    try:
        _, sigs = note.split_note("x\n\n" + line)
    except ValueError:
        return False
    witness = endpoint.key
    return any(name == witness.name and note.cosignature_time(cp.body().decode(), witness, s)
               is not None for name, s in sigs)


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
