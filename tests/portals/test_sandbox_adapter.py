"""The Playwright sandbox adapter against the real sandbox portal, in a real Chromium."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import stat
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from PIL import Image
from pydantic import SecretStr
from pypdf import PdfReader

from portals.base import BrowserOptions, PackageFile, SubmissionPackage
from portals.browser import launch_options
from portals.errors import (
    AccountLocked,
    AlreadySubmitted,
    AuthenticationFailed,
    OutcomeUnknown,
    PortalError,
    PortalRejected,
    PortalTimeout,
    PortalUnavailable,
)
from portals.sandbox.adapter import SandboxAdapter
from portals.sandbox.testing import (
    SandboxServer,
    Supplier,
    browser_server,
    make_pdf,
    run_server,
    seed_supplier,
)

pytestmark = pytest.mark.browser

FAST = BrowserOptions(timeout_ms=8_000, max_attempts=3, backoff_s=0.05)


def package_for(
    supplier: Supplier, invoice: str, pdfs: dict[str, Path], **changes: object
) -> SubmissionPackage:
    files = [
        PackageFile(
            document_type=t,
            path=p,
            filename=p.name,
            sha256=hashlib.sha256(p.read_bytes()).hexdigest(),
        )
        for t, p in pdfs.items()
    ]
    data: dict[str, object] = {
        "claim_key": f"key-{invoice}",
        "contract_number": supplier.contract_number,
        "invoice_number": invoice,
        "invoice_date": dt.date(2026, 2, 1),
        "period_start": dt.date(2026, 1, 1),
        "period_end": dt.date(2026, 1, 31),
        "currency": "EUR",
        "net": Decimal("1000.00"),
        "vat": Decimal("200.00"),
        "total": Decimal("1200.00"),
        "files": files,
    }
    data.update(changes)
    return SubmissionPackage.model_validate(data)


class Hook:
    """An on_final_submit callback that records calls and what the portal held at that moment."""

    def __init__(self, server: SandboxServer, invoice: str):
        self.server, self.invoice, self.calls, self.portal_had = server, invoice, 0, []

    def __call__(self) -> None:
        self.calls += 1
        self.portal_had.append(len(self.server.backoffice.claims(invoice=self.invoice)))


@pytest.fixture(scope="module")
def shared(
    sandbox_server: SandboxServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Supplier, SandboxAdapter]]:
    """One supplier and one signed-in adapter for the module (each test uses its own invoices)."""
    supplier = seed_supplier(sandbox_server)
    state = tmp_path_factory.mktemp("shared") / "session.json"
    with SandboxAdapter(
        sandbox_server.url,
        supplier.credentials,
        browser=FAST,
        state_file=state,
        evidence_dir=state.parent,
    ) as adapter:
        yield supplier, adapter


@pytest.fixture
def supplier(sandbox: SandboxServer, shared: tuple[Supplier, SandboxAdapter]) -> Supplier:
    return shared[0]


@pytest.fixture
def adapter(sandbox: SandboxServer, shared: tuple[Supplier, SandboxAdapter]) -> SandboxAdapter:
    return shared[1]


@pytest.fixture
def fresh_supplier(sandbox: SandboxServer) -> Supplier:
    return seed_supplier(sandbox)


@pytest.fixture
def make_adapter(sandbox: SandboxServer, tmp_path: Path) -> Iterator[Callable[..., SandboxAdapter]]:
    """More adapters: a supplier's own session file (shared by its adapters), other options."""
    made: list[SandboxAdapter] = []

    def make(
        supplier: Supplier,
        options: BrowserOptions = FAST,
        password: str | None = None,
        state_file: Path | None = None,
    ) -> SandboxAdapter:
        creds = supplier.credentials
        if password is not None:
            creds = creds.model_copy(update={"password": SecretStr(password)})
        adapter = SandboxAdapter(
            sandbox.url,
            creds,
            browser=options,
            state_file=state_file or tmp_path / supplier.username / "session.json",
            evidence_dir=tmp_path / "evidence",
        )
        made.append(adapter)
        return adapter

    yield make
    for adapter in made:
        adapter.close()


