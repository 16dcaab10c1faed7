"""The pipeline board, a claim's page, its files, and the actions on a claim (each behind a
confirmation page): validate, build, submit, correct (upload), withdraw."""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from claims import api
from claims.web.common import action, flash, page, render

#: Actions offered per status (the API decides; this only chooses which buttons to show).
OFFERED = {
    "validate": {"DRAFT", "INVALID", "VALID", "READY", "NEEDS_ATTENTION"},
    "build": {"DRAFT", "INVALID", "VALID", "READY", "NEEDS_ATTENTION"},
    "submit": {"READY"},
    "correct": {"RETURNED"},
    "withdraw": {"DRAFT", "INVALID", "VALID", "READY", "NEEDS_ATTENTION", "REJECTED_BY_PORTAL"},
}
TITLES = {"validate": "Validate", "build": "Build the bundle", "submit": "Submit to the portal",
          "correct": "Correct the returned claim", "withdraw": "Withdraw"}


def _int(text: str | None, field: str, *, minimum: int = 0) -> int | None:
    if text is None or text.strip() == "":
        return None
    if not re.fullmatch(r"\d{1,6}", text.strip()) or int(text) < minimum:
        raise api.InputError(f"{text!r} is not a whole number of days", field=field,
                             rule="whole-number")
    return int(text)


def _claim_id(request: Request) -> int:
    return int(request.path_params["claim_id"])


@page
def board(request: Request, ws: api.Workspace) -> Response:
    """Claims by status with count and amount per column; filters in the query string."""
    q = request.query_params
    error = None
    try:
        filters = api.BoardFilters(contract=q.get("contract") or None,
                                   agency=q.get("agency") or None,
                                   portal=q.get("portal") or None,
                                   min_age_days=_int(q.get("age"), "age"),
                                   status=q.get("status") or None)
        data = api.claim_board(ws, filters)
    except api.InputError as err:
        error, filters = str(err), api.BoardFilters()
        data = api.claim_board(ws, filters)
    return render(request, "board.html", board=data, filters=filters, error=error,
                  statuses=api.claim_statuses())


def _attempts(claim: Any, entries: list[Any]) -> list[dict[str, Any]]:
    """Each submission step: the claim's events and the evidence entries with their files."""
    steps = [{"at": e.time, "kind": e.kind, "actor": e.actor, "metadata": e.metadata,
              "index": e.index, "files": sorted(e.blobs.items())}
             for e in entries if e.kind.startswith("submission.")]
    return steps


@page
def claim_page(request: Request, ws: api.Workspace) -> Response:
    """Everything about one claim: invoice, documents, findings, bundle, attempts, evidence."""
    claim = api.get_claim(ws, _claim_id(request))
    invoice = api.get_invoice(ws, claim.invoice_number)
    try:
        findings, findings_error = api.findings_for(ws, claim), None
    except api.ClaimsError as err:
        findings, findings_error = [], str(err)
    entries = api.evidence_log(ws, str(claim.id))
    report = api.verify_evidence(ws, str(claim.id))
    offered = [a for a, statuses in OFFERED.items() if claim.status.value in statuses]
    return render(request, "claim.html", claim=claim, invoice=invoice, findings=findings,
                  findings_error=findings_error, entries=entries,
                  timeline=api.evidence_log_lines(entries), report=report,
                  attempts=_attempts(claim, entries), offered=offered, titles=TITLES)


@page
def document(request: Request, ws: api.Workspace) -> Response:
    """A claim's document: PDFs inline (for the preview), anything else as a download."""
    path, media_type, filename = api.claim_document(ws, _claim_id(request),
                                                    int(request.path_params["n"]))
    inline = media_type == "application/pdf"
    return FileResponse(path, media_type=media_type, filename=filename,
                        content_disposition_type="inline" if inline else "attachment")


@page
def bundle(request: Request, ws: api.Workspace) -> Response:
    """The built bundle (zip) to download."""
    path = api.claim_bundle(ws, _claim_id(request))
    return FileResponse(path, media_type="application/zip", filename=path.name)


@page
def evidence_file(request: Request, ws: api.Workspace) -> Response:
    """A file recorded in evidence (screenshot, receipt): images and PDFs inline."""
    data, media_type = api.evidence_file(ws, int(request.path_params["index"]),
                                         request.path_params["name"])
    inline = media_type in ("image/png", "image/jpeg", "application/pdf")
    if not inline:
        media_type = "application/octet-stream"
    disposition = "inline" if inline else "attachment"
    return Response(data, media_type=media_type, headers={
        "content-disposition": f'{disposition}; filename="{request.path_params["name"]}"'})


@page
def confirm(request: Request, ws: api.Workspace) -> Response:
    """The confirmation page of an action (nothing changes until its form is posted)."""
    name = request.path_params["action"]
    if name not in OFFERED:
        raise api.NotFound("action", name)
    claim = api.get_claim(ws, _claim_id(request))
    doc_types = sorted({d.type for d in claim.documents})
    return render(request, "confirm.html", claim=claim, action=name, title=TITLES[name],
                  doc_types=doc_types)


