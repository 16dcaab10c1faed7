"""The one exception tree for everything that talks to a portal.

::

    PortalError                      base: ``portal`` (adapter name), ``step`` (where it failed)
    ├── PortalUnavailable            unreachable, maintenance, HTTP 5xx — *before* the final click
    │   └── BrowserNotFound          no Chromium could be found or installed
    ├── PortalTimeout                a page or element did not come in time — before the final click
    ├── AuthenticationFailed         wrong username, password or one-time code (never retried)
    │   └── AccountLocked            the portal has locked the account
    ├── SessionExpired               the portal's session ran out; log in again and start over
    ├── PortalRejected               the portal's own validation refused the input (``messages``)
    ├── AlreadySubmitted             this invoice already has a claim there (``reference``)
    ├── NotSupported                 the adapter lacks that capability (``capability``)
    └── OutcomeUnknown               anything that went wrong *after* the final click

Only errors raised before the final click are safe to retry. ``OutcomeUnknown`` means the claim
may or may not exist on the portal: look it up (``find_claim``) before doing anything else.
Third-party errors (Playwright, sockets) are wrapped here with ``raise ... from err``.
"""

from __future__ import annotations


class PortalError(Exception):
    """Base of every portal failure.

    Attributes:
        portal: the adapter's name (e.g. ``"sandbox"``), when known.
        step: the wizard step or operation that failed (``"login"``, ``"upload"``...).
    """

    def __init__(self, message: str, *, portal: str | None = None, step: str | None = None):
        super().__init__(message)
        self.message = message
        self.portal = portal
        self.step = step

    def __str__(self) -> str:
        where = f" at step {self.step!r}" if self.step else ""
        who = f"{self.portal}: " if self.portal else ""
        return f"{who}{self.message}{where}"


class PortalUnavailable(PortalError):
    """The portal cannot be reached, is in maintenance or answered 5xx before the final click.

    Attributes:
        status: the HTTP status when there was one.
        maintenance: True when the portal showed its maintenance page.
        retry_after: seconds the portal asked to wait (a 429's ``Retry-After``), else None;
            the kit waits at least that long before retrying a step before the final click.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        maintenance: bool = False,
        retry_after: float | None = None,  # ok: seconds
        portal: str | None = None,
        step: str | None = None,
    ):
        super().__init__(message, portal=portal, step=step)
        self.status = status
        self.maintenance = maintenance
        self.retry_after = retry_after


class BrowserNotFound(PortalUnavailable):
    """No Chromium could be found (Playwright's, the system's, the configured path) or
    installed; nothing was sent to any portal."""

    def __init__(self, message: str) -> None:
        super().__init__(message, step="browser")


class PortalTimeout(PortalError):
    """A page, element or download did not arrive in time (before the final click)."""


class AuthenticationFailed(PortalError):
    """The portal refused the credentials or the one-time code. Never retried automatically."""


class AccountLocked(AuthenticationFailed):
    """The portal has locked the account (usually after repeated wrong passwords)."""


class SessionExpired(PortalError):
    """The portal's session ended (idle expiry); the adapter logs in again and starts over."""


class PortalRejected(PortalError):
    """The portal's own validation refused what was sent.

    Attributes:
        messages: the portal's messages, verbatim, in page order.
    """

    def __init__(self, messages: list[str], *, portal: str | None = None, step: str | None = None):
        self.messages = list(messages)
        super().__init__("portal refused: " + "; ".join(self.messages), portal=portal, step=step)


class AlreadySubmitted(PortalError):
    """The portal already holds a claim for this invoice on this contract.

    Attributes:
        reference: the existing claim's reference when the portal told us, else None.
        contract_number, invoice_number: what was looked up.
    """

    def __init__(
        self,
        reference: str | None,
        *,
        contract_number: str | None = None,
        invoice_number: str | None = None,
        portal: str | None = None,
        step: str | None = None,
    ):
        self.reference = reference
        self.contract_number = contract_number
        self.invoice_number = invoice_number
        ref = f" ({reference})" if reference else ""
        super().__init__(
            f"invoice {invoice_number} on contract {contract_number} already has a claim{ref}",
            portal=portal,
            step=step,
        )


class NotSupported(PortalError):
    """The adapter (or its portal) cannot do this, e.g. resubmission; nothing was sent.

    The caller puts the claim in NEEDS_ATTENTION with this message, never REJECTED.

    Attributes:
        capability: the missing :class:`~portals.base.Capability` value.
    """

    def __init__(self, capability: str, *, portal: str | None = None, step: str | None = None):
        self.capability = capability
        super().__init__(
            f"this portal adapter does not support {capability}; do it on the portal by hand",
            portal=portal,
            step=step,
        )


class OutcomeUnknown(PortalError):
    """Something failed after the final click: the claim may or may not exist on the portal.

    Never retry blindly: look the claim up with ``find_claim`` first.

    Attributes:
        evidence: screenshots and files gathered up to the failure.
    """

    def __init__(
        self,
        message: str,
        *,
        evidence: list[object] | None = None,
        portal: str | None = None,
        step: str | None = None,
    ):
        super().__init__(message, portal=portal, step=step)
        self.evidence = list(evidence or [])


__all__ = [
    "AccountLocked",
    "AlreadySubmitted",
    "AuthenticationFailed",
    "NotSupported",
    "OutcomeUnknown",
    "PortalError",
    "PortalRejected",
    "PortalTimeout",
    "PortalUnavailable",
    "SessionExpired",
]
