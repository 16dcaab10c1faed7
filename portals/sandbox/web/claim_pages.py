"""One claim of the supplier's: its page (history, comments, payments), its documents, and
"Correct and resubmit" for a returned claim.
"""

from __future__ import annotations

import secrets
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portals.sandbox import db
from portals.sandbox.web.core import (
    account_id,
    doc_label,
    error_page,
    fmt_money,
    page,
    portal_of,
    render,
    see_other,
)


def own_claim(s: Session, request: Request) -> db.Claim | None:
    """The claim named in the path if it is the caller's, with everything it shows; else None."""
    claim = s.scalar(
        select(db.Claim)
        .where(db.Claim.reference == request.path_params["ref"])
        .options(
            selectinload(db.Claim.files),
            selectinload(db.Claim.events),
            selectinload(db.Claim.comments),
            selectinload(db.Claim.payments),
            selectinload(db.Claim.contract),
        )
    )
    if claim is None or claim.account_id != account_id(request):
        return None
    return claim


def claim_gone(request: Request) -> Response:
    """The 404 page for a claim that is not the caller's."""
    return error_page(request, 404, "Claim not found", "There is no such claim on your account.")


@page("claim")
async def claim_page(request: Request) -> Response:
    """One claim: its amounts, status history, comments, payments and documents."""
    with portal_of(request).Session() as s:
        claim = own_claim(s, request)
        if claim is None:
            return claim_gone(request)
        paid = sum((Decimal(p.amount) for p in claim.payments), Decimal(0))
        return render(
            request,
            "claim.html",
            title=f"Claim {claim.reference}",
            claim=claim,
            fmt_money=fmt_money,
            paid=paid,
            doc_label=doc_label,
            aware=db.aware,
        )


@page("claim")
async def claim_document(request: Request) -> Response:
    """Download one of the claim's documents."""
    with portal_of(request).Session() as s:
        claim = own_claim(s, request)
        if claim is None:
            return claim_gone(request)
        f = next((f for f in claim.files if f.id == int(request.path_params["file"])), None)
        if f is None:
            return error_page(request, 404, "Document not found", "No such document.")
        return Response(
            f.content,
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{f.filename}"'},
        )


@page("resubmit")
async def claim_resubmit(request: Request) -> Response:
    """Start correcting a returned claim: a draft prefilled from it, on the invoice step."""
    with portal_of(request).Session() as s, s.begin():
        claim = own_claim(s, request)
        if claim is None:
            return claim_gone(request)
        if claim.status != "returned":
            return error_page(
                request,
                409,
                "Claim cannot be resubmitted",
                "Only a claim returned for correction can be resubmitted.",
            )
        draft = db.Draft(
            id=secrets.token_hex(16),
            account_id=claim.account_id,
            contract_id=claim.contract_id,
            resubmit_of=claim.id,
            period_start=claim.period_start,
            period_end=claim.period_end,
            invoice_number=claim.invoice_number,
            invoice_date=claim.invoice_date,
            currency=claim.currency,
            net=claim.net,
            vat=claim.vat,
            total=claim.total,
        )
        s.add(draft)
    return see_other(f"/claims/new/{draft.id}/invoice")


#: one claim's pages, for :func:`portals.sandbox.app.create_app`
ROUTES = [
    Route("/claims/{ref}", claim_page),
    Route("/claims/{ref}/documents/{file:int}", claim_document),
    Route("/claims/{ref}/resubmit", claim_resubmit, methods=["POST"]),
]