def _after(request: Request, claim_id: int, message: str) -> str:
    flash(request, "ok", message)
    return f"/claims/{claim_id}"


@action
def validate(request: Request, ws: api.Workspace, form: Any) -> str:
    """Validate the claim; its findings show on its page."""
    claim_id = _claim_id(request)
    findings = api.validate_claim(ws, claim_id)
    errors = sum(1 for f in findings if f.is_error)
    return _after(request, claim_id, f"claim {claim_id} validated: {errors} error(s), "
                  f"{len(findings) - errors} other finding(s)")


@action
def build(request: Request, ws: api.Workspace, form: Any) -> str:
    """Build the bundle (validating first)."""
    claim_id = _claim_id(request)
    built = api.build_claim(ws, claim_id)
    return _after(request, claim_id, f"claim {claim_id} built: {built.zip_path.name}"
                  + (" (unchanged)" if built.reused else ""))


@action
def submit(request: Request, ws: api.Workspace, form: Any) -> str:
    """Submit through the portal with the never-twice machinery (leases, intent, reconcile):
    a second click, tab or person finds the claim taken or already filed."""
    claim_id = _claim_id(request)
    summary = api.submit_claims(ws, claim_id)
    if not summary.outcomes:
        raise api.ConflictError(f"claim {claim_id} was not submitted again: another "
                                "submission holds it or has filed it")
    outcome = summary.outcomes[0]
    if not outcome.ok:
        raise api.ConflictError(f"claim {claim_id} is {outcome.status}: {outcome.message}")
    return _after(request, claim_id, f"claim {claim_id} submitted: portal reference "
                  f"{outcome.reference}")


@action
def withdraw(request: Request, ws: api.Workspace, form: Any) -> str:
    """Withdraw with a reason."""
    claim_id = _claim_id(request)
    api.withdraw_claim(ws, claim_id, reason=str(form.get("reason") or ""))
    return _after(request, claim_id, f"claim {claim_id} withdrawn")


def _safe_name(filename: str) -> str:
    name = Path(filename.replace("\\", "/")).name
    return re.sub(r"[^A-Za-z0-9._ -]", "_", name)[:120] or "upload"


@action
def correct(request: Request, ws: api.Workspace, form: Any) -> str:
    """Replace documents of a RETURNED claim with uploaded files (checked like ``claim new``)."""
    claim_id = _claim_id(request)
    doc_type = str(form.get("type") or "").strip()
    upload = form.get("file")
    if not doc_type:
        raise api.InputError("choose the document type to replace", field="type",
                             rule="non-empty")
    if upload is None or not getattr(upload, "filename", ""):
        raise api.InputError("choose the corrected file to upload", field="file",
                             rule="non-empty")
    folder = Path(tempfile.mkdtemp(prefix="claims-upload-"))
    try:
        path = folder / _safe_name(upload.filename)
        with path.open("wb") as out:
            shutil.copyfileobj(upload.file, out)
        api.correct_claim(ws, claim_id, [(doc_type, str(path))])
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return _after(request, claim_id, f"claim {claim_id} corrected ({doc_type} replaced); "
                  "validate and build it, then submit")


@action
def sync_statuses(request: Request, ws: api.Workspace, form: Any) -> str:
    """Read every tracked claim's status from its portal (``claims status sync``)."""
    results = api.sync_statuses(ws)
    if not results:
        flash(request, "ok", "no tracked claims: no portal visited")
    for portal, r in results.items():
        if r.error is not None:
            flash(request, "error", f"{portal}: sync failed: {r.error}")
            continue
        changed = ", ".join(f"claim {c['claim']} {c['from']} -> {c['to']}" for c in r.changed)
        flash(request, "error" if r.failed else "ok",
              f"{portal}: {r.seen} on the portal, {len(r.changed)} changed"
              + (f" ({changed})" if changed else "") + f", {len(r.failed)} failed")
    return "/"


routes = [
    Route("/", board),
    Route("/status/sync", sync_statuses, methods=["POST"]),
    Route("/claims/{claim_id:int}", claim_page),
    Route("/claims/{claim_id:int}/documents/{n:int}", document),
    Route("/claims/{claim_id:int}/bundle", bundle),
    Route("/evidence/{index:int}/files/{name:str}", evidence_file),
    Route("/claims/{claim_id:int}/{action:str}", confirm, methods=["GET"]),
    Route("/claims/{claim_id:int}/validate", validate, methods=["POST"]),
    Route("/claims/{claim_id:int}/build", build, methods=["POST"]),
    Route("/claims/{claim_id:int}/submit", submit, methods=["POST"]),
    Route("/claims/{claim_id:int}/withdraw", withdraw, methods=["POST"]),
    Route("/claims/{claim_id:int}/correct", correct, methods=["POST"]),
]
