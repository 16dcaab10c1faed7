"""The sandbox fights back like a real portal: single-use codes, lockout on wrong codes, no
username enumeration, size limits while streaming, 4xx (never 500) for bad tokens and
parameters, security headers, CSV cells that are no formulas."""

from __future__ import annotations

import csv
import io
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyotp
import pytest
from starlette.testclient import TestClient

from portals.sandbox import db
from portals.sandbox.adapter import SandboxAdapter, unescape
from portals.sandbox.app import create_app
from portals.sandbox.testing import SandboxServer, Supplier, running_sandbox, seed_supplier
from portals.sandbox.web import login
from portals.sandbox.web.claim_list import FORMULA_START, cell_safe
from portals.sandbox.web.core import PortalConfig
from portals.sandbox.web.guard import MAX_REQUEST_BYTES
from tests.portals.conftest import PortalClient, alerts_of, csrf_of, h1_of
from tests.portals.test_sandbox_adapter import FAST, package_for
from tests.portals.test_sandbox_http import file_claim, pdf_part, start_wizard


def password_step(c: PortalClient, supplier: Supplier) -> httpx.Response:
    r = c.post_form("/login", data={"username": supplier.username, "password": supplier.password})
    assert h1_of(r.text) == "Enter your one-time code", r.text
    return r


# -- one-time codes ----------------------------------------------------------------------------
def test_a_replayed_code_is_refused_within_its_window(
    sandbox: SandboxServer, supplier: Supplier
) -> None:
    code = supplier.totp_fresh()
    with PortalClient(sandbox) as first:
        password_step(first, supplier)
        ok = first.post_form("/login/totp", data={"code": code})
        assert h1_of(ok.text) == "My claims"
    with PortalClient(sandbox) as second:  # another worker, same code, same window
        password_step(second, supplier)
        replay = second.post_form("/login/totp", data={"code": code})
        assert replay.status_code == 401
        assert alerts_of(replay.text) == [login.USED_CODE]
        # the next window's code is still good (and the replay did not count as wrong)
        nxt = pyotp.TOTP(supplier.totp_secret).at(time.time() + 30)
        assert h1_of(second.post_form("/login/totp", data={"code": nxt}).text) == "My claims"
    assert sandbox.backoffice.account(supplier.username)["failed_logins"] == 0


def test_wrong_codes_lock_the_account_like_wrong_passwords(
    sandbox: SandboxServer, client: PortalClient, supplier: Supplier
) -> None:
    password_step(client, supplier)
    good = {supplier.totp_now(), pyotp.TOTP(supplier.totp_secret).at(time.time() - 30),
            pyotp.TOTP(supplier.totp_secret).at(time.time() + 30)}  # fmt: skip
    wrong = next(c for c in ("000000", "111111", "222222", "333333") if c not in good)
    for _ in range(2):
        r = client.post_form("/login/totp", data={"code": wrong})
        assert r.status_code == 401 and alerts_of(r.text) == [login.BAD_CODE]
    r = client.post_form("/login/totp", data={"code": wrong})
    assert r.status_code == 403 and alerts_of(r.text) == [login.LOCKED]
    assert sandbox.backoffice.account(supplier.username)["locked"] is True
    # the right password and a good code are refused too until the help desk unlocks it
    with PortalClient(sandbox) as again:
        r = again.post_form(
            "/login", data={"username": supplier.username, "password": supplier.password}
        )
        assert r.status_code == 403 and alerts_of(r.text) == [login.LOCKED]


@pytest.mark.parametrize("code", ["１２３４５６", "12345é", "\u0000"])
def test_a_non_ascii_code_is_a_wrong_code_not_a_500(
    client: PortalClient, supplier: Supplier, code: str
) -> None:
    password_step(client, supplier)
    r = client.post_form("/login/totp", data={"code": code})
    assert r.status_code == 401 and alerts_of(r.text) == [login.BAD_CODE]


def test_a_right_password_does_not_wipe_the_count_of_wrong_codes(
    sandbox: SandboxServer, client: PortalClient, supplier: Supplier
) -> None:
    wrong = "000000" if supplier.totp_now() != "000000" else "111111"
    for _ in range(3):  # password right each time, code wrong each time: locked on the third
        with PortalClient(sandbox) as c:
            password_step(c, supplier)
            r = c.post_form("/login/totp", data={"code": wrong})
    assert r.status_code == 403 and sandbox.backoffice.account(supplier.username)["locked"]


