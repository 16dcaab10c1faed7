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
import urllib.parse
from decimal import Decimal
from pathlib import Path
from typing import ClassVar

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from portals.base import (
    ExistingClaim,
    FinalSubmitHook,
    PortalLimits,
    Receipt,
    StatusReport,
    SubmissionPackage,
)
from portals.errors import PortalError, PortalTimeout, PortalUnavailable
from portals.sandbox.browsing import first_line, page_heading
from portals.sandbox.filing import SandboxFiling
from portals.sandbox.rules import LIMITS


class SandboxAdapter(SandboxFiling):
    """The sandbox portal, one supplier account, one Chromium context.

    ``SandboxAdapter(base_url, credentials, browser=BrowserOptions(...), state_file=...,
    evidence_dir=...)``. The browser starts on first use; the session cookie is kept in
    ``state_file`` (mode 0600) and reused until the portal expires it.
    """

    name: ClassVar[str] = "sandbox"

    # -- the contract -------------------------------------------------------------------------
    @property
    def limits(self) -> PortalLimits:
        """The sandbox portal's attachment rules."""
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
        """The claims list filtered by ``query``: the row for this invoice, or None."""
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
        """Download the CSV export and read every row as a StatusReport."""
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
                f"the CSV export failed: {first_line(err)}", portal=self.name, step="export"
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
        """Download every document link of the claim's page into ``dest``."""
        self._logged_in_goto(f"/claims/{urllib.parse.quote(reference)}", "documents")
        page = self._p
        if page_heading(page) != f"Claim {reference}":
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


def _status_report(row: dict[str, str]) -> StatusReport:
    """One row of the portal's CSV export as a StatusReport."""
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