def test_happy_path_files_a_claim_with_receipt_and_screenshots(
    sandbox: SandboxServer,
    supplier: Supplier,
    adapter: SandboxAdapter,
    pdfs: dict[str, Path],
    tmp_path: Path,
) -> None:
    hook = Hook(sandbox, "INV-100")
    receipt = adapter.submit(package_for(supplier, "INV-100", pdfs), tmp_path / "ev1", hook)
    assert hook.calls == 1 and hook.portal_had == [0]  # called before the claim existed
    stored = sandbox.backoffice.claim(receipt.reference)
    assert (stored["invoice_number"], stored["status"]) == ("INV-100", "submitted")
    assert {f["sha256"] for f in stored["files"]} == {
        hashlib.sha256(p.read_bytes()).hexdigest() for p in pdfs.values()
    }
    assert receipt.receipt_pdf is not None
    text = PdfReader(receipt.receipt_pdf).pages[0].extract_text()
    assert receipt.reference in text and "INV-100" in text
    assert receipt.submitted_at.tzinfo is not None
    steps = json.loads((tmp_path / "ev1" / "manifest.json").read_text())
    names = [s["step"] for s in steps["steps"]]
    assert names[-5:] == ["upload", "review", "on_final_submit", "receipt", "receipt_pdf"]
    # form-filling steps are marked (url, title, time); the review page before the final click
    # and the receipt are screenshotted (and sign-in, and every error: see below)
    by_name = {s["step"]: s for s in steps["steps"]}
    for marked in ("contract", "invoice", "upload"):
        assert "screenshot" not in by_name[marked] and by_name[marked]["url"].startswith("http")
        assert by_name[marked]["title"] and by_name[marked]["at"]
    snapped = [s["step"] for s in steps["steps"] if "screenshot" in s]
    assert snapped in (["review", "receipt"], ["login", "totp", "review", "receipt"]), snapped
    assert [p.name for p in receipt.screenshots] == [
        s["screenshot"] for s in steps["steps"] if "screenshot" in s]
    assert steps["outcome"]["result"] == "accepted"
    assert steps["sent"]["invoice_number"] == "INV-100" and steps["sent"]["total"] == "1200.00"
    assert {f["sha256"] for f in steps["sent"]["files"]} == {f["sha256"] for f in stored["files"]}
    assert receipt.screenshots and all(
        p.exists() and p.suffix == ".png" for p in receipt.screenshots
    )
    assert adapter.find_claim(supplier.contract_number, "INV-100").reference == receipt.reference  # type: ignore[union-attr]
    assert adapter.find_claim(supplier.contract_number, "INV-NOPE") is None


def test_the_stored_session_is_reused_then_renewed_and_no_secret_is_kept(
    sandbox: SandboxServer,
    fresh_supplier: Supplier,
    make_adapter: Callable[..., SandboxAdapter],
    pdfs: dict[str, Path],
    tmp_path: Path,
) -> None:
    supplier = fresh_supplier
    first = make_adapter(supplier)
    first.login()
    first.close()
    second = make_adapter(supplier)
    second.submit(package_for(supplier, "INV-R1", pdfs), tmp_path / "ev-r1", lambda: None)
    steps = [
        s["step"] for s in json.loads((tmp_path / "ev-r1" / "manifest.json").read_text())["steps"]
    ]
    assert "login" not in steps and "totp" not in steps
    sandbox.backoffice.expire_sessions()
    second.submit(package_for(supplier, "INV-R2", pdfs), tmp_path / "ev-r2", lambda: None)
    steps = [
        s["step"] for s in json.loads((tmp_path / "ev-r2" / "manifest.json").read_text())["steps"]
    ]
    # the wizard noticed the ended session (a screenshot of the page it got), signed in again
    # and started over
    assert steps[:4] == ["contract-error", "retry", "login", "totp"]
    # no secret reached the evidence, the password field was masked, the session file is private
    secrets = [supplier.password.encode(), supplier.totp_secret.encode()]
    for path in (tmp_path / "ev-r2").rglob("*"):
        assert not any(s in path.read_bytes() for s in secrets), f"a secret leaked into {path}"
    for shot in ("*-login.png", "*-contract-error.png"):  # the error's picture is masked too
        image = Image.open(next((tmp_path / "ev-r2").glob(shot))).convert("RGB")
        assert (255, 0, 255) in {c for _, c in image.getcolors(1 << 20)}  # type: ignore[union-attr]
    state = tmp_path / supplier.username / "session.json"
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    assert supplier.password not in state.read_text()


