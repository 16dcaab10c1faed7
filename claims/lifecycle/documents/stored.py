"""Document inspections, made once per stored file and kept with it.

A stored document never changes (it is content-addressed), so what :func:`inspect_pdf` learns
— type, pages, problems, the text of every page and its labelled dates — is stored as JSON
beside it at intake. Validation then searches that text instead of parsing the PDF again:
checking a claim costs database reads, not PDF parsing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from claims.lifecycle.documents.pdf import (PdfInspection, PdfProblem, PdfProblemCode, hash_file,
                                           inspect_pdf)
from claims.lifecycle.documents.settings import TextBudget
from claims.lifecycle.documents.text import text_contains

def copy_changed(recorded: str, actual: str) -> str | None:
    """The one rule for a stored document's copy (``claim build`` and ``claim validate``): its
    SHA-256 is the one recorded at intake; else what changed, for the message."""
    if actual == recorded:
        return None
    return f"stored copy changed (sha256 {actual} is not the recorded {recorded})"


def stored_sha256(path: Path, seen: dict[Path, str]) -> str:
    """The SHA-256 of a stored copy, hashed once per ``seen`` (one validation: documents of the
    same content share one stored file). ``OSError`` when it cannot be read."""
    if path not in seen:
        seen[path] = hash_file(path)[0]
    return seen[path]


def inspect_for_store(path: Path, budget: TextBudget | None = None) -> PdfInspection:
    """Inspect a stored document once, keeping the text of every page (within ``budget``)."""
    return inspect_pdf(path, keep_text=True, budget=budget)


def to_json(insp: PdfInspection) -> dict[str, Any]:
    return {"media_type": insp.media_type, "size": insp.size, "pages": insp.pages,
            "encrypted": insp.encrypted, "pages_read": insp.pages_read,
            "problems": [{"code": p.code.value, "message": p.message, "page": p.page}
                         for p in insp.problems],
            "dates": [[label, d.isoformat(), page] for label, d, page in insp.dates],
            "texts": insp.texts, "budget_note": insp.budget_note}


def from_json(data: dict[str, Any]) -> PdfInspection:
    return PdfInspection(
        media_type=data["media_type"], size=data["size"], pages=data["pages"],
        encrypted=data["encrypted"], pages_read=data["pages_read"],
        problems=[PdfProblem(PdfProblemCode(p["code"]), p["message"], p["page"])
                  for p in data["problems"]],
        dates=[(label, date.fromisoformat(d), page) for label, d, page in data["dates"]],
        texts=list(data["texts"]), budget_note=data.get("budget_note"))


def search(insp: PdfInspection, needles: Sequence[str]) -> dict[str, list[int]]:
    """For each needle, the 1-based pages of the stored text that contain it."""
    return {n: [i for i, text in enumerate(insp.texts, start=1) if text_contains(text, n)]
            for n in needles}
