"""``SandboxAdapter``: drives the sandbox e-claims portal through a real Chromium (Playwright).

Registered under the ``claims.portals`` entry-point group as ``sandbox``, like any third-party
adapter, and built on the kit (:class:`portals.browser_kit.BrowserAdapter`): this package holds
only the portal's steps; retries before the final click, the intent callback, evidence and
OutcomeUnknown after the click are the kit's. Locators go by role and label; every wait is on a
condition, never a fixed sleep.

======================================  =======================================================
portal answer                           raised
======================================  =======================================================
connection refused / HTTP 5xx            PortalUnavailable (retried before the final click)
maintenance page                         PortalUnavailable(maintenance=True)
Playwright timeout                       PortalTimeout (retried before the final click)
back on the sign-in page                 SessionExpired (signs in again and starts over)
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
import tempfile
import urllib.parse
from decimal import Decimal
from pathlib import Path
from typing import ClassVar

from portals.base import Capability, ExistingClaim, PortalLimits, StatusReport
from portals.errors import PortalError, PortalUnavailable
from portals.sandbox.browsing import page_heading
from portals.sandbox.filing import SandboxFiling
from portals.sandbox.rules import LIMITS


class SandboxAdapter(SandboxFiling):
    """The sandbox portal, one supplier account, one Chromium context.

    ``SandboxAdapter(base_url, credentials, browser=BrowserOptions(...), state_file=...,
    evidence_dir=...)``. The browser starts on first use; the session cookie is kept in
    ``state_file`` (mode 0600) and reused until the portal expires it.
    """

    name: ClassVar[str] = "sandbox"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(Capability)
    secret_selectors: ClassVar[tuple[str, ...]] = ("input[name=code]",)

    @property
    def limits(self) -> PortalLimits:
        """The sandbox portal's attachment rules."""
        return LIMITS

    def find_claim(self, contract_number: str, invoice_number: str) -> ExistingClaim | None:
        """Look the claim up in the portal's filtered claims list."""
        query = urllib.parse.urlencode({"contract": contract_number, "invoice": invoice_number})
        with self.guarded("find"):
            self.signed_in_goto(f"/claims?{query}", "find")
            for row in self.page.get_by_role("table").locator("tbody").get_by_role("row").all():
                cells = [c.strip() for c in row.get_by_role("cell").all_inner_texts()]
                if len(cells) >= 6 and cells[1] == contract_number and cells[2] == invoice_number:
                    return ExistingClaim(
                        reference=cells[0],
                        contract_number=cells[1],
                        invoice_number=cells[2],
                        status=self.portal_status(cells[5]),
                        portal_status=cells[5],
                    )
        return None

    def list_statuses(self) -> list[StatusReport]:
        """Every claim of the account, from one CSV export."""
        self.signed_in_goto("/claims", "statuses")
        with self.page.expect_download() as info:
            self.page.get_by_role("link", name="Export CSV").click()
        # save_as, not path(): a remote browser server's download has no local path
        with tempfile.TemporaryDirectory(prefix="claims-export-") as tmp:
            info.value.save_as(Path(tmp) / "claims.csv")
            text = (Path(tmp) / "claims.csv").read_text(encoding="utf-8")
        if not text.startswith("reference,"):
            raise PortalUnavailable(
                "the CSV export is not a CSV file", portal=self.name, step="export"
            )
        try:
            rows = csv.DictReader(io.StringIO(text))
            return [self._status_report({k: unescape(v) for k, v in r.items()}) for r in rows]
        except (KeyError, ValueError, ArithmeticError) as err:
            raise PortalError(
                f"the CSV export has an unexpected format: {err!r}", portal=self.name, step="export"
            ) from err

    def payment_advice(self, reference: str, dest: Path) -> list[Path]:
        """Save the claim's documents into ``dest`` (refusing to overwrite); returns the paths."""
        page = self.page
        self.signed_in_goto(f"/claims/{urllib.parse.quote(reference)}", "documents")
        if page_heading(page) != f"Claim {reference}":
            raise PortalError(f"claim {reference} not found", portal=self.name, step="documents")
        dest.mkdir(parents=True, exist_ok=True)
        saved: list[Path] = []
        for link in page.get_by_role("list", name="Documents").get_by_role("link").all():
            with page.expect_download() as info:
                link.click()
            target = dest / Path(info.value.suggested_filename).name
            if target.exists():
                raise PortalError(
                    f"{target} already exists; not overwriting", portal=self.name, step="documents"
                )
            info.value.save_as(target)
            saved.append(target)
        return saved

    def _status_report(self, row: dict[str, str]) -> StatusReport:
        """One row of the portal's CSV export as a StatusReport."""
        return StatusReport(
            reference=row["reference"],
            invoice_number=row["invoice_number"],
            contract_number=row["contract_number"],
            status=self.portal_status(row["status"]),
            portal_status=row["status"],
            status_at=dt.datetime.fromisoformat(row["status_at"]) if row["status_at"] else None,
            comments=row["comments"].splitlines() if row["comments"] else [],
            paid_amount=Decimal(row["paid_amount"]) if row["paid_amount"] else None,
            paid_date=dt.date.fromisoformat(row["paid_date"]) if row["paid_date"] else None,
            payment_reference=row["payment_reference"] or None,
        )


def unescape(cell: str) -> str:
    """A CSV cell as the portal meant it: the export puts ``'`` before text a spreadsheet would
    run as a formula (``=``, ``+``, ``-``, ``@``, tab, CR); that mark is taken off again."""
    if cell and cell.startswith("'") and cell[1:2] in ("=", "+", "-", "@", "\t", "\r"):
        return cell[1:]
    return cell
