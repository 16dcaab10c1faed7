"""What every page shares: the signed-in person, CSRF, flash messages, rendering, and the two
decorators every route goes through (``page`` for reading, ``action`` for changing)."""

from __future__ import annotations

import functools
import hmac
import re
import secrets
import time
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import jinja2
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates

from claims import api

HERE = Path(__file__).resolve().parent
#: Autoescaping on for every template: nothing a user typed is rendered unescaped.
templates = Jinja2Templates(env=jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(HERE / "templates")), autoescape=True))

#: The largest request body an action accepts (an upload of corrected documents).
MAX_BODY = 30 * 1024 * 1024


#: The web form's label for each command-line option an API error may name: the API words its
#: errors for the CLI (``--next-action: give --next-action and --next-action-date together``);
#: a person at the form reads the field's label instead. Options not listed read as their
#: words (``--foo-bar`` as ``foo bar``).
FORM_LABELS = {
    "--kind": "Kind", "--direction": "Direction", "--outcome": "Outcome",
    "--contact": "Contact spoken to", "--at": "When it happened", "--next-action": "Next action",
    "--next-action-date": "Next action date", "--invoice": "Invoice", "--text": "Text",
    "--channel": "Channel", "--amount": "Amount", "--currency": "Currency", "--date": "Date",
    "--by": "Promised by", "--reason": "Reason", "--team": "Team", "--due": "Resolve by",
    "--resolution": "Resolution", "--note": "Note", "--role": "Role",
}
_OPTION = re.compile(r"(?<![\w-])--([a-z][a-z0-9]*(?:-[a-z0-9]+)*)")


def _label(option: str) -> str:
    return FORM_LABELS.get(option) or option[2:].replace("-", " ")


def in_form_words(message: str) -> str:
    """An API error as a person at a web form reads it: a leading ``--option:`` becomes the
    field's label, any other option named in the text its quoted label."""
    head = _OPTION.match(message)
    if head and message[head.end():head.end() + 1] == ":":
        message = _label(head.group(0)) + message[head.end():]
    return _OPTION.sub(lambda m: f'"{_label(m.group(0))}"', message)


def _money(amount: Any) -> str:
    return api.fmt(Decimal(str(amount))) if amount is not None and amount != "" else ""


