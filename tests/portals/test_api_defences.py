"""The sandbox's API gateway fights back like a real one (``portals.sandbox.web.api_auth``):
wrong client secrets lock the application, wrong technical-account passwords count on the
account's own lockout (shared with the HTML sign-in), bad tokens are 401 (never 500), and a
per-client rate limit answers 429 with Retry-After, which the API channel honours before the
deposit and never retries after it. A real server in a subprocess, real HTTP."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from portals.api_channel import ChorusProAdapter
from portals.base import PortalCredentials
from portals.errors import AccountLocked, AuthenticationFailed, OutcomeUnknown
from portals.sandbox.api_testing import ApiClient, chorus_adapter, seed_api_client
from portals.sandbox.testing import SandboxServer, Supplier
from portals.sandbox.web.login import MAX_FAILED_LOGINS
from tests.portals.conftest import PortalClient
from tests.portals.test_sandbox_adapter import package_for

SEARCH = "/cpro/factures/v1/rechercher/fournisseur"


@pytest.fixture
def app(sandbox: SandboxServer) -> Iterator[ApiClient]:
    yield seed_api_client(sandbox)
    sandbox.backoffice.call("PUT", "/backoffice/api-settings", {"rate_limit": 200})


@pytest.fixture
def adapter(sandbox, supplier, app, tmp_path) -> Iterator[ChorusProAdapter]:  # type: ignore[no-untyped-def]
    with chorus_adapter(sandbox, supplier, app, tmp_path) as a:
        yield a


def token_of(server: SandboxServer, app: ApiClient, secret: str | None = None) -> httpx.Response:
    return httpx.post(f"{server.url}/api/oauth/token", data={
        "grant_type": "client_credentials", "client_id": app.client_id,
        "client_secret": app.client_secret if secret is None else secret})  # fmt: skip


def account_header(supplier: Supplier, password: str | None = None) -> str:
    raw = f"{supplier.username}:{password or supplier.password}".encode()
    return base64.b64encode(raw).decode()


def search(server: SandboxServer, token: str, account: str) -> httpx.Response:
    return httpx.post(f"{server.url}{SEARCH}", json={},
                      headers={"Authorization": f"Bearer {token}", "cpro-account": account})


def rate(server: SandboxServer, calls: int, seconds: int = 1) -> None:
    """Allow each application ``calls`` calls per ``seconds`` (a long period: no refill races
    on a loaded machine)."""
    server.backoffice.call("PUT", "/backoffice/api-settings",
                           {"rate_limit": calls, "rate_period": seconds})


def manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def test_wrong_client_secrets_lock_the_application_until_reset(sandbox, app, adapter) -> None:
    for _ in range(MAX_FAILED_LOGINS - 1):
        assert token_of(sandbox, app, "wrong-secret").status_code == 401
    last = token_of(sandbox, app, "wrong-secret")
    assert last.status_code == 401 and "locked" in last.json()["error_description"]
    right = token_of(sandbox, app)  # locked: even the right secret is refused now
    assert right.status_code == 401 and "locked" in right.json()["error_description"]
    with pytest.raises(AccountLocked, match="locked"):
        adapter.login()
    sandbox.backoffice.call("POST", "/backoffice/api-clients",
                            {"client_id": app.client_id, "client_secret": app.client_secret})
    assert token_of(sandbox, app).status_code == 200


def test_an_unknown_client_id_is_counted_and_locked_the_same_way(sandbox) -> None:
    ghost = ApiClient("no-such-app", "whatever-secret", "UNUSED")
    answers = [token_of(sandbox, ghost).json()["error_description"]
               for _ in range(MAX_FAILED_LOGINS)]  # fmt: skip
    assert answers[0] == "unknown client or wrong secret" and "locked" in answers[-1]


def test_wrong_technical_account_passwords_share_the_accounts_lockout(
    sandbox, supplier, app
) -> None:
    token = token_of(sandbox, app).json()["access_token"]
    bad = account_header(supplier, "not-the-password")
    for _ in range(MAX_FAILED_LOGINS - 1):
        assert search(sandbox, token, bad).status_code == 403
    assert sandbox.backoffice.account(supplier.username)["failed_logins"] == MAX_FAILED_LOGINS - 1
    with PortalClient(sandbox) as web:  # one more wrong password, on the HTML page: locked
        page = web.login(supplier, "still-wrong")
    assert page.status_code == 403 and sandbox.backoffice.account(supplier.username)["locked"]
    refused = search(sandbox, token, account_header(supplier))  # the right one, too late
    assert refused.status_code == 403 and "locked" in refused.json()["libelle"]


def test_the_adapter_tries_a_wrong_technical_password_once(sandbox, supplier, app, pdfs,
                                                           tmp_path) -> None:  # fmt: skip
    wrong = PortalCredentials(username=supplier.username, password="nope")
    adapter = ChorusProAdapter(sandbox.url, wrong, state_file=tmp_path / "s.json",
                               evidence_dir=tmp_path / "ev", settings=app.settings())
    with adapter, pytest.raises(AuthenticationFailed):
        adapter.submit(package_for(supplier, "API-PW", pdfs), tmp_path / "ev1", lambda: None)
    assert sandbox.backoffice.account(supplier.username)["failed_logins"] == 1


@pytest.mark.parametrize("header", [
    "", "Bearer", "Basic dXNlcjpwdw==", "Bearer not-a-token", "bearer " + "x" * 5000,
    "Bearer \u00e9\u00e8", "Bearer a b c", "Token abc",
])  # fmt: skip
def test_bad_tokens_are_401_never_500(sandbox, supplier, header: str) -> None:
    response = httpx.post(f"{sandbox.url}{SEARCH}", json={},
                          headers={"Authorization": header.encode("latin-1"),
                                   "cpro-account": account_header(supplier)})  # fmt: skip
    assert response.status_code == 401, response.text
    assert "invalid_token" in response.json()["libelle"]


def test_a_revoked_token_is_401(sandbox, supplier, app) -> None:
    token = token_of(sandbox, app).json()["access_token"]
    assert search(sandbox, token, account_header(supplier)).status_code == 200
    sandbox.backoffice.call("PUT", "/backoffice/api-settings", {"revoke": True})
    assert search(sandbox, token, account_header(supplier)).status_code == 401


def test_the_rate_limit_answers_429_with_retry_after(sandbox, supplier, app) -> None:
    rate(sandbox, 2, 60)
    token, account = token_of(sandbox, app).json()["access_token"], account_header(supplier)
    answers = [search(sandbox, token, account) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[1].headers["RateLimit-Remaining"] == "0"
    assert int(answers[2].headers["Retry-After"]) >= 1
    other = seed_api_client(sandbox)  # per client: another application is not limited by it
    assert search(sandbox, token_of(sandbox, other).json()["access_token"],
                  account).status_code == 200  # fmt: skip


def test_a_429_before_the_deposit_is_waited_out_and_the_claim_filed_once(
    adapter, sandbox, supplier, app, pdfs, tmp_path
) -> None:
    rate(sandbox, 1, 2)  # one call every 2 s: the adapter waits, then goes on
    package = package_for(supplier, "API-429", pdfs)
    adapter.login()  # its token first: the quota is spent right before its first call
    token, account = token_of(sandbox, app).json()["access_token"], account_header(supplier)
    while search(sandbox, token, account).status_code != 429:  # the application's quota spent
        pass
    receipt = adapter.submit(package, tmp_path / "ev", lambda: None)
    assert [c["reference"] for c in sandbox.backoffice.claims(invoice="API-429")] == [
        receipt.reference]  # fmt: skip
    steps = manifest(tmp_path / "ev")["steps"]
    retries = [s for s in steps if s["step"] == "retry"]
    assert retries and "429" in retries[0]["detail"]
    waits = [s for s in steps if s["step"] == "rate_limit_wait"]
    assert any(w["before"] == "final_submit" for w in waits)  # quota spent: deposit waited
    deposits = [s for s in steps if s["step"] == "final_submit"]
    assert len(deposits) == 1 and deposits[0]["response"]["status"] == 200


def test_a_429_on_the_deposit_is_never_retried_but_looked_up(
    adapter, sandbox, supplier, app, pdfs, tmp_path
) -> None:
    rate(sandbox, 5, 10)  # Retry-After 2 s: the lookup below waits it out
    token, account = token_of(sandbox, app).json()["access_token"], account_header(supplier)

    def another_worker_spends_the_quota() -> None:  # the on_final_submit hook
        while search(sandbox, token, account).status_code != 429:
            pass

    with pytest.raises(OutcomeUnknown, match="429"):
        adapter.submit(package_for(supplier, "API-429D", pdfs), tmp_path / "ev",
                       another_worker_spends_the_quota)  # fmt: skip
    steps = manifest(tmp_path / "ev")["steps"]
    assert [s["response"]["status"] for s in steps if s["step"] == "final_submit"] == [429]
    rate(sandbox, 0)
    assert adapter.find_claim(supplier.contract_number, "API-429D") is None
    assert sandbox.backoffice.claims(invoice="API-429D") == []