def test_the_portals_own_rejection_is_portal_rejected(
    supplier: Supplier, adapter: SandboxAdapter, pdfs: dict[str, Path], tmp_path: Path
) -> None:
    locked = make_pdf(tmp_path / "locked-timesheet.pdf", password="x")
    hook_calls: list[int] = []
    with pytest.raises(PortalRejected) as info:
        adapter.submit(
            package_for(supplier, "INV-REJ", {**pdfs, "timesheet": locked}),
            tmp_path / "ev-rej",
            lambda: hook_calls.append(1),
        )
    assert info.value.step == "upload" and hook_calls == []
    assert info.value.messages == [
        "Timesheet (timesheet): locked-timesheet.pdf is password-protected (encrypted)"
    ]
    with pytest.raises(PortalRejected) as info:
        adapter.submit(
            package_for(supplier, "INV-REJ2", pdfs, total=Decimal("1300.00")),
            tmp_path / "ev-rej2",
            lambda: hook_calls.append(1),
        )
    assert info.value.step == "invoice" and "is not net 1,000.00 plus VAT" in info.value.messages[0]
    assert hook_calls == []


def test_a_second_submission_of_an_invoice_is_already_submitted(
    sandbox: SandboxServer,
    supplier: Supplier,
    adapter: SandboxAdapter,
    pdfs: dict[str, Path],
    tmp_path: Path,
) -> None:
    first = adapter.submit(package_for(supplier, "INV-TWICE", pdfs), tmp_path / "a", lambda: None)
    hook = Hook(sandbox, "INV-TWICE")
    with pytest.raises(AlreadySubmitted) as info:
        adapter.submit(package_for(supplier, "INV-TWICE", pdfs), tmp_path / "b", hook)
    assert info.value.reference == first.reference and hook.calls == 0


def test_5xx_before_the_final_click_is_retried(
    sandbox: SandboxServer,
    supplier: Supplier,
    adapter: SandboxAdapter,
    pdfs: dict[str, Path],
    tmp_path: Path,
) -> None:
    sandbox.backoffice.set_faults("http500=upload*1;fail_upload=timesheet*1")
    receipt = adapter.submit(
        package_for(supplier, "INV-RETRY", pdfs), tmp_path / "ev", lambda: None
    )
    manifest = json.loads((tmp_path / "ev" / "manifest.json").read_text())
    retries = [s for s in manifest["steps"] if s["step"] == "retry"]
    assert [r["error"] for r in retries] == ["PortalUnavailable", "PortalUnavailable"]
    assert len(sandbox.backoffice.claims(invoice="INV-RETRY")) == 1
    assert receipt.reference.startswith("CLM-")


def test_persistent_5xx_and_maintenance_are_portal_unavailable(
    sandbox: SandboxServer,
    supplier: Supplier,
    adapter: SandboxAdapter,
    pdfs: dict[str, Path],
    tmp_path: Path,
) -> None:
    adapter.login()
    sandbox.backoffice.set_faults("http500=invoice")
    hook = Hook(sandbox, "INV-DOWN")
    with pytest.raises(PortalUnavailable) as info:
        adapter.submit(package_for(supplier, "INV-DOWN", pdfs), tmp_path / "ev1", hook)
    assert info.value.status == 500 and info.value.step == "invoice" and hook.calls == 0
    sandbox.backoffice.set_faults("maintenance")
    with pytest.raises(PortalUnavailable) as info:
        adapter.submit(package_for(supplier, "INV-DOWN", pdfs), tmp_path / "ev2", hook)
    assert info.value.maintenance is True and hook.calls == 0
    assert sandbox.backoffice.claims(invoice="INV-DOWN") == []


def test_failures_after_the_final_click_are_outcome_unknown_and_find_claim_tells(
    sandbox: SandboxServer,
    supplier: Supplier,
    adapter: SandboxAdapter,
    pdfs: dict[str, Path],
    tmp_path: Path,
) -> None:
    sandbox.backoffice.set_faults("http500=final_submit*1")
    with pytest.raises(OutcomeUnknown):  # unknown to us, though this time nothing was stored
        adapter.submit(package_for(supplier, "INV-500F", pdfs), tmp_path / "ev0", lambda: None)
    assert adapter.find_claim(supplier.contract_number, "INV-500F") is None
    sandbox.backoffice.set_faults("lost_response=final_submit*1")
    hook = Hook(sandbox, "INV-LOST")
    with pytest.raises(OutcomeUnknown) as info:
        adapter.submit(package_for(supplier, "INV-LOST", pdfs), tmp_path / "ev", hook)
    assert info.value.step == "final_submit" and hook.calls == 1
    found = adapter.find_claim(supplier.contract_number, "INV-LOST")
    assert found is not None and found.status == "submitted"
    manifest = json.loads((tmp_path / "ev" / "manifest.json").read_text())
    assert manifest["outcome"]["error"] == "OutcomeUnknown"


