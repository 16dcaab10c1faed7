"""The sandbox e-claims portal: a Starlette web app that behaves like a government portal.

Supplier side: password + TOTP login, CSRF tokens on every form, idle session expiry, lockout
after 3 wrong passwords, a four-step claim wizard, receipts (page + PDF), a paginated claims list
with CSV export, claim pages with history, comments and payments, correction of returned claims.
Back office (JSON, header ``X-Backoffice-Token``): seed accounts and contracts, move claims,
record payments, switch faults and maintenance at run time.

The app is deliberately single-threaded (async handlers, quick SQLite calls inline): claim
references are sequential and the fault counters need no locks.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import hashlib
import hmac
import io
import math
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pyotp
from fpdf import FPDF
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, selectinload
from starlette.applications import Starlette
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from portals.sandbox import db
from portals.sandbox.faults import Faults, FaultSpecError
from portals.sandbox.rules import LIMITS, check_names, check_upload

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
COOKIE = "portal_session"
MAX_FAILED_LOGINS = 3
STATUSES = (
    "submitted", "under_review", "returned", "approved", "payment_ordered", "paid", "rejected",
)  # fmt: skip
#: back-office moves; "returned" → "submitted" happens when the supplier resubmits
TRANSITIONS: dict[str, set[str]] = {
    "submitted": {"under_review", "rejected"},
    "under_review": {"returned", "approved", "rejected"},
    "returned": {"rejected"},
    "approved": {"payment_ordered", "rejected"},
    "payment_ordered": set(),
    "paid": set(),
    "rejected": set(),
}
#: a partial payment leaves the claim payment_ordered (the amount paid so far is reported)
PAYABLE = {"approved", "payment_ordered"}
DOC_TITLES = {
    "invoice": "Invoice",
    "timesheet": "Timesheet",
    "completion-certificate": "Completion certificate",
    "delivery-note": "Delivery note",
    "purchase-order": "Purchase order",
}


def doc_label(doc_type: str) -> str:
    """The upload field's label: a human title plus the type id in brackets (stable for robots)."""
    title = DOC_TITLES.get(doc_type, doc_type.replace("-", " ").capitalize())
    return f"{title} ({doc_type})"


@dataclass
class WebSession:
    token: str
    csrf: str
    last_seen: float  # ok: monotonic seconds
    account_id: int | None = None
    pending_account: int | None = None


@dataclass
class PortalConfig:
    db_path: Path
    backoffice_token: str
    idle_timeout: float = 900.0  # ok: seconds
    faults: str = ""
    secret_key: str = ""


class Portal:
    """The portal's state: database, live sessions, faults."""

    def __init__(self, config: PortalConfig):
        self.config = config
        self.engine = db.make_engine(config.db_path)
        self.Session = db.make_sessionmaker(self.engine)
        self.faults = Faults.parse(config.faults)
        self.sessions: dict[str, WebSession] = {}
        self.signer = URLSafeSerializer(config.secret_key or secrets.token_hex(32), "session")

    # -- sessions -------------------------------------------------------------------------
    def load_session(self, request: Request) -> tuple[WebSession | None, bool]:
        """The caller's session and whether it just expired (idle too long)."""
        raw = request.cookies.get(COOKIE)
        if not raw:
            return None, False
        try:
            token = self.signer.loads(raw)
        except BadSignature:
            return None, False
        sess = self.sessions.get(token)
        if sess is None:
            return None, False
        now = time.monotonic()
        if now - sess.last_seen > self.config.idle_timeout:
            del self.sessions[token]
            return None, sess.account_id is not None
        sess.last_seen = now
        return sess, False

    def new_session(self) -> WebSession:
        sess = WebSession(secrets.token_urlsafe(32), secrets.token_urlsafe(32), time.monotonic())
        self.sessions[sess.token] = sess
        return sess

    def drop(self, sess: WebSession) -> None:
        self.sessions.pop(sess.token, None)

    def set_cookie(self, response: Response, sess: WebSession) -> None:
        response.set_cookie(
            COOKIE, self.signer.dumps(sess.token), httponly=True, samesite="lax", path="/"
        )


