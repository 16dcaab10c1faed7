"""The one place ``claims`` writes to the evidence archive (:mod:`evidence`).

Every external action and every important state change calls :func:`record`. The archive is
opened once per workspace and kept on it. Metadata must carry no secrets: the archive refuses
keys that look like one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from claims.workspace import Workspace


def archive(ws: Workspace) -> Any:
    """The workspace's evidence archive (opened on first use)."""
    cached = ws.__dict__.get("_evidence_archive")
    if cached is None:
        from evidence import EvidenceArchive

        cached = EvidenceArchive.open(ws.evidence_dir, ws.store.engine)
        ws.__dict__["_evidence_archive"] = cached
    return cached


def record(ws: Workspace, *, kind: str, claim: str | None, metadata: dict[str, Any],
           files: dict[str, Path | bytes] | None = None) -> Any:
    """Append one evidence event (with its files as blobs); returns the ledger entry.

    The workspace signs a checkpoint over everything recorded when it is closed.
    """
    entry = archive(ws).record(kind=kind, claim=claim, actor=ws.actor, metadata=metadata,
                               files=files or {})
    ws.__dict__["_evidence_dirty"] = True
    return entry
