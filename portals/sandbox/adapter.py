"""``SandboxAdapter``: drives the sandbox e-claims portal through a real Chromium (Playwright).

Registered under the ``claims.portals`` entry-point group as ``sandbox``, like any third-party
adapter. Locators go by role and label; every wait is on a condition (a navigation, a download,
an element), never a fixed sleep, except the backoff between retries before the final click.

Error mapping (see :mod:`portals.errors`):

======================================  =======================================================
portal answer                           raised
======================================  =======================================================
connection refused / HTTP 5xx            PortalUnavailable (retried before the final click)
maintenance page                         PortalUnavailable(maintenance=True)
Playwright timeout                       PortalTimeout (retried before the final click)
back on the sign-in page                 SessionExpired (logs in again and starts over)
"Invalid username or password" / code    AuthenticationFailed (never retried)
"account is locked"                      AccountLocked
validation messages (role=alert)         PortalRejected(messages)
"Duplicate invoice ... (reference R)"    AlreadySubmitted(R)
anything after "Submit claim"            OutcomeUnknown (unless the portal clearly refused)
======================================  =======================================================
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import pyotp
from playwright.sync_api import Browser, BrowserContext, FilePayload, Locator, Page, Response
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from portals.base import (
    BrowserOptions,
    ExistingClaim,
    FinalSubmitHook,
    PackageFile,
    PortalAdapter,
    PortalCredentials,
    PortalLimits,
    Receipt,
    StatusReport,
    SubmissionPackage,
    check_package,
)
from portals.browser import BrowserNotFound, acquire_browser, release_browser
from portals.errors import (
    AccountLocked,
    AlreadySubmitted,
    AuthenticationFailed,
    OutcomeUnknown,
    PortalError,
    PortalRejected,
    PortalTimeout,
    PortalUnavailable,
    SessionExpired,
)
from portals.sandbox.evidence import EvidenceRecorder
from portals.sandbox.rules import LIMITS

_REFERENCE = re.compile(r"CLM-\d{4}-\d{6}")
_RETRYABLE = (PortalUnavailable, PortalTimeout, SessionExpired)


class SandboxAdapter(PortalAdapter):
    """The sandbox portal, one supplier account, one Chromium context.

    ``SandboxAdapter(base_url, credentials, browser=BrowserOptions(...), state_file=...,
    evidence_dir=...)``. The browser starts on first use; the session cookie is kept in
    ``state_file`` (mode 0600) and reused until the portal expires it.
    """

    name: ClassVar[str] = "sandbox"

    def __init__(
        self,
        base_url: str,
        credentials: PortalCredentials,
        *,
        browser: BrowserOptions | None = None,
        state_file: Path,
        evidence_dir: Path,
    ) -> None:
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

    # -- the contract -------------------------------------------------------------------------
    @property
    def limits(self) -> PortalLimits:
        return LIMITS

    def login(self) -> None:
        """Reuse the stored session if the portal still accepts it, else sign in (password+TOTP)."""
        with self._mapped("login"):
            self._goto("/claims", "login-check", allow_login_page=True)
            if self._on_login_page():
                self._sign_in()
            self._signed_in = True

    def find_claim(self, contract_number: str, invoice_number: str) -> ExistingClaim | None:
        """Look the claim up in the portal's filtered claims list."""
        query = urllib.parse.urlencode({"contract": contract_number, "invoice": invoice_number})
        with self._mapped("find"):
            return self._find(query, contract_number, invoice_number)

    def _find(self, query: str, contract_number: str, invoice_number: str) -> ExistingClaim | None:
        self._logged_in_goto(f"/claims?{query}", "find")
        page = self._p
        for row in page.get_by_role("table").locator("tbody").get_by_role("row").all():
            cells = [c.strip() for c in row.get_by_role("cell").all_inner_texts()]
            if len(cells) >= 6 and cells[1] == contract_number and cells[2] == invoice_number:
                return ExistingClaim(
                    reference=cells[0],
                    contract_number=cells[1],
                    invoice_number=cells[2],
                    status=cells[5],
                )
        return None

    def submit(
        self, package: SubmissionPackage, evidence_dir: Path, on_final_submit: FinalSubmitHook
    ) -> Receipt:
        """File ``package`` through the four-step wizard; see :meth:`PortalAdapter.submit`."""
        return self._file(package, evidence_dir, on_final_submit, resubmit_of=None)

    def resubmit(
        self,
        reference: str,
        package: SubmissionPackage,
        evidence_dir: Path,
        on_final_submit: FinalSubmitHook,
    ) -> Receipt:
        """Correct the *returned* claim ``reference`` with ``package``; same reference after.

        Raises PortalRejected when the claim is not (any more) returned for correction.
        """
        return self._file(package, evidence_dir, on_final_submit, resubmit_of=reference)

    def fetch_statuses(self) -> list[StatusReport]:
        """Every claim of the account, from one CSV export."""
        with self._mapped("export"):
            return self._fetch_statuses()

    def _fetch_statuses(self) -> list[StatusReport]:
        self._logged_in_goto("/claims", "statuses")
        page = self._p
        try:
            with page.expect_download() as info:
                page.get_by_role("link", name="Export CSV").click()
            path = info.value.path()
        except PlaywrightTimeoutError as err:
            raise PortalTimeout(
                "the CSV export did not arrive", portal=self.name, step="export"
            ) from err
        except PlaywrightError as err:
            raise PortalUnavailable(
                f"the CSV export failed: {_first_line(err)}", portal=self.name, step="export"
            ) from err
        text = Path(path).read_text(encoding="utf-8")
        if not text.startswith("reference,"):
            raise PortalUnavailable(
                "the CSV export is not a CSV file", portal=self.name, step="export"
            )
        try:
            return [_status_report(row) for row in csv.DictReader(io.StringIO(text))]
        except (KeyError, ValueError, ArithmeticError) as err:
            raise PortalError(
                f"the CSV export has an unexpected format: {err!r}",
                portal=self.name,
                step="export",
            ) from err

    def download_documents(self, reference: str, dest: Path) -> list[Path]:
        """Save the claim's documents into ``dest`` (refusing to overwrite); returns the paths."""
        with self._mapped("documents"):
            return self._download_documents(reference, dest)

    def _download_documents(self, reference: str, dest: Path) -> list[Path]:
        self._logged_in_goto(f"/claims/{urllib.parse.quote(reference)}", "documents")
        page = self._p
        if _h1(page) != f"Claim {reference}":
            raise PortalError(f"claim {reference} not found", portal=self.name, step="documents")
        dest.mkdir(parents=True, exist_ok=True)
        saved: list[Path] = []
        for link in page.get_by_role("list", name="Documents").get_by_role("link").all():
            try:
                with page.expect_download() as info:
                    link.click()
                download = info.value
                target = dest / Path(download.suggested_filename).name
                if target.exists():
                    raise PortalError(
                        f"{target} already exists; not overwriting",
                        portal=self.name,
                        step="documents",
                    )
                download.save_as(target)
            except PlaywrightTimeoutError as err:
                raise PortalTimeout(
                    "a document download did not arrive", portal=self.name, step="documents"
                ) from err
            saved.append(target)
        return saved

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

    # -- the wizard ---------------------------------------------------------------------------
    def _file(
        self,
        package: SubmissionPackage,
        evidence_dir: Path,
        on_final_submit: FinalSubmitHook,
        *,
        resubmit_of: str | None,
    ) -> Receipt:
        problems = check_package(package, self.limits)
        if problems:
            raise PortalRejected(problems, portal=self.name, step="check")
        operation = "resubmit" if resubmit_of else "submit"
        ev = self._ev = EvidenceRecorder(
            evidence_dir,
            sent=package.model_dump(mode="json"),
            adapter=self.name,
            operation=operation,
            base_url=self.base_url,
            claim_key=package.claim_key,
        )
        try:
            opts = self.browser_options
            for attempt in range(1, opts.max_attempts + 1):
                try:
                    if not self._signed_in:
                        self.login()
                    with self._mapped("wizard"):
                        self._fill_wizard(package, resubmit_of)
                    break
                except _RETRYABLE as err:
                    self._signed_in = False  # check (and renew) the session before retrying
                    ev.note("retry", attempt=attempt, error=type(err).__name__, detail=str(err))
                    if attempt == opts.max_attempts:
                        raise
                    # backoff between retries; nothing has been filed yet
                    time.sleep(opts.backoff_s * 2 ** (attempt - 1))  # ok: retry backoff
            ev.note("on_final_submit")
            on_final_submit()  # the caller persists its intent; if it raises, we never click
            receipt = self._final_click(package)
        except PortalError as err:
            ev.finish("error", error=type(err).__name__, detail=str(err))
            raise
        except BaseException as err:
            ev.finish("error", error=type(err).__name__)
            raise
        finally:
            self._ev = None
        ev.finish("accepted", reference=receipt.reference)
        return receipt

    def _fill_wizard(self, package: SubmissionPackage, resubmit_of: str | None) -> None:
        """Steps 1-4 up to a ticked declaration; every failure here is before the final click."""
        page = self._p
        if resubmit_of:
            self._goto(f"/claims/{urllib.parse.quote(resubmit_of)}", "claim")
            button = page.get_by_role("button", name="Correct and resubmit")
            if button.count() == 0:
                status = page.get_by_test_id("status")
                now = status.inner_text() if status.count() else "not found"
                raise PortalRejected(
                    [(f"claim {resubmit_of} is not returned for correction (status: {now})")],
                    portal=self.name,
                    step="resubmit",
                )
            self._snap("claim")
            self._submit(button, "resubmit")
        else:
            self._goto("/claims/new", "contract")
            contract = page.get_by_label("Contract", exact=True)
            values = contract.evaluate("s => Array.from(s.options).map(o => o.value)")
            if package.contract_number not in values:
                raise PortalRejected(
                    [
                        (
                            f"Contract: {package.contract_number} is not one of this "
                            "account's contracts on the portal"
                        )
                    ],
                    portal=self.name,
                    step="contract",
                )
            contract.select_option(value=package.contract_number)
            page.get_by_label("Period start", exact=True).fill(package.period_start.isoformat())
            page.get_by_label("Period end", exact=True).fill(package.period_end.isoformat())
            self._snap("contract")
            self._submit(page.get_by_role("button", name="Continue"), "contract")
        self._expect_h1("Invoice details", "invoice")
        page.get_by_label("Invoice number", exact=True).fill(package.invoice_number)
        page.get_by_label("Invoice date", exact=True).fill(package.invoice_date.isoformat())
        page.get_by_label("Currency", exact=True).fill(package.currency)
        page.get_by_label("Net amount", exact=True).fill(_amount(package.net))
        page.get_by_label("VAT amount", exact=True).fill(_amount(package.vat))
        page.get_by_label("Total amount", exact=True).fill(_amount(package.total))
        self._snap("invoice")
        self._submit(page.get_by_role("button", name="Continue"), "invoice", package)
        self._expect_h1("Supporting documents", "upload")
        for f in package.files:
            field = page.get_by_label(re.compile(rf"\({re.escape(f.document_type)}\)$"))
            if field.count() != 1:
                raise PortalRejected(
                    [
                        (
                            f"{f.filename}: the portal asks for no document of type "
                            f"{f.document_type!r} on this contract"
                        )
                    ],
                    portal=self.name,
                    step="upload",
                )
            field.set_input_files(_file_payload(f))
        self._snap("upload")
        self._submit(page.get_by_role("button", name="Upload and continue"), "upload", package)
        self._expect_h1("Review and declaration", "review")
        page.get_by_label(
            "I declare that the information in this claim is true and complete", exact=True
        ).check()
        self._snap("review")

    def _final_click(self, package: SubmissionPackage) -> Receipt:
        """Click "Submit claim". From here on, every failure is OutcomeUnknown unless the
        portal clearly refused (duplicate invoice, validation message)."""
        page, ev = self._p, self._evidence
        step = "final_submit"
        try:
            with page.expect_navigation() as nav:
                page.get_by_role("button", name="Submit claim").click()
            response = nav.value
            status = response.status if response is not None else None
            if status is not None and status >= 500:
                self._snap(step, http_status=status)
                raise OutcomeUnknown(
                    f"the portal answered HTTP {status} to the final submit",
                    portal=self.name,
                    step=step,
                    evidence=list(ev.screenshots),
                )
            heading = _h1(page)
            if heading == "Review and declaration":
                self._snap(step, http_status=status)
                messages = _alerts(page)
                self._raise_refusal(messages, package, step)
            if heading != "Claim submitted":
                self._snap(step, http_status=status)
                raise OutcomeUnknown(
                    f"unexpected page after the final submit: {heading!r}",
                    portal=self.name,
                    step=step,
                    evidence=list(ev.screenshots),
                )
            reference = page.get_by_label("Reference number", exact=True).inner_text().strip()
            if not _REFERENCE.fullmatch(reference):
                raise OutcomeUnknown(
                    f"the receipt shows no reference ({reference!r})", portal=self.name, step=step
                )
            when = (
                page.get_by_label("Received at", exact=True)
                .locator("time")
                .get_attribute("datetime")
            )
            message = page.get_by_role("status").first.inner_text().strip()
            self._snap("receipt", reference=reference)
        except (AlreadySubmitted, PortalRejected, OutcomeUnknown):
            raise
        except PlaywrightError as err:
            raise OutcomeUnknown(
                f"the final submit failed: {_first_line(err)}",
                portal=self.name,
                step=step,
                evidence=list(ev.screenshots),
            ) from err
        except Exception as err:
            raise OutcomeUnknown(
                f"the final submit failed: {err!r}",
                portal=self.name,
                step=step,
                evidence=list(ev.screenshots),
            ) from err
        receipt_pdf = self._download_receipt(reference)
        submitted_at = dt.datetime.fromisoformat(when) if when else dt.datetime.now(dt.UTC)
        return Receipt(
            reference=reference,
            submitted_at=submitted_at,
            receipt_pdf=receipt_pdf,
            screenshots=list(ev.screenshots),
            portal_message=message,
        )

    def _download_receipt(self, reference: str) -> Path | None:
        """The receipt PDF; the claim is accepted either way, so a failure is only noted."""
        page, ev = self._p, self._evidence
        try:
            with page.expect_download() as info:
                page.get_by_role("link", name="Download receipt (PDF)").click()
            target = ev.dir / "receipt.pdf"
            info.value.save_as(target)
        except PlaywrightError as err:
            ev.note("receipt_pdf", error=_first_line(err))
            return None
        ev.note("receipt_pdf", file=target.name, reference=reference)
        return target

    # -- sign-in ------------------------------------------------------------------------------
    def _sign_in(self) -> None:
        page = self._p
        if not self._on_login_page():
            self._goto("/login", "login", allow_login_page=True)
        page.get_by_label("Username", exact=True).fill(self.credentials.username)
        page.get_by_label("Password", exact=True).fill(self.credentials.password.get_secret_value())
        self._snap("login")
        self._submit(page.get_by_role("button", name="Sign in"), "login", allow_login_page=True)
        if _h1(page) == "Sign in":
            self._raise_auth(_alerts(page), "login")
        if _h1(page) == "Enter your one-time code":
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
            if _h1(page) != "My claims":
                self._raise_auth(_alerts(page), "totp")
        if _h1(page) != "My claims":
            raise PortalError(
                f"unexpected page after sign-in: {_h1(page)!r}", portal=self.name, step="login"
            )
        self._save_state()

    @contextmanager
    def _mapped(self, step: str) -> Iterator[None]:
        """Raw Playwright errors (before the final click) become portal errors."""
        try:
            yield
        except PlaywrightTimeoutError as err:
            raise PortalTimeout(
                f"timed out: {_first_line(err)}", portal=self.name, step=step
            ) from err
        except PlaywrightError as err:
            if "net::" in (err.message or ""):
                raise PortalUnavailable(
                    f"network error: {_first_line(err)}", portal=self.name, step=step
                ) from err
            raise PortalError(
                f"unexpected page: {_first_line(err)}", portal=self.name, step=step
            ) from err

    def _raise_auth(self, messages: list[str], step: str) -> None:
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
        try:
            response = self._p.goto(self.base_url + path)
        except PlaywrightTimeoutError as err:
            raise PortalTimeout(
                f"{path} did not load in time", portal=self.name, step=step
            ) from err
        except PlaywrightError as err:
            raise PortalUnavailable(
                f"cannot reach {self.base_url}: {_first_line(err)}", portal=self.name, step=step
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
                f"the {step} step failed: {_first_line(err)}", portal=self.name, step=step
            ) from err
        self._check(response, step, allow_login_page=allow_login_page)
        if response is not None and response.status in (409, 422):
            self._snap(step, http_status=response.status)
            self._raise_refusal(_alerts(page), package, step)

    def _check(self, response: Response | None, step: str, *, allow_login_page: bool) -> None:
        """Turn maintenance, 5xx, an expired session or a refused token into our errors."""
        page = self._p
        status = response.status if response is not None else None
        heading = _h1(page)
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
        for message in messages:
            if message.startswith("Duplicate invoice"):
                found = _REFERENCE.search(message)
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
        got = _h1(self._p)
        if got != heading:
            raise PortalError(
                f"expected the {heading!r} page, got {got!r}", portal=self.name, step=step
            )

    def _on_login_page(self) -> bool:
        return urllib.parse.urlparse(self._p.url).path in ("/login", "/login/totp")

    def _snap(self, step: str, **details: Any) -> None:
        if self._ev is not None:
            self._ev.snap(self._p, step, **details)

    @property
    def _evidence(self) -> EvidenceRecorder:
        if self._ev is None:  # pragma: no cover - only called inside _file
            raise RuntimeError("no evidence recorder outside submit/resubmit")
        return self._ev

    # -- the browser ----------------------------------------------------------------------------
    @property
    def _p(self) -> Page:
        if self._page is None:
            self._page = self._ctx.new_page()
        return self._page

    @property
    def _ctx(self) -> BrowserContext:
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
                f"cannot start the browser: {_first_line(err)}", portal=self.name, step="browser"
            ) from err
        self._context = context
        return context