# -- helpers --------------------------------------------------------------------------------
def portal_of(request: Request) -> Portal:
    return request.app.state.portal  # type: ignore[no-any-return]


def render(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    sess: WebSession | None = getattr(request.state, "sess", None)
    context.setdefault("errors", [])
    context.update(
        request=request, csrf=sess.csrf if sess else "", user=getattr(request.state, "user", None)
    )
    return TEMPLATES.TemplateResponse(request, template, context, status_code=status)


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def error_page(request: Request, status: int, title: str, message: str) -> Response:
    return render(request, "error.html", status=status, title=title, message=message)


def parse_date(value: str, label: str, errors: list[str]) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        errors.append(f"{label}: enter a date like 2026-01-31")
        return None


def parse_money(value: str, label: str, errors: list[str]) -> Decimal | None:
    text = value.strip().replace(",", "")
    if not re.fullmatch(r"-?\d{1,12}(\.\d{1,2})?", text):
        errors.append(f"{label}: enter an amount like 1234.50")
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        errors.append(f"{label}: enter an amount like 1234.50")
        return None


def fmt_money(value: str | Decimal) -> str:
    return f"{Decimal(value):,.2f}"


Handler = Callable[[Request], Awaitable[Response]]


def page(step: str | None, *, auth: bool = True) -> Callable[[Handler], Handler]:
    """Wrap a supplier page: maintenance, injected faults, session, idle expiry and CSRF."""

    def wrap(fn: Handler) -> Handler:
        async def handler(request: Request) -> Response:
            portal = portal_of(request)
            faults = portal.faults
            if faults.maintenance:
                return render(request, "maintenance.html", status=503, title="Maintenance")
            delay = faults.delay_for(step or "")
            if delay:
                await asyncio.sleep(delay)  # ok: injected latency is the point of this fault
            if step and faults.fire("http500", step):
                return error_page(request, 500, "Internal server error", "Something went wrong.")
            sess, expired = portal.load_session(request)
            request.state.sess = sess
            if auth:
                if sess is None or sess.account_id is None:
                    return see_other("/login?expired=1" if expired else "/login")
                if step and faults.fire("expire_session", step):
                    portal.drop(sess)
                    return see_other("/login?expired=1")
                with portal.Session() as s:
                    request.state.user = s.get(db.Account, sess.account_id)
            if request.method == "POST":
                form = await request.form(max_part_size=2 * 1024 * 1024)
                request.state.form = form
                given = str(form.get("csrf_token", ""))
                if sess is None or not hmac.compare_digest(given, sess.csrf):
                    return error_page(
                        request, 403, "Request refused",
                        "The form's security token is missing or out of date. "
                        "Go back, reload the page and try again.",
                    )  # fmt: skip
            return await fn(request)

        return handler

    return wrap


def form_of(request: Request) -> FormData:
    return request.state.form  # type: ignore[no-any-return]


def account_id(request: Request) -> int:
    return request.state.sess.account_id  # type: ignore[no-any-return]


# -- login ------------------------------------------------------------------------------------
@page(None, auth=False)
async def login_form(request: Request) -> Response:
    portal = portal_of(request)
    sess = request.state.sess
    fresh = sess is None
    if fresh:
        sess = request.state.sess = portal.new_session()
    notice = (
        "Your session has expired. Please sign in again."
        if request.query_params.get("expired")
        else None
    )
    response = render(request, "login.html", title="Sign in", notice=notice)
    if fresh:
        portal.set_cookie(response, sess)
    return response


@page("login", auth=False)
async def login_submit(request: Request) -> Response:
    portal = portal_of(request)
    form = form_of(request)
    sess: WebSession = request.state.sess
    username = str(form.get("username", "")).strip()
    password = str(form.get("password", ""))
    with portal.Session() as s, s.begin():
        account = s.scalar(select(db.Account).where(db.Account.username == username))
        if account is not None and account.locked:
            return render(request, "login.html", status=403, title="Sign in", errors=[
                ("This account is locked after too many failed sign-in attempts. "
                "Contact the help desk to unlock it.")])  # fmt: skip
        if account is None or not db.check_password(password, account.password_hash):
            if account is not None:
                account.failed_logins += 1
                if account.failed_logins >= MAX_FAILED_LOGINS:
                    account.locked = True
                    return render(request, "login.html", status=403, title="Sign in", errors=[
                        ("This account is locked after too many failed sign-in attempts. "
                        "Contact the help desk to unlock it.")])  # fmt: skip
            return render(
                request,
                "login.html",
                status=401,
                title="Sign in",
                errors=["Invalid username or password."],
                username=username,
            )
        account.failed_logins = 0
        has_totp = bool(account.totp_secret)
        acc_id = account.id
    # a new session on every privilege change (no session fixation)
    portal.drop(sess)
    new = portal.new_session()
    if has_totp:
        new.pending_account = acc_id
        response: Response = see_other("/login/totp")
    else:
        new.account_id = acc_id
        response = see_other("/claims")
    portal.set_cookie(response, new)
    return response


@page(None, auth=False)
async def totp_form(request: Request) -> Response:
    sess = request.state.sess
    if sess is None or sess.pending_account is None:
        return see_other("/login")
    return render(request, "totp.html", title="Enter your one-time code")


@page("totp", auth=False)
async def totp_submit(request: Request) -> Response:
    portal = portal_of(request)
    sess: WebSession = request.state.sess
    if sess.pending_account is None:
        return see_other("/login")
    code = re.sub(r"\s", "", str(form_of(request).get("code", "")))
    with portal.Session() as s:
        account = s.get(db.Account, sess.pending_account)
        ok = (
            account is not None
            and not account.locked
            and bool(account.totp_secret)
            and pyotp.TOTP(account.totp_secret or "").verify(code, valid_window=1)
        )
    if not ok:
        return render(
            request,
            "totp.html",
            status=401,
            title="Enter your one-time code",
            errors=[
                (
                    "The one-time code is not valid. Enter the current code from "
                    "your authenticator app."
                )
            ],
        )
    portal.drop(sess)
    new = portal.new_session()
    new.account_id = sess.pending_account
    response = see_other("/claims")
    portal.set_cookie(response, new)
    return response


@page(None)
async def logout(request: Request) -> Response:
    portal_of(request).drop(request.state.sess)
    response = see_other("/login")
    response.delete_cookie(COOKIE, path="/")
    return response


# -- wizard -------------------------------------------------------------------------------
def contracts_of(s: Session, acc: int) -> list[db.Contract]:
    return list(
        s.scalars(
            select(db.Contract).where(db.Contract.account_id == acc).order_by(db.Contract.number)
        )
    )


@page(None)
async def new_claim_form(request: Request) -> Response:
    with portal_of(request).Session() as s:
        contracts = contracts_of(s, account_id(request))
    return render(request, "step_contract.html", title="New claim", contracts=contracts, values={})


@page("contract")
async def new_claim_submit(request: Request) -> Response:
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
    draft = s.get(
        db.Draft,
        request.path_params["draft"],
        options=[selectinload(db.Draft.files), selectinload(db.Draft.contract)],
    )
    if draft is None or draft.account_id != account_id(request):
        return None
    return draft


def draft_gone(request: Request) -> Response:
    return error_page(
        request,
        404,
        "Claim draft not found",
        "This claim draft does not exist or has already been submitted.",
    )


def duplicate_of(
    s: Session, contract_id: int, invoice_number: str, except_claim: int | None
) -> db.Claim | None:
    query = select(db.Claim).where(
        db.Claim.contract_id == contract_id, db.Claim.invoice_number == invoice_number
    )
    if except_claim is not None:
        query = query.where(db.Claim.id != except_claim)
    return s.scalar(query)


def duplicate_message(claim: db.Claim, contract_number: str) -> str:
    return (
        f"Duplicate invoice: a claim for invoice {claim.invoice_number} already exists on "
        f"contract {contract_number} (reference {claim.reference})."
    )


@page(None)
async def invoice_form(request: Request) -> Response:
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
        if dup is not None and portal.faults.duplicate_check:
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


# -- claims -----------------------------------------------------------------------------------
def own_claim(s: Session, request: Request) -> db.Claim | None:
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
    return error_page(request, 404, "Claim not found", "There is no such claim on your account.")


@page("receipt")
async def receipt_page(request: Request) -> Response:
    with portal_of(request).Session() as s:
        claim = own_claim(s, request)
        if claim is None:
            return claim_gone(request)
        return render(
            request,
            "receipt.html",
            title="Claim submitted",
            claim=claim,
            fmt_money=fmt_money,
            submitted_at=db.aware(claim.status_at),
        )


def receipt_pdf_bytes(claim: db.Claim) -> bytes:
    def latin(text: str) -> str:
        return text.encode("latin-1", "replace").decode("latin-1")

    pdf = FPDF()
    pdf.set_title(f"Receipt {claim.reference}")
    pdf.set_creation_date(claim.status_at.replace(tzinfo=dt.UTC))
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, "Agency e-Claims Portal - claim receipt", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=11)
    rows = [
        ("Reference", claim.reference or ""),
        ("Received (UTC)", db.aware(claim.status_at).isoformat()),  # type: ignore[union-attr]
        ("Contract", claim.contract.number),
        ("Invoice", f"{claim.invoice_number} of {claim.invoice_date}"),
        ("Period", f"{claim.period_start} to {claim.period_end}"),
        ("Net", f"{claim.currency} {fmt_money(claim.net)}"),
        ("VAT", f"{claim.currency} {fmt_money(claim.vat)}"),
        ("Total", f"{claim.currency} {fmt_money(claim.total)}"),
    ]
    for key, value in rows:
        pdf.cell(0, 7, latin(f"{key}: {value}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.cell(0, 7, "Documents received:", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Courier", size=8)
    for f in claim.files:
        pdf.multi_cell(
            0,
            5,
            latin(f"{f.document_type}: {f.filename} ({f.size} bytes) sha256 {f.sha256}"),
            new_x="LMARGIN",
            new_y="NEXT",
        )
    return bytes(pdf.output())


def payment_advice_bytes(claim: db.Claim) -> bytes:
    pdf = FPDF()
    pdf.set_title(f"Payment advice {claim.reference}")
    pdf.set_creation_date(claim.status_at.replace(tzinfo=dt.UTC))
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, "Agency e-Claims Portal - payment advice", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=11)
    pdf.cell(
        0,
        7,
        f"Claim {claim.reference}, invoice {claim.invoice_number}, contract "
        f"{claim.contract.number}",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    paid = Decimal(0)
    for p in claim.payments:
        paid += Decimal(p.amount)
        pdf.cell(
            0,
            7,
            f"{p.paid_on}  {claim.currency} {fmt_money(p.amount)}  ref {p.reference}",
            new_x="LMARGIN",
            new_y="NEXT",
        )
    pdf.cell(
        0,
        7,
        f"Paid {claim.currency} {fmt_money(paid)} of {fmt_money(claim.total)}",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    return bytes(pdf.output())


@page("claim")
async def payment_advice_pdf(request: Request) -> Response:
    with portal_of(request).Session() as s:
        claim = own_claim(s, request)
        if claim is None or not claim.payments:
            return claim_gone(request)
        body = payment_advice_bytes(claim)
        name = f"payment-advice-{claim.reference}.pdf"
    return Response(
        body,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@page("receipt")
async def receipt_pdf(request: Request) -> Response:
    with portal_of(request).Session() as s:
        claim = own_claim(s, request)
        if claim is None:
            return claim_gone(request)
        body = receipt_pdf_bytes(claim)
        name = f"receipt-{claim.reference}.pdf"
    return Response(
        body,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def claim_filters(request: Request) -> tuple[Any, dict[str, str]]:
    params = {k: request.query_params.get(k, "").strip() for k in ("status", "contract", "invoice")}
    query = (
        select(db.Claim.id)
        .join(db.Contract, db.Claim.contract_id == db.Contract.id)
        .where(db.Claim.account_id == account_id(request))
    )
    if params["status"]:
        query = query.where(db.Claim.status == params["status"])
    if params["contract"]:
        query = query.where(db.Contract.number == params["contract"])
    if params["invoice"]:
        query = query.where(db.Claim.invoice_number == params["invoice"])
    return query, params


@page("list")
async def claims_list(request: Request) -> Response:
    query, params = claim_filters(request)
    try:
        page_no = max(1, int(request.query_params.get("page", "1")))
        per_page = min(100, max(1, int(request.query_params.get("per_page", "25"))))
    except ValueError:
        page_no, per_page = 1, 25
    with portal_of(request).Session() as s:
        total = s.scalar(select(func.count()).select_from(query.subquery())) or 0
        ids = query.order_by(db.Claim.id.desc()).limit(per_page).offset((page_no - 1) * per_page)
        rows = s.execute(
            select(
                db.Claim.reference,
                db.Contract.number,
                db.Claim.invoice_number,
                db.Claim.invoice_date,
                db.Claim.currency,
                db.Claim.total,
                db.Claim.status,
                db.Claim.status_at,
            )
            .join(db.Contract, db.Claim.contract_id == db.Contract.id)
            .where(db.Claim.id.in_(ids.scalar_subquery()))
            .order_by(db.Claim.id.desc())
        ).all()
        contracts = contracts_of(s, account_id(request))
    pages = max(1, math.ceil(total / per_page))
    qs = "&".join(f"{k}={v}" for k, v in params.items() if v)
    return render(
        request,
        "claims.html",
        title="My claims",
        rows=rows,
        total=total,
        page_no=page_no,
        pages=pages,
        per_page=per_page,
        params=params,
        qs=qs,
        statuses=STATUSES,
        contracts=contracts,
        fmt_money=fmt_money,
    )


CSV_COLUMNS = (
    "reference", "contract_number", "invoice_number", "invoice_date", "period_start",
    "period_end", "currency", "net", "vat", "total", "status", "status_at", "submitted_at",
    "paid_amount", "paid_date", "payment_reference", "comments",
)  # fmt: skip


@page("export")
async def claims_export(request: Request) -> Response:
    """Every matching claim as CSV, in a handful of queries whatever the number of claims."""
    query, _ = claim_filters(request)
    ids = query.scalar_subquery()
    with portal_of(request).Session() as s:
        rows = s.execute(
            select(
                db.Claim.id,
                db.Claim.reference,
                db.Contract.number,
                db.Claim.invoice_number,
                db.Claim.invoice_date,
                db.Claim.period_start,
                db.Claim.period_end,
                db.Claim.currency,
                db.Claim.net,
                db.Claim.vat,
                db.Claim.total,
                db.Claim.status,
                db.Claim.status_at,
                db.Claim.submitted_at,
            )
            .join(db.Contract, db.Claim.contract_id == db.Contract.id)
            .where(db.Claim.id.in_(ids))
            .order_by(db.Claim.id)
        ).all()
        comments: dict[int, list[str]] = {}
        for cid, text in s.execute(
            select(db.Comment.claim_id, db.Comment.text)
            .where(db.Comment.claim_id.in_(ids))
            .order_by(db.Comment.id)
        ):
            comments.setdefault(cid, []).append(text)
        payments: dict[int, list[tuple[str, dt.date, str]]] = {}
        for cid, amount, paid_on, ref in s.execute(
            select(db.Payment.claim_id, db.Payment.amount, db.Payment.paid_on, db.Payment.reference)
            .where(db.Payment.claim_id.in_(ids))
            .order_by(db.Payment.id)
        ):
            payments.setdefault(cid, []).append((amount, paid_on, ref))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        paid = payments.get(row[0], [])
        writer.writerow(
            [
                *row[1:12],
                db.aware(row[12]).isoformat(),  # type: ignore[union-attr]
                db.aware(row[13]).isoformat(),  # type: ignore[union-attr]
                str(sum((Decimal(p[0]) for p in paid), Decimal(0))) if paid else "",
                str(paid[-1][1]) if paid else "",
                paid[-1][2] if paid else "",
                "\n".join(comments.get(row[0], [])),
            ]
        )
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="claims.csv"'},
    )


@page("claim")
async def claim_page(request: Request) -> Response:
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


# -- back office --------------------------------------------------------------------------------
class BackofficeError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def backoffice(fn: Callable[[Request, Portal, dict[str, Any]], Any]) -> Handler:
    async def handler(request: Request) -> Response:
        portal = portal_of(request)
        given = request.headers.get("x-backoffice-token", "")
        if not hmac.compare_digest(given, portal.config.backoffice_token):
            return JSONResponse({"error": "missing or wrong X-Backoffice-Token"}, status_code=401)
        body: dict[str, Any] = {}
        if request.method in ("POST", "PUT"):
            try:
                body = await request.json()
            except ValueError:
                return JSONResponse({"error": "body must be JSON"}, status_code=400)
        try:
            result = fn(request, portal, body)
        except BackofficeError as err:
            return JSONResponse({"error": str(err)}, status_code=err.status)
        except (KeyError, TypeError, ValueError, InvalidOperation) as err:
            return JSONResponse({"error": f"bad request: {err!r}"}, status_code=400)
        return JSONResponse(result)

    return handler


def bo_add_account(request: Request, portal: Portal, body: dict[str, Any]) -> dict[str, Any]:
    with portal.Session() as s, s.begin():
        account = s.scalar(select(db.Account).where(db.Account.username == body["username"]))
        if account is None:
            account = db.Account(username=body["username"])
            s.add(account)
        account.password_hash = db.hash_password(body["password"])
        account.totp_secret = body.get("totp_secret") or None
        account.failed_logins, account.locked = 0, False
    return {"username": body["username"]}


def bo_unlock(request: Request, portal: Portal, body: dict[str, Any]) -> dict[str, Any]:
    with portal.Session() as s, s.begin():
        account = s.scalar(
            select(db.Account).where(db.Account.username == request.path_params["username"])
        )
        if account is None:
            raise BackofficeError(404, "no such account")
        account.failed_logins, account.locked = 0, False
    return {"username": request.path_params["username"], "locked": False}


def bo_account(request: Request, portal: Portal, body: dict[str, Any]) -> dict[str, Any]:
    with portal.Session() as s:
        account = s.scalar(
            select(db.Account).where(db.Account.username == request.path_params["username"])
        )
        if account is None:
            raise BackofficeError(404, "no such account")
        return {
            "username": account.username,
            "locked": account.locked,
            "failed_logins": account.failed_logins,
        }


def bo_add_contract(request: Request, portal: Portal, body: dict[str, Any]) -> dict[str, Any]:
    doc_types = list(body.get("document_types") or ["invoice"])
    if len(doc_types) > LIMITS.max_files or len(set(doc_types)) != len(doc_types):
        raise BackofficeError(400, f"document_types: 1 to {LIMITS.max_files} distinct types")
    with portal.Session() as s, s.begin():
        account = s.scalar(select(db.Account).where(db.Account.username == body["username"]))
        if account is None:
            raise BackofficeError(404, f"no account {body['username']!r}")
        contract = s.scalar(select(db.Contract).where(db.Contract.number == body["number"]))
        if contract is None:
            contract = db.Contract(number=body["number"])
            s.add(contract)
        contract.account_id = account.id
        contract.title = body.get("title") or body["number"]
        contract.currency = body.get("currency", "EUR")
        contract.document_types = ",".join(doc_types)
    return {"number": body["number"], "document_types": doc_types}


def claim_json(claim: db.Claim) -> dict[str, Any]:
    paid = [p for p in claim.payments]
    return {
        "reference": claim.reference,
        "contract_number": claim.contract.number,
        "invoice_number": claim.invoice_number,
        "status": claim.status,
        "status_at": db.aware(claim.status_at).isoformat(),  # type: ignore[union-attr]
        "total": claim.total,
        "currency": claim.currency,
        "files": [
            {"document_type": f.document_type, "filename": f.filename, "sha256": f.sha256}
            for f in claim.files
        ],
        "history": [{"status": e.status, "note": e.note} for e in claim.events],
        "comments": [c.text for c in claim.comments],
        "payments": [
            {"amount": p.amount, "date": str(p.paid_on), "reference": p.reference} for p in paid
        ],
    }


def bo_claim_for(s: Session, ref: str) -> db.Claim:
    claim = s.scalar(select(db.Claim).where(db.Claim.reference == ref))
    if claim is None:
        raise BackofficeError(404, f"no claim {ref}")
    return claim


def bo_claim(request: Request, portal: Portal, body: dict[str, Any]) -> dict[str, Any]:
    with portal.Session() as s:
        return claim_json(bo_claim_for(s, request.path_params["ref"]))


def bo_claims(request: Request, portal: Portal, body: dict[str, Any]) -> dict[str, Any]:
    with portal.Session() as s:
        query = select(db.Claim)
        inv = request.query_params.get("invoice")
        if inv:
            query = query.where(db.Claim.invoice_number == inv)
        return {"claims": [claim_json(c) for c in s.scalars(query.order_by(db.Claim.id))]}


def bo_move(request: Request, portal: Portal, body: dict[str, Any]) -> dict[str, Any]:
    target = body["status"]
    now = db.utcnow()
    with portal.Session() as s, s.begin():
        claim = bo_claim_for(s, request.path_params["ref"])
        if target not in TRANSITIONS.get(claim.status, set()):
            raise BackofficeError(409, f"cannot move a {claim.status} claim to {target}")
        reasons = [str(r) for r in body.get("reasons") or []]
        if target == "returned" and not reasons:
            raise BackofficeError(400, "a returned claim needs at least one reason")
        claim.status, claim.status_at = target, now
        claim.events.append(db.StatusEvent(status=target, at=now, note="; ".join(reasons)))
        for reason in reasons:
            claim.comments.append(db.Comment(at=now, text=f"Returned: {reason}"))
        if body.get("comment"):
            claim.comments.append(db.Comment(at=now, text=str(body["comment"])))
        s.flush()
        return claim_json(claim)


def bo_comment(request: Request, portal: Portal, body: dict[str, Any]) -> dict[str, Any]:
    with portal.Session() as s, s.begin():
        claim = bo_claim_for(s, request.path_params["ref"])
        claim.comments.append(db.Comment(at=db.utcnow(), text=str(body["text"])))
        s.flush()
        return claim_json(claim)


def bo_pay(request: Request, portal: Portal, body: dict[str, Any]) -> dict[str, Any]:
    amount = Decimal(str(body["amount"]))
    if amount <= 0:
        raise BackofficeError(400, "amount must be positive")
    now = db.utcnow()
    with portal.Session() as s, s.begin():
        claim = bo_claim_for(s, request.path_params["ref"])
        if claim.status not in PAYABLE:
            raise BackofficeError(409, f"cannot pay a {claim.status} claim")
        claim.payments.append(
            db.Payment(
                amount=str(amount),
                paid_on=dt.date.fromisoformat(body["date"]),
                reference=str(body["reference"]),
            )
        )
        s.flush()
        paid = sum((Decimal(p.amount) for p in claim.payments), Decimal(0))
        claim.status = "paid" if paid >= Decimal(claim.total) else "payment_ordered"
        claim.status_at = now
        claim.events.append(
            db.StatusEvent(
                status=claim.status, at=now, note=f"payment {body['reference']}: {amount}"
            )
        )
        s.flush()
        return claim_json(claim)


def bo_seed_claims(request: Request, portal: Portal, body: dict[str, Any]) -> dict[str, Any]:
    """Bulk-create ``count`` submitted claims (no files) for load tests."""
    count = int(body["count"])
    prefix = str(body.get("prefix", "BULK-"))
    now = db.utcnow()
    with portal.Session() as s, s.begin():
        contract = s.scalar(select(db.Contract).where(db.Contract.number == body["contract"]))
        if contract is None:
            raise BackofficeError(404, "no such contract")
        start = (s.scalar(select(func.max(db.Claim.id))) or 0) + 1
        s.execute(
            insert(db.Claim),
            [
                {
                    "id": start + i,
                    "reference": f"CLM-{now.year}-{start + i:06d}",
                    "account_id": contract.account_id,
                    "contract_id": contract.id,
                    "invoice_number": f"{prefix}{i + 1:06d}",
                    "invoice_date": now.date(),
                    "period_start": now.date(),
                    "period_end": now.date(),
                    "currency": contract.currency,
                    "net": "100.00",
                    "vat": "20.00",
                    "total": "120.00",
                    "status": "submitted",
                    "submitted_at": now,
                    "status_at": now,
                }
                for i in range(count)
            ],
        )
    return {"created": count}


def bo_get_faults(request: Request, portal: Portal, body: dict[str, Any]) -> dict[str, Any]:
    return portal.faults.describe()


def bo_set_faults(request: Request, portal: Portal, body: dict[str, Any]) -> dict[str, Any]:
    try:
        portal.faults = Faults.parse(str(body.get("spec", "")))
    except FaultSpecError as err:
        raise BackofficeError(400, str(err)) from err
    return portal.faults.describe()


def bo_settings(request: Request, portal: Portal, body: dict[str, Any]) -> dict[str, Any]:
    """Change run-time settings (today: ``idle_timeout`` in seconds) without a restart."""
    if "idle_timeout" in body:
        seconds = float(body["idle_timeout"])  # ok: seconds
        if seconds <= 0:
            raise BackofficeError(400, "idle_timeout must be positive")
        portal.config.idle_timeout = seconds
    return {"idle_timeout": portal.config.idle_timeout}


def bo_expire_sessions(request: Request, portal: Portal, body: dict[str, Any]) -> dict[str, Any]:
    count = len(portal.sessions)
    portal.sessions.clear()
    return {"expired": count}


async def health(request: Request) -> Response:
    return PlainTextResponse("ok")


async def home(request: Request) -> Response:
    return see_other("/claims")


def create_app(config: PortalConfig) -> Starlette:
    """The portal as an ASGI app, on the database and with the faults in ``config``."""
    routes = [
        Route("/", home),
        Route("/health", health),
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login_submit, methods=["POST"]),
        Route("/login/totp", totp_form, methods=["GET"]),
        Route("/login/totp", totp_submit, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/claims", claims_list),
        Route("/claims/export.csv", claims_export),
        Route("/claims/new", new_claim_form, methods=["GET"]),
        Route("/claims/new", new_claim_submit, methods=["POST"]),
        Route("/claims/new/{draft}/invoice", invoice_form, methods=["GET"]),
        Route("/claims/new/{draft}/invoice", invoice_submit, methods=["POST"]),
        Route("/claims/new/{draft}/documents", documents_form, methods=["GET"]),
        Route("/claims/new/{draft}/documents", documents_submit, methods=["POST"]),
        Route("/claims/new/{draft}/review", review_form, methods=["GET"]),
        Route("/claims/new/{draft}/review", review_submit, methods=["POST"]),
        Route("/claims/{ref}", claim_page),
        Route("/claims/{ref}/receipt", receipt_page),
        Route("/claims/{ref}/receipt.pdf", receipt_pdf),
        Route("/claims/{ref}/payment-advice.pdf", payment_advice_pdf),
        Route("/claims/{ref}/documents/{file:int}", claim_document),
        Route("/claims/{ref}/resubmit", claim_resubmit, methods=["POST"]),
        Route("/backoffice/accounts", backoffice(bo_add_account), methods=["POST"]),
        Route("/backoffice/accounts/{username}", backoffice(bo_account), methods=["GET"]),
        Route("/backoffice/accounts/{username}/unlock", backoffice(bo_unlock), methods=["POST"]),
        Route("/backoffice/contracts", backoffice(bo_add_contract), methods=["POST"]),
        Route("/backoffice/claims", backoffice(bo_claims), methods=["GET"]),
        Route("/backoffice/claims/{ref}", backoffice(bo_claim), methods=["GET"]),
        Route("/backoffice/claims/{ref}/status", backoffice(bo_move), methods=["POST"]),
        Route("/backoffice/claims/{ref}/comments", backoffice(bo_comment), methods=["POST"]),
        Route("/backoffice/claims/{ref}/payments", backoffice(bo_pay), methods=["POST"]),
        Route("/backoffice/seed-claims", backoffice(bo_seed_claims), methods=["POST"]),
        Route("/backoffice/faults", backoffice(bo_get_faults), methods=["GET"]),
        Route("/backoffice/faults", backoffice(bo_set_faults), methods=["PUT", "POST"]),
        Route("/backoffice/settings", backoffice(bo_settings), methods=["PUT", "POST"]),
        Route("/backoffice/sessions/expire", backoffice(bo_expire_sessions), methods=["POST"]),
    ]
    app = Starlette(routes=routes)
    app.state.portal = Portal(config)
    return app
