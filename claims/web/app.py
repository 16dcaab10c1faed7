"""The web app: routes, sessions, secure headers, sign-in and sign-out."""

from __future__ import annotations

import secrets
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from claims import api
from claims.web import audit, claims_pages, collections_pages, payments_pages, people_pages
from claims.web.common import HERE, csrf_ok, current_user, flash, local_path, refuse, render

#: Sent with every response: no framing by others, no sniffing, no inline script, no referrer
#: leaving the site, nothing cached (pages carry receivables and personal data).
SECURE_HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                               "script-src 'self'; object-src 'self'; frame-src 'self'; "
                               "frame-ancestors 'self'; form-action 'self'; base-uri 'none'",
    "x-content-type-options": "nosniff",
    "x-frame-options": "SAMEORIGIN",
    "referrer-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
    "cross-origin-opener-policy": "same-origin",
    "cache-control": "no-store",
}


class SecureHeaders:
    """ASGI middleware adding :data:`SECURE_HEADERS` to every HTTP response."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [
                    (k.encode(), v.encode()) for k, v in SECURE_HEADERS.items()
                    if k.encode() not in present]
            await send(message)

        await self.app(scope, receive, with_headers)


async def health(request: Request) -> Response:
    """``ok`` when the server is up (for scripts and tests)."""
    return PlainTextResponse("ok")


async def login_page(request: Request) -> Response:
    """The sign-in form."""
    if await run_in_threadpool(current_user, request):
        return RedirectResponse("/", status_code=303)
    return render(request, "login.html", next=local_path(request.query_params.get("next")))


async def login(request: Request) -> Response:
    """Check the name and password (throttled); a new session on success."""
    form = await request.form()
    target = local_path(str(form.get("next") or ""))
    if not csrf_ok(request, form):
        return refuse(request, "the form's security token is missing or stale; reload the page "
                      "and try again")
    name, password = str(form.get("name") or ""), str(form.get("password") or "")
    client = request.client.host if request.client else "?"
    try:
        user = await run_in_threadpool(api.sign_in, request.app.state.ws, name, password,
                                       throttle=request.app.state.throttle, client=client)
    except api.InputError as err:
        return render(request, "login.html", status_code=401, next=target, name=name,
                      error=str(err))
    request.session.clear()  # a fresh session (and CSRF token) for the signed-in person
    request.session["user"] = user.name
    flash(request, "ok", f"signed in as {user.name} ({user.role})")
    return RedirectResponse(target, status_code=303)


async def logout(request: Request) -> Response:
    """End the session (the form carries the CSRF token)."""
    form = await request.form()
    if not csrf_ok(request, form):
        return refuse(request, "the form's security token is missing or stale")
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


def create_app(ws: api.Workspace, *, secret: str | None = None) -> Starlette:
    """The web workspace over ``ws``. Sessions are signed with ``secret`` (default: a fresh
    random key, so restarting the server signs everyone out)."""
    routes = [
        Route("/health", health),
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        *claims_pages.routes, *collections_pages.routes, *payments_pages.routes,
        *audit.routes, *people_pages.routes,
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    middleware = [
        Middleware(SecureHeaders),
        Middleware(SessionMiddleware, secret_key=secret or secrets.token_urlsafe(32),
                   session_cookie="claims_session", max_age=8 * 3600, same_site="strict",
                   https_only=False),
    ]
    app = Starlette(routes=routes, middleware=middleware)
    app.state.ws = ws
    app.state.throttle = api.LoginThrottle()
    return app
