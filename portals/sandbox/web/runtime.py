"""Back-office switches for the running portal: faults and maintenance, settings (idle
timeout), and expiring every session.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from portals.sandbox.faults import Faults, FaultSpecError
from portals.sandbox.web.backoffice import BackofficeError, backoffice
from portals.sandbox.web.core import Portal


def bo_get_faults(request: Request, portal: Portal, body: dict[str, Any]) -> dict[str, Any]:
    """The faults now switched on."""
    return portal.faults.describe()


def bo_set_faults(request: Request, portal: Portal, body: dict[str, Any]) -> dict[str, Any]:
    """Replace the faults with those of ``spec``; returns them."""
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
    """End every session (suppliers must sign in again); returns how many."""
    count = len(portal.sessions)
    portal.sessions.clear()
    return {"expired": count}


#: the run-time switches, for :func:`portals.sandbox.app.create_app`
ROUTES = [
    Route("/backoffice/faults", backoffice(bo_get_faults), methods=["GET"]),
    Route("/backoffice/faults", backoffice(bo_set_faults), methods=["PUT", "POST"]),
    Route("/backoffice/settings", backoffice(bo_settings), methods=["PUT", "POST"]),
    Route("/backoffice/sessions/expire", backoffice(bo_expire_sessions), methods=["POST"]),
]
