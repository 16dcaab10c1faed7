"""The README's example adapter, as printed, is a working adapter: run against a small fake
portal a third party would write (tests/portals/tenders), it passes the whole conformance kit
(``kill -9`` included), its screenshots mask the password and the one-time code, and its
statuses come out in the fixed vocabulary with the portal's word beside them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from portals.base import PortalStatus
from portals.conformance import SCENARIOS, kill9, run_scenario
from portals.conformance.scenarios import Intent
from tests.portals.tenders.target import TendersUnderTest

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def tenders(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TendersUnderTest]:
    with TendersUnderTest.started(tmp_path_factory.mktemp("tenders")) as target:
        yield target


@pytest.mark.parametrize("name", [n for n in SCENARIOS if n != "kill9"])
def test_the_readme_adapter_passes_the_kit(name: str, tenders: TendersUnderTest,
                                           tmp_path: Path) -> None:
    assert run_scenario(name, tenders, tmp_path)


def test_the_readme_adapter_survives_kill_9(tenders: TendersUnderTest, tmp_path: Path) -> None:
    assert "2 kills" in kill9(tenders, tmp_path, kills=2, seed=7)


def test_a_filing_is_recorded_with_masked_sign_in_and_its_files(
        tenders: TendersUnderTest, tmp_path: Path) -> None:
    package = tenders.package("RD-1", tmp_path)
    intent = Intent()
    with tenders.adapter(tmp_path / "state.json", tmp_path / "evidence") as adapter:
        receipt = adapter.submit(package, tmp_path / "evidence" / "one", intent)
    held = tenders.claims("RD-1")
    assert [c["reference"] for c in held] == [receipt.reference] and intent.calls == 1
    assert held[0]["total"] == "1200.00"
    assert sorted(held[0]["files"]) == sorted(f.filename for f in package.files)
    steps = json.loads((tmp_path / "evidence" / "one" / "manifest.json").read_text())["steps"]
    names = [s["step"] for s in steps]
    for step in ("login", "form", "review", "on_final_submit", "receipt"):
        assert step in names, names
    shots = [s["screenshot"] for s in steps if "screenshot" in s]
    assert any("login" in s for s in shots) and any("receipt" in s for s in shots)
    for shot in shots:
        assert (tmp_path / "evidence" / "one" / shot).stat().st_size > 0


def test_statuses_come_in_the_vocabulary_with_the_portals_word(
        tenders: TendersUnderTest, tmp_path: Path) -> None:
    package = tenders.package("RD-2", tmp_path)
    with tenders.adapter(tmp_path / "state.json", tmp_path / "evidence") as adapter:
        ref = adapter.submit(package, tmp_path / "evidence" / "f", Intent()).reference
        tenders.set_status(ref, "In review")
        found = adapter.find_claim(package.contract_number, "RD-2")
        tenders.set_status(ref, "Paid")
        reports = {r.reference: r for r in adapter.fetch_statuses()}
    assert found is not None and found.status is PortalStatus.UNDER_REVIEW
    assert found.portal_status == "In review"
    assert reports[ref].status is PortalStatus.PAID and reports[ref].portal_status == "Paid"
    assert reports[ref].invoice_number == "RD-2"


def test_files_posted_during_the_final_click_arrive_whole(
        tenders: TendersUnderTest, tmp_path: Path) -> None:
    """A final click that uploads files is left to Chromium (Playwright does not see their
    bytes): they reach the portal whole."""
    package = tenders.package("RD-3", tmp_path)
    with tenders.adapter(tmp_path / "state.json", tmp_path / "evidence") as adapter:
        adapter.login()
        adapter.goto("/invoices/new", "form")
        adapter.page.get_by_label("Invoice number").fill("RD-3")
        for f in package.files:
            adapter.page.get_by_label(f.document_type, exact=True).set_input_files(f.path)
        with adapter.sent_once():
            adapter.click_and_wait(adapter.page.get_by_role("button", name="Next"), "attach")
        sizes = {k: v.strip() for k, _, v in (line.partition(":") for line in
                 adapter.page.get_by_role("listitem").all_inner_texts())}
    assert sizes["invoice"] == "RD-3"
    sent = {f.filename: f.path.stat().st_size for f in package.files}
    assert sizes["files"] == str(sent)