def test_a_session_expiring_mid_wizard_is_renewed_and_the_wizard_restarted(
    sandbox: SandboxServer,
    supplier: Supplier,
    adapter: SandboxAdapter,
    pdfs: dict[str, Path],
    tmp_path: Path,
) -> None:
    sandbox.backoffice.set_faults("expire_session=review*1")
    receipt = adapter.submit(package_for(supplier, "INV-EXP", pdfs), tmp_path / "ev", lambda: None)
    steps = [
        s["step"] for s in json.loads((tmp_path / "ev" / "manifest.json").read_text())["steps"]
    ]
    retry = steps.index("retry")
    assert "login" in steps[retry:] and "totp" in steps[retry:]  # signed in again after it
    assert sandbox.backoffice.claim(receipt.reference)["status"] == "submitted"


def test_a_slow_portal_before_the_final_click_is_portal_timeout(
    sandbox: SandboxServer,
    supplier: Supplier,
    adapter: SandboxAdapter,
    make_adapter: Callable[..., SandboxAdapter],
    pdfs: dict[str, Path],
    tmp_path: Path,
) -> None:
    adapter.login()  # the shared adapter's stored session, so the impatient one need not sign in
    adapter = make_adapter(
        supplier, BrowserOptions(timeout_ms=2_000, max_attempts=1), state_file=adapter.state_file
    )
    sandbox.backoffice.set_faults("latency=4@invoice")
    with pytest.raises(PortalTimeout) as info:
        adapter.submit(package_for(supplier, "INV-SLOW", pdfs), tmp_path / "ev", lambda: None)
    assert info.value.step == "invoice"


def test_wrong_passwords_fail_then_lock(
    fresh_supplier: Supplier, make_adapter: Callable[..., SandboxAdapter]
) -> None:
    adapter = make_adapter(fresh_supplier, password="wrong")
    for _ in range(2):
        with pytest.raises(AuthenticationFailed) as info:
            adapter.login()
        assert not isinstance(info.value, AccountLocked)
        assert "Invalid username or password" in str(info.value)
    with pytest.raises(AccountLocked):
        adapter.login()
    with pytest.raises(AccountLocked):  # the right password cannot open it now either
        make_adapter(fresh_supplier).login()


def test_statuses_come_in_bulk_after_the_back_office_moves_claims(
    sandbox: SandboxServer,
    fresh_supplier: Supplier,
    make_adapter: Callable[..., SandboxAdapter],
    pdfs: dict[str, Path],
    tmp_path: Path,
) -> None:
    supplier = fresh_supplier
    adapter = make_adapter(supplier)
    bo = sandbox.backoffice
    bo.seed_claims(supplier.contract_number, 1000, prefix="SYNC-")
    paid, back = bo.claims(invoice="SYNC-000001")[0], bo.claims(invoice="SYNC-000002")[0]
    for status in ("under_review", "approved", "payment_ordered"):
        bo.move(paid["reference"], status)
    bo.pay(paid["reference"], "100.00", "2026-03-01", "PAY-A")
    bo.move(back["reference"], "under_review")
    bo.move(back["reference"], "returned", reasons=["timesheet unsigned"], comment="please fix")
    reports = {r.reference: r for r in adapter.fetch_statuses()}
    assert len(reports) == 1000
    assert {r.status for r in reports.values()} == {"submitted", "payment_ordered", "returned"}
    p = reports[paid["reference"]]
    assert (p.status, p.paid_amount, p.paid_date, p.payment_reference) == (
        "payment_ordered",
        Decimal("100.00"),
        dt.date(2026, 3, 1),
        "PAY-A",
    )
    advice = adapter.download_documents(paid["reference"], tmp_path / "advice")
    assert [p.name for p in advice] == [f"payment-advice-{paid['reference']}.pdf"]
    assert "PAY-A" in PdfReader(advice[0]).pages[0].extract_text()
    r = reports[back["reference"]]
    assert r.status == "returned" and r.comments == ["Returned: timesheet unsigned", "please fix"]
    assert r.paid_amount is None and r.status_at is not None


