"""The web workspace's newer pages in a real Chromium against the real server: the worklist a
page at a time, resolving a dispute, the KPI trends (the same numbers as ``claims kpi --json``)
and people administration (admins only, CSRF, evidence)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from typer.testing import CliRunner

from claims import api
from claims.cli import app
from tests.benchmarks.bench_collections import seed
from tests.claims.helpers import TODAY, load_samples, sample_claim
from tests.web.conftest import PASSWORD, add_people, csrf_of, follow, sign_in

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


def _number(text: str) -> Decimal:
    return Decimal(text.replace(",", "").strip())


def test_the_worklist_is_shown_a_page_at_a_time_in_the_ranking_order(workspace, serve,
                                                                     chromium):
    seed(workspace, 400, 80)  # 80 customers with overdue invoices: two pages
    add_people(workspace)
    ranked = [a.customer for a in api.worklist(workspace)]
    assert len(ranked) > 50
    with serve(workspace) as url:
        page = chromium.new_page()
        sign_in(page, url, "amira")
        page.goto(url + "/worklist")
        status = page.locator(".pager-status").inner_text()
        assert status.startswith(f"Accounts 1–50 of {len(ranked)} (page 1 of 2)"), status
        first = page.locator("table.worklist tbody tr td:nth-child(2)").all_inner_texts()
        assert page.locator("table.worklist tbody tr td.score").count() == 50
        follow(page.get_by_role("link", name="Next page"))
        second = page.locator("table.worklist tbody tr td:nth-child(2)").all_inner_texts()
        assert first + second == ranked
        assert page.locator("table.worklist tbody tr td:first-child").first.inner_text() == "51"
        assert page.get_by_role("link", name="Previous page").count() == 1
        assert page.goto(url + "/worklist?page=abc").status == 400
        assert page.goto(url + "/worklist?page=99").status == 200  # the last page
        assert "(page 2 of 2)" in page.locator(".pager-status").inner_text()


def test_a_dispute_is_resolved_from_the_customer_page(sample_ws, serve, chromium):
    invoice = api.list_claims(sample_ws)[0].invoice_number
    opened = api.open_dispute(sample_ws, invoice=invoice, claim_id=None, reason="pricing",
                              team="Sales", due_date=None, note="")
    with serve(sample_ws) as url:
        page = chromium.new_page()
        sign_in(page, url, "amira")
        page.goto(url + f"/customers/{AGENCY}")
        page.get_by_label(f"Resolution of #{opened['id']}").select_option("credit-note")
        page.get_by_label(f"Note on #{opened['id']}").fill("credit note CN-7 issued")
        follow(page.get_by_role("button", name=f"Resolve dispute #{opened['id']}"))
        assert "resolved: credit-note" in page.get_by_role("status").first.inner_text()
        assert "resolved: credit-note" in page.locator(".disputes").inner_text()
        assert page.get_by_role("button", name=f"Resolve dispute #{opened['id']}").count() == 0
        # resolving it again (a second tab) is refused with the API's words
        token = csrf_of(page)
        again = page.request.post(url + f"/customers/{AGENCY}/disputes/{opened['id']}/resolve",
                                  form={"csrf_token": token, "resolution": "rejected"})
        assert "is resolved already" in again.text()  # flashed on the page it returns to
    assert api.list_disputes(sample_ws) == []
    log = api.list_notes(sample_ws, AGENCY)
    assert log[-1]["author"] == "amira" and "credit note CN-7" in log[-1]["summary"]


def test_the_kpi_page_shows_the_numbers_of_claims_kpi_json_with_trend_charts(
        sample_ws, serve, chromium):
    result = CliRunner().invoke(app, ["--workspace", str(sample_ws.root), "kpi", "--json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    kpi = json.loads(result.output)
    with serve(sample_ws) as url:
        page = chromium.new_page(viewport={"width": 1280, "height": 800})
        sign_in(page, url, "olga")  # an auditor reads the KPIs too
        page.goto(url + "/kpis")
        assert _number(page.locator("#kpi-receivables").inner_text()) == \
            Decimal(kpi["receivables"])
        assert _number(page.locator("#kpi-overdue").inner_text()) == Decimal(kpi["overdue"])
        for element, value in (("#kpi-dso", kpi["dso"]["standard"]),
                               ("#kpi-cei", kpi["cei"]["value"]),
                               ("#kpi-add", kpi["average_days_delinquent"])):
            shown = page.locator(element).inner_text()
            assert shown == ("None" if value is None else str(value)), element
        rows = page.locator("table.trends tbody tr")
        assert rows.count() == len(kpi["trends"])
        for trend in kpi["trends"]:
            row = page.locator(f'table.trends tr[data-month="{trend["month"]}"]')
            for key in ("receivables", "collected"):
                cell = row.locator(f'td[data-key="{key}"]').inner_text()
                assert _number(cell) == Decimal(trend[key]), (trend["month"], key)
            for key in ("dso_countback", "cei"):
                cell = row.locator(f'td[data-key="{key}"]').inner_text()
                assert cell == ("—" if trend[key] is None else str(trend[key]))
        charts = page.locator("figure.trend svg[role=img]")
        assert charts.count() == 4
        dots = page.locator('figure[data-series="receivables"] circle')
        assert dots.count() == len(kpi["trends"])
        assert dots.last.locator("title").text_content() == \
            f'{kpi["trends"][0]["month"]}: {kpi["trends"][0]["receivables"]}'


def test_an_admin_disables_an_account_and_changes_a_password_others_cannot(
        sample_ws, serve, chromium):
    api.add_user(sample_ws, "ada", role="admin", password=PASSWORD)
    new_password = "a much newer password"
    with serve(sample_ws) as url:
        amira = chromium.new_page()
        sign_in(amira, url, "amira")
        assert amira.get_by_role("link", name="People").count() == 0
        assert amira.goto(url + "/people").status == 403
        token = csrf_of(amira)
        refused = amira.request.post(url + "/people/olga/disable", form={"csrf_token": token})
        assert refused.status == 403 and "only an admin" in refused.text()

        admin = chromium.new_context().new_page()
        sign_in(admin, url, "ada")
        follow(admin.get_by_role("link", name="People"))
        assert admin.locator("tr[data-user]").count() == 3
        forged = admin.request.post(url + "/people/olga/disable", form={"csrf_token": "x"})
        assert forged.status == 403 and "security token" in forged.text()
        admin.get_by_label("New password for amira").fill("short")
        admin.get_by_label("New password for amira").evaluate("e => e.removeAttribute('minlength')")
        follow(admin.get_by_role("button", name="Change password of amira"))
        assert "at least 10 characters" in admin.get_by_role("alert").inner_text()
        admin.get_by_label("New password for amira").fill(new_password)
        follow(admin.get_by_role("button", name="Change password of amira"))
        assert "password of amira changed" in admin.get_by_role("status").first.inner_text()
        follow(admin.get_by_role("button", name="Disable olga"))
        assert "account olga disabled" in admin.get_by_role("status").first.inner_text()
        assert admin.locator("tr[data-user]").count() == 2
        assert admin.get_by_role("button", name="Disable ada").count() == 0  # not oneself

        other = chromium.new_context().new_page()
        sign_in(other, url, "olga")
        assert "wrong name or password" in other.get_by_role("alert").inner_text()
        sign_in(other, url, "amira")
        assert "wrong name or password" in other.get_by_role("alert").inner_text()
        sign_in(other, url, "amira", new_password)
        assert "signed in as amira" in other.get_by_role("status").first.inner_text()
    assert [u.name for u in api.list_users(sample_ws)] == ["ada", "amira"]
    recorded = [(e.kind, e.actor, e.metadata.get("user")) for e in api.evidence_log(sample_ws)
                if e.kind.startswith("account.")]
    assert recorded == [("account.password_changed", "ada", "amira"),
                        ("account.disabled", "ada", "olga")]
    assert all(new_password not in json.dumps(e.metadata) for e in api.evidence_log(sample_ws))
