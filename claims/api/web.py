"""What the web workspace (``claims serve``) reads that no CLI command needed: the pipeline
board, one claim's page (invoice, findings, files), evidence files and a zipped export, and the
command line that serves the app (a clear error naming the extra when it is missing)."""

from __future__ import annotations

import importlib.util
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from claims.api.evidence import export_evidence
from claims.collections.records import RESOLUTIONS
from claims.core.models import ClaimStatus, Invoice
from claims.errors import ConflictError, InputError, NotFound
from claims.lifecycle.board import BOARD_COLUMNS, BoardFilters, board
from claims.workspace import Workspace
from evidence import EvidenceError

__all__ = ["BOARD_COLUMNS", "BoardFilters", "WEB_MODULES", "serve_command", "claim_board",
           "get_invoice", "claim_document", "claim_bundle", "evidence_file",
           "export_evidence_zip", "claim_statuses", "dispute_resolutions"]

#: What ``claims serve`` needs beyond the core install (the ``web`` extra).
WEB_MODULES = ("starlette", "uvicorn", "multipart", "itsdangerous")


def check_port(port: int, field: str = "--port") -> int:
    """``port`` when it is a TCP port to listen on (1-65535); else an :class:`InputError`."""
    if not 0 < port < 65536:
        raise InputError(f"{port} is not a TCP port (1-65535)", field=field, rule="port-range")
    return port


def serve_command(ws: Workspace, host: str, port: int,
                  extra_args: Sequence[str] = ()) -> list[str]:
    """The command line that serves the web workspace of ``ws``; a clear error naming the
    extra to install when its web stack is missing."""
    missing = [m for m in WEB_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        raise ConflictError(
            f"the web workspace is an optional part (missing: {', '.join(missing)}); "
            "install it with: pip install 'claimwright[web]'")
    check_port(port)
    # -P: a workspace folder (which holds an "evidence" folder) must not shadow our packages
    return [sys.executable, "-P", "-m", "claims.web", "--workspace", str(ws.root), "--host", host,
            "--port", str(port), *extra_args]


def claim_statuses() -> list[str]:
    """Every claim status word, in the board's order."""
    return [s.value for s in BOARD_COLUMNS]


def dispute_resolutions() -> list[str]:
    """The words a dispute can be resolved with (``claims followup dispute resolve``)."""
    return list(RESOLUTIONS)


def claim_board(ws: Workspace, filters: BoardFilters | None = None, *,
                per_column: int = 25) -> dict[str, Any]:
    """Claims by status: count and amount per column (per currency), the newest
    ``per_column`` cards of each, and the filter choices."""
    return board(ws.store, filters or BoardFilters(), per_column=per_column)


def get_invoice(ws: Workspace, number: str) -> Invoice:
    """One stored invoice; :class:`NotFound` if there is none."""
    return ws.store.get_invoice(number)


def claim_document(ws: Workspace, claim_id: int, index: int) -> tuple[Path, str, str]:
    """The ``index``-th (0-based) document of a claim: (stored file, media type, filename)."""
    claim = ws.store.get_claim(claim_id)
    if not 0 <= index < len(claim.documents):
        raise NotFound(f"document of claim {claim_id}", index + 1)
    doc = claim.documents[index]
    return ws.root / doc.stored_path, doc.media_type, doc.filename


def claim_bundle(ws: Workspace, claim_id: int) -> Path:
    """The zip of a claim's built bundle; :class:`NotFound` when it was never built."""
    claim = ws.store.get_claim(claim_id)
    if not claim.bundle_path or claim.status is ClaimStatus.DRAFT:
        raise NotFound(f"bundle of claim {claim_id}", "(build it first)")
    folder = Path(claim.bundle_path)
    folder = folder if folder.is_absolute() else ws.root / folder
    candidates = [folder.with_suffix(".zip"), folder] if folder.suffix != ".zip" else [folder]
    for path in candidates:
        if path.is_file():
            return path
    raise NotFound(f"bundle of claim {claim_id}", str(folder))


def evidence_file(ws: Workspace, index: int, name: str) -> tuple[bytes, str]:
    """A file recorded with evidence entry ``index``: (its bytes, its media type)."""
    try:
        entry = ws.evidence.entry(index)
    except (EvidenceError, LookupError) as err:
        raise NotFound("evidence entry", index) from err
    ref = entry.blobs.get(name)
    if ref is None:
        raise NotFound(f"file of evidence entry {index}", name)
    try:
        return ws.evidence.blobs.read(ref.sha256), ref.media_type
    except (EvidenceError, OSError) as err:
        raise NotFound(f"blob of evidence entry {index}", name) from err


def export_evidence_zip(ws: Workspace, claim: str) -> Path:
    """An auditor's export (BagIt bag) of one claim's evidence, zipped into a temporary folder;
    returns the zip (the caller removes its folder)."""
    work = Path(tempfile.mkdtemp(prefix="claims-export-"))
    bag = export_evidence(ws, work / f"evidence-claim-{claim}", claim=claim)
    return Path(shutil.make_archive(str(bag), "zip", root_dir=bag.parent, base_dir=bag.name))
