"""The four-step claim wizard: contract and period, invoice details, supporting documents,
review and declaration (the final submit, which files the claim or corrects a returned one).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from portals.sandbox import db
from portals.sandbox.rules import LIMITS, check_names, check_upload
from portals.sandbox.web.core import (
    account_id,
    contracts_of,
    doc_label,
    error_page,
    fmt_money,
    form_of,
    page,
    parse_date,
    parse_money,
    portal_of,
    render,
    see_other,
)


@page(None)
async def new_claim_form(request: Request) -> Response:
    """Step 1: choose the contract and the period."""
    with portal_of(request).Session() as s:
        contracts = contracts_of(s, account_id(request))
    return render(request, "step_contract.html", title="New claim", contracts=contracts, values={})


@page("contract")
async def new_claim_submit(request: Request) -> Response:
    """Check step 1 and start a draft; on to the invoice step."""
    portal = portal_of(request)
    form = form_of(request)
    errors: list[str] = []
    values = {k: str(form.get(k, "")) for k in ("contract", "period_start", "period_end")}
    with portal.Session() as s, s.begin():
        contracts = contracts_of(s, account_id(request))
        contract = next((c for c in contracts if c.number == values["contract"]), None)
        if contract is None:
            errors.append("Contract: choose one of your contracts")
        start = parse_date(values["period_start"], "Period start", errors)
        end = parse_date(values["period_end"], "Period end", errors)
        if start and end and end < start:
            errors.append("Period end: must not be before the period start")
        if errors or contract is None or start is None or end is None:
            return render(
                request,
                "step_contract.html",
                status=422,
                title="New claim",
                contracts=contracts,
                values=values,
                errors=errors,
            )
        draft = db.Draft(
            id=secrets.token_hex(16),
            account_id=account_id(request),
            contract_id=contract.id,
            period_start=start,
            period_end=end,
            currency=contract.currency,
        )
        s.add(draft)
    return see_other(f"/claims/new/{draft.id}/invoice")


def load_draft(s: Session, request: Request) -> db.Draft | None:
    """The draft named in the path if it is the caller's, else None."""
    draft = s.get(
        db.Draft,
        request.path_params["draft"],
        options=[selectinload(db.Draft.files), selectinload(db.Draft.contract)],
    )
    if draft is None or draft.account_id != account_id(request):
        return None
    return draft


def draft_gone(request: Request) -> Response:
    """The 404 page for a draft that is gone or not the caller's."""
    return error_page(
        request,
        404,
        "Claim draft not found",
        "This claim draft does not exist or has already been submitted.",
    )


def duplicate_of(
    s: Session, contract_id: int, invoice_number: str, except_claim: int | None
) -> db.Claim | None:
    """Another claim for this invoice on this contract (not ``except_claim``), or None."""
    query = select(db.Claim).where(
        db.Claim.contract_id == contract_id, db.Claim.invoice_number == invoice_number
    )
    if except_claim is not None:
        query = query.where(db.Claim.id != except_claim)
    return s.scalar(query)


def duplicate_message(claim: db.Claim, contract_number: str) -> str:
    """The duplicate-invoice message, naming the existing claim's reference."""
    return (
        f"Duplicate invoice: a claim for invoice {claim.invoice_number} already exists on "
        f"contract {contract_number} (reference {claim.reference})."
    )


@page(None)
async def invoice_form(request: Request) -> Response:
    """Step 2: the invoice details."""
    with portal_of(request).Session() as s:
        draft = load_draft(s, request)
        if draft is None:
            return draft_gone(request)
        values = {
            "invoice_number": draft.invoice_number or "",
            "invoice_date": str(draft.invoice_date or ""),
            "currency": draft.currency or draft.contract.currency,
            "net": draft.net or "",
            "vat": draft.vat or "",
            "total": draft.total or "",
        }
        return render(
            request, "step_invoice.html", title="Invoice details", draft=draft, values=values
        )