def test_a_returned_claim_is_corrected_and_resubmitted_under_its_reference(
    sandbox: SandboxServer,
    supplier: Supplier,
    adapter: SandboxAdapter,
    pdfs: dict[str, Path],
    tmp_path: Path,
) -> None:
    first = adapter.submit(package_for(supplier, "INV-FIX", pdfs), tmp_path / "a", lambda: None)
    with pytest.raises(PortalRejected, match="is not returned for correction"):
        adapter.resubmit(
            first.reference, package_for(supplier, "INV-FIX", pdfs), tmp_path / "b", lambda: None
        )
    sandbox.backoffice.move(first.reference, "under_review")
    sandbox.backoffice.move(first.reference, "returned", reasons=["timesheet unsigned"])
    signed = make_pdf(tmp_path / "timesheet-signed.pdf", "Timesheet, signed")
    hook = Hook(sandbox, "INV-FIX")
    again = adapter.resubmit(
        first.reference,
        package_for(supplier, "INV-FIX", {**pdfs, "timesheet": signed}),
        tmp_path / "c",
        hook,
    )
    assert again.reference == first.reference and hook.calls == 1
    stored = sandbox.backoffice.claim(first.reference)
    assert stored["status"] == "submitted"
    assert "timesheet-signed.pdf" in {f["filename"] for f in stored["files"]}
    saved = adapter.download_documents(first.reference, tmp_path / "dl")
    assert sorted(p.name for p in saved) == ["invoice-inv-1.pdf", "timesheet-signed.pdf"]
    assert (tmp_path / "dl" / "timesheet-signed.pdf").read_bytes() == signed.read_bytes()


def test_evidence_is_never_overwritten(
    sandbox: SandboxServer,
    supplier: Supplier,
    adapter: SandboxAdapter,
    pdfs: dict[str, Path],
    tmp_path: Path,
) -> None:
    used = tmp_path / "ev"
    used.mkdir()
    (used / "manifest.json").write_text('{"earlier": "evidence"}')
    with pytest.raises(PortalError, match="already used"):
        adapter.submit(package_for(supplier, "INV-W1", pdfs), used, lambda: None)
    assert (used / "manifest.json").read_text() == '{"earlier": "evidence"}'
    assert sandbox.backoffice.claims(invoice="INV-W1") == []


def test_a_remote_browser_server_works_over_websocket(
    sandbox: SandboxServer,
    fresh_supplier: Supplier,
    make_adapter: Callable[..., SandboxAdapter],
    tmp_path: Path,
) -> None:
    with browser_server(tmp_path / "bs") as endpoint:
        remote = make_adapter(fresh_supplier, BrowserOptions(ws_endpoint=endpoint))
        remote.login()
        assert remote.find_claim(fresh_supplier.contract_number, "INV-NONE") is None
        remote.close()


def test_a_run_server_named_by_claims_browser_ws_endpoint_files_and_exports(
    sandbox: SandboxServer,
    fresh_supplier: Supplier,
    make_adapter: Callable[..., SandboxAdapter],
    pdfs: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``playwright run-server`` (the bundled driver's) through the environment variable: a
    claim filed and the status export downloaded (save_as: a remote download has no path)."""
    chromium = launch_options().get("executable_path")
    if chromium:
        monkeypatch.setenv("CLAIMS_CHROMIUM", str(chromium))
    with run_server(tmp_path / "rs") as endpoint:
        monkeypatch.setenv("CLAIMS_BROWSER_WS_ENDPOINT", endpoint)
        remote = make_adapter(fresh_supplier)
        receipt = remote.submit(package_for(fresh_supplier, "INV-RS", pdfs), tmp_path / "ev",
                                lambda: None)  # fmt: skip
        [report] = [r for r in remote.fetch_statuses() if r.invoice_number == "INV-RS"]
        remote.close()
    assert report.reference == receipt.reference and report.portal_status == "submitted"


def test_when_the_caller_cannot_persist_its_intent_nothing_is_clicked(
    sandbox: SandboxServer,
    supplier: Supplier,
    adapter: SandboxAdapter,
    pdfs: dict[str, Path],
    tmp_path: Path,
) -> None:
    class IntentNotStored(Exception):
        pass

    def hook() -> None:
        raise IntentNotStored("database is down")

    with pytest.raises(IntentNotStored):
        adapter.submit(package_for(supplier, "INV-NOCLICK", pdfs), tmp_path / "ev", hook)
    assert sandbox.backoffice.claims(invoice="INV-NOCLICK") == []
    manifest = json.loads((tmp_path / "ev" / "manifest.json").read_text())
    assert manifest["outcome"]["error"] == "IntentNotStored"
    assert "final_submit" not in [s["step"] for s in manifest["steps"]]
