"""``BrowserAdapter``: the browser plumbing of a Playwright adapter on the kit.

What it gives an adapter (all documented, all public):

* :attr:`page` — a Chromium page in the adapter's own context, started on first use from
  :func:`portals.browser.acquire_browser` (a bundled Playwright Chromium, else the system's,
  else the remote browser server of ``BrowserOptions.ws_endpoint`` /
  ``CLAIMS_BROWSER_WS_ENDPOINT``), with the stored session (``state_file``) loaded;
* :meth:`save_session` — cookies kept for the next run, mode 0600, written atomically;
* :meth:`goto` and :meth:`click_and_wait` — navigation that maps timeouts, network failures
  and HTTP 5xx to portal errors, then calls the adapter's :meth:`check_page`;
* :meth:`capture` — a screenshot into the claim's evidence, every password and one-time-code
  field (and the adapter's ``secret_selectors``) masked: for sign-in, the page before the final
  click, the receipt and every error;
* :meth:`mark` — the step in the claim's evidence with the page's url and title and the time,
  no screenshot: for form-filling steps;
* :meth:`map_error` — raw Playwright errors as PortalTimeout / PortalUnavailable / PortalError;
* :meth:`sent_once` — run by the kit around the final click: what it sends goes out once.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import (
    Browser, BrowserContext, Locator, Page, Request, Response, Route,
)
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from portals.browser import acquire_browser, release_browser
from portals.errors import BrowserNotFound, PortalError, PortalTimeout, PortalUnavailable
from portals.kit import StepAdapter


#: methods that change nothing on the portal: Chromium may send them as it likes
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _carries_files(request: Request) -> bool:
    """Whether ``request`` uploads files (multipart with a file part), whose bytes
    Playwright's copy of the body would lack."""
    if "multipart/" not in (request.headers.get("content-type") or ""):
        return False
    return b'filename="' in (request.post_data_buffer or b"")


def first_line(err: PlaywrightError) -> str:
    """The first line of a Playwright error's message (the rest is its call log)."""
    return (err.message or str(err)).splitlines()[0]


