"""The API channel (``portals.api_channel``, Chorus Pro over httpx) against the sandbox's JSON
API (``portals.sandbox.web.api``): a real server in a subprocess, its real SQLite database."""

from __future__ import annotations

import base64
import json
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from portals import api_channel
from portals.api_channel import ChorusProAdapter
from portals.base import PortalStatus
from portals.errors import (
    AlreadySubmitted,
    AuthenticationFailed,
    NotSupported,
    OutcomeUnknown,
    PortalError,
    PortalRejected,
)
from portals.sandbox.api_testing import ApiClient, chorus_adapter, seed_api_client
from portals.sandbox.cli import main as sandbox_cli
from portals.sandbox.testing import SandboxServer, Supplier
from tests.portals.test_sandbox_adapter import Hook, package_for


@pytest.fixture
def app(sandbox: SandboxServer) -> ApiClient:
    return seed_api_client(sandbox)


@pytest.fixture
def adapter(
    sandbox: SandboxServer, supplier: Supplier, app: ApiClient, tmp_path: Path
) -> Iterator[ChorusProAdapter]:
    with chorus_adapter(sandbox, supplier, app, tmp_path) as a:
        yield a


def manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def test_happy_path_files_once_and_the_back_office_moves_it(
    adapter, sandbox, supplier, pdfs, tmp_path
) -> None:
    hook = Hook(sandbox, "API-1")
    receipt = adapter.submit(package_for(supplier, "API-1", pdfs), tmp_path / "ev1", hook)

    on_portal = sandbox.backoffice.claims(invoice="API-1")
    assert [c["reference"] for c in on_portal] == [receipt.reference]
    assert hook.calls == 1 and hook.portal_had == [0]  # the intent came before the deposit
    claim = on_portal[0]
    assert claim["contract_number"] == supplier.contract_number and claim["total"] == "1200.00"
    assert sorted(f["document_type"] for f in claim["files"]) == ["invoice", "timesheet"]
    via_api = {"status": "submitted", "note": "submitted via the API (soumettre)"}
    assert claim["history"] == [via_api]

    found = adapter.find_claim(supplier.contract_number, "API-1")
    assert found is not None and found.reference == receipt.reference
    assert (found.status, found.portal_status) == (PortalStatus.SUBMITTED, "DEPOSEE")
    sandbox.backoffice.move(receipt.reference, "under_review")
    found = adapter.find_claim(supplier.contract_number, "API-1")
    assert (found.status, found.portal_status) == (PortalStatus.UNDER_REVIEW, "MISE_A_DISPOSITION")
    statuses = {r.reference: r for r in adapter.fetch_statuses()}
    assert statuses[receipt.reference].status is PortalStatus.UNDER_REVIEW
    assert adapter.find_claim(supplier.contract_number, "NOT-THERE") is None
    ev = manifest(tmp_path / "ev1")
    assert ev["outcome"]["result"] == "accepted"
    steps = [s["step"] for s in ev["steps"]]
    assert steps == ["token", "upload", "on_final_submit", "final_submit"]
    assert len(ev["steps"][1]["calls"]) == 2  # one evidence step for both uploads


def test_lost_response_is_outcome_unknown_and_found_by_lookup_not_filed_again(
    adapter, sandbox, supplier, pdfs, tmp_path
) -> None:
    sandbox.backoffice.set_faults("lost_response=api_submit*1")
    with pytest.raises(OutcomeUnknown):
        adapter.submit(package_for(supplier, "API-LOST", pdfs), tmp_path / "ev", lambda: None)
    on_portal = sandbox.backoffice.claims(invoice="API-LOST")
    assert len(on_portal) == 1
    found = adapter.find_claim(supplier.contract_number, "API-LOST")
    assert found is not None and found.reference == on_portal[0]["reference"]


@pytest.mark.parametrize("step", ["api_token", "api_upload"])
def test_a_5xx_before_the_deposit_is_retried(adapter, sandbox, supplier, pdfs, tmp_path,
                                            step) -> None:
    sandbox.backoffice.set_faults(f"http500={step}*1")
    invoice = f"API-5XX-{step}"  # one portal per module: invoice numbers differ per test
    receipt = adapter.submit(package_for(supplier, invoice, pdfs), tmp_path / "ev", lambda: None)
    assert [c["reference"] for c in sandbox.backoffice.claims(invoice=invoice)] == [
        receipt.reference
    ]
    retries = [s for s in manifest(tmp_path / "ev")["steps"] if s["step"] == "retry"]
    assert len(retries) == 1 and retries[0]["error"] == "PortalUnavailable"


def test_a_5xx_at_the_deposit_is_unknown_and_nothing_was_filed(
    adapter, sandbox, supplier, pdfs, tmp_path
) -> None:
    sandbox.backoffice.set_faults("http500=api_submit*1")
    with pytest.raises(OutcomeUnknown):
        adapter.submit(package_for(supplier, "API-500", pdfs), tmp_path / "ev", lambda: None)
    assert adapter.find_claim(supplier.contract_number, "API-500") is None  # so: file again
    adapter.submit(package_for(supplier, "API-500", pdfs), tmp_path / "ev2", lambda: None)
    assert len(sandbox.backoffice.claims(invoice="API-500")) == 1