@page("invoice")
async def invoice_submit(request: Request) -> Response:
    """Check the invoice details (format, sums, duplicates); on to the documents."""
    form = form_of(request)
    keys = ("invoice_number", "invoice_date", "currency", "net", "vat", "total")
    values = {k: str(form.get(k, "")).strip() for k in keys}
    errors: list[str] = []
    with portal_of(request).Session() as s, s.begin():
        draft = load_draft(s, request)
        if draft is None:
            return draft_gone(request)
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9/_.-]{0,39}", values["invoice_number"]):
            errors.append("Invoice number: 1 to 40 letters, digits, '-', '/', '_' or '.'")
        inv_date = parse_date(values["invoice_date"], "Invoice date", errors)
        if inv_date and inv_date > dt.date.today() + dt.timedelta(days=1):
            errors.append("Invoice date: must not be in the future")
        if values["currency"] != draft.contract.currency:
            errors.append(f"Currency: this contract is paid in {draft.contract.currency}")
        net = parse_money(values["net"], "Net amount", errors)
        vat = parse_money(values["vat"], "VAT amount", errors)
        total = parse_money(values["total"], "Total amount", errors)
        if net is not None and vat is not None and total is not None and net + vat != total:
            errors.append(
                f"Total amount: {fmt_money(total)} is not net {fmt_money(net)} "
                f"plus VAT {fmt_money(vat)}"
            )
        if net is not None and net <= 0:
            errors.append("Net amount: must be more than zero")
        if not errors:
            dup = duplicate_of(s, draft.contract_id, values["invoice_number"], draft.resubmit_of)
            if dup is not None and portal_of(request).faults.duplicate_check:
                errors.append(duplicate_message(dup, draft.contract.number))
        if errors:
            return render(
                request,
                "step_invoice.html",
                status=422,
                title="Invoice details",
                draft=draft,
                values=values,
                errors=errors,
            )
        draft.invoice_number = values["invoice_number"]
        draft.invoice_date = inv_date
        draft.currency = values["currency"]
        draft.net, draft.vat, draft.total = str(net), str(vat), str(total)
        draft_id = draft.id
    return see_other(f"/claims/new/{draft_id}/documents")


@page(None)
async def documents_form(request: Request) -> Response:
    """Step 3: one upload field per document type of the contract."""
    with portal_of(request).Session() as s:
        draft = load_draft(s, request)
        if draft is None:
            return draft_gone(request)
        return render(
            request,
            "step_documents.html",
            title="Supporting documents",
            draft=draft,
            doc_types=[(t, doc_label(t)) for t in draft.contract.document_type_list],
            limits=LIMITS,
        )


@page("upload")
async def documents_submit(request: Request) -> Response:
    """Check and store the uploads (type, size, names); on to the review."""
    portal = portal_of(request)
    form = form_of(request)
    errors: list[str] = []
    with portal.Session() as s, s.begin():
        draft = load_draft(s, request)
        if draft is None:
            return draft_gone(request)
        doc_types = draft.contract.document_type_list
        uploads: list[tuple[str, str, bytes]] = []
        for doc_type in doc_types:
            item = form.get(f"file:{doc_type}")
            name, content = "", b""
            if isinstance(item, UploadFile):
                name = item.filename or ""
                # the parser spooled the file to disk while it streamed in: check its size
                # before reading any of it into memory
                if item.size is not None and item.size > LIMITS.max_file_bytes:
                    errors.append(f"{doc_label(doc_type)}: {name} is larger than 10 MB")
                    uploads.append((doc_type, name, b""))
                    continue
                content = await item.read()
            if name and portal.faults.fire("fail_upload", doc_type):
                return error_page(
                    request,
                    503,
                    "Upload failed",
                    f"{doc_label(doc_type)}: the file could not be stored. Please try again later.",
                )
            errors.extend(check_upload(doc_label(doc_type), name, content))
            uploads.append((doc_type, name, content))
        errors.extend(check_names([name for _, name, _ in uploads if name]))
        if errors:
            return render(
                request,
                "step_documents.html",
                status=422,
                title="Supporting documents",
                draft=draft,
                errors=errors,
                doc_types=[(t, doc_label(t)) for t in doc_types],
                limits=LIMITS,
            )
        draft.files.clear()
        for doc_type, name, content in uploads:
            draft.files.append(
                db.DraftFile(
                    document_type=doc_type,
                    filename=name,
                    size=len(content),
                    sha256=hashlib.sha256(content).hexdigest(),
                    content=content,
                )
            )
        draft_id = draft.id
    return see_other(f"/claims/new/{draft_id}/review")


