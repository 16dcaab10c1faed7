"""The web workspace in a real Chromium against the real server: signing in, the board, the
claim page and its actions, an auditor who cannot change anything, CSRF, escaping, RTL."""

from __future__ import annotations

import re

import pytest

from claims import api
from tests.claims.helpers import TODAY, load_samples, sample_claim
from tests.web.conftest import add_people, csrf_of, follow, sign_in

pytestmark = pytest.mark.browser
AGENCY = "Ministry of Public Works"


@pytest.fixture
def sample_ws(workspace):
    """A workspace with the sample contract, invoices, two DRAFT claims and two people."""
    files = load_samples(workspace, today=TODAY)
    for i in range(2):
        sample_claim(workspace, files, i)
    add_people(workspace)
    return workspace


def test_an_auditor_reads_everything_and_can_change_nothing(sample_ws, serve, chromium):
    with serve(sample_ws) as url:
        page = chromium.new_page()
        assert page.goto(url + "/").url.startswith(url + "/login")
        sign_in(page, url, "olga", "not the password")
        assert "wrong name or password" in page.get_by_role("alert").inner_text()
        sign_in(page, url, "olga")
        assert "olga (auditor, read-only)" in page.locator("header").inner_text()
        draft = page.locator('section[data-status="DRAFT"]')
        assert draft.locator(".count").inner_text() == "2"
        assert draft.locator(".amount").inner_text() == "190,210.00 SAR"  # 113,850 + 76,360
        follow(page.get_by_role("link", name=re.compile("Claim 1,")))
        assert page.get_by_role("heading", level=1).inner_text().startswith("Claim #1")
        assert page.get_by_role("navigation", name="Actions on this claim").count() == 0
        token = csrf_of(page)
        for path, form in (("/claims/1/validate", {}),
                           ("/claims/1/withdraw", {"reason": "audit"}),
                           (f"/customers/{AGENCY}/notes", {"text": "hello"}),
                           ("/payments/undo", {"payment_id": "1"})):
            response = page.request.post(url + path, form={"csrf_token": token, **form})
            assert response.status == 403, path
            assert "read-only" in response.text()
        for page_path in ("/worklist", "/payments", "/kpis", "/evidence", f"/customers/{AGENCY}"):
            assert page.goto(url + page_path).status == 200, page_path
        assert page.locator("form[method=post]:not([action='/logout'])").count() == 0
        export = page.request.get(url + "/evidence/export?claim=1")
        assert export.status == 200 and export.headers["content-type"] == "application/zip"
    claim = api.get_claim(sample_ws, 1)
    assert claim.status.value == "DRAFT" and all(e.actor != "olga" for e in claim.events)


def test_forms_need_the_sessions_csrf_token_and_pages_send_secure_headers(sample_ws, serve,
                                                                          chromium):
    with serve(sample_ws) as url:
        page = chromium.new_page()
        sign_in(page, url, "amira")
        response = page.goto(url + "/claims/1")
        headers = response.headers
        assert "frame-ancestors 'self'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["cache-control"] == "no-store"
        # a signed-in page says how long the server took; the sign-in form does not
        assert re.fullmatch(r"page;dur=\d+\.\d", headers["server-timing"])
        signed_out = chromium.new_page()  # its own context: no session cookie
        login = signed_out.request.get(url + "/login", max_redirects=0)
        assert login.status == 200 and "server-timing" not in login.headers
        for token in ("", "forged-token"):
            refused = page.request.post(url + "/claims/1/validate", form={"csrf_token": token})
            assert refused.status == 403 and "security token" in refused.text()
        pdf = page.request.get(url + "/claims/1/documents/0")
        assert pdf.headers["content-type"] == "application/pdf"
        assert pdf.headers["content-disposition"].startswith("inline")
    assert api.get_claim(sample_ws, 1).status.value == "DRAFT"


def test_a_specialist_validates_builds_and_withdraws_with_confirmation(sample_ws, serve,
                                                                        chromium):
    with serve(sample_ws) as url:
        page = chromium.new_page(viewport={"width": 1280, "height": 800})
        sign_in(page, url, "amira")
        page.goto(url + "/claims/1")
        follow(page.get_by_role("link", name="Validate"))
        assert page.get_by_role("heading", level=1).inner_text() == "Validate: claim #1"
        follow(page.get_by_role("button", name="Confirm: validate"))
        assert "claim 1 validated: 0 error(s)" in page.get_by_role("status").first.inner_text()
        follow(page.get_by_role("link", name="Build the bundle"))
        follow(page.get_by_role("button", name="Confirm: build the bundle"))
        assert page.locator(".status").inner_text() == "READY"
        bundle = page.request.get(url + "/claims/1/bundle")
        assert bundle.status == 200 and bundle.body()[:2] == b"PK"
        page.goto(url + "/claims/2/withdraw")
        page.get_by_role("button", name="Confirm: withdraw").click()  # no reason: refused
        assert page.url.endswith("/claims/2/withdraw")  # the browser's own required check
        page.get_by_label("Reason").fill("  ")
        follow(page.get_by_role("button", name="Confirm: withdraw"))
        assert "a withdrawal needs a reason" in page.get_by_role("alert").inner_text()
        page.goto(url + "/?age=abc")
        assert "'abc' is not a whole number of days" in page.get_by_role("alert").inner_text()
    history = api.get_claim(sample_ws, 1).events
    assert [e.actor for e in history if e.kind in ("validated", "bundle.built")] == \
        ["amira"] * len([e for e in history if e.kind in ("validated", "bundle.built")])
    assert history[-1].status.value == "READY" and history[-1].actor == "amira"
    assert {e.actor for e in api.evidence_log(sample_ws, "1")} == {"amira"}


def test_notes_render_escaped_and_arabic_right_to_left(sample_ws, serve, chromium):
    arabic = "تم الاتصال بقسم الحسابات"
    with serve(sample_ws) as url:
        page = chromium.new_page(viewport={"width": 390, "height": 844})  # a phone
        sign_in(page, url, "amira")
        page.goto(url + f"/customers/{AGENCY}")
        for text in ("<script>window.pwned=1</script><b>bold</b>", arabic):
            page.get_by_label("Text").fill(text)
            follow(page.get_by_role("button", name="Add note"))
            assert "added" in page.get_by_role("status").first.inner_text()
        log = page.locator(".notes")
        assert "<script>window.pwned=1</script><b>bold</b>" in log.inner_text()
        assert page.evaluate("window.pwned === undefined")
        rtl = log.get_by_text(arabic)
        assert rtl.evaluate("e => getComputedStyle(e).direction") == "rtl"
        page.get_by_label("Amount", exact=True).fill("12x")
        page.get_by_label("Currency").fill("SAR")
        page.get_by_label("Date (YYYY-MM-DD)").fill("2026-12-31")
        page.get_by_label("Promised by").fill("A. Saleh")
        follow(page.get_by_role("button", name="Record promise"))
        assert "'12x' is not an amount" in page.get_by_role("alert").inner_text()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, "the customer page scrolls sideways on a phone"
    notes = api.list_notes(sample_ws, AGENCY)
    assert [n["author"] for n in notes] == ["amira", "amira"]
