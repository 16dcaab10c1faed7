"""Submitting through the real sandbox portal in real headless Chromium — never twice.

One sandbox portal (a real web server in a subprocess) serves the module; each test gets a
fresh supplier account and contract on it, and a workspace of READY claims.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from portals.sandbox.testing import SandboxServer, running_sandbox
from tests.claims.portal_helpers import portal_claims, ready_claims

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    with running_sandbox(tmp_path_factory.mktemp("portal")) as server:
        yield server


@pytest.fixture
def server(portal: SandboxServer) -> Iterator[SandboxServer]:
    yield portal
    portal.backoffice.set_faults("")


def run_json(cli, *args: str) -> tuple[int, dict]:
    result = cli(*args, "--json")
    assert "Traceback" not in result.output
    assert result.stdout.strip(), result.output
    return result.exit_code, json.loads(result.stdout)


def test_submit_files_each_claim_once_with_receipt_screenshots_and_evidence(
        cli, workspace, server, monkeypatch) -> None:
    supplier = ready_claims(workspace, server, monkeypatch, n=2)
    code, out = run_json(cli, "claim", "submit", "--all")
    assert code == 0, out
    refs = [c["reference"] for c in out["claims"]]
    assert all(r and r.startswith("CLM-") for r in refs) and len(set(refs)) == 2
    on_portal = portal_claims(server, supplier.contract_number)
    assert sorted(c["reference"] for c in on_portal) == sorted(refs)
    assert {f["document_type"] for f in on_portal[0]["files"]} == {
        "invoice", "completion-certificate", "tax-certificate", "registration-certificate"}
    shown = json.loads(cli("claim", "show", "1", "--json").stdout)
    assert shown["status"] == "SUBMITTED" and shown["portal_reference"] == refs[0]
    kinds = [e["kind"] for e in shown["events"]]
    assert kinds.index("submission.intent") < kinds.index("submission.finished")
    timeline = cli("evidence", "log", "--claim", "1").stdout
    assert "submission.started" in timeline and "submission.finished" in timeline
    verified = cli("evidence", "verify", "--json")
    assert verified.exit_code == 0 and json.loads(verified.stdout)["ok"]
    shots = list((workspace.evidence_dir / "portal").rglob("*.png"))
    assert shots and list((workspace.evidence_dir / "portal").rglob("receipt*.pdf"))
    # a second run finds nothing to do and files nothing
    code, again = run_json(cli, "claim", "submit", "--all")
    assert code == 0 and again["claims"] == []
    assert len(portal_claims(server, supplier.contract_number)) == 2


def test_a_lost_response_is_reconciled_on_the_portal_not_submitted_again(
        cli, workspace, server, monkeypatch) -> None:
    supplier = ready_claims(workspace, server, monkeypatch, n=1)
    server.backoffice.set_faults("lost_response=final_submit*1")
    code, out = run_json(cli, "claim", "submit", "1")
    assert code == 1 and out["claims"][0]["status"] == "UNKNOWN", out
    assert len(portal_claims(server, supplier.contract_number)) == 1  # it did go in
    code, out = run_json(cli, "claim", "submit", "1")
    assert code == 0 and out["claims"][0]["reconciled"] is True
    [only] = portal_claims(server, supplier.contract_number)
    assert out["claims"][0]["reference"] == only["reference"]


def test_a_5xx_before_the_final_click_leaves_the_claim_ready_for_the_next_run(
        cli, workspace, server, monkeypatch) -> None:
    supplier = ready_claims(workspace, server, monkeypatch, n=1)
    server.backoffice.set_faults("http500=upload")
    code, out = run_json(cli, "claim", "submit", "1")
    assert code == 1 and out["claims"][0]["status"] == "READY"
    assert portal_claims(server, supplier.contract_number) == []
    server.backoffice.set_faults("")
    code, out = run_json(cli, "claim", "submit", "1")
    assert code == 0 and out["claims"][0]["status"] == "SUBMITTED"
    assert len(portal_claims(server, supplier.contract_number)) == 1


def test_a_refused_password_stops_the_run_and_is_never_retried(
        cli, workspace, server, monkeypatch) -> None:
    supplier = ready_claims(workspace, server, monkeypatch, n=2)
    monkeypatch.setenv("CLAIMS_SANDBOX_PASSWORD", "not-the-password")
    code, out = run_json(cli, "claim", "submit", "--all")
    assert code == 1 and "refused the credentials" in out["stopped"]
    # the run lists the claims it did not do, and why
    assert [(c["claim_id"], c["status"]) for c in out["claims"]] == [(1, "READY"), (2, "READY")]
    assert all(c["message"].startswith("not done: the run stopped") for c in out["claims"])
    assert server.backoffice.account(supplier.username)["failed_logins"] == 1  # one try only
    statuses = [c["status"] for c in json.loads(cli("claim", "list", "--json").stdout)]
    assert statuses == ["READY", "READY"]


def test_the_portals_own_rejection_is_recorded_with_its_message(
        cli, workspace, server, monkeypatch) -> None:
    # the agency's portal pays this contract in EUR; our contract file says SAR
    supplier = ready_claims(workspace, server, monkeypatch, n=1, portal_currency="EUR")
    code, out = run_json(cli, "claim", "submit", "1")
    assert code == 1 and out["claims"][0]["status"] == "REJECTED_BY_PORTAL", out
    assert "this contract is paid in EUR" in out["claims"][0]["message"]
    assert portal_claims(server, supplier.contract_number) == []
    shown = json.loads(cli("claim", "show", "1", "--json").stdout)
    assert shown["events"][-1]["detail"]["messages"]


def test_a_claim_refused_by_the_portal_is_filed_again_as_a_new_claim(
        cli, workspace, server, monkeypatch) -> None:
    """The README's path after REJECTED_BY_PORTAL: the claim is closed (correct, build and
    submit refuse it); once what the portal said is fixed, a new claim for the same invoice
    is made, built and submitted."""
    from tests.claims.helpers import TODAY
    from tests.claims.portal_helpers import DOC_TYPES

    supplier = ready_claims(workspace, server, monkeypatch, n=1, portal_currency="EUR")
    code, out = run_json(cli, "claim", "submit", "1")
    assert code == 1 and out["claims"][0]["status"] == "REJECTED_BY_PORTAL", out
    inputs, invoice = workspace.root / "inputs", f"{supplier.contract_number}-INV-001"
    docs = {"invoice": inputs / f"{invoice}.pdf", "completion-certificate":
            inputs / f"{invoice}-cc.pdf", "tax-certificate": inputs / "tax.pdf",
            "registration-certificate": inputs / "registration.pdf"}
    for refused in (["claim", "correct", "1", "--doc", f"invoice={docs['invoice']}"],
                    ["claim", "build", "1"], ["claim", "submit", "1"]):
        result = cli(*refused)
        assert result.exit_code == 1 and "REJECTED_BY_PORTAL" in result.output, refused
    assert cli("claim", "withdraw", "1", "--reason", "refused by the portal").exit_code == 0
    # the agency's back office fixes its side: the contract is paid in SAR after all
    server.backoffice.add_contract(supplier.contract_number, supplier.username,
                                   currency="SAR", document_types=list(DOC_TYPES))
    made = cli("claim", "new", invoice, "--contract", supplier.contract_number,
               "--milestone", "M1", *[a for t, f in docs.items() for a in ("--doc", f"{t}={f}")],
               "--json")
    assert made.exit_code == 0, made.output
    new_id = str(json.loads(made.stdout)["id"])
    assert cli("claim", "build", new_id, "--as-of", str(TODAY)).exit_code == 0
    code, out = run_json(cli, "claim", "submit", new_id)
    assert code == 0 and out["claims"][0]["status"] == "SUBMITTED", out
    [filed] = portal_claims(server, supplier.contract_number)
    assert filed["reference"] == out["claims"][0]["reference"]


def test_status_sync_records_changes_once_and_sets_the_expected_payment_date(
        cli, workspace, server, monkeypatch) -> None:
    ready_claims(workspace, server, monkeypatch, n=2)
    code, out = run_json(cli, "claim", "submit", "--all")
    assert code == 0
    first, second = (c["reference"] for c in out["claims"])
    server.backoffice.move(first, "under_review")
    server.backoffice.move(first, "approved")
    server.backoffice.move(second, "under_review")
    server.backoffice.move(second, "returned", reasons=["Timesheet unsigned"])
    code, synced = run_json(cli, "status", "sync")
    assert code == 0, synced
    changes = {c["claim"]: c["to"] for c in synced["portals"]["sandbox"]["changed"]}
    assert changes == {1: "APPROVED", 2: "RETURNED"}
    approved = json.loads(cli("claim", "show", "1", "--json").stdout)
    detail = approved["events"][-1]["detail"]
    assert detail["expected_payment_date"] and approved["status"] == "APPROVED"
    code, again = run_json(cli, "status", "sync")
    assert code == 0 and again["portals"]["sandbox"]["changed"] == []
    assert "status.changed" in cli("evidence", "log", "--claim", "2").stdout


def test_no_secret_reaches_logs_evidence_or_the_database(
        cli, workspace, server, monkeypatch, capfd) -> None:
    supplier = ready_claims(workspace, server, monkeypatch, n=1)
    result = cli("--verbose", "claim", "submit", "--all")
    assert result.exit_code == 0, result.output
    state = next((workspace.root / ".portal-state").glob("*.json"))
    assert state.stat().st_mode & 0o777 == 0o600
    cookies = [c["value"] for c in json.loads(state.read_text())["cookies"]]
    secrets = [supplier.password, supplier.totp_secret, *cookies]
    captured = capfd.readouterr()
    haystacks: list[tuple[str, bytes]] = [("output", (result.output + captured.out
                                                      + captured.err).encode())]
    for path in workspace.root.rglob("*"):
        if path.is_file() and ".portal-state" not in path.parts:
            haystacks.append((str(path), path.read_bytes()))
    for name, data in haystacks:
        for secret in secrets:
            assert secret.encode() not in data, f"a secret is in {name}"
    # and the run did log what it did: each claim's outcome, then the run's (README "Logs")
    logged = result.output + captured.out + captured.err
    assert "claim.submission" in logged and "SUBMITTED" in logged, logged[-2000:]
    assert "submission.run" in logged


def test_a_returned_claim_is_corrected_and_resubmitted_under_its_reference(
        cli, workspace, server, monkeypatch, tmp_path) -> None:
    from datetime import timedelta

    from claims.samples.pdfs import make_certificate_pdf
    from tests.claims.helpers import TODAY

    supplier = ready_claims(workspace, server, monkeypatch, n=1)
    code, out = run_json(cli, "claim", "submit", "1")
    reference = out["claims"][0]["reference"]
    server.backoffice.move(reference, "under_review")
    server.backoffice.move(reference, "returned", reasons=["Completion certificate unsigned"])
    assert run_json(cli, "status", "sync")[0] == 0
    # submitting a RETURNED claim as it is is refused
    assert cli("claim", "submit", "1").exit_code == 1
    signed = tmp_path / "signed-cc.pdf"
    make_certificate_pdf(signed, kind="completion-certificate", title="Certificate (signed)",
                         holder="Gulf Engineering Services LLC",
                         number_reference=f"{supplier.contract_number}-INV-001",
                         issue_date=TODAY - timedelta(days=1))
    code, corrected = run_json(cli, "claim", "correct", "1", "--doc",
                               f"completion-certificate={signed}")
    assert code == 0 and corrected["status"] == "DRAFT"
    assert corrected["portal_reference"] == reference
    code, built = run_json(cli, "claim", "build", "1", "--as-of", str(TODAY))
    assert code == 0 and built["built"][0]["zip"].endswith("-r2.zip")
    code, out = run_json(cli, "claim", "submit", "1")
    assert code == 0 and out["claims"][0]["reference"] == reference
    [on_portal] = portal_claims(server, supplier.contract_number)
    assert on_portal["status"] == "submitted" and on_portal["reference"] == reference
    import hashlib

    sent = {f["document_type"]: f["sha256"] for f in on_portal["files"]}
    assert sent["completion-certificate"] == hashlib.sha256(signed.read_bytes()).hexdigest()
    history = [h["status"] for h in on_portal["history"]]
    assert history.count("submitted") == 2 and "returned" in history


def test_status_sync_visits_only_tracked_portals_and_goes_on_past_a_failing_one(
        cli, workspace, server, monkeypatch) -> None:
    from claims import api
    from claims.lifecycle import status_sync, submission
    from portals.errors import PortalUnavailable

    ready_claims(workspace, server, monkeypatch, n=1)
    code, out = run_json(cli, "claim", "submit", "--all")
    reference = out["claims"][0]["reference"]
    server.backoffice.move(reference, "under_review")
    # a portal with no tracked claim is not visited (it has no [portals.x] table at all)
    assert status_sync.tracked_portals(workspace) == ["sandbox"]
    # a portal that fails does not stop the others; it is named with its error
    monkeypatch.setattr(status_sync, "tracked_portals", lambda ws: ["down", "sandbox"])

    def factory(ws, portal):
        if portal == "down":
            raise PortalUnavailable("cannot reach http://127.0.0.1:9", portal="down")
        return submission.default_adapter_factory(ws, portal)

    results = api.sync_statuses(workspace, adapter_factory=factory)
    assert results["down"].error and "cannot reach" in results["down"].error
    assert not results["down"].ok
    assert [c["to"] for c in results["sandbox"].changed] == ["UNDER_REVIEW"]
    assert results["sandbox"].ok


def test_status_sync_says_which_portal_failed_and_exits_3_when_all_did(
        cli, workspace, server, monkeypatch) -> None:
    ready_claims(workspace, server, monkeypatch, n=1)
    assert run_json(cli, "claim", "submit", "--all")[0] == 0
    monkeypatch.setenv("CLAIMS_SANDBOX_PASSWORD", "")
    import tomllib

    import tomli_w

    config = workspace.root / "claims.toml"
    data = tomllib.loads(config.read_text())
    data["portals"]["sandbox"]["url"] = "http://127.0.0.1:9"
    config.write_text(tomli_w.dumps(data))
    result = cli("status", "sync")
    assert result.exit_code == 3, result.output
    # each portal's outcome (the README's "sandbox: FAILED: …"), then the one error line
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines[0].startswith("sandbox: FAILED:"), result.output
    assert lines[-1].startswith("error:") and len(lines) == 2, result.output
    assert "Traceback" not in result.output


def test_a_correction_on_a_portal_without_resubmission_needs_attention_not_rejected(
        cli, workspace, server, monkeypatch, tmp_path) -> None:
    """NotSupported (the adapter lacks RESUBMISSION): NEEDS_ATTENTION with the message, nothing
    sent, never REJECTED_BY_PORTAL."""
    from datetime import timedelta

    from claims.lifecycle import submission
    from claims.samples.pdfs import make_certificate_pdf
    from portals.base import Capability
    from portals.sandbox.adapter import SandboxAdapter
    from tests.claims.helpers import TODAY

    class NoResubmission(SandboxAdapter):
        capabilities = frozenset(Capability) - {Capability.RESUBMISSION}

    def factory(ws, portal):
        adapter = submission.default_adapter_factory(ws, portal)
        adapter.__class__ = NoResubmission
        return adapter

    supplier = ready_claims(workspace, server, monkeypatch, n=1)
    code, out = run_json(cli, "claim", "submit", "1")
    reference = out["claims"][0]["reference"]
    server.backoffice.move(reference, "under_review")
    server.backoffice.move(reference, "returned", reasons=["Completion certificate unsigned"])
    assert run_json(cli, "status", "sync")[0] == 0
    signed = tmp_path / "signed-cc.pdf"
    make_certificate_pdf(signed, kind="completion-certificate", title="Certificate (signed)",
                         holder="Gulf Engineering Services LLC",
                         number_reference=f"{supplier.contract_number}-INV-001",
                         issue_date=TODAY - timedelta(days=1))
    assert run_json(cli, "claim", "correct", "1", "--doc",
                    f"completion-certificate={signed}")[0] == 0
    assert run_json(cli, "claim", "build", "1", "--as-of", str(TODAY))[0] == 0
    summary = submission.submit_claims(workspace, ids=[1], adapter_factory=factory)
    [outcome] = summary.outcomes
    assert outcome.status == "NEEDS_ATTENTION" and "resubmission" in (outcome.message or "")
    claim = workspace.store.get_claim(1)
    assert claim.status.value == "NEEDS_ATTENTION"
    assert "submission.not_supported" in [e.kind for e in claim.events]
    [on_portal] = portal_claims(server, supplier.contract_number)
    assert on_portal["status"] == "returned"   # nothing was sent
    assert [h["status"] for h in on_portal["history"]].count("submitted") == 1


def test_submit_exits_3_when_the_portal_cannot_be_reached(cli, workspace, server,
                                                          monkeypatch) -> None:
    """README: exit 3 "the portal could not be reached" (as `status sync`): a closed port."""
    import tomllib

    import tomli_w

    from portals.sandbox.testing import free_port

    ready_claims(workspace, server, monkeypatch, n=1)
    config = workspace.root / "claims.toml"
    data = tomllib.loads(config.read_text())
    data["portals"]["sandbox"]["url"] = f"http://127.0.0.1:{free_port()}"  # nobody listens
    config.write_text(tomli_w.dumps(data))
    result = cli("claim", "submit", "1")
    assert result.exit_code == 3, result.output
    assert "cannot reach" in result.output and "Traceback" not in result.output
    code, out = run_json(cli, "claim", "submit", "1")
    assert code == 3 and out["exit_code"] == 3
    assert [(c["status"], c["unreachable"]) for c in out["claims"]] == [("READY", True)]
    assert portal_claims(server, workspace.store.get_claim(1).contract_number) == []