@page("review")
async def review_form(request: Request) -> Response:
    """Step 4: review and declaration."""
    with portal_of(request).Session() as s:
        draft = load_draft(s, request)
        if draft is None:
            return draft_gone(request)
        if draft.invoice_number is None or not draft.files:
            return see_other(f"/claims/new/{draft.id}/invoice")
        return render(
            request,
            "step_review.html",
            title="Review and declaration",
            draft=draft,
            fmt_money=fmt_money,
            doc_label=doc_label,
        )


@page("final_submit")
async def review_submit(request: Request) -> Response:
    """The final submit: file the claim (or the correction) and show its receipt."""
    portal = portal_of(request)
    form = form_of(request)
    now = db.utcnow()
    with portal.Session() as s, s.begin():
        draft = load_draft(s, request)
        if draft is None:
            return draft_gone(request)
        if form.get("declaration") != "yes":
            return render(
                request,
                "step_review.html",
                status=422,
                title="Review and declaration",
                draft=draft,
                fmt_money=fmt_money,
                doc_label=doc_label,
                errors=["Declaration: you must confirm the declaration to submit"],
            )
        if draft.invoice_number is None or draft.invoice_date is None or not draft.files:
            # the review form was posted before steps 2 and 3 were complete
            return see_other(f"/claims/new/{draft.id}/invoice")
        dup = duplicate_of(s, draft.contract_id, draft.invoice_number, draft.resubmit_of)
        if dup is not None and portal_of(request).faults.duplicate_check:
            return render(
                request,
                "step_review.html",
                status=409,
                title="Review and declaration",
                draft=draft,
                fmt_money=fmt_money,
                doc_label=doc_label,
                errors=[duplicate_message(dup, draft.contract.number)],
            )
        if draft.resubmit_of is not None:
            claim = s.get(db.Claim, draft.resubmit_of)
            if claim is None or claim.status != "returned":
                return error_page(
                    request,
                    409,
                    "Claim cannot be resubmitted",
                    "Only a claim returned for correction can be resubmitted.",
                )
            note = "resubmitted after correction"
            claim.files.clear()
        else:
            claim = db.Claim(
                account_id=draft.account_id, contract_id=draft.contract_id, submitted_at=now
            )
            s.add(claim)
            note = "submitted"
        claim.invoice_number = draft.invoice_number
        claim.invoice_date = draft.invoice_date
        claim.period_start, claim.period_end = draft.period_start, draft.period_end
        claim.currency = draft.currency or draft.contract.currency
        claim.net, claim.vat, claim.total = draft.net or "0", draft.vat or "0", draft.total or "0"
        claim.status, claim.status_at = "submitted", now
        for f in draft.files:
            claim.files.append(
                db.ClaimFile(
                    document_type=f.document_type,
                    filename=f.filename,
                    size=f.size,
                    sha256=f.sha256,
                    content=f.content,
                )
            )
        claim.events.append(db.StatusEvent(status="submitted", at=now, note=note))
        s.flush()
        if claim.reference is None:
            claim.reference = f"CLM-{claim.submitted_at.year}-{claim.id:06d}"
        reference = claim.reference
        s.delete(draft)
    if portal.faults.fire("lost_response", "final_submit"):
        # the claim is stored; the answer never reaches the supplier (a proxy times out)
        return PlainTextResponse("502 Bad Gateway", status_code=502)
    return see_other(f"/claims/{reference}/receipt")


#: the wizard's pages, for :func:`portals.sandbox.app.create_app`
ROUTES = [
    Route("/claims/new", new_claim_form, methods=["GET"]),
    Route("/claims/new", new_claim_submit, methods=["POST"]),
    Route("/claims/new/{draft}/invoice", invoice_form, methods=["GET"]),
    Route("/claims/new/{draft}/invoice", invoice_submit, methods=["POST"]),
    Route("/claims/new/{draft}/documents", documents_form, methods=["GET"]),
    Route("/claims/new/{draft}/documents", documents_submit, methods=["POST"]),
    Route("/claims/new/{draft}/review", review_form, methods=["GET"]),
    Route("/claims/new/{draft}/review", review_submit, methods=["POST"]),
]