def test_a_duplicate_is_refused_naming_the_first_deposit(
    adapter, sandbox, supplier, pdfs, tmp_path
) -> None:
    first = adapter.submit(package_for(supplier, "API-DUP", pdfs), tmp_path / "a", lambda: None)
    with pytest.raises(AlreadySubmitted) as refused:
        adapter.submit(package_for(supplier, "API-DUP", pdfs), tmp_path / "b", lambda: None)
    assert refused.value.reference == first.reference
    assert len(sandbox.backoffice.claims(invoice="API-DUP")) == 1


@pytest.mark.parametrize("step", ["api_upload", "api_submit"])
def test_an_expired_token_is_renewed_and_the_claim_filed_once(
    adapter, sandbox, supplier, pdfs, tmp_path, step
) -> None:
    sandbox.backoffice.set_faults(f"expire_session={step}*1")
    invoice = f"API-TOK-{step}"
    receipt = adapter.submit(package_for(supplier, invoice, pdfs), tmp_path / "ev", lambda: None)
    assert [c["reference"] for c in sandbox.backoffice.claims(invoice=invoice)] == [
        receipt.reference
    ]
    tokens = [s for s in manifest(tmp_path / "ev")["steps"] if s["step"] == "token"]
    assert len(tokens) == 2


def test_secrets_never_reach_the_evidence(adapter, sandbox, supplier, app, pdfs, tmp_path) -> None:
    sandbox.backoffice.set_faults("expire_session=api_upload*1")  # two tokens in one filing
    adapter.submit(package_for(supplier, "API-SEC", pdfs), tmp_path / "ev", lambda: None)
    text = (tmp_path / "ev" / "manifest.json").read_text(encoding="utf-8")
    account = base64.b64encode(f"{supplier.username}:{supplier.password}".encode()).decode()
    for secret in (app.client_secret, supplier.password, account, adapter._token):
        assert secret and secret not in text
    assert "Bearer " not in text  # no Authorization header value
    ev = json.loads(text)
    token_call = next(s for s in ev["steps"] if s["step"] == "token")
    assert token_call["request"]["body"]["client_secret"] == "**********"
    assert token_call["response"]["body"]["access_token"] == "**********"
    uploads = [c for s in ev["steps"] if s["step"] == "upload" for c in s["calls"]]
    assert [u["response"]["status"] for u in uploads] == [401, 200, 200]
    upload = uploads[1]
    assert upload["request"]["headers"] == {"Authorization": "**********",
                                            "cpro-account": "**********"}
    assert upload["request"]["body"]["pieceJointeFichier"].startswith("<")
    assert upload["response"]["body"]["pieceJointeId"] >= 1


def test_refusals_before_the_deposit(adapter, sandbox, supplier, app, pdfs, tmp_path) -> None:
    with pytest.raises(PortalRejected, match="deviseFacture"):
        adapter.submit(package_for(supplier, "API-CUR", pdfs, currency="USD"), tmp_path / "a",
                       lambda: None)
    wrong = Supplier(supplier.username, "not-the-password", supplier.totp_secret,
                     supplier.contract_number, supplier.document_types)
    with chorus_adapter(sandbox, wrong, app, tmp_path / "w") as bad:
        with pytest.raises(AuthenticationFailed, match="technical account"):
            bad.submit(package_for(supplier, "API-PW", pdfs), tmp_path / "b", lambda: None)
    stranger = ApiClient(app.client_id, "wrong-secret", app.env + "_WRONG")
    with chorus_adapter(sandbox, supplier, stranger, tmp_path / "s") as bad:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv(stranger.env, "wrong-secret")
            with pytest.raises(AuthenticationFailed, match="client credentials"):
                bad.submit(package_for(supplier, "API-CS", pdfs), tmp_path / "c", lambda: None)
    assert sandbox.backoffice.claims(invoice="API-PW") == []


def test_bad_requests_are_4xx_never_500(sandbox, supplier, app) -> None:
    with httpx.Client(base_url=sandbox.url) as c:
        token = c.post("/api/oauth/token", data={
            "grant_type": "client_credentials", "client_id": app.client_id,
            "client_secret": app.client_secret}).json()["access_token"]
        account = base64.b64encode(f"{supplier.username}:{supplier.password}".encode()).decode()
        auth = {"Authorization": f"Bearer {token}", "cpro-account": account}
        search = "/cpro/factures/v1/rechercher/fournisseur"
        assert c.post(search, content=b"\xff{", headers=auth).status_code == 400
        assert c.post(search, json=[1], headers=auth).status_code == 400
        assert c.post(search, json={"pageResultatDemandee": "1e27"}, headers=auth).status_code \
            == 400
        assert c.post(search, json={"nbResultatsParPage": 10**9}, headers=auth).status_code == 400
        assert c.post(search, json={}, headers={"cpro-account": account}).status_code == 401
        not_ascii = {**auth, "cpro-account": "é".encode()}
        assert c.post(search, json={}, headers=not_ascii).status_code == 403
        upload = "/cpro/transverses/v1/ajouter/fichier"
        bad = {"pieceJointeNom": "a.pdf", "pieceJointeFichier": "%%%"}
        assert c.post(upload, json=bad, headers=auth).status_code == 400
        soumettre = "/cpro/factures/v1/soumettre"
        assert c.post(soumettre, json={"numeroFactureSaisi": 5}, headers=auth).status_code == 400
        consult = "/cpro/factures/v1/consulter/fournisseur"
        assert c.post(consult, json={"identifiantFactureCPP": 10**9}, headers=auth).status_code \
            == 404
        assert c.post("/api/oauth/token", data={"grant_type": "password"}).status_code == 400


