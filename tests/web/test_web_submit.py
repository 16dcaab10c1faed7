"""Submitting from the web against the real sandbox portal: a specialist's day end to end, and
two tabs submitting the same claim (the portal gets it once)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from claims import api
from portals.sandbox.testing import SandboxServer, running_sandbox
from tests.claims.portal_helpers import portal_claims, ready_claims
from tests.web.conftest import add_people, follow, sign_in

pytestmark = pytest.mark.browser
SUBMIT_TIMEOUT = 180_000  # ms: a real Chromium files on the portal behind the button


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    with running_sandbox(tmp_path_factory.mktemp("portal")) as server:
        yield server


def test_a_specialists_day_board_claim_submit_worklist_note_payments(workspace, portal,
                                                                     monkeypatch, serve,
                                                                     chromium):
    supplier = ready_claims(workspace, portal, monkeypatch, n=1)
    add_people(workspace)
    with serve(workspace) as url:
        page = chromium.new_page(viewport={"width": 1280, "height": 800})
        sign_in(page, url, "amira")
        ready = page.locator('section[data-status="READY"]')
        assert ready.locator(".count").inner_text() == "1"
        follow(ready.get_by_role("link").first)
        follow(page.get_by_role("link", name="Submit to the portal"))
        page.get_by_role("button", name="Confirm: submit to the portal").click(
            timeout=SUBMIT_TIMEOUT)
        page.wait_for_url(re.compile(r"/claims/\d+$"), timeout=SUBMIT_TIMEOUT)
        assert "submitted: portal reference" in page.get_by_role("status").first.inner_text()
        assert page.locator(".status").inner_text() == "SUBMITTED"
        assert page.locator(".attempts img").count() >= 1  # the portal's screens, from evidence
        assert "passed" in page.locator("#h-evidence ~ .verify").inner_text()
        follow(page.get_by_role("link", name="Board"))
        assert page.locator('section[data-status="SUBMITTED"] .count').inner_text() == "1"
        follow(page.get_by_role("link", name="Worklist"))
        assert page.get_by_role("heading", level=1).inner_text().startswith("Today's worklist")
        agency = api.get_invoice(workspace, api.list_claims(workspace)[0].invoice_number).customer
        page.goto(url + f"/customers/{agency}")
        page.get_by_label("Kind").select_option("call")
        page.get_by_label("Text").fill("Called AP: claim filed, approval expected next week")
        follow(page.get_by_role("button", name="Add note"))
        assert "Called AP" in page.locator(".notes").inner_text()
        follow(page.get_by_role("link", name="Payments"))
        assert page.get_by_role("heading", level=1).inner_text().startswith("Payments to review")
        follow(page.get_by_role("link", name="KPIs"))
        assert page.locator("#kpi-receivables").inner_text() != ""
    claim = api.list_claims(workspace)[0]
    assert claim.status.value == "SUBMITTED"
    assert [e.actor for e in claim.events if e.kind.startswith("submission.")] == \
        ["amira"] * len([e for e in claim.events if e.kind.startswith("submission.")])
    assert len(portal_claims(portal, supplier.contract_number)) == 1


def test_two_tabs_submitting_the_same_claim_file_it_once(workspace, portal, monkeypatch, serve,
                                                         chromium):
    supplier = ready_claims(workspace, portal, monkeypatch, n=1)
    add_people(workspace)
    claim_id = api.list_claims(workspace)[0].id
    with serve(workspace) as url:
        context = chromium.new_context()
        first, second = context.new_page(), context.new_page()
        sign_in(first, url, "amira")
        for tab in (first, second):
            tab.goto(url + f"/claims/{claim_id}/submit")
        # both tabs post their confirmation at once; neither waits for the other
        for tab in (first, second):
            tab.evaluate("document.querySelector('form.narrow').submit()")
        for tab in (first, second):
            tab.wait_for_url(re.compile(rf"/claims/{claim_id}$"), timeout=SUBMIT_TIMEOUT)
            tab.wait_for_load_state()
        said = [tab.locator(".messages").inner_text() for tab in (first, second)]
    assert sum("submitted: portal reference" in s for s in said) == 1, said
    # the other tab is told why it filed nothing: the claim was already in, or another worker
    # (the first tab's) held it at that moment
    assert sum("not submitted again" in s or "only READY claims" in s
               or "held by another worker" in s for s in said) == 1, said
    filed = portal_claims(portal, supplier.contract_number)
    assert len(filed) == 1, filed
    assert api.get_claim(workspace, claim_id).portal_reference == filed[0]["reference"]


def test_status_sync_from_the_board_then_a_returned_claim_is_corrected_by_upload(
        workspace, portal, monkeypatch, serve, chromium, tmp_path):
    from datetime import timedelta

    from claims.samples.pdfs import make_certificate_pdf
    from tests.claims.helpers import TODAY

    supplier = ready_claims(workspace, portal, monkeypatch, n=1)
    add_people(workspace)
    signed = tmp_path / "signed-cc.pdf"
    make_certificate_pdf(signed, kind="completion-certificate", title="Certificate (signed)",
                         holder="Gulf Engineering Services LLC",
                         number_reference=f"{supplier.contract_number}-INV-001",
                         issue_date=TODAY - timedelta(days=1))
    with serve(workspace) as url:
        page = chromium.new_page(viewport={"width": 1280, "height": 800})
        sign_in(page, url, "amira")
        page.goto(url + "/claims/1/submit")
        page.get_by_role("button", name="Confirm: submit to the portal").click(
            timeout=SUBMIT_TIMEOUT)
        page.wait_for_url(re.compile(r"/claims/1$"), timeout=SUBMIT_TIMEOUT)
        reference = api.get_claim(workspace, 1).portal_reference
        assert reference, page.locator(".messages").inner_text()
        portal.backoffice.move(reference, "under_review")
        portal.backoffice.move(reference, "returned", reasons=["Completion certificate unsigned"])
        page.goto(url + "/")
        page.get_by_role("button", name="Sync statuses from the portals").click(
            timeout=SUBMIT_TIMEOUT)
        page.wait_for_url(url + "/", timeout=SUBMIT_TIMEOUT)
        said = page.get_by_role("status").last.inner_text()
        assert "sandbox: 1 on the portal, 1 changed (claim 1 SUBMITTED -> RETURNED)" in said
        assert page.locator('section[data-status="RETURNED"] .count').inner_text() == "1"
        page.goto(url + "/claims/1")
        follow(page.get_by_role("link", name="Correct the returned claim"))
        page.get_by_label("Document to replace").select_option("completion-certificate")
        page.get_by_label("Corrected file").set_input_files(str(signed))
        follow(page.get_by_role("button", name="Confirm: correct the returned claim"))
        assert "corrected (completion-certificate replaced)" in \
            page.get_by_role("status").first.inner_text()
        assert page.locator(".status").inner_text() == "DRAFT"
    claim = api.get_claim(workspace, 1)
    assert claim.status.value == "DRAFT" and claim.portal_reference == reference
    assert [e.actor for e in claim.events][-1] == "amira"
    changed = [e for e in api.evidence_log(workspace, "1") if e.kind == "status.changed"]
    assert changed and changed[-1].actor == "amira"
