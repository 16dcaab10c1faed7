"""Filing a claim through the sandbox portal's four-step wizard, and the final click.

Everything before "Submit claim" is retried on PortalUnavailable, PortalTimeout and
SessionExpired; from the final click on, a failure is OutcomeUnknown unless the portal clearly
refused (duplicate invoice, validation message).
"""

from __future__ import annotations

import datetime as dt
import re
import time
import urllib.parse
from decimal import Decimal
from pathlib import Path

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import FilePayload

from portals.base import FinalSubmitHook, PackageFile, Receipt, SubmissionPackage, check_package
from portals.errors import (
    AlreadySubmitted,
    OutcomeUnknown,
    PortalError,
    PortalRejected,
    PortalTimeout,
    PortalUnavailable,
    SessionExpired,
)
from portals.sandbox.browsing import (
    REFERENCE,
    SandboxBrowsing,
    alert_messages,
    first_line,
    page_heading,
)
from portals.sandbox.evidence import EvidenceRecorder

_RETRYABLE = (PortalUnavailable, PortalTimeout, SessionExpired)


class SandboxFiling(SandboxBrowsing):
    """The claim wizard on top of the browser session: fill, declare, click, read the receipt."""

    def _file(
        self,
        package: SubmissionPackage,
        evidence_dir: Path,
        on_final_submit: FinalSubmitHook,
        *,
        resubmit_of: str | None,
    ) -> Receipt:
        """File ``package`` (a new claim, or a correction of ``resubmit_of``); returns the receipt.

        Retries the wizard up to the final click; calls ``on_final_submit`` just before it and
        records the whole attempt as evidence.
        """
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
        if resubmit_of:
            self._open_correction(resubmit_of)
        else:
            self._choose_contract(package)
        self._fill_invoice(package)
        self._attach_files(package)
        self._declare()

    def _open_correction(self, reference: str) -> None:
        """Step 1 of a correction: "Correct and resubmit" on the returned claim's page.

        Raises PortalRejected when the claim is not returned for correction.
        """
        page = self._p
        self._goto(f"/claims/{urllib.parse.quote(reference)}", "claim")
        button = page.get_by_role("button", name="Correct and resubmit")
        if button.count() == 0:
            status = page.get_by_test_id("status")
            now = status.inner_text() if status.count() else "not found"
            raise PortalRejected(
                [(f"claim {reference} is not returned for correction (status: {now})")],
                portal=self.name,
                step="resubmit",
            )
        self._snap("claim")
        self._submit(button, "resubmit")

    def _choose_contract(self, package: SubmissionPackage) -> None:
        """Step 1 of a new claim: the contract and the period.

        Raises PortalRejected when the contract is not one of the account's on the portal.
        """
        page = self._p
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

    def _fill_invoice(self, package: SubmissionPackage) -> None:
        """Step 2: the invoice's number, date, currency and amounts."""
        page = self._p
        self._expect_h1("Invoice details", "invoice")
        page.get_by_label("Invoice number", exact=True).fill(package.invoice_number)
        page.get_by_label("Invoice date", exact=True).fill(package.invoice_date.isoformat())
        page.get_by_label("Currency", exact=True).fill(package.currency)
        page.get_by_label("Net amount", exact=True).fill(_amount(package.net))
        page.get_by_label("VAT amount", exact=True).fill(_amount(package.vat))
        page.get_by_label("Total amount", exact=True).fill(_amount(package.total))
        self._snap("invoice")
        self._submit(page.get_by_role("button", name="Continue"), "invoice", package)

    def _attach_files(self, package: SubmissionPackage) -> None:
        """Step 3: one file per document type the contract asks for.

        Raises PortalRejected when the portal has no upload field for a file's type.
        """
        page = self._p
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

    def _declare(self) -> None:
        """Step 4: tick the declaration (the final click is :meth:`_final_click`)."""
        self._expect_h1("Review and declaration", "review")
        self._p.get_by_label(
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
            heading = page_heading(page)
            if heading == "Review and declaration":
                self._snap(step, http_status=status)
                messages = alert_messages(page)
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
            if not REFERENCE.fullmatch(reference):
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
                f"the final submit failed: {first_line(err)}",
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
