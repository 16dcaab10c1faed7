"""The sandbox portal's four-step claim wizard as kit steps: ``fill`` (contract or correction,
then the invoice), ``attach`` (files, then the declaration), ``final_click`` ("Submit claim")
and ``read_receipt``. Retries, the intent callback and OutcomeUnknown are the kit's.

Evidence: the form-filling steps (claim, contract, invoice, upload) are marked (url, title,
time); the review page before the final click, the receipt and every error are screenshotted
(sign-in's pages too, in :mod:`portals.sandbox.browsing`), secret fields masked.
"""

from __future__ import annotations

import datetime as dt
import re
import urllib.parse
from decimal import Decimal
from pathlib import Path

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import FilePayload

from portals.base import PackageFile, Receipt, SubmissionPackage
from portals.errors import OutcomeUnknown, PortalRejected
from portals.sandbox.browsing import (
    REFERENCE,
    SandboxBrowsing,
    alert_messages,
    first_line,
    page_heading,
)


class SandboxFiling(SandboxBrowsing):
    """The claim wizard on top of the sandbox's pages."""

    def fill(self, package: SubmissionPackage, resubmit_of: str | None) -> None:
        """Step 1 (contract, or "Correct and resubmit"), then step 2 (the invoice)."""
        if resubmit_of:
            self._open_correction(resubmit_of)
        else:
            self._choose_contract(package)
        self._fill_invoice(package)

    def attach(self, package: SubmissionPackage) -> None:
        """Step 3 (one file per document type), then tick the declaration of step 4."""
        self._attach_files(package)
        self.expect_h1("Review and declaration", "review")
        self.page.get_by_label(
            "I declare that the information in this claim is true and complete", exact=True
        ).check()
        self.capture("review")

    def _open_correction(self, reference: str) -> None:
        """ "Correct and resubmit" on the returned claim's page; PortalRejected if not returned."""
        page = self.page
        self.goto(f"/claims/{urllib.parse.quote(reference)}", "claim")
        button = page.get_by_role("button", name="Correct and resubmit")
        if button.count() == 0:
            status = page.get_by_test_id("status")
            now = status.inner_text() if status.count() else "not found"
            raise PortalRejected(
                [f"claim {reference} is not returned for correction (status: {now})"],
                portal=self.name,
                step="resubmit",
            )
        self.mark("claim")
        self.submit_form(button, "resubmit")

    def _choose_contract(self, package: SubmissionPackage) -> None:
        """The contract and the period; PortalRejected when the account lacks the contract."""
        page = self.page
        self.goto("/claims/new", "contract")
        contract = page.get_by_label("Contract", exact=True)
        values = contract.evaluate("s => Array.from(s.options).map(o => o.value)")
        if package.contract_number not in values:
            raise PortalRejected(
                [
                    f"Contract: {package.contract_number} is not one of this "
                    "account's contracts on the portal"
                ],
                portal=self.name,
                step="contract",
            )
        contract.select_option(value=package.contract_number)
        page.get_by_label("Period start", exact=True).fill(package.period_start.isoformat())
        page.get_by_label("Period end", exact=True).fill(package.period_end.isoformat())
        self.mark("contract")
        self.submit_form(page.get_by_role("button", name="Continue"), "contract")

    def _fill_invoice(self, package: SubmissionPackage) -> None:
        """The invoice's number, date, currency and amounts."""
        page = self.page
        self.expect_h1("Invoice details", "invoice")
        page.get_by_label("Invoice number", exact=True).fill(package.invoice_number)
        page.get_by_label("Invoice date", exact=True).fill(package.invoice_date.isoformat())
        page.get_by_label("Currency", exact=True).fill(package.currency)
        page.get_by_label("Net amount", exact=True).fill(_amount(package.net))
        page.get_by_label("VAT amount", exact=True).fill(_amount(package.vat))
        page.get_by_label("Total amount", exact=True).fill(_amount(package.total))
        self.mark("invoice")
        self.submit_form(page.get_by_role("button", name="Continue"), "invoice", package)

    def _attach_files(self, package: SubmissionPackage) -> None:
        """One file per document type; PortalRejected when the portal has no field for a type."""
        page = self.page
        self.expect_h1("Supporting documents", "upload")
        for f in package.files:
            field = page.get_by_label(re.compile(rf"\({re.escape(f.document_type)}\)$"))
            if field.count() != 1:
                raise PortalRejected(
                    [
                        f"{f.filename}: the portal asks for no document of type "
                        f"{f.document_type!r} on this contract"
                    ],
                    portal=self.name,
                    step="upload",
                )
            field.set_input_files(_file_payload(f))
        self.mark("upload")
        self.submit_form(page.get_by_role("button", name="Upload and continue"), "upload", package)

    def final_click(self, package: SubmissionPackage) -> None:
        """Click "Submit claim"; a refusal on the review page is the portal's clear answer."""
        page, step = self.page, "final_submit"
        with page.expect_navigation() as nav:
            page.get_by_role("button", name="Submit claim").click()
        response = nav.value
        status = response.status if response is not None else None
        if status is not None and status >= 500:
            self.capture(step, http_status=status)
            raise OutcomeUnknown(
                f"the portal answered HTTP {status} to the final submit",
                portal=self.name,
                step=step,
                evidence=list(self.evidence.screenshots),
            )
        heading = page_heading(page)
        if heading == "Review and declaration":
            self.capture(step, http_status=status)
            self.raise_refusal(alert_messages(page), package, step)
        if heading != "Claim submitted":
            self.capture(step, http_status=status)
            raise OutcomeUnknown(
                f"unexpected page after the final submit: {heading!r}",
                portal=self.name,
                step=step,
                evidence=list(self.evidence.screenshots),
            )

    def read_receipt(self, package: SubmissionPackage) -> Receipt:
        """The receipt page: reference, time and message; then the receipt PDF."""
        page = self.page
        reference = page.get_by_label("Reference number", exact=True).inner_text().strip()
        if not REFERENCE.fullmatch(reference):
            raise OutcomeUnknown(
                f"the receipt shows no reference ({reference!r})", portal=self.name, step="receipt"
            )
        when = (
            page.get_by_label("Received at", exact=True).locator("time").get_attribute("datetime")
        )
        message = page.get_by_role("status").first.inner_text().strip()
        self.capture("receipt", reference=reference)
        receipt_pdf = self._download_receipt(reference)
        return Receipt(
            reference=reference,
            submitted_at=dt.datetime.fromisoformat(when) if when else dt.datetime.now(dt.UTC),
            receipt_pdf=receipt_pdf,
            screenshots=list(self.evidence.screenshots),
            portal_message=message,
        )

    def _download_receipt(self, reference: str) -> Path | None:
        """The receipt PDF; the claim is accepted either way, so a failure is only noted."""
        page, ev = self.page, self.evidence
        try:
            with page.expect_download() as info:
                page.get_by_role("link", name="Download receipt (PDF)").click()
            target = ev.dir / "receipt.pdf"
            info.value.save_as(target)
        except PlaywrightError as err:
            ev.note("receipt_pdf", error=first_line(err))
            return None
        ev.note("receipt_pdf", file=target.name, reference=reference)
        return target


def _amount(value: Decimal) -> str:
    """An amount as the portal's form wants it: two decimals, no grouping."""
    return f"{value:.2f}"


def _file_payload(f: PackageFile) -> FilePayload:
    """The upload under the package's file name (which may differ from the path's)."""
    return {"name": f.filename, "mimeType": "application/pdf", "buffer": f.path.read_bytes()}
