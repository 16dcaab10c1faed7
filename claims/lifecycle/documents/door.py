"""Documents at the door: a claim's files are checked, stored and inspected when they come in,
and what can never become valid is refused there, with nothing stored.

Refused at the door (exit 1, one line naming the user's file and the rule): a path with ``..``,
a missing file or one that is not a regular file, a file over the hard limit or over its
document type's ``max_bytes``, content of a media type the document type does not allow (a
zip, an executable or an HTML page named ``.pdf``), and a PDF that is empty, unreadable,
truncated, corrupt, encrypted or without pages. What depends on the claim (the invoice number
or total mentioned, expiry and age on the submission date) stays a validation finding.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from claims.core.claimtypes import document_rules, known_document_types
from claims.core.models import Contract, DocumentRule
from claims.errors import InputError, UnknownName
from claims.lifecycle.documents.pdf import PdfInspection
from claims.lifecycle.documents.stored import from_json, inspect_for_store, to_json

if TYPE_CHECKING:  # only a type here: the workspace composes this slice
    from claims.workspace import Workspace

#: Read and hash files this much at a time.
CHUNK = 1024 * 1024

#: Never store a file larger than this, whatever a claim type allows (a 2 GB "PDF" is refused
#: before it is copied). Claim types set the real, smaller limits.
HARD_MAX_BYTES = 1536 * 1024 * 1024


def check_document_path(raw: str, *, field: str) -> Path:
    """A user-given document path: no ``..`` components, must be an existing regular file."""
    if ".." in Path(raw).parts:
        raise InputError("a path with '..' is refused", file=raw, field=field,
                         rule="no-parent-traversal")
    path = Path(raw)
    if not path.exists():
        raise InputError("file not found", file=raw, field=field, rule="file-exists")
    if not path.is_file():
        raise InputError("not a regular file", file=raw, field=field, rule="regular-file")
    return path


def store_blob(source: Path, dest_dir: Path, *, max_bytes: int,
               field: str) -> tuple[str, int, Path]:
    """Copy ``source`` into the content-addressed ``dest_dir`` (streamed, hashed as it goes).

    Returns (sha256, size, stored path). The stored file is read-only and named by its digest,
    so the same bytes are stored once and a stored document can never change under a claim.
    """
    size = source.stat().st_size
    if size > max_bytes:
        raise InputError(f"{size:,} bytes is over the limit of {max_bytes:,}", file=str(source),
                         field=field, rule="max_bytes")
    dest_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(dir=dest_dir, prefix=".incoming-")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, source.open("rb") as src:
            copied = 0
            while chunk := src.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
                copied += len(chunk)
                if copied > max_bytes:  # the file grew while we read it
                    raise InputError(f"over the limit of {max_bytes:,} bytes while reading",
                                     file=str(source), field=field, rule="max_bytes")
        sha = digest.hexdigest()
        final = dest_dir / sha[:2] / f"{sha}{source.suffix.lower() or '.bin'}"
        final.parent.mkdir(exist_ok=True)
        if final.exists():
            tmp.unlink()
        else:
            tmp.chmod(0o400)  # read-only, and private to the workspace owner
            tmp.replace(final)
        return sha, copied, final
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def refuse_at_the_door(insp: PdfInspection, rule: DocumentRule | None, *, user_file: str,
                       stored_name: str, field: str) -> None:
    """Raise :class:`InputError` naming ``user_file`` if the inspected file can never make a
    valid document of its type (wrong media type by content, a broken PDF, over the size)."""
    allowed = rule.media_types if rule else ("application/pdf",)
    problems = [(p.code.value, p.message) for p in insp.problems]
    if not problems and insp.media_type not in allowed:
        problems.append(("media-type", f"its content is {insp.media_type}, not "
                                       f"{' or '.join(allowed)}"))
    if problems:
        code, message = problems[0]
        # the inspection names the stored copy (its hash); the user knows their own file
        message = message.removeprefix(f"{stored_name}: ")
        raise InputError(message, file=user_file, field=field, rule=f"document-{code}")
    if rule and insp.size > rule.max_bytes:
        raise InputError(f"{insp.size:,} bytes is over the {rule.max_bytes:,} a {rule.type} "
                         "may have", file=user_file, field=field, rule="document-max-bytes")


def _check_dates_attach(documents: Sequence[tuple[str, str]], expiry: dict[str, date],
                        issued: dict[str, date]) -> None:
    given = {t for t, _ in documents}
    for flag, mapping in (("--expiry", expiry), ("--issued", issued)):
        for doc_type in mapping:
            if doc_type not in given:
                raise InputError(f"no --doc of type {doc_type} to date", field=flag,
                                 rule="dated-document-attached")


def _store_one(ws: Workspace, doc_type: str, path: Path, rule: DocumentRule | None,
               stored_files: list[Path]) -> tuple[str, int, Path, PdfInspection, Any]:
    field = f"--doc {doc_type}"
    sha, size, stored = store_blob(path, ws.documents_dir, max_bytes=HARD_MAX_BYTES,
                                   field=field)
    stored_files.append(stored)
    known = ws.store.inspections([sha]).get(sha)
    insp = from_json(known) if known else inspect_for_store(stored, ws.settings.documents)
    refuse_at_the_door(insp, rule, user_file=str(path), stored_name=stored.name, field=field)
    return sha, size, stored, insp, known


@contextmanager
def accept_documents(ws: Workspace, contract: Contract, claim_type: str,
                     documents: Sequence[tuple[str, str]], expiry: dict[str, date] | None,
                     issued: dict[str, date] | None) -> Iterator[list[dict[str, Any]]]:
    """Check (type, path) pairs, store and inspect the files, refuse what can never be valid,
    and yield their rows for the store. On any error — here or in the caller's block — the
    files that no stored claim refers to are removed again, so nothing is half-written."""
    rules = document_rules(contract, claim_type)
    known_types = known_document_types() | set(rules)
    expiry, issued = expiry or {}, issued or {}
    _check_dates_attach(documents, expiry, issued)
    checked = []
    for doc_type, raw in documents:
        if doc_type not in known_types:
            raise UnknownName("document type", doc_type, known_types, file=raw, field="--doc")
        checked.append((doc_type, check_document_path(raw, field=f"--doc {doc_type}")))
    stored_files: list[Path] = []
    try:
        docs = []
        for doc_type, path in checked:
            sha, size, stored, insp, known = _store_one(ws, doc_type, path,
                                                        rules.get(doc_type), stored_files)
            docs.append({"type": doc_type, "filename": path.name, "sha256": sha, "size": size,
                         "media_type": insp.media_type, "pages": insp.pages,
                         "inspection": known or to_json(insp),
                         "stored_path": str(stored.relative_to(ws.root)),
                         "expiry_date": expiry.get(doc_type), "issue_date": issued.get(doc_type)})
        yield docs
    except BaseException:
        # Content-addressed files may be shared with other claims: remove only those that no
        # stored claim refers to (new ones, from this call).
        ws.store.prune_documents(stored_files, ws.root)
        raise