class BrowserAdapter(StepAdapter):
    """A :class:`~portals.kit.StepAdapter` driving its portal through Chromium."""

    _browser: Browser | None = None
    _context: BrowserContext | None = None
    _page: Page | None = None

    # -- hooks ----------------------------------------------------------------------------------
    def check_page(self, response: Response | None, step: str) -> None:
        """Inspect the page after a navigation (default: HTTP 5xx is PortalUnavailable)."""
        status = response.status if response is not None else None
        if status is not None and status >= 500:
            self.capture(f"{step}-error", http_status=status)
            raise PortalUnavailable(f"HTTP {status}", status=status, portal=self.name, step=step)

    def map_error(self, err: Exception, step: str) -> PortalError | None:
        """Playwright timeouts are PortalTimeout, network errors PortalUnavailable."""
        if isinstance(err, PlaywrightTimeoutError):
            return PortalTimeout(f"timed out: {first_line(err)}", portal=self.name, step=step)
        if isinstance(err, PlaywrightError):
            if "net::" in (err.message or ""):
                return PortalUnavailable(
                    f"network error: {first_line(err)}", portal=self.name, step=step
                )
            return PortalError(f"unexpected page: {first_line(err)}", portal=self.name, step=step)
        return super().map_error(err, step)

    def capture(self, step: str, **details: Any) -> None:
        """Screenshot the page (secrets masked) into the claim's evidence, when filing one."""
        if self.recording:
            self.evidence.snap(self.page, step, **details)

    def on_step_error(self, err: PortalError) -> None:
        """Screenshot the page a step failed on (``<step>-error``), unless the adapter's last
        evidence step already is a screenshot (e.g. :meth:`check_page`'s of an HTTP 5xx)."""
        if self.recording and not self.evidence.last_is_screenshot():
            self.capture(f"{err.step or 'step'}-error", error=type(err).__name__)

    def mark(self, step: str, **details: Any) -> None:
        """Record the step (url, page title, time) in the claim's evidence without a
        screenshot, when filing one: for form-filling steps (see :meth:`capture`)."""
        if self.recording:
            self.evidence.mark(self.page, step, **details)

    @contextmanager
    def sent_once(self) -> Iterator[None]:
        """While the final click runs, a request that may change something (any method but
        GET, HEAD and OPTIONS) is sent by Playwright (``route.fetch``: never sent again,
        redirects left to the page) instead of by Chromium, which silently sends a request
        again when a kept-alive connection closes before any answer: a portal that stored the
        claim and then dropped the line would get it twice. An answer that never comes aborts
        the request: the page fails, and the kit calls the outcome unknown.

        A body carrying files (a multipart part with a ``filename``) is left to Chromium:
        Playwright does not see the files' bytes. Upload files in :meth:`attach`, before the
        final click, as portals' wizards mostly do."""
        timeout = self.browser_options.timeout_ms

        def once(route: Route) -> None:
            if route.request.method in _SAFE_METHODS or _carries_files(route.request):
                route.fallback()
                return
            try:
                answer = route.fetch(max_redirects=0, max_retries=0, timeout=timeout)
            except PlaywrightError:
                route.abort("connectionfailed")
                return
            route.fulfill(response=answer)

        self.page.route("**/*", once)
        try:
            yield
        finally:
            try:
                self.page.unroute("**/*", once)
            except PlaywrightError:
                pass  # a closed page has no routes left

    # -- navigation -------------------------------------------------------------------------------
    def goto(self, path: str, step: str) -> Response | None:
        """Load ``base_url + path``; errors mapped, then :meth:`check_page`."""
        try:
            response = self.page.goto(self.base_url + path)
        except PlaywrightTimeoutError as err:
            self.abandon_navigation()
            raise PortalTimeout(
                f"{path} did not load in time", portal=self.name, step=step
            ) from err
        except PlaywrightError as err:
            raise PortalUnavailable(
                f"cannot reach {self.base_url}: {first_line(err)}", portal=self.name, step=step
            ) from err
        self.check_page(response, step)
        return response

    def abandon_navigation(self) -> None:
        """Leave a page that never loaded (a blackholed address): until another navigation
        replaces it, Playwright calls without a timeout of their own (a locator's ``count``,
        the page's ``title``: the error's evidence) wait for it forever."""
        try:
            self.page.goto("about:blank")
        except PlaywrightError:
            pass  # the error being raised says what went wrong

    def click_and_wait(self, target: Locator, step: str) -> Response | None:
        """Click ``target``, wait for the next page; errors mapped, then :meth:`check_page`."""
        try:
            with self.page.expect_navigation() as nav:
                target.click()
            response = nav.value
        except PlaywrightTimeoutError as err:
            self.abandon_navigation()
            raise PortalTimeout(
                f"no answer to the {step} step in time", portal=self.name, step=step
            ) from err
        except PlaywrightError as err:
            raise PortalUnavailable(
                f"the {step} step failed: {first_line(err)}", portal=self.name, step=step
            ) from err
        self.check_page(response, step)
        return response

    # -- the browser and the session ----------------------------------------------------------
    @property
    def page(self) -> Page:
        """The browser page, opened (with the stored session) on first use."""
        if self._page is None:
            self._page = self.context.new_page()
        return self._page

    @property
    def context(self) -> BrowserContext:
        """The adapter's own browser context, started on first use."""
        return self._context if self._context is not None else self._start()

    def save_session(self) -> None:
        """Store cookies for the next run, readable only by us (mode 0600), atomically."""
        state = self.context.storage_state()
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

    def close(self) -> None:
        """Keep the session for next time, then close context and give the browser back."""
        if self._context is not None:
            try:
                self.save_session()
            except PlaywrightError:
                pass  # a dead browser has no state worth keeping
            try:
                self._context.close()
            except PlaywrightError:
                pass  # already gone
        if self._browser is not None:
            release_browser(self._browser)
        self._browser = self._context = self._page = None

    def _stored_state(self) -> str | None:
        """The state file when it is readable JSON (else sign in afresh; it is rewritten)."""
        if not self.state_file.exists():
            return None
        try:
            json.loads(self.state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return str(self.state_file)

    def _start(self) -> BrowserContext:
        """Our own context (cookies from the state file) on the thread's shared Chromium."""
        opts = self.browser_options
        try:
            self._browser = acquire_browser(
                opts.executable, opts.headless, opts.ws_endpoint, opts.timeout_ms
            )
            context = self._browser.new_context(
                storage_state=self._stored_state(), accept_downloads=True
            )
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
