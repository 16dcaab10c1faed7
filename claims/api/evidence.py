"""The evidence archive as user actions: verify, read the log, export for an auditor, verify
an export offline, sign a checkpoint. Evidence errors come out as :class:`EvidenceFailed`."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from claims.core.importers import read_file, regular_file
from claims.errors import EvidenceFailed, InputError
from claims.lifecycle.workflow import built_bundle_problems
from claims.workspace import Workspace
from evidence import Checkpoint, Entry, EvidenceError, VerificationReport, format_log
from evidence import verify_export as _verify_bag
from evidence.model import format_time

__all__ = ["Checkpoint", "VerificationReport", "load_checkpoints", "verify_evidence",
           "evidence_log", "evidence_log_lines", "evidence_entry_json", "export_evidence",
           "verify_evidence_export", "sign_checkpoint"]


@contextmanager
def _evidence_errors() -> Iterator[None]:
    try:
        yield
    except EvidenceError as err:
        raise EvidenceFailed(str(err)) from err


def load_checkpoints(paths: Sequence[Path]) -> list[Checkpoint]:
    """Checkpoints saved earlier (JSON files); a clear error naming a file that is not one."""
    out = []
    for path in paths:
        try:
            text = read_file(path, rule="file-readable").decode("utf-8")
            out.append(Checkpoint.from_json(json.loads(text)))
        except OSError as err:
            raise InputError(f"cannot read: {err.strerror}", file=str(path),
                             rule="file-readable") from None
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise InputError(f"not a signed checkpoint: {err}", file=str(path),
                             rule="evidence-checkpoint") from None
    return out


def verify_evidence(ws: Workspace, claim: str | None = None, *,
                    trusted_key: Path | None = None,
                    checkpoints: Sequence[Path] = ()) -> VerificationReport:
    """Check blobs, entries, tree roots, checkpoint signatures and consistency (with the
    pinned key and saved checkpoints when given), and that every READY or submitted claim has
    its ``bundle.built`` evidence and an unchanged bundle; the report lists every problem."""
    saved = load_checkpoints(checkpoints)
    if trusted_key is not None:
        regular_file(trusted_key, field="--trusted-key")
    with _evidence_errors():
        report = ws.evidence.verify(claim, trusted_key=trusted_key, trusted_checkpoints=saved)
    checked, problems = built_bundle_problems(ws, claim)
    report.count("built claims", checked)
    for code, where, message in problems:
        report.fail(code, where, message)
    return report


def evidence_log(ws: Workspace, claim: str | None = None) -> list[Entry]:
    """The evidence entries (of one claim), oldest first."""
    with _evidence_errors():
        return ws.evidence.entries(claim)


def evidence_log_lines(entries: Sequence[Entry]) -> list[str]:
    """The entries as the timeline a person reads."""
    return list(format_log(entries))


def evidence_entry_json(entry: Entry) -> dict[str, Any]:
    """One entry in the stable ``evidence log --json`` shape."""
    return {"index": entry.index, "time": format_time(entry.time), "kind": entry.kind,
            "claim": entry.claim, "actor": entry.actor, "metadata": entry.metadata,
            "files": {n: r.to_json() for n, r in entry.blobs.items()},
            "leaf_hash": entry.leaf_hash.hex()}


def export_evidence(ws: Workspace, out: Path, *, claim: str | None = None,
                    since: date | None = None, until: date | None = None) -> Path:
    """Write a self-contained BagIt bag for an auditor; returns its folder."""
    if claim is None and since is None and until is None:
        raise InputError("give --claim ID, or --from DATE --to DATE",
                         field="--claim / --from / --to", rule="export-scope")
    with _evidence_errors():
        return ws.evidence.export(out, claim=claim, since=since, until=until, actor=ws.actor)


def verify_evidence_export(path: Path, *, trusted_key: Path | None = None,
                           checkpoints: Sequence[Path] = ()) -> VerificationReport:
    """Verify an exported bag offline (no workspace, no database)."""
    saved = load_checkpoints(checkpoints)
    if trusted_key is not None:
        regular_file(trusted_key, field="--trusted-key")
    try:
        no_bag = path.is_dir() and not (path / "bagit.txt").is_file()
    except OSError as err:  # a name too long, a loop of links
        raise InputError(f"cannot read: {err.strerror or err}", file=str(path)[:200],
                         rule="file-readable") from None
    if no_bag:
        report = VerificationReport(subject=str(path))
        report.fail("bag-missing", str(path), "no bagit.txt: this folder is not an evidence "
                    "export")
        return report
    with _evidence_errors():
        try:
            return _verify_bag(path, trusted_key=trusted_key, trusted_checkpoints=saved)
        except OSError as err:
            raise EvidenceFailed(f"{path}: cannot read the export: {err.strerror or err}"
                                 f"{f' ({err.filename})' if err.filename else ''}") from err


def sign_checkpoint(ws: Workspace) -> Checkpoint:
    """Sign a checkpoint of the log now."""
    with _evidence_errors():
        return ws.evidence.checkpoint()
