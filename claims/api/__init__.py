"""The Python API: one function per user action. The CLI (and any web layer) imports only this.

Every action takes the workspace first and raises only :class:`ClaimsError` (its tree is drawn
in :mod:`claims.errors`) or :class:`portals.errors.PortalError` for an expected failure::

    >>> from claims import api                                                  # doctest: +SKIP
    >>> ws = api.find_workspace("my-ws")                                        # doctest: +SKIP
    >>> claim = api.new_claim(ws, "C-123", "INV-001", [("invoice", "inv.pdf")])  # doctest: +SKIP
    >>> findings = api.validate_claim(ws, claim.id)                             # doctest: +SKIP
    >>> bundle = api.build_claim(ws, claim.id)                                  # doctest: +SKIP
    >>> summary = api.submit_claims(ws, claim.id)                               # doctest: +SKIP

The actions are grouped by slice in the modules beside this one (``lifecycle``, ``portal``,
``sources``, ``payments``, ``followup``, ``accounts_view`` (an account as a whole, contacts,
callbacks, changes to promises and plans), ``reports``, ``evidence``, ``setup``, ``accounts``,
``web``); each is a thin
layer that gives a slice's library the workspace's store, settings and actor.
"""

from claims.api.accounts import *  # noqa: F403
from claims.api.accounts_view import *  # noqa: F403
from claims.api.evidence import *  # noqa: F403
from claims.api.followup import *  # noqa: F403
from claims.api.forecast import *  # noqa: F403
from claims.api.lifecycle import *  # noqa: F403
from claims.api.payments import *  # noqa: F403
from claims.api.portal import *  # noqa: F403
from claims.api.reports import *  # noqa: F403
from claims.api.setup import *  # noqa: F403
from claims.api.sources import *  # noqa: F403
from claims.api.web import *  # noqa: F403
from claims.core.moments import parse_date, parse_moment
from claims.core.money import AmountOutOfRange, fmt, to_decimal
from claims.errors import (
    BundleError, ClaimsError, ConflictError, EvidenceFailed, InputError, NotFound,
    PortalUnreachable, StoreError, SyncLocked, UnknownName, ValidationFailed, WorkspaceError,
)
from portals.errors import PortalError

from claims.api import (
    accounts, accounts_view, evidence, followup, forecast, lifecycle, payments, portal, reports,
    setup, sources, web,
)

__all__ = [  # noqa: F405 - the names each slice module exports
    *accounts.__all__, *accounts_view.__all__, *evidence.__all__, *followup.__all__,
    *forecast.__all__,
    *lifecycle.__all__, *payments.__all__, *web.__all__,
    *portal.__all__, *reports.__all__, *setup.__all__, *sources.__all__,
    "AmountOutOfRange", "fmt", "to_decimal", "parse_date", "parse_moment", "BundleError",
    "ClaimsError",
    "ConflictError", "EvidenceFailed",
    "InputError", "NotFound", "PortalError", "PortalUnreachable", "StoreError", "SyncLocked",
    "UnknownName", "ValidationFailed", "WorkspaceError",
]