# -- no username enumeration -----------------------------------------------------------------
def test_an_unknown_username_answers_and_locks_like_a_known_one(
    sandbox: SandboxServer, supplier: Supplier
) -> None:
    def attempts(username: str) -> list[tuple[int, list[str]]]:
        with PortalClient(sandbox) as c:
            return [
                (r.status_code, alerts_of(r.text))
                for r in (
                    c.post_form("/login", data={"username": username, "password": "nope"})
                    for _ in range(4)
                )
            ]

    known = attempts(supplier.username)
    unknown = attempts(f"nobody-{supplier.username}")
    assert known == unknown
    assert [s for s, _ in known] == [401, 401, 403, 403]
    assert known[0][1] == [login.INVALID] and known[2][1] == [login.LOCKED]


def test_an_unknown_username_costs_the_same_password_hash_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real = db.check_password
    monkeypatch.setattr(db, "check_password", lambda pw, h: calls.append(h) or real(pw, h))
    app = create_app(PortalConfig(db_path=tmp_path / "p.db", backoffice_token="t"))
    with TestClient(app) as c:
        c.post("/backoffice/accounts", json={"username": "known", "password": "pw"},
               headers={"X-Backoffice-Token": "t"})  # fmt: skip
        for user in ("known", "unknown"):
            token = csrf_of(c.get("/login").text)
            r = c.post("/login", data={"csrf_token": token, "username": user, "password": "x"})
            assert r.status_code == 401 and alerts_of(r.text) == [login.INVALID]
    # one PBKDF2 check per attempt, with the same iteration count, known or not
    assert len(calls) == 2
    assert calls[0].split("$")[1] == calls[1].split("$")[1]


# -- sizes, tokens, parameters -----------------------------------------------------------------
def test_a_request_larger_than_the_limit_is_refused_while_it_streams(
    sandbox: SandboxServer, client: PortalClient
) -> None:
    host, port = sandbox.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:  # a lying header
        sock.sendall(
            b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded"
            + f"\r\nContent-Length: {MAX_REQUEST_BYTES + 1}\r\n\r\nusername=a".encode()
        )  # the body never comes: the answer must not wait for it
        assert sock.recv(200).startswith(b"HTTP/1.1 413 ")

    sent = 0

    def body() -> Iterator[bytes]:  # a file part, chunked: no Content-Length to trust
        nonlocal sent
        yield (b'--B\r\nContent-Disposition: form-data; name="file:invoice"; filename="a.pdf"'
               b"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4\n")  # fmt: skip
        chunk = b"0" * (1024 * 1024)
        while sent <= MAX_REQUEST_BYTES + 4 * len(chunk):
            sent += len(chunk)
            yield chunk
        yield b"\r\n--B--\r\n"

    client.get("/login")
    try:
        r = client.post(
            "/login", content=body(), headers={"Content-Type": "multipart/form-data; boundary=B"}
        )
        assert r.status_code == 413
    except httpx.TransportError:
        pass  # the portal closed the connection on us: refused all the same
    assert client.get("/health").text == "ok"  # still serving


def test_an_upload_over_10_mb_is_refused_by_its_size(
    client: PortalClient, supplier: Supplier, pdfs: dict[str, Path], tmp_path: Path
) -> None:
    client.login(supplier)
    r = start_wizard(client, supplier, "INV-BIG")
    big = tmp_path / "big.pdf"
    big.write_bytes(b"%PDF-1.4\n" + b"0" * (11 * 1024 * 1024))
    r = client.post_form(
        str(r.url.path),
        files={"file:invoice": pdf_part(pdfs["invoice"]), "file:timesheet": pdf_part(big)},
    )
    assert r.status_code == 422
    assert alerts_of(r.text) == ["Timesheet (timesheet): big.pdf is larger than 10 MB"]


@pytest.mark.parametrize("token", ["forged", "jeton-é-ü-✓", "\u0000", ""])
def test_a_bad_csrf_token_is_403_never_500(
    client: PortalClient, supplier: Supplier, token: str
) -> None:
    client.get("/login")
    r = client.post(
        "/login",
        data={"csrf_token": token, "username": supplier.username, "password": supplier.password},
    )
    assert r.status_code == 403 and h1_of(r.text) == "Request refused"