def _when(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else str(value)


templates.env.filters["money"] = _money
templates.env.filters["when"] = _when


def csrf_token(request: Request) -> str:
    """This session's CSRF token (made on first use)."""
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return str(token)


def csrf_ok(request: Request, form: Any) -> bool:
    """Whether the form carries this session's CSRF token."""
    sent, mine = str(form.get("csrf_token") or ""), request.session.get("csrf") or ""
    return bool(mine) and hmac.compare_digest(sent.encode(), str(mine).encode())


def flash(request: Request, kind: str, message: str) -> None:
    """A message for the next page (kind: ok or error)."""
    request.session.setdefault("flash", []).append([kind, message])


def current_user(request: Request) -> api.User | None:
    """The signed-in person (looked up again: a removed account is signed out)."""
    name = request.session.get("user")
    if not name:
        return None
    try:
        return api.get_user(request.app.state.ws, name)
    except api.NotFound:
        request.session.clear()
        return None


def render(request: Request, template: str, status_code: int = 200, **context: Any
           ) -> HTMLResponse:
    """A page: the template with the person, CSRF token and pending messages."""
    messages = request.session.pop("flash", [])
    return templates.TemplateResponse(
        request, template, {"user": getattr(request.state, "user", None),
                            "csrf": csrf_token(request), "messages": messages, **context},
        status_code=status_code)


def refuse(request: Request, message: str, status_code: int = 403) -> HTMLResponse:
    """The refusal page (403 by default) with one clear line."""
    return render(request, "refused.html", status_code=status_code, message=message)


def local_path(target: str | None, default: str = "/") -> str:
    """``target`` when it is a path on this site, else ``default`` (no open redirects)."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or \
            parts.path.startswith("//"):
        return default
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _referer(request: Request) -> str:
    """The page the form was on, when it is on this site."""
    parts = urlsplit(request.headers.get("referer") or "")
    if parts.netloc != request.url.netloc:
        return "/"
    return local_path(parts.path + (f"?{parts.query}" if parts.query else ""))


def _sign_in_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target)}", status_code=303)


def page(handler: Callable[..., Response]) -> Callable[[Request], Any]:
    """A page anyone signed in may read: ``handler(request, ws)``, run in a worker thread."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        user = await run_in_threadpool(current_user, request)
        if user is None:
            return _sign_in_redirect(request)
        request.state.user = user
        started = time.perf_counter()
        try:
            ws = api.acting_as(request.app.state.ws, user)
            response = await run_in_threadpool(handler, request, ws)
        except api.NotFound as err:
            return refuse(request, in_form_words(str(err)), 404)
        except (api.ClaimsError, api.PortalError) as err:
            return refuse(request, in_form_words(str(err)), 400)
        # the server's time for the page (reading + rendering), for the signed-in reader and
        # the benchmark: W3C Server Timing, https://www.w3.org/TR/server-timing/
        response.headers["server-timing"] = (
            f"page;dur={(time.perf_counter() - started) * 1000:.1f}")
        return response

    return endpoint


def action(handler: Callable[..., str] | None = None, *, admin: bool = False) -> Any:
    """A change: signed in, the session's CSRF token, a role that may write (an admin when
    ``admin``; else 403); then ``handler(request, ws, form)`` as that person returns where to
    go next, with its message already flashed. An expected failure is flashed as the API
    worded it."""
    if handler is None:
        return functools.partial(action, admin=admin)

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        user = await run_in_threadpool(current_user, request)
        if user is None:
            return refuse(request, "sign in first", 401)
        request.state.user = user
        if int(request.headers.get("content-length") or 0) > MAX_BODY:
            return refuse(request, f"the upload is larger than {MAX_BODY // 2**20} MiB", 413)
        form = await request.form(max_part_size=MAX_BODY)
        if not csrf_ok(request, form):
            return refuse(request, "the form's security token is missing or stale; reload the "
                          "page and try again")
        if not user.can_write:
            return refuse(request, f"{user.name} is an {user.role}: read-only, nothing can be "
                          "changed from this account")
        if admin and user.role != "admin":
            return refuse(request, f"{user.name} is a {user.role}: only an admin manages "
                          "accounts")
        ws = api.acting_as(request.app.state.ws, user)
        back = local_path(str(form.get("back") or ""), _referer(request))
        try:
            target = await run_in_threadpool(handler, request, ws, form)
        except (api.ClaimsError, api.PortalError) as err:
            flash(request, "error", in_form_words(str(err)))
            target = back
        finally:
            await run_in_threadpool(api.seal_evidence, ws)
            await form.close()
        return RedirectResponse(target, status_code=303)

    return endpoint


def form_text(form: Any, name: str, *, required: bool = True) -> str:
    """A trimmed form field; a missing required one is refused naming the field."""
    value = str(form.get(name) or "").strip()
    if required and not value:
        raise api.InputError("is required", field=name, rule="non-empty")
    return value


def form_date(form: Any, name: str, *, required: bool = True) -> date | None:
    """A YYYY-MM-DD form field as a date (read as the CLI reads ``--date``)."""
    return api.parse_date(form_text(form, name, required=required) or None, name)


def form_amount(form: Any, name: str) -> Decimal:
    """An amount form field as an exact Decimal (as the CLI reads ``--amount``)."""
    text = form_text(form, name)
    try:
        return api.to_decimal(text, field=name)
    except api.AmountOutOfRange as err:  # e.g. 1e400: the one reading's own words
        raise api.InputError(str(err).removeprefix(f"{name}: "), field=name,
                             rule="amount") from None
    except ValueError:
        raise api.InputError(f"{text!r} is not an amount", field=name, rule="amount") from None
