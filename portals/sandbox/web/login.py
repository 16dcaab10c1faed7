"""Signing in: password, then the one-time code (TOTP), lockout after 3 wrong passwords; and
signing out. A new session on every privilege change.
"""

from __future__ import annotations

import re

import pyotp
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portals.sandbox import db
from portals.sandbox.web.core import COOKIE, WebSession, form_of, page, portal_of, render, see_other

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
    """The one-time code page, after a correct password."""
    sess = request.state.sess
    if sess is None or sess.pending_account is None:
        return see_other("/login")
    return render(request, "totp.html", title="Enter your one-time code")


@page("totp", auth=False)
async def totp_submit(request: Request) -> Response:
    """Check the one-time code and sign in."""
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
