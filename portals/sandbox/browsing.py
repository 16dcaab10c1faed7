"""The sandbox portal seen through one supplier's browser session.

:class:`SandboxBrowsing` owns the Chromium context (cookies kept in the state file), signs in
(password, then TOTP), navigates and submits forms, and turns what the portal shows (maintenance,
HTTP 5xx, the sign-in page, validation alerts, a duplicate invoice) into :mod:`portals.errors`.
:class:`portals.sandbox.filing.SandboxFiling` builds the claim wizard on it.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyotp
from playwright.sync_api import Browser, BrowserContext, Locator, Page, Response
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from portals.base import BrowserOptions, PortalAdapter, PortalCredentials, SubmissionPackage
from portals.browser import BrowserNotFound, acquire_browser, release_browser
from portals.errors import (
    AccountLocked,
    AlreadySubmitted,
    AuthenticationFailed,
    PortalError,
    PortalRejected,
    PortalTimeout,
    PortalUnavailable,
    SessionExpired,
)
from portals.sandbox.evidence import EvidenceRecorder

#: a claim reference as the portal prints it
REFERENCE = re.compile(r"CLM-\d{4}-\d{6}")


class SandboxBrowsing(PortalAdapter):
    """Browser, sign-in, navigation and error mapping for one account on the sandbox portal.

    Abstract: :class:`portals.sandbox.adapter.SandboxAdapter` is the adapter to use.
    """

    def __init__(
        self,
        base_url: str,
        credentials: PortalCredentials,
        *,
        browser: BrowserOptions | None = None,
        state_file: Path,
        evidence_dir: Path,
    ) -> None:
        """An adapter for ``credentials`` at ``base_url``; the browser starts on first use."""
        super().__init__(
            base_url, credentials, browser=browser, state_file=state_file, evidence_dir=evidence_dir
        )
        self._browser: Browser | None = None
        self._context: BrowserContext | None = None
        self._page: Page | None = None
        self._ev: EvidenceRecorder | None = None
        #: set once this adapter has seen the portal accept its session; the wizard itself
        #: notices when the portal ends it (SessionExpired), so no check page before each claim
        self._signed_in = False

    def close(self) -> None:
        """Keep the session for next time, then close page, context, browser and Playwright."""
        if self._context is not None:
            try:
                self._save_state()
            except PlaywrightError:
                pass  # a dead browser has no state worth keeping
        if self._context is not None:
            try:
                self._context.close()
            except PlaywrightError:
                pass  # already gone
        if self._browser is not None:
            release_browser(self._browser)
        self._browser = self._context = self._page = None

    # -- sign-in ------------------------------------------------------------------------------
    def _sign_in(self) -> None:
        """Sign in with password and, when asked, the TOTP code; store the new session."""
        page = self._p
        if not self._on_login_page():
            self._goto("/login", "login", allow_login_page=True)
        page.get_by_label("Username", exact=True).fill(self.credentials.username)
        page.get_by_label("Password", exact=True).fill(self.credentials.password.get_secret_value())
        self._snap("login")
        self._submit(page.get_by_role("button", name="Sign in"), "login", allow_login_page=True)
        if page_heading(page) == "Sign in":
            self._raise_auth(alert_messages(page), "login")
        if page_heading(page) == "Enter your one-time code":
            if self.credentials.totp_secret is None:
                raise AuthenticationFailed(
                    "the portal asks for a one-time code but no TOTP secret is configured",
                    portal=self.name,
                    step="totp",
                )
            code = pyotp.TOTP(self.credentials.totp_secret.get_secret_value()).now()
            page.get_by_label("One-time code", exact=True).fill(code)
            self._snap("totp")
            self._submit(page.get_by_role("button", name="Verify"), "totp", allow_login_page=True)
            if page_heading(page) != "My claims":
                self._raise_auth(alert_messages(page), "totp")
        if page_heading(page) != "My claims":
            raise PortalError(
                f"unexpected page after sign-in: {page_heading(page)!r}",
                portal=self.name,
                step="login",
            )
        self._save_state()

    @contextmanager
    def _mapped(self, step: str) -> Iterator[None]:
        """Raw Playwright errors (before the final click) become portal errors."""
        try:
            yield
        except PlaywrightTimeoutError as err:
            raise PortalTimeout(
                f"timed out: {first_line(err)}", portal=self.name, step=step
            ) from err
        except PlaywrightError as err:
            if "net::" in (err.message or ""):
                raise PortalUnavailable(
                    f"network error: {first_line(err)}", portal=self.name, step=step
                ) from err
            raise PortalError(
                f"unexpected page: {first_line(err)}", portal=self.name, step=step
            ) from err

    def _raise_auth(self, messages: list[str], step: str) -> None:
        """Raise AccountLocked or AuthenticationFailed for the sign-in page's ``messages``."""
        text = " ".join(messages)
        if "locked" in text:
            raise AccountLocked(text, portal=self.name, step=step)
        raise AuthenticationFailed(text or "sign-in refused", portal=self.name, step=step)

    def _save_state(self) -> None:
        """Store cookies for the next run, readable only by us (mode 0600), atomically."""
        state = self._ctx.storage_state()
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.state_file.parent, prefix=".state-")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(state, fh)
            os.replace(tmp, self.state_file)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    # -- navigation and page reading --------------------------------------------------------
    def _logged_in_goto(self, path: str, step: str) -> None:
        """Go to ``path``, signing in first when the stored session is not (any more) valid."""
        self._goto(path, step, allow_login_page=True)
        if self._on_login_page():
            self._sign_in()
            self._goto(path, step)
        self._signed_in = True

    def _goto(self, path: str, step: str, *, allow_login_page: bool = False) -> None:
        """Load ``path``; raises PortalTimeout, PortalUnavailable or what :meth:`_check` finds."""
        try:
            response = self._p.goto(self.base_url + path)
        except PlaywrightTimeoutError as err:
            raise PortalTimeout(
                f"{path} did not load in time", portal=self.name, step=step
            ) from err
        except PlaywrightError as err:
            raise PortalUnavailable(
                f"cannot reach {self.base_url}: {first_line(err)}", portal=self.name, step=step
            ) from err
        self._check(response, step, allow_login_page=allow_login_page)

    def _submit(
        self,
        button: Locator,
        step: str,
        package: SubmissionPackage | None = None,
        *,
        allow_login_page: bool = False,
    ) -> None:
        """Click a form's button, wait for the next page, map what came back to our errors."""
        page = self._p
        try:
            with page.expect_navigation() as nav:
                button.click()
            response = nav.value
        except PlaywrightTimeoutError as err:
            raise PortalTimeout(
                f"no answer to the {step} step in time", portal=self.name, step=step
            ) from err
        except PlaywrightError as err:
            raise PortalUnavailable(
                f"the {step} step failed: {first_line(err)}", portal=self.name, step=step
            ) from err
        self._check(response, step, allow_login_page=allow_login_page)
        if response is not None and response.status in (409, 422):
            self._snap(step, http_status=response.status)
            self._raise_refusal(alert_messages(page), package, step)

    def _check(self, response: Response | None, step: str, *, allow_login_page: bool) -> None:
        """Turn maintenance, 5xx, an expired session or a refused token into our errors."""
        page = self._p
        status = response.status if response is not None else None
        heading = page_heading(page)
        if status is not None and status >= 500:
            self._snap(f"{step}-error", http_status=status)
            if heading == "Scheduled maintenance":
                raise PortalUnavailable(
                    "the portal is in maintenance",
                    status=status,
                    maintenance=True,
                    portal=self.name,
                    step=step,
                )
            raise PortalUnavailable(
                f"HTTP {status}: {heading or 'server error'}",
                status=status,
                portal=self.name,
                step=step,
            )
        if status == 403 and heading == "Request refused":
            raise SessionExpired(
                "the portal refused the form's security token", portal=self.name, step=step
            )
        if not allow_login_page and self._on_login_page():
            raise SessionExpired("the portal ended the session", portal=self.name, step=step)
        if status == 404:
            raise PortalError(f"{heading or 'not found'}", portal=self.name, step=step)

    def _raise_refusal(
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

    def _expect_h1(self, heading: str, step: str) -> None:
        """Raise PortalError unless the page's heading is ``heading``."""
        got = page_heading(self._p)
        if got != heading:
            raise PortalError(
                f"expected the {heading!r} page, got {got!r}", portal=self.name, step=step
            )

    def _on_login_page(self) -> bool:
        """Whether the browser is on the sign-in or one-time-code page."""
        return urllib.parse.urlparse(self._p.url).path in ("/login", "/login/totp")

    def _snap(self, step: str, **details: Any) -> None:
        """Screenshot the page into the evidence of the claim being filed, if any."""
        if self._ev is not None:
            self._ev.snap(self._p, step, **details)

    @property
    def _evidence(self) -> EvidenceRecorder:
        """The evidence recorder of the claim being filed (only inside submit/resubmit)."""
        if self._ev is None:  # pragma: no cover - only called inside _file
            raise RuntimeError("no evidence recorder outside submit/resubmit")
        return self._ev

    # -- the browser ----------------------------------------------------------------------------
    @property
    def _p(self) -> Page:
        """The browser page, opened on first use."""
        if self._page is None:
            self._page = self._ctx.new_page()
        return self._page

    @property
    def _ctx(self) -> BrowserContext:
        """The browser context, started on first use."""
        return self._context if self._context is not None else self._start()

    def _start(self) -> BrowserContext:
        """Our own context (cookies from the state file) on the thread's shared Chromium."""
        opts = self.browser_options
        try:
            self._browser = acquire_browser(
                opts.executable, opts.headless, opts.ws_endpoint, opts.timeout_ms
            )
            state: str | None = None
            if self.state_file.exists():
                try:
                    json.loads(self.state_file.read_text(encoding="utf-8"))
                    state = str(self.state_file)
                except (OSError, ValueError):
                    state = None  # unreadable: sign in afresh, it is rewritten then
            context = self._browser.new_context(storage_state=state, accept_downloads=True)
            context.set_default_timeout(opts.timeout_ms)
            context.set_default_navigation_timeout(opts.timeout_ms)
        except BrowserNotFound as err:
            raise PortalError(str(err), portal=self.name, step="browser") from err
        except PlaywrightError as err:
            self.close()
            raise PortalUnavailable(
                f"cannot start the browser: {first_line(err)}", portal=self.name, step="browser"
            ) from err
        self._context = context
        return context


def first_line(err: PlaywrightError) -> str:
    """The first line of a Playwright error's message (the rest is its call log)."""
    return (err.message or str(err)).splitlines()[0]


def page_heading(page: Page) -> str:
    """The page's first-level heading, or "" when it has none."""
    heading = page.get_by_role("heading", level=1)
    return heading.first.inner_text().strip() if heading.count() else ""


def alert_messages(page: Page) -> list[str]:
    """The messages listed in the page's alerts (the portal's validation errors)."""
    return [t.strip() for t in page.get_by_role("alert").get_by_role("listitem").all_inner_texts()]