@pytest.mark.parametrize(
    "query",
    ["page=1e27", "page=-1", "page=abc", "page=0", "page=99999999999999999999999999",
     "per_page=1e27", "per_page=-5", "page=%EF%BC%91"],
)  # fmt: skip
def test_bad_list_parameters_are_400_never_500(
    client: PortalClient, supplier: Supplier, query: str
) -> None:
    client.login(supplier)
    r = client.get(f"/claims?{query}")
    assert r.status_code == 400 and h1_of(r.text) == "Bad request"
    assert client.get("/claims?page=1&per_page=10").status_code == 200


def test_every_answer_carries_the_security_headers(client: PortalClient) -> None:
    for path in ("/login", "/health", "/claims/nowhere", "/static/portal.css"):
        h = client.get(path).headers
        assert "frame-ancestors 'none'" in h["content-security-policy"]
        assert "default-src 'none'" in h["content-security-policy"]
        assert h["x-frame-options"] == "DENY" and h["x-content-type-options"] == "nosniff"
    css = client.get("/static/portal.css")
    assert css.headers["content-type"].startswith("text/css") and "label" in css.text
    assert "<style" not in client.get("/login").text and " style=" not in client.get("/login").text


# -- CSV export --------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["=HYPERLINK(\"http://evil\")", "+1+1", "-2+3", "@SUM(A1)",
                                  "\tTab", "\rCR", "plain", "'quoted", ""])  # fmt: skip
def test_formula_cells_get_a_mark_that_readers_take_off(text: str) -> None:
    safe = cell_safe(text)
    assert not str(safe).startswith(FORMULA_START)
    assert unescape(str(safe)) == text


@pytest.mark.browser
def test_the_csv_export_escapes_formula_cells_and_the_adapter_reads_them_back(
    sandbox: SandboxServer,
    client: PortalClient,
    supplier: Supplier,
    pdfs: dict[str, Path],
    tmp_path: Path,
) -> None:
    client.login(supplier)
    file_claim(client, supplier, "INV-CSV", pdfs)
    [claim] = sandbox.backoffice.claims(invoice="INV-CSV")
    nasty = '=HYPERLINK("http://evil","click")'
    sandbox.backoffice.comment(claim["reference"], nasty)
    sandbox.backoffice.move(claim["reference"], "under_review")
    sandbox.backoffice.move(claim["reference"], "approved")
    sandbox.backoffice.move(claim["reference"], "payment_ordered")
    sandbox.backoffice.pay(claim["reference"], "1200.00", "2026-03-01", "@PAY-1")
    export = client.get("/claims/export.csv?invoice=INV-CSV")
    [row] = list(csv.DictReader(io.StringIO(export.text)))
    assert row["comments"] == "'" + nasty and row["payment_reference"] == "'@PAY-1"
    # the adapter takes the mark off again: the values come back as the portal holds them
    adapter = SandboxAdapter(sandbox.url, supplier.credentials, browser=FAST,
                             state_file=tmp_path / "state.json",
                             evidence_dir=tmp_path / "ev")  # fmt: skip
    try:
        [report] = [r for r in adapter.fetch_statuses() if r.invoice_number == "INV-CSV"]
    finally:
        adapter.close()
    assert report.comments == [nasty] and report.payment_reference == "@PAY-1"


# -- the adapter copes with single-use codes ------------------------------------------------
@pytest.fixture(scope="module")
def quick_codes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    """A portal whose codes live 5 s, so waiting for the next one is quick."""
    with running_sandbox(tmp_path_factory.mktemp("quick"), totp_period=5) as server:
        yield server


@pytest.mark.browser
def test_the_adapter_waits_for_the_next_code_when_another_machine_used_this_one(
    quick_codes: SandboxServer, tmp_path: Path, pdfs: dict[str, Path]
) -> None:
    supplier = seed_supplier(quick_codes)
    # another machine signs in with this window's code (this process never handed it out)
    with PortalClient(quick_codes) as other:
        password_step(other, supplier)
        taken = other.post_form("/login/totp", data={"code": supplier.totp_now()})
        assert h1_of(taken.text) == "My claims"
    adapter = SandboxAdapter(quick_codes.url, supplier.credentials, browser=FAST,
                             state_file=tmp_path / "state.json",
                             evidence_dir=tmp_path / "ev")  # fmt: skip
    try:
        adapter.login()  # refused as a replay (or given the next code at once), then signed in
        receipt = adapter.submit(package_for(supplier, "INV-TOTP", pdfs), tmp_path / "ev",
                                 lambda: None)  # fmt: skip
    finally:
        adapter.close()
    assert receipt.reference.startswith("CLM-")
    account = quick_codes.backoffice.account(supplier.username)
    assert account["locked"] is False and account["failed_logins"] == 0
