"""The auditor's pages: the evidence browser with its verification result, and the export of a
claim's evidence (a BagIt bag, zipped) that an auditor verifies offline."""

from __future__ import annotations

import shutil

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from claims import api
from claims.web.common import page, render

#: How many of the newest entries the browser lists.
SHOWN = 200


@page
def browser(request: Request, ws: api.Workspace) -> Response:
    """The newest evidence entries (of one claim with ``?claim=``) and the verification."""
    claim = request.query_params.get("claim") or None
    entries = api.evidence_log(ws, claim)
    report = api.verify_evidence(ws, claim)
    return render(request, "evidence.html", entries=list(reversed(entries[-SHOWN:])),
                  total=len(entries), report=report, claim=claim)


@page
def export(request: Request, ws: api.Workspace) -> Response:
    """Download a claim's evidence as a zipped BagIt export (the export itself is recorded in
    evidence with who made it)."""
    claim = request.query_params.get("claim") or ""
    if not claim.strip().isdigit():
        raise api.InputError("give the claim id to export", field="claim", rule="claim-id")
    api.get_claim(ws, int(claim))
    path = api.export_evidence_zip(ws, claim.strip())
    api.seal_evidence(ws)
    return FileResponse(path, media_type="application/zip", filename=path.name,
                        background=BackgroundTask(shutil.rmtree, path.parent,
                                                  ignore_errors=True))


routes = [
    Route("/evidence", browser),
    Route("/evidence/export", export),
]
