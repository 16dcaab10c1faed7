"""Verification of a workspace's archive: blobs, ledger rows, the tree, checkpoints (their
signatures, consistency, and none deleted), the chain of each claim's events; or, for one claim,
just its entries by inclusion proofs against the signed checkpoint. Malformed rows are reported,
never raised."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select

from evidence import ledger, merkle, note
from evidence.blobs import CHUNK, BlobStore, hash_file
from evidence.canonical import canonical_json
from evidence.errors import EvidenceError, SigningKeyError
from evidence.keys import key_id, load_public_key
from evidence.model import (Checkpoint, Entry, EventKind, Problem, VerificationReport,
                            format_time)
from evidence.sealing import (checkpoint_file, crash_gap, files_every_checkpoint,
                              row_checkpoint, scan_checkpoint_file, unfiled)
from evidence.verifier_core import entry_count, entry_span, event_problem, is_int

MAX_PROBLEMS_PER_CODE = 50  # a rewritten log would otherwise list every later entry


class AuditSource(Protocol):
    """What verification reads (:class:`evidence.archive.EvidenceArchive` is one)."""

    evidence_dir: Path
    blobs: BlobStore
    public_key_file: Path

    def public_key(self) -> Ed25519PublicKey: ...

    def _read(self) -> Any: ...


def verify_archive(archive: AuditSource, claim: str | None = None, *,
                   trusted_key: Ed25519PublicKey | Path | bytes | None = None,
                   trusted_checkpoints: Iterable[Checkpoint] = ()) -> VerificationReport:
    """Check blobs, leaves, tree, checkpoint signatures and consistency; report every problem.

    Without ``claim`` the whole log is read. With ``claim`` only that claim's entries are read,
    each checked by its inclusion proof against the latest signed checkpoint (O(log n) stored
    hashes each), with the chain of the claim's events and its blobs. ``trusted_key`` pins the
    public key (an auditor's copy; default: the workspace's ``signing.pub``).
    ``trusted_checkpoints`` are checkpoints saved earlier (e.g. from an export): each must still
    be consistent with this log, as must those of the append-only checkpoint file.

    What the checkpoint checks prove. The database's checkpoints, the checkpoint file kept
    outside it (``keys/checkpoints.jsonl``) and the ledger witness each other: a checkpoint in
    the file but not in the database is ``checkpoint-deleted``; one in the database but not in
    the file is ``checkpoint-file-truncated`` (``checkpoint-file-missing`` when the file is
    gone), except the newest alone: the window between a checkpoint's commit and its line in the
    file, left by a stopped process, is a warning (``checkpoint-unfiled``: nothing is hidden by
    it, and the next checkpoint files it); an ``evidence.exported`` entry (signed into a
    checkpoint as it is recorded) that no checkpoint of the database or of the file reaches is
    ``checkpoint-missing``. So a rollback of the database alone, or of the file alone, is
    caught. In a fleet (folders sharing one key and ledger) each folder files only its own
    checkpoints: there only ``checkpoint-deleted`` applies. A rollback made consistently in the
    database *and* the file (entries, state, checkpoints and file lines removed together) leaves
    nothing local to contradict it: only a witness (which refuses to cosign a log that no longer
    extends what it cosigned) or a checkpoint saved outside the workspace (an export's
    ``checkpoint.json`` passed as ``trusted_checkpoints``) proves it. A workspace that never
    signed a checkpoint has neither, and verifies.
    """
    report = VerificationReport(subject=f"evidence archive {archive.evidence_dir}"
                                + (f" (claim {claim})" if claim else ""))
    key = _verification_key(archive, report, trusted_key)
    if claim is not None:
        referenced = _verify_claim(archive, report, claim, key, list(trusted_checkpoints))
        _verify_cosignatures(archive, report)
        if not report.checked.get("claim entries"):
            report.warn("claim-unknown", f"claim {claim}", "no evidence recorded for this claim")
        _verify_blobs(archive, report, referenced, all_blobs=False)
        return report
    tree, scan = _verify_ledger(archive, report, claim)
    _verify_checkpoints(archive, report, tree, key, list(trusted_checkpoints), scan.sealed_upto)
    _verify_cosignatures(archive, report)
    _verify_blobs(archive, report, scan.referenced, all_blobs=True)
    return report


def _verify_cosignatures(archive: AuditSource, report: VerificationReport) -> None:
    """Each stored witness cosignature is one signature line of its witness (an export carries
    it in its checkpoint's note) for a stored checkpoint. Only the witnesses of claims.toml
    count: a configured witness's line must verify with its key; another witness's (one
    removed from claims.toml, or a row added) is not counted and is a warning."""
    c = ledger.cosignatures_table
    checkpoints = dict(stored_checkpoints(archive, VerificationReport(subject="checkpoints")))
    known = {w.key.name: w.key for w in getattr(archive, "witnesses", ())}
    with archive._read() as conn:
        rows = conn.execute(select(c).order_by(c.c.id)).all()
    counted: set[tuple[int, str]] = set()  # two processes may store one cosignature twice
    for row in rows:
        where = f"evidence_cosignatures #{row.id} (witness {str(row.witness)[:60]})"
        try:
            _, sigs = note.split_note("x\n\n" + str(row.line))
        except ValueError:
            sigs = []
        cp = checkpoints.get(row.checkpoint_id)
        if len(sigs) != 1 or sigs[0][0] != row.witness or len(sigs[0][1]) != 76:
            why = "is not one cosignature line of this witness"
        elif cp is None:
            why = f"is for checkpoint #{row.checkpoint_id}, which is not stored"
        elif row.witness not in known:
            report.warn("cosignature-unknown", where, "a witness not configured in claims.toml "
                        "([[evidence.witnesses]]): not counted, its signature not checked (a "
                        "witness removed from the configuration, or a row added)")
            continue
        elif note.cosignature_time(cp.body().decode(), known[row.witness], sigs[0][1]) is None:
            why = "does not verify with the witness's key (of claims.toml)"
        else:
            if (row.checkpoint_id, row.witness) not in counted:
                counted.add((row.checkpoint_id, row.witness))
                report.count("witness cosignatures")
            continue
        report.fail("cosignature-invalid", where, f"{why}: forged or edited (an export "
                    "would carry it in its checkpoint's note and fail)")


def _verify_claim(archive: AuditSource, report: VerificationReport, claim: str,
                  key: Ed25519PublicKey | None, trusted: list[Checkpoint]
                  ) -> dict[str, tuple[int, str]]:
    """The claim's entries by inclusion proofs against the latest signed checkpoint."""
    stored = stored_checkpoints(archive, report)
    trusted = trusted + saved_checkpoints(archive, report, stored)[0]
    latest = stored[-1][1] if stored else None
    report.checkpoint = latest
    scan = _Scan(report, claim, contiguous=False)
    t = ledger.entries_table
    with archive._read() as conn:
        size = ledger.read_state(conn)[0]
        subtree = ledger.subtree_reader(conn)
        signed = _check_latest(report, subtree, size, latest, key, trusted)
        query = select(t.c.idx, t.c.leaf, t.c.leaf_hash, t.c.kind, t.c.claim,
                       t.c.recorded_at).where(t.c.claim == claim).order_by(t.c.idx)
        for row in conn.execute(query).fetchall():
            before = len(scan.hashes)
            scan.row(row)
            if len(scan.hashes) == before or signed is None:
                continue
            idx = int(row.idx)
            if idx >= signed.tree_size:
                report.warn("not-checkpointed", f"entry {idx}", "not yet covered by a signed "
                            "checkpoint")
                continue
            report.count("inclusion proofs")
            try:
                proof = merkle.path_of(subtree, idx, signed.tree_size)
            except EvidenceError as err:
                report.fail("entry-proof", f"entry {idx}", f"no inclusion proof: {err}")
                continue
            if not merkle.verify_inclusion(scan.hashes[-1], idx, signed.tree_size, proof,
                                           signed.root_hash):
                report.fail("entry-proof", f"entry {idx}", "not in the signed log at this "
                            "index (inclusion proof fails): altered, moved or forged")
    return scan.referenced


def _check_latest(report: VerificationReport, subtree: merkle.Subtree, size: int,
                  latest: Checkpoint | None, key: Ed25519PublicKey | None,
                  trusted: list[Checkpoint]) -> Checkpoint | None:
    """Check the latest signed checkpoint (signature, root, consistency with the trusted ones);
    return it when the claim's proofs can be checked against it."""
    if latest is None:
        report.warn("not-checkpointed", "evidence_checkpoints", "no signed checkpoint yet")
        return None
    where = f"latest checkpoint (size {latest.tree_size}, {latest.time})"
    report.count("checkpoints")
    if key is not None and not latest.signature_valid(key):
        report.fail("checkpoint-signature", where, "signature does not verify with key "
                    f"{key_id(key)}: forged, edited, or signed with another key")
    if latest.tree_size > size:
        report.fail("checkpoint-size", where, f"signs {entry_count(latest.tree_size)} but "
                    f"the ledger holds {size}: entries removed")
        return None
    try:
        if latest.tree_size and subtree(0, latest.tree_size) != latest.root_hash:
            report.fail("checkpoint-root", where, "signed root differs from the ledger's: "
                        "entries were changed, removed, reordered or inserted")
        for cp in trusted:
            report.count("consistency proofs")
            ok = cp.tree_size <= latest.tree_size and merkle.verify_consistency(
                cp.tree_size, latest.tree_size, cp.root_hash, latest.root_hash,
                merkle.consistency_path(subtree, cp.tree_size, latest.tree_size))
            if not ok:
                report.fail("checkpoint-inconsistent", f"trusted checkpoint (size "
                            f"{cp.tree_size}, {cp.time})", "the log is no longer consistent "
                            f"with it: entries before {cp.tree_size} were rewritten")
    except EvidenceError as err:
        report.fail("checkpoint-inconsistent", where, f"no consistency proof: {err}")
    return latest


def _verification_key(archive: AuditSource, report: VerificationReport,
                      trusted: Ed25519PublicKey | Path | bytes | None
                      ) -> Ed25519PublicKey | None:
    try:
        workspace_key: Ed25519PublicKey | None = archive.public_key()
    except SigningKeyError as err:
        workspace_key = None
        if trusted is None:
            report.fail("key-missing", str(archive.public_key_file.parent), str(err))
    key = workspace_key
    if trusted is not None:
        key = trusted if isinstance(trusted, Ed25519PublicKey) else load_public_key(trusted)
        if workspace_key is not None and key_id(workspace_key) != key_id(key):
            report.fail("key-replaced", str(archive.public_key_file),
                        f"the workspace public key (id {key_id(workspace_key)}) is not the "
                        f"trusted key (id {key_id(key)})")
    report.key_id = key_id(key) if key is not None else None
    return key


def fail_capped(report: VerificationReport, seen: dict[str, int], problem: Problem) -> None:
    """Report ``problem`` unless ``MAX_PROBLEMS_PER_CODE`` of its code were (``seen`` counts)."""
    seen[problem.code] = seen.get(problem.code, 0) + 1
    if seen[problem.code] <= MAX_PROBLEMS_PER_CODE:
        report.problems.append(problem)


class _Scan:
    """The state of one pass over the ledger rows: leaf hashes, referenced blobs, the head of
    each claim's chain, and problem counts (at most ``MAX_PROBLEMS_PER_CODE`` per code)."""

    def __init__(self, report: VerificationReport, claim: str | None, *,
                 contiguous: bool = True) -> None:
        self.report, self.claim, self.contiguous = report, claim, contiguous
        self.hashes: list[bytes] = []
        self.referenced: dict[str, tuple[int, str]] = {}
        self.heads: dict[str, bytes] = {}
        self.seen: dict[str, int] = {}
        self.expected = 0
        self.sealed_upto = 0  # entries up to the last one signed as it was recorded (exports)

    def fail(self, code: str, where: str, message: str) -> None:
        fail_capped(self.report, self.seen, Problem(code, where, message))

    def row(self, row: Any) -> None:
        """Check one ``evidence_entries`` row and add it to the scan."""
        idx, where = row.idx, f"entry {str(row.idx)[:40]}"
        if not is_int(idx):  # rows are read by index: one not an integer cannot be placed
            self.fail("entry-malformed", where, "the idx cell is not an integer: the row was "
                      "edited (left out of the tree)")
            return
        if idx < 0:  # rows are read by index: one below 0 comes first
            self.fail("entry-index", where, "a negative index: the row was edited")
        elif self.contiguous and idx != self.expected:
            gap = idx - self.expected
            self.fail("entry-missing", entry_span(self.expected, idx),
                      f"{entry_count(gap)} missing from the ledger (removed)")
        self.expected = max(idx + 1, self.expected)
        self.report.count("entries")
        leaf, stored = ledger.as_bytes(row.leaf), ledger.as_bytes(row.leaf_hash)
        if leaf is None or stored is None:
            self.fail("entry-malformed", where, "the leaf or leaf_hash cell is not binary "
                      f"(holds {type(row.leaf if leaf is None else row.leaf_hash).__name__}): "
                      "the row was edited")
            self.hashes.append(bytes(32))
            return
        lh = merkle.leaf_hash(leaf)
        if lh != stored:
            self.fail("entry-altered", where, "leaf bytes no longer match the leaf hash stored "
                      "when the entry was appended")
        self.hashes.append(lh)
        try:
            data = json.loads(leaf.decode("utf-8"))
            if canonical_json(data) != leaf:
                self.fail("entry-not-canonical", where, "leaf is not canonical JSON")
            entry = Entry.from_leaf(leaf, lh)
        except RecursionError:
            self.fail("entry-unreadable", where, "leaf is not a valid event: JSON nested too "
                      "deeply to read")
            return
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            self.fail("entry-unreadable", where, f"leaf is not a valid event: {err}")
            return
        if (why := event_problem(data)) is not None:
            self.fail("entry-malformed", where, f"leaf is not a valid event: {why}")
            return
        if entry.index != idx:
            self.fail("entry-moved", where, f"leaf records index {entry.index}: entries "
                      "reordered, inserted or removed")
        if (entry.kind, entry.claim, format_time(entry.time)) != (
                row.kind, row.claim, row.recorded_at):
            self.fail("entry-columns", where, "kind/claim/time columns differ from the leaf")
        self.chain(entry, where)
        if entry.kind == EventKind.EVIDENCE_EXPORTED:
            self.sealed_upto = idx + 1
        if self.claim is None or entry.claim == self.claim:
            if self.claim is not None:
                self.report.count("claim entries")
            for name, ref in entry.blobs.items():
                self.referenced.setdefault(ref.sha256, (ref.size, f"{where} file {name!r}"))

    def chain(self, entry: Entry, where: str) -> None:
        """A v2 event of a claim names the leaf hash of the claim's previous event."""
        if entry.claim is None:
            return
        head = self.heads.get(entry.claim)
        self.heads[entry.claim] = entry.leaf_hash
        if entry.version < 2:
            return
        expected = head.hex() if head is not None else None
        if entry.prev_claim_leaf != expected:
            self.fail("entry-chain", where, f"names {entry.prev_claim_leaf or 'no'} previous "
                      f"event of claim {entry.claim}, but the ledger's is "
                      f"{expected or 'none'}: an event of the claim was removed or inserted")


def _verify_ledger(archive: AuditSource, report: VerificationReport, claim: str | None
                   ) -> tuple[merkle.MerkleTree, _Scan]:
    t = ledger.entries_table
    scan = _Scan(report, claim)
    query = select(t.c.idx, t.c.leaf, t.c.leaf_hash, t.c.kind, t.c.claim,
                   t.c.recorded_at).order_by(t.c.idx)
    with archive._read() as conn:
        state_size, compact = ledger.read_state(conn)
        for row in conn.execution_options(yield_per=10_000).execute(query):
            scan.row(row)
    tree = merkle.MerkleTree.from_leaf_hashes(scan.hashes)
    nodes = ledger.nodes_table
    with archive._read() as conn:
        for row in conn.execution_options(yield_per=10_000).execute(
                select(nodes.c.height, nodes.c.idx, nodes.c.hash)):
            report.count("cached nodes")
            if tree.node(int(row.height), int(row.idx)) != ledger.as_bytes(row.hash):
                scan.fail("node-altered", f"evidence_nodes height {row.height} index {row.idx}",
                          "cached subtree hash differs from the leaves' (proofs served from it "
                          "would fail)")
    if state_size != tree.size:
        report.fail("state-size", "evidence_state", f"records {entry_count(state_size)} but the "
                    f"ledger holds {tree.size}")
    elif merkle.compact_root(compact) != tree.root():
        report.fail("state-root", "evidence_state", "the stored compact range does not match "
                    "the ledger's leaves")
    return tree, scan


def stored_checkpoints(archive: AuditSource, report: VerificationReport
                       ) -> list[tuple[int, Checkpoint]]:
    """(row id, checkpoint) of every readable stored checkpoint; malformed rows are reported."""
    t = ledger.checkpoints_table
    out = []
    with archive._read() as conn:
        for row in conn.execute(select(t).order_by(t.c.id)):
            try:
                cp = row_checkpoint(row)
                if cp.tree_size < 0:
                    raise ValueError(f"tree size {cp.tree_size} is negative")
                out.append((int(row.id), cp))
            except ValueError as err:
                report.fail("checkpoint-malformed", f"checkpoint #{row.id}", str(err))
    return out


def saved_checkpoints(archive: AuditSource, report: VerificationReport,
                      stored: list[tuple[int, Checkpoint]]) -> tuple[list[Checkpoint], bool]:
    """The checkpoints of the append-only checkpoint file, and whether it is a complete witness
    of the database's. Each one missing from the database is reported as deleted; the file gone,
    or lacking checkpoints the database holds, is reported too (only the newest missing, the
    window a stopped process leaves, is a warning). Where the signing key is not the folder's
    own (a fleet sharing one key and ledger), each folder files only the checkpoints it signed,
    so the file is not checked against the database's."""
    path = checkpoint_file(archive.evidence_dir)
    saved, findings = scan_checkpoint_file(path)
    seen: dict[str, int] = {}
    for problem in findings:  # each line out of order or not as written
        fail_capped(report, seen, problem)
    if not saved and findings:
        return [], False
    present = {(cp.tree_size, cp.root_hash) for _, cp in stored}
    for cp in saved:
        report.count("checkpoints in the checkpoint file")
        if (cp.tree_size, cp.root_hash) not in present:
            report.fail("checkpoint-deleted", f"{path} (size {cp.tree_size}, {cp.time})",
                        "signed and kept outside the database, but no longer in "
                        "evidence_checkpoints: checkpoints were deleted")
    if not files_every_checkpoint(archive.evidence_dir, archive.public_key_file):
        return saved, False
    listed = [cp for _, cp in stored]
    missing = unfiled(listed, saved)
    if not missing:
        return saved, True
    if crash_gap(listed, saved):
        report.warn("checkpoint-unfiled", f"{path} (size {missing[0].tree_size})", "the newest "
                    "checkpoint is not in the file yet: a process stopped between signing it "
                    "and filing it; the next `claims evidence checkpoint` files it")
    elif not path.exists():
        report.fail("checkpoint-file-missing", str(path), f"evidence_checkpoints holds "
                    f"{len(missing)} signed checkpoint(s) but the checkpoint file kept outside "
                    "the database is gone (deleted or moved)")
    else:
        report.fail("checkpoint-file-truncated", str(path), f"holds {len(saved)} "
                    f"checkpoint(s) but {len(missing)} more were signed (evidence_checkpoints, "
                    f"sizes {', '.join(str(cp.tree_size) for cp in missing[:10])}): the file "
                    "was cut or replaced")
    return saved, False


def sealed_entries_covered(report: VerificationReport, sealed_upto: int,
                           sources: list[tuple[str, list[Checkpoint]]]) -> None:
    """An ``evidence.exported`` entry is signed into a checkpoint as it is recorded: the
    checkpoints of each source (the database, the file) must reach past the last such entry."""
    for where, cps in sources:
        reach = max((cp.tree_size for cp in cps), default=0)
        if reach < sealed_upto:
            report.fail("checkpoint-missing", where, f"entry {sealed_upto - 1} (an export) was "
                        f"signed into a checkpoint when recorded, but the checkpoints here reach "
                        f"only {entry_count(reach)}: checkpoints were deleted")


def _verify_checkpoints(archive: AuditSource, report: VerificationReport,
                        tree: merkle.MerkleTree,
                        key: Ed25519PublicKey | None, trusted: list[Checkpoint],
                        sealed_upto: int) -> None:
    stored = stored_checkpoints(archive, report)
    saved, complete = saved_checkpoints(archive, report, stored)
    sources = [("evidence_checkpoints", [cp for _, cp in stored])]
    legacy = max((cp.tree_size for _, cp in stored if cp.origin is None), default=0)
    if complete and sealed_upto > legacy:  # the file witnesses v2 checkpoints only
        sources.append((str(checkpoint_file(archive.evidence_dir)), saved))
    sealed_entries_covered(report, sealed_upto, sources)
    trusted = trusted + saved
    n = tree.size
    previous: Checkpoint | None = None
    verified_sizes = [0]  # sizes whose signed root matched the ledger
    for item_id, cp in stored:
        where = f"checkpoint #{item_id} (size {cp.tree_size}, {cp.time})"
        report.count("checkpoints")
        if key is not None and not cp.signature_valid(key):
            report.fail("checkpoint-signature", where, "signature does not verify with key "
                        f"{key_id(key)}: forged, edited, or signed with another key")
        if previous is not None and (cp.tree_size < previous.tree_size
                                     or cp.time < previous.time):
            report.fail("checkpoint-order", where, f"goes back from size "
                        f"{previous.tree_size} at {previous.time}: the log was truncated")
        if cp.tree_size > n:
            report.fail("checkpoint-size", where, f"signs {entry_count(cp.tree_size)} but "
                        f"the ledger holds {n}: entries removed")
        elif tree.root(cp.tree_size) != cp.root_hash:
            good = max(s for s in verified_sizes if s <= cp.tree_size)
            report.fail("checkpoint-root", where, "signed root differs from the ledger's: "
                        f"{entry_span(good, cp.tree_size, verb=True)} changed, removed, "
                        "reordered or inserted")
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
    latest = stored[-1][1] if stored else None
    report.checkpoint = latest
    for cp in trusted:
        where = f"trusted checkpoint (size {cp.tree_size}, {cp.time})"
        report.count("trusted checkpoints")
        if key is not None and not cp.signature_valid(key):
            report.fail("checkpoint-signature", where, "signature does not verify with key "
                        f"{key_id(key)}")
        if cp.tree_size > n:
            report.fail("checkpoint-size", where, f"signs {entry_count(cp.tree_size)} but "
                        f"the ledger holds {n}: entries removed")
            continue
        target = latest.tree_size if latest and cp.tree_size <= latest.tree_size <= n else n
        proof = tree.consistency_proof(cp.tree_size, target)
        if not merkle.verify_consistency(cp.tree_size, target, cp.root_hash,
                                         tree.root(target), proof):
            report.fail("checkpoint-inconsistent", where, "the log is no longer consistent "
                        f"with it: entries before {cp.tree_size} were rewritten")
    covered = latest.tree_size if latest else 0
    if n > covered:
        report.warn("not-checkpointed", entry_span(covered, n),
                    "not yet covered by a signed checkpoint")


def _verify_blobs(archive: AuditSource, report: VerificationReport,
                  referenced: dict[str, tuple[int, str]], all_blobs: bool) -> None:
    for problem in check_blobs(archive.blobs, referenced):
        report.problems.append(problem)
    report.count("blobs", len(referenced))
    report.count("blob bytes", sum(size for size, _ in referenced.values()))
    if not all_blobs:
        return
    interrupted = archive.blobs.pending()
    for digest, path in archive.blobs.files():
        if digest is None:
            report.fail("blob-unexpected", str(path), "not a regular file named by a SHA-256 "
                        "digest (a stray file, a folder, a FIFO or a link) in the blob store")
        elif digest not in referenced and digest in interrupted:
            report.warn("blob-interrupted", str(path), "stored by a record that was cut "
                        "short before its ledger entry (e.g. a killed process), or is "
                        "still being recorded; no entry refers to it")
        elif digest not in referenced:
            report.fail("blob-unreferenced", str(path), "no entry refers to this blob "
                        "(added, or left by an interrupted record)")



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
        return f"unreadable: {err.strerror or err}"
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


