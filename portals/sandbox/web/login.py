"""Signing in: password, then the one-time code (TOTP); and signing out. A new session on
every privilege change.

Like a real portal that is attacked: 3 wrong passwords or codes lock the account (the count
runs across both until a sign-in succeeds); a code is good once (a replay within its window is
refused with its own message and does not count as wrong); an unknown username gets the same
message, the same hash work and the same lockout as a known one, so neither the answer nor its
time tells whether the account exists.
"""

from __future__ import annotations

import hmac
import re
import secrets
import time

import pyotp
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portals.sandbox import db
from portals.sandbox.web.core import (
    COOKIE,
    Portal,
    WebSession,
    form_of,
    page,
    portal_of,
    render,
    see_other,
)

MAX_FAILED_LOGINS = 3


@page(None, auth=False)
async def login_form(request: Request) -> Response:
    """The sign-in page (starting an anonymous session for its CSRF token)."""
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


LOCKED = (
    "This account is locked after too many failed sign-in attempts. "
    "Contact the help desk to unlock it."
)
INVALID = "Invalid username or password."
BAD_CODE = "The one-time code is not valid. Enter the current code from your authenticator app."
USED_CODE = "This one-time code has already been used. Wait for the next code and enter it."

#: the hash checked for an unknown username, so it takes as long as a known one (no timing oracle)
DUMMY_HASH = db.hash_password(secrets.token_urlsafe(16))


def _refuse(request: Request, status: int, message: str, username: str = "") -> Response:
    return render(request, "login.html", status=status, title="Sign in", errors=[message],
                  username=username)  # fmt: skip


def _unknown_user_locked(portal: Portal, username: str, password: str) -> bool:
    """An unknown username fails exactly like a known one: same hash work, same message, and
    locked after as many tries (so neither the message nor the time tells them apart)."""
    db.check_password(password, DUMMY_HASH)
    return count_unknown(portal.unknown_failures, username)


def count_failure(account: db.Account) -> bool:
    """One more failed sign-in on ``account`` (a wrong password or code, on the pages or the
    API's technical account); True when the account is locked by it (MAX_FAILED_LOGINS)."""
    account.failed_logins += 1
    if account.failed_logins >= MAX_FAILED_LOGINS:
        account.locked = True
    return account.locked


def count_unknown(counts: dict[str, int], key: str) -> bool:
    """One more failure for ``key`` in an in-memory ``counts`` (unknown user names, API
    clients); True once it has MAX_FAILED_LOGINS, like an account's lock."""
    if len(counts) > 10_000 and key not in counts:
        counts.clear()
    counts[key] = counts.get(key, 0) + 1
    return counts[key] >= MAX_FAILED_LOGINS


@page("login", auth=False)
async def login_submit(request: Request) -> Response:
    """Check the password: lock after 3 failures, then ask for the TOTP code or sign in."""
    portal = portal_of(request)
    form = form_of(request)
    sess: WebSession = request.state.sess
    username = str(form.get("username", "")).strip()
    password = str(form.get("password", ""))
    with portal.Session() as s, s.begin():
        account = s.scalar(select(db.Account).where(db.Account.username == username))
        if account is None:
            if _unknown_user_locked(portal, username, password):
                return _refuse(request, 403, LOCKED)
            return _refuse(request, 401, INVALID, username)
        good = db.check_password(password, account.password_hash)  # the work, locked or not
        if account.locked:
            return _refuse(request, 403, LOCKED)
        if not good:
            if count_failure(account):
                return _refuse(request, 403, LOCKED)
            return _refuse(request, 401, INVALID, username)
        has_totp = bool(account.totp_secret)
        if not has_totp:  # with a code, the count goes on until the code is right too
            account.failed_logins = 0
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
    """The one-time code page, after a correct password."""
    sess = request.state.sess
    if sess is None or sess.pending_account is None:
        return see_other("/login")
    return render(request, "totp.html", title="Enter your one-time code")


def _code_step(secret: str, code: str, period: int) -> int | None:
    """The time step (previous, current or next) whose code is ``code``, else None."""
    totp = pyotp.TOTP(secret, interval=period)
    now = time.time()
    for offset in (0, -1, 1):
        step = int(now // period) + offset
        if code and hmac.compare_digest(totp.at(step * period).encode(), code.encode()):
            return step
    return None


@page("totp", auth=False)
async def totp_submit(request: Request) -> Response:
    """Check the one-time code (each good only once; wrong ones count like wrong passwords)
    and sign in."""
    portal = portal_of(request)
    sess: WebSession = request.state.sess
    if sess.pending_account is None:
        return see_other("/login")
    code = re.sub(r"\s", "", str(form_of(request).get("code", "")))
    with portal.Session() as s, s.begin():
        account = s.get(db.Account, sess.pending_account)
        if account is None or account.locked or not account.totp_secret:
            return _refuse(request, 403, LOCKED)
        step = _code_step(account.totp_secret, code, portal.config.totp_period)
        if step is not None and step <= portal.totp_used.get(account.id, -1):
            # a replayed code (RFC 6238 section 5.2): refused, not counted as a wrong one
            return render(request, "totp.html", status=401, title="Enter your one-time code",
                          errors=[USED_CODE])  # fmt: skip
        if step is None:
            if count_failure(account):
                return _refuse(request, 403, LOCKED)
            return render(request, "totp.html", status=401, title="Enter your one-time code",
                          errors=[BAD_CODE])  # fmt: skip
        portal.totp_used[account.id] = step
        account.failed_logins = 0
    portal.drop(sess)
    new = portal.new_session()
    new.account_id = sess.pending_account
    response = see_other("/claims")
    portal.set_cookie(response, new)
    return response


@page(None)
async def logout(request: Request) -> Response:
    """Sign out."""
    portal_of(request).drop(request.state.sess)
    response = see_other("/login")
    response.delete_cookie(COOKIE, path="/")
    return response


#: the sign-in pages, for :func:`portals.sandbox.app.create_app`
ROUTES = [
    Route("/login", login_form, methods=["GET"]),
    Route("/login", login_submit, methods=["POST"]),
    Route("/login/totp", totp_form, methods=["GET"]),
    Route("/login/totp", totp_submit, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
]
