"""People (admins only): the active accounts, and the two changes an admin makes to one —
disable it, or give it a new password. Both go through :mod:`claims.api.accounts` (which
refuses anyone but an admin and records the change in evidence), with CSRF like every form."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from claims import api
from claims.web.common import action, flash, page, refuse, render


@page
def people(request: Request, ws: api.Workspace) -> Response:
    """Every active account with its role; the forms to disable one or change its password."""
    user = request.state.user
    if user.role != "admin":
        return refuse(request, f"{user.name} is a {user.role}: only an admin manages accounts")
    return render(request, "people.html", people=api.list_users(ws))


def _name(request: Request) -> str:
    return str(request.path_params["name"])


@action(admin=True)
def disable(request: Request, ws: api.Workspace, form: Any) -> str:
    """Disable an account (it is signed out at its next request)."""
    user = api.disable_user(ws, _name(request))
    flash(request, "ok", f"account {user.name} disabled")
    return "/people"


@action(admin=True)
def password(request: Request, ws: api.Workspace, form: Any) -> str:
    """Set a new password (the same length rule as ``claims user add``)."""
    user = api.change_password(ws, _name(request), str(form.get("password") or ""))
    flash(request, "ok", f"password of {user.name} changed")
    return "/people"


routes = [
    Route("/people", people),
    Route("/people/{name:str}/disable", disable, methods=["POST"]),
    Route("/people/{name:str}/password", password, methods=["POST"]),
]