def _first_line(err: PlaywrightError) -> str:
    return (err.message or str(err)).splitlines()[0]


def _h1(page: Page) -> str:
    heading = page.get_by_role("heading", level=1)
    return heading.first.inner_text().strip() if heading.count() else ""


def _alerts(page: Page) -> list[str]:
    return [t.strip() for t in page.get_by_role("alert").get_by_role("listitem").all_inner_texts()]


def _amount(value: Decimal) -> str:
    return f"{value:.2f}"


def _file_payload(f: PackageFile) -> FilePayload:
    """The upload under the package's file name (which may differ from the path's)."""
    return {"name": f.filename, "mimeType": "application/pdf", "buffer": f.path.read_bytes()}


def _status_report(row: dict[str, str]) -> StatusReport:
    return StatusReport(
        reference=row["reference"],
        invoice_number=row["invoice_number"],
        contract_number=row["contract_number"],
        status=row["status"],
        status_at=dt.datetime.fromisoformat(row["status_at"]) if row["status_at"] else None,
        comments=row["comments"].splitlines() if row["comments"] else [],
        paid_amount=Decimal(row["paid_amount"]) if row["paid_amount"] else None,
        paid_date=dt.date.fromisoformat(row["paid_date"]) if row["paid_date"] else None,
        payment_reference=row["payment_reference"] or None,
    )
