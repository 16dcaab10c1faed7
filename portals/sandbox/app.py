"""The sandbox e-claims portal: a Starlette web app that behaves like a government portal.

Supplier side: password + single-use TOTP login, CSRF tokens on every form, idle session expiry,
lockout after 3 wrong passwords or codes (unknown usernames alike), a request size limit and
security headers (:mod:`portals.sandbox.web.guard`), a four-step claim wizard, receipts (page +
PDF), a paginated claims list with CSV export (formula cells escaped), claim pages with history,
comments and payments, correction of returned claims.
Back office (JSON, header ``X-Backoffice-Token``): seed accounts and contracts, move claims,
record payments, switch faults and maintenance at run time.
API (JSON, shaped like Chorus Pro behind PISTE: ``portals.sandbox.web.api``): OAuth2 client
credentials, file upload, invoice deposit, search and consultation, on the same database.

The app is deliberately single-threaded (async handlers, quick SQLite calls inline): claim
references are sequential and the fault counters need no locks.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from portals.sandbox.web import (
    api,
    api_auth,
    backoffice,
    claim_list,
    claim_pages,
    guard,
    login,
    receipts,
    runtime,
    wizard,
)
from portals.sandbox.web.core import Portal, PortalConfig, see_other

__all__ = ["PortalConfig", "create_app"]


async def health(request: Request) -> Response:
    """Liveness probe: ``ok``."""
    return PlainTextResponse("ok")


async def home(request: Request) -> Response:
    """The start page is the claims list."""
    return see_other("/claims")


def create_app(config: PortalConfig) -> Starlette:
    """The portal as an ASGI app, on the database and with the faults in ``config``.

    Order matters where paths overlap: the list, its export and the wizard come before the
    ``/claims/{ref}`` pages.
    """
    routes = [
        Route("/", home),
        Route("/health", health),
        *login.ROUTES,
        *claim_list.ROUTES,
        *wizard.ROUTES,
        *claim_pages.ROUTES,
        *receipts.ROUTES,
        *backoffice.ROUTES,
        *runtime.ROUTES,
        *api_auth.ROUTES,
        *api.ROUTES,
        *guard.ROUTES,
    ]
    app = Starlette(routes=routes, middleware=[Middleware(guard.Guard)])
    app.state.portal = Portal(config)
    return app
