"""A workspace with two portals: contracts on the sandbox (browser, real Chromium) and on the
API channel (``chorus``: Chorus Pro's shape over httpx), each portal a real sandbox server in
its own subprocess with its own database and back office.

Must show (issue #11): ``claims claim submit --all --workers 2`` sends each claim to its own
portal's adapter, each filed once on the right portal; ``claims status sync`` with one portal
down records the other's changes, names the failed one and exits 1 (as ``status sync --help``
documents).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from portals.sandbox.testing import SandboxServer, running_sandbox
from tests.claims.portal_helpers import portal_claims, ready_claims

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser_portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    with running_sandbox(tmp_path_factory.mktemp("browser-portal")) as server:
        yield server


@pytest.fixture
def api_portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    with running_sandbox(tmp_path_factory.mktemp("api-portal")) as server:
        yield server


def run_json(cli, *args: str) -> tuple[int, dict]:
    result = cli(*args, "--json")
    assert "Traceback" not in result.output
    return result.exit_code, json.loads(result.stdout)


def test_each_claim_goes_to_its_own_portal_and_sync_goes_on_past_a_portal_down(
        cli, workspace, browser_portal, api_portal, monkeypatch) -> None:
    web = ready_claims(workspace, browser_portal, monkeypatch, n=2)
    rest = ready_claims(workspace, api_portal, monkeypatch, n=2, portal="chorus")

    code, out = run_json(cli, "claim", "submit", "--all", "--workers", "2")
    assert code == 0, out
    refs = {c["claim_id"]: c["reference"] for c in out["claims"]}
    assert sorted(refs) == [1, 2, 3, 4] and all(c["status"] == "SUBMITTED" for c in out["claims"])

    # the browser portal holds the sandbox contract's two claims, filed by its wizard, once each
    on_web = [c for c in browser_portal.backoffice.claims()]
    assert sorted(c["invoice_number"] for c in on_web) == [
        f"{web.contract_number}-INV-001", f"{web.contract_number}-INV-002"]
    assert {c["history"][0]["note"] for c in on_web} == {"submitted"}
    # the API portal holds the chorus contract's two, filed through soumettre, once each
    on_api = [c for c in api_portal.backoffice.claims()]
    assert sorted(c["invoice_number"] for c in on_api) == [
        f"{rest.contract_number}-INV-001", f"{rest.contract_number}-INV-002"]
    assert {c["history"][0]["note"] for c in on_api} == {"submitted via the API (soumettre)"}
    assert sorted(refs.values()) == sorted(c["reference"] for c in on_web + on_api)
    evidence = workspace.evidence_dir / "portal"
    assert list(evidence.glob("claim-000001/*/*.png"))  # browser: screenshots
    api_manifests = list(evidence.glob("claim-000003/*/manifest.json"))
    assert api_manifests and "soumettre" in api_manifests[0].read_text()

    # the back offices move one claim each; then the browser portal goes down
    api_portal.backoffice.move(refs[3], "under_review")
    browser_portal.backoffice.move(refs[1], "under_review")
    browser_portal.process.terminate()
    browser_portal.process.wait(timeout=10)

    code, out = run_json(cli, "status", "sync")
    assert code == 1, out
    assert out["portals"]["sandbox"]["error"]
    chorus = out["portals"]["chorus"]
    assert chorus["error"] is None and [c["to"] for c in chorus["changed"]] == ["UNDER_REVIEW"]
    shown = json.loads(cli("claim", "show", "3", "--json").stdout)
    assert shown["status"] == "UNDER_REVIEW"
    assert json.loads(cli("claim", "show", "1", "--json").stdout)["status"] == "SUBMITTED"
    text = cli("status", "sync")
    assert text.exit_code == 1
    assert "sandbox: FAILED" in text.output and "chorus: " in text.output


def test_a_lost_api_response_is_reconciled_not_filed_again(
        cli, workspace, api_portal, monkeypatch) -> None:
    rest = ready_claims(workspace, api_portal, monkeypatch, n=1, portal="chorus")
    api_portal.backoffice.set_faults("lost_response=api_submit*1")
    code, out = run_json(cli, "claim", "submit", "1")
    assert code == 1 and out["claims"][0]["status"] == "UNKNOWN", out
    assert len(portal_claims(api_portal, rest.contract_number)) == 1  # it did go in
    code, out = run_json(cli, "claim", "submit", "1")
    assert code == 0 and out["claims"][0]["reconciled"] is True, out
    [only] = portal_claims(api_portal, rest.contract_number)
    assert out["claims"][0]["reference"] == only["reference"]