def test_no_resubmission_on_this_channel_and_consultation_by_id(
    adapter, sandbox, supplier, app, pdfs, tmp_path
) -> None:
    receipt = adapter.submit(package_for(supplier, "API-CONS", pdfs), tmp_path / "a",
                             lambda: None)
    sandbox.backoffice.move(receipt.reference, "under_review")
    sandbox.backoffice.move(receipt.reference, "returned", reasons=["Timesheet unsigned"])
    assert adapter.find_claim(supplier.contract_number, "API-CONS").status is PortalStatus.RETURNED
    with pytest.raises(NotSupported, match="resubmission"):
        adapter.resubmit(receipt.reference, package_for(supplier, "API-CONS", pdfs),
                         tmp_path / "b", lambda: None)
    assert len(sandbox.backoffice.claims(invoice="API-CONS")) == 1
    with pytest.raises(NotSupported):
        adapter.download_documents(receipt.reference, tmp_path / "docs")
    report = next(r for r in adapter.fetch_statuses() if r.reference == receipt.reference)
    assert report.portal_status == "SUSPENDUE" and report.comments == [
        "Returned: Timesheet unsigned"]
    # the consultation service by id (identifiantFactureCPP), with the status history
    with httpx.Client(base_url=sandbox.url) as c:
        token = c.post("/api/oauth/token", data={
            "grant_type": "client_credentials", "client_id": app.client_id,
            "client_secret": app.client_secret}).json()["access_token"]
        account = base64.b64encode(f"{supplier.username}:{supplier.password}".encode()).decode()
        auth = {"Authorization": f"Bearer {token}", "cpro-account": account}
        found = c.post("/cpro/factures/v1/rechercher/fournisseur", headers=auth,
                       json={"numeroFacture": "API-CONS"}).json()["listeFactures"]
        ident = found[0]["identifiantFactureCPP"]
        facture = c.post("/cpro/factures/v1/consulter/fournisseur", headers=auth,
                         json={"identifiantFactureCPP": ident}).json()["facture"]
    assert facture["numeroFluxDepot"] == receipt.reference
    assert [h["statut"] for h in facture["historiqueStatuts"]] == [
        "DEPOSEE", "MISE_A_DISPOSITION", "SUSPENDUE"]


def test_a_missing_client_secret_is_one_clear_error_naming_the_variable(
    sandbox, supplier, app, tmp_path, monkeypatch
) -> None:
    monkeypatch.delenv(app.env)
    with chorus_adapter(sandbox, supplier, app, tmp_path) as adapter:
        with pytest.raises(PortalError) as failed:
            adapter.login()
    assert str(failed.value) == (f"chorus: environment variable {app.env} is not set "
                                 "at step 'settings'")


def test_the_sandbox_cli_makes_a_piste_application(
    sandbox, supplier, tmp_path, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("SANDBOX_BACKOFFICE_TOKEN", sandbox.token)
    monkeypatch.setenv("MY_PISTE_SECRET", "a-secret-of-some-length")
    args = ["backoffice", "--url", sandbox.url, "add-api-client", "my-app",
            "--secret-env", "MY_PISTE_SECRET"]
    assert sandbox_cli(args) == 0
    assert json.loads(capsys.readouterr().out) == {"client_id": "my-app"}
    mine = ApiClient("my-app", "", "MY_PISTE_SECRET")
    with chorus_adapter(sandbox, supplier, mine, tmp_path) as a:
        a.login()
        assert a.find_claim(supplier.contract_number, "NONE") is None
    monkeypatch.delenv("MY_PISTE_SECRET")
    assert sandbox_cli(args) == 2
    assert "MY_PISTE_SECRET is not set" in capsys.readouterr().err


def test_the_tls_context_is_made_once_per_process_and_verifies(
    sandbox, supplier, app, tmp_path, monkeypatch
) -> None:
    made: list[ssl.SSLContext] = []
    real = httpx.create_ssl_context

    def counted(*args, **kwargs):
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(api_channel, "_TLS", None)
    monkeypatch.setattr(httpx, "create_ssl_context", counted)
    for i in range(3):  # three adapters (workers, runs), each with its own client
        with chorus_adapter(sandbox, supplier, app, tmp_path / f"w{i}") as a:
            assert a.http is a.http
    assert len(made) == 1 and api_channel.tls_context() is made[0]
    assert made[0].verify_mode is ssl.CERT_REQUIRED and made[0].check_hostname
