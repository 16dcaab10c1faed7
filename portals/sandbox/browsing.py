"""The sandbox portal's pages as one supplier sees them: sign-in (password, then TOTP), and
what the portal shows (maintenance, HTTP 5xx, the sign-in page, validation alerts, a duplicate
invoice) as :mod:`portals.errors`. The browser plumbing is the kit's
(:class:`portals.browser_kit.BrowserAdapter`); :class:`portals.sandbox.filing.SandboxFiling`
adds the claim wizard.
"""

from __future__ import annotations

import re
import urllib.parse

from playwright.sync_api import Locator, Page, Response

from portals.base import SubmissionPackage
from portals.browser_kit import BrowserAdapter, first_line
from portals.errors import (
    AccountLocked,
    AlreadySubmitted,
    AuthenticationFailed,
    PortalError,
    PortalRejected,
    PortalUnavailable,
    SessionExpired,
)
from portals.totp import fresh_code

__all__ = ["REFERENCE", "SandboxBrowsing", "alert_messages", "first_line", "page_heading"]

#: how many TOTP windows a sign-in waits through while other workers take the codes
TOTP_WINDOWS = 8

#: a claim reference as the portal prints it
REFERENCE = re.compile(r"CLM-\d{4}-\d{6}")


class SandboxBrowsing(BrowserAdapter):
    """Sign-in and page checks for one account on the sandbox portal (abstract: use
    :class:`portals.sandbox.adapter.SandboxAdapter`)."""

    #: while signing in, the sign-in pages are expected, not a sign of an ended session
    _login_allowed = False

    def sign_in(self) -> None:
        """Reuse the stored session if the portal still accepts it, else sign in."""
        self._login_allowed = True
        try:
            self.goto("/claims", "login-check")
            if self.on_login_page():
                self._sign_in()
        finally:
            self._login_allowed = False

    def _sign_in(self) -> None:
        """Sign in with password and, when asked, a fresh TOTP code; store the new session."""
        page = self.page
        if not self.on_login_page():
            self.goto("/login", "login")
        page.get_by_label("Username", exact=True).fill(self.credentials.username)
        page.get_by_label("Password", exact=True).fill(self.credentials.password.get_secret_value())
        self.capture("login")
        self.click_and_wait(page.get_by_role("button", name="Sign in"), "login")
        if page_heading(page) == "Sign in":
            self._raise_auth(alert_messages(page), "login")
        if page_heading(page) == "Enter your one-time code":
            secret = self.credentials.totp_secret
            if secret is None:
                raise AuthenticationFailed(
                    "the portal asks for a one-time code but no TOTP secret is configured",
                    portal=self.name,
                    step="totp",
                )
            self._enter_code(secret.get_secret_value())
        if page_heading(page) != "My claims":
            raise PortalError(
                f"unexpected page after sign-in: {page_heading(page)!r}",
                portal=self.name,
                step="login",
            )
        self.save_session()

    def _enter_code(self, secret: str) -> None:
        """Enter a one-time code no worker of this process used; when another process (or
        machine) signed in with it first, the portal refuses the replay: take the next
        window's code (:func:`~portals.totp.fresh_code` waits for it), a bounded number of
        times."""
        page = self.page
        for _ in range(TOTP_WINDOWS):
            code = fresh_code(secret, self.credentials.totp)
            page.get_by_label("One-time code", exact=True).fill(code)
            self.capture("totp")
            self.click_and_wait(page.get_by_role("button", name="Verify"), "totp")
            if page_heading(page) == "My claims":
                return
            messages = alert_messages(page)
            if not any("already been used" in m for m in messages):
                self._raise_auth(messages, "totp")
        raise AuthenticationFailed(
            f"every one-time code of {TOTP_WINDOWS} windows was used by another sign-in first",
            portal=self.name,
            step="totp",
        )

    def _raise_auth(self, messages: list[str], step: str) -> None:
        """Raise AccountLocked or AuthenticationFailed for the sign-in page's ``messages``."""
        text = " ".join(messages)
        if "locked" in text:
            raise AccountLocked(text, portal=self.name, step=step)
        raise AuthenticationFailed(text or "sign-in refused", portal=self.name, step=step)

    def signed_in_goto(self, path: str, step: str) -> None:
        """Go to ``path``, signing in first when the stored session is not (any more) valid."""
        self._login_allowed = True
        try:
            self.goto(path, step)
            expired = self.on_login_page()
            if expired:
                self._sign_in()
        finally:
            self._login_allowed = False
        if expired:
            self.goto(path, step)
        self.signed_in = True

    def submit_form(
        self, button: Locator, step: str, package: SubmissionPackage | None = None
    ) -> None:
        """Click a form's button; a 409/422 answer is the portal refusing the form."""
        response = self.click_and_wait(button, step)
        if response is not None and response.status in (409, 422):
            self.capture(step, http_status=response.status)
            self.raise_refusal(alert_messages(self.page), package, step)

    def check_page(self, response: Response | None, step: str) -> None:
        """Turn maintenance, 5xx, an expired session or a refused token into our errors."""
        page = self.page
        status = response.status if response is not None else None
        heading = page_heading(page)
        if status is not None and status >= 500:
            self.capture(f"{step}-error", http_status=status)
            maintenance = heading == "Scheduled maintenance"
            raise PortalUnavailable(
                "the portal is in maintenance"
                if maintenance
                else f"HTTP {status}: {heading or 'server error'}",
                status=status,
                maintenance=maintenance,
                portal=self.name,
                step=step,
            )
        if status == 403 and heading == "Request refused":
            raise SessionExpired(
                "the portal refused the form's security token", portal=self.name, step=step
            )
        if not self._login_allowed and self.on_login_page():
            raise SessionExpired("the portal ended the session", portal=self.name, step=step)
        if status == 404:
            raise PortalError(f"{heading or 'not found'}", portal=self.name, step=step)

    def raise_refusal(
        self, messages: list[str], package: SubmissionPackage | None, step: str
    ) -> None:
        """Raise AlreadySubmitted for a duplicate-invoice message, else PortalRejected."""
        for message in messages:
            if message.startswith("Duplicate invoice"):
                found = REFERENCE.search(message)
                raise AlreadySubmitted(
                    found.group(0) if found else None,
                    contract_number=package.contract_number if package else None,
                    invoice_number=package.invoice_number if package else None,
                    portal=self.name,
                    step=step,
                )
        raise PortalRejected(
            messages or ["the portal refused the form without a message"],
            portal=self.name,
            step=step,
        )

    def expect_h1(self, heading: str, step: str) -> None:
        """Raise PortalError unless the page's heading is ``heading``."""
        got = page_heading(self.page)
        if got != heading:
            raise PortalError(
                f"expected the {heading!r} page, got {got!r}", portal=self.name, step=step
            )

    def on_login_page(self) -> bool:
        """Whether the browser is on the sign-in or one-time-code page."""
        return urllib.parse.urlparse(self.page.url).path in ("/login", "/login/totp")


def page_heading(page: Page) -> str:
    """The page's first-level heading, or "" when it has none."""
    heading = page.get_by_role("heading", level=1)
    return heading.first.inner_text().strip() if heading.count() else ""


def alert_messages(page: Page) -> list[str]:
    """The messages listed in the page's alerts (the portal's validation errors)."""
    return [t.strip() for t in page.get_by_role("alert").get_by_role("listitem").all_inner_texts()]
