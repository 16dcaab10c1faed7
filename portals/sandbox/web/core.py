"""What every sandbox page shares: the portal's state (database, sessions, faults), the
``page`` wrapper (maintenance, faults, sign-in, idle expiry, CSRF) and rendering helpers.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from portals.sandbox import db
from portals.sandbox.faults import Faults

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent.parent / "templates"))


COOKIE = "portal_session"


STATUSES = (
    "submitted",
    "under_review",
    "returned",
    "approved",
    "payment_ordered",
    "paid",
    "rejected",
)


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
    """One browser session: its token, CSRF token, last activity and (pending) account."""

    token: str
    csrf: str
    last_seen: float  # ok: monotonic seconds
    account_id: int | None = None
    pending_account: int | None = None


@dataclass
class PortalConfig:
    """How the portal runs: its database, back-office token, idle timeout and faults."""

    db_path: Path
    backoffice_token: str
    idle_timeout: float = 900.0  # ok: seconds
    faults: str = ""
    secret_key: str = ""
    #: seconds a one-time code lives (RFC 6238's 30 by default)
    totp_period: int = 30


class Portal:
    """The portal's state: database, live sessions, faults."""

    def __init__(self, config: PortalConfig):
        """The portal on ``config``'s database, with no sessions yet."""
        self.config = config
        self.engine = db.make_engine(config.db_path)
        self.Session = db.make_sessionmaker(self.engine)
        self.faults = Faults.parse(config.faults)
        self.sessions: dict[str, WebSession] = {}
        #: account id -> the TOTP time step last used to sign in (a code is good only once)
        self.totp_used: dict[int, int] = {}
        #: unknown username -> failed sign-ins (they lock like real ones: no enumeration)
        self.unknown_failures: dict[str, int] = {}
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
        """Start a new anonymous session; returns it."""
        sess = WebSession(secrets.token_urlsafe(32), secrets.token_urlsafe(32), time.monotonic())
        self.sessions[sess.token] = sess
        return sess

    def drop(self, sess: WebSession) -> None:
        """End ``sess``."""
        self.sessions.pop(sess.token, None)

    def set_cookie(self, response: Response, sess: WebSession) -> None:
        """Send ``sess``'s signed token as the session cookie."""
        response.set_cookie(
            COOKIE, self.signer.dumps(sess.token), httponly=True, samesite="lax", path="/"
        )


def portal_of(request: Request) -> Portal:
    """The portal whose app serves ``request``."""
    return request.app.state.portal  # type: ignore[no-any-return]


def render(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    """Render ``template`` with the session's CSRF token and the signed-in user."""
    sess: WebSession | None = getattr(request.state, "sess", None)
    context.setdefault("errors", [])
    context.update(
        request=request, csrf=sess.csrf if sess else "", user=getattr(request.state, "user", None)
    )
    return TEMPLATES.TemplateResponse(request, template, context, status_code=status)


def see_other(url: str) -> RedirectResponse:
    """A 303 redirect to ``url``."""
    return RedirectResponse(url, status_code=303)


def error_page(request: Request, status: int, title: str, message: str) -> Response:
    """The error page with ``status``, ``title`` and ``message``."""
    return render(request, "error.html", status=status, title=title, message=message)


def parse_date(value: str, label: str, errors: list[str]) -> dt.date | None:
    """The ISO date in ``value``, or None with a message for ``label`` added to ``errors``."""
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        errors.append(f"{label}: enter a date like 2026-01-31")
        return None


def parse_money(value: str, label: str, errors: list[str]) -> Decimal | None:
    """The amount in ``value``, or None with a message for ``label`` added to ``errors``."""
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
    """An amount with thousands separators and two decimals."""
    return f"{Decimal(value):,.2f}"


Handler = Callable[[Request], Awaitable[Response]]


def page(step: str | None, *, auth: bool = True) -> Callable[[Handler], Handler]:
    """Wrap a supplier page: maintenance, injected faults, session, idle expiry and CSRF."""

    def wrap(fn: Handler) -> Handler:
        """The page ``fn`` behind the checks."""

        async def handler(request: Request) -> Response:
            """Serve one request to the page."""
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
                form = await request.form(max_files=20, max_fields=200,
                                          max_part_size=2 * 1024 * 1024)
                request.state.form = form
                # bytes: compare_digest refuses a str with non-ASCII characters (a 500 before)
                given = str(form.get("csrf_token", "")).encode("utf-8", "surrogatepass")
                if sess is None or not hmac.compare_digest(given, sess.csrf.encode()):
                    return error_page(
                        request, 403, "Request refused",
                        "The form's security token is missing or out of date. "
                        "Go back, reload the page and try again.",
                    )  # fmt: skip
            return await fn(request)

        return handler

    return wrap


def form_of(request: Request) -> FormData:
    """The form posted with ``request`` (read by the ``page`` wrapper)."""
    return request.state.form  # type: ignore[no-any-return]


def account_id(request: Request) -> int:
    """The signed-in account's id."""
    return request.state.sess.account_id  # type: ignore[no-any-return]


def contracts_of(s: Session, acc: int) -> list[db.Contract]:
    """The contracts of account ``acc``, by number."""
    return list(
        s.scalars(
            select(db.Contract).where(db.Contract.account_id == acc).order_by(db.Contract.number)
        )
    )
