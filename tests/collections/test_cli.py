"""The follow-up commands through the real CLI: JSON shapes, exit codes, clear errors."""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import text

from claims.workspace import Workspace
from tests.collections.conftest import (
    Handler, SmtpServer, add_invoices, customer, free_port, write_config,
)

D = date


@pytest.fixture
def database_url(tmp_path: Any) -> str:
    """The CLI only parses and prints: SQLite is enough here (the library's SQL is tested on
    SQLite and PostgreSQL in test_dunning / test_worklist)."""
    return f"sqlite:///{tmp_path / 'claims.db'}"


def load(result: Any) -> Any:
    assert result.stdout, result.output
    return json.loads(result.stdout)


@pytest.fixture
def acme(ws: Workspace) -> Workspace:
    add_invoices(ws, "Acme Corp", [("A-1", D(2026, 1, 30), D(2026, 3, 1), "1000.00"),
                                   ("A-2", D(2026, 2, 3), D(2026, 3, 5), "250.50")])
    customer(ws, "Acme Corp", "ap@acme.test")
    return ws


def test_followup_run_json_and_idempotent(cli: Any, acme: Workspace,
                                          smtp_server: SmtpServer) -> None:
    preview = cli("followup", "preview", "--as-of", "2026-03-12", "--json")
    assert preview.exit_code == 0
    [message] = load(preview)["messages"]
    assert message["customer"] == "Acme Corp" and message["level"] == "first-reminder"
    assert [i["invoice"] for i in message["items"]] == ["A-1", "A-2"]
    assert message["totals"] == {"USD": "1250.50"} and "Total open: USD 1,250.50" in \
        message["body"]
    assert smtp_server.messages == []

    first = cli("followup", "run", "--as-of", "2026-03-12", "--json")
    assert first.exit_code == 0, first.output
    data = load(first)
    assert data["as_of"] == "2026-03-12" and data["dry_run"] is False
    assert data["failed"] == [] and data["stuck"] == [] and data["tasks"] == []
    [sent] = data["sent"]
    assert sent["customer"] == "Acme Corp" and sent["items"] == ["A-1", "A-2"]
    assert sent["recipients"] == ["ap@acme.test"] and sent["eml"].endswith(".eml")
    again = cli("followup", "run", "--as-of", "2026-03-12", "--json")
    assert again.exit_code == 0 and load(again)["sent"] == []
    assert len(smtp_server.messages) == 1

    history = load(cli("followup", "history", "--json"))
    assert [(h["customer"], h["level"], h["state"]) for h in history] == [
        ("Acme Corp", "first-reminder", "sent")]


def test_failed_sends_exit_1_with_the_reason(cli: Any, acme: Workspace,
                                             smtp_server: SmtpServer) -> None:
    smtp_server.handler.mode = "refuse"
    result = cli("followup", "run", "--as-of", "2026-03-12")
    assert result.exit_code == 1
    assert "failed: Acme Corp / first-reminder: server refused the message: 554" in result.output


def test_worklist_json(cli: Any, acme: Workspace) -> None:
    cli("dispute", "open", "--invoice", "A-2", "--reason", "pricing", "--team", "Sales",
        "--due", "2026-04-01", "--note", "unit price")
    # the CLI opens it now; the worklist is as of 12 March: say it was opened on 1 March
    with acme.store.engine.begin() as conn:
        conn.execute(text("UPDATE collection_disputes SET opened_at = :at"),
                     {"at": datetime(2026, 3, 1, 9, tzinfo=UTC)})
    result = cli("worklist", "--as-of", "2026-03-12", "--json")
    assert result.exit_code == 0
    [account] = load(result)["accounts"]
    assert account["customer"] == "Acme Corp"
    assert account["parts"] == {"amount_overdue": "1.25", "days_overdue": "5.50",
                                "broken_promises": "0.00", "disputes": "10.00",
                                "stuck_claims": "0.00", "defaulted_plans": "0.00"}
    assert account["score"] == "16.75" and account["days_overdue"] == 11
    plain = cli("worklist", "--as-of", "2026-03-12")
    assert plain.exit_code == 0
    assert "1. Acme Corp  score 16.75 = amount 1.25 + days 5.50 + disputes 10.00" in plain.output


def test_records_through_the_cli(cli: Any, acme: Workspace) -> None:
    note = cli("note", "add", "Acme Corp", "Called AP, approved for payment", "--kind", "call",
               "--json")
    assert note.exit_code == 0 and load(note)["kind"] == "call"
    promise = load(cli("promise", "add", "Acme Corp", "--amount", "1250.50", "--currency", "usd",
                       "--date", "2026-03-20", "--by", "J. Doe", "--as-of", "2026-03-12",
                       "--json"))
    assert promise["amount"] == "1250.50" and promise["currency"] == "USD"
    states = load(cli("promise", "list", "--as-of", "2026-03-25", "--json"))
    assert [s["state"] for s in states] == ["broken"]
    plan = cli("plan", "add", "Acme Corp", "--invoice", "A-1", "--instalment",
               "2026-04-01=600", "--instalment", "2026-05-01=400", "--as-of", "2026-03-12",
               "--json")
    assert plan.exit_code == 0, plan.output
    shown = load(cli("plan", "show", str(load(plan)["id"]), "--as-of", "2026-04-10", "--json"))
    assert shown["standing"] == "defaulted" and shown["paid"] == "0.00"
    dispute = load(cli("dispute", "open", "--invoice", "A-2", "--reason", "tax", "--team",
                       "Finance", "--json"))
    resolved = cli("dispute", "resolve", str(dispute["id"]), "--resolution", "credit-note",
                   "--json")
    assert load(resolved) == {"id": dispute["id"], "status": "resolved",
                              "resolution": "credit-note"}
    assert load(cli("dispute", "list", "--json")) == []
    log = load(cli("note", "list", "Acme Corp", "--json"))
    assert len(log) == 5 and log[0]["summary"] == "Called AP, approved for payment"
    terms = load(cli("followup", "terms", "A-2", "--instalment", "30=50%", "--instalment",
                     "60=50%", "--json"))
    assert [(s["due_date"], s["amount"]) for s in terms["schedule"]] == [
        ("2026-03-05", "125.25"), ("2026-04-04", "125.25")]


def test_escalation_through_the_cli(cli: Any, acme: Workspace,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    listed = load(cli("escalation", "list", "--as-of", "2027-03-10", "--json"))
    assert {(c["invoice"], c["action"]) for c in listed} == {("A-1", "legal"),
                                                            ("A-2", "write-off")}
    monkeypatch.setenv("CLAIMS_ACTOR", "maria")
    proposed = cli("escalation", "propose", "A-2", "--action", "write-off", "--reason",
                   "uneconomic", "--as-of", "2027-03-10")
    assert proposed.exit_code == 0, proposed.output
    assert "awaits another person's approval" in proposed.output
    own = cli("escalation", "approve", "A-2", "--as-of", "2027-03-10")
    assert own.exit_code == 1 and "the approver must be someone else" in own.output
    assert "Traceback" not in own.output
    monkeypatch.setenv("CLAIMS_ACTOR", "cfo")
    approve = cli("escalation", "approve", "A-2", "--as-of", "2027-03-10", "--json")
    assert approve.exit_code == 0, approve.output
    data = load(approve)
    assert (data["amount"], data["proposed_by"], data["approved_by"]) == (
        "250.50", "maria", "cfo")
    twice = cli("escalation", "approve", "A-2", "--action", "write-off")
    assert twice.exit_code == 1 and "invoice A-2 has no open proposal" in twice.output
    # not a candidate on its day: refused, then approved as a marked override
    monkeypatch.setenv("CLAIMS_ACTOR", "maria")
    assert cli("escalation", "propose", "A-1", "--action", "write-off", "--reason", "x",
               "--as-of", "2027-03-10").exit_code == 0
    monkeypatch.setenv("CLAIMS_ACTOR", "cfo")
    refused = cli("escalation", "approve", "A-1", "--as-of", "2027-03-10")
    assert refused.exit_code == 1 and "the rules propose legal, not write-off" in \
        " ".join(refused.output.split())
    forced = cli("escalation", "approve", "A-1", "--as-of", "2027-03-10",
                 "--override-reason", "customer insolvent")
    assert forced.exit_code == 0 and "OVERRIDE" in forced.output
    log = load(cli("escalation", "log", "--json"))
    assert [(e["invoice"], e["event"], e["actor"], e["override"]) for e in log] == [
        ("A-2", "proposed", "maria", False), ("A-2", "approved", "cfo", False),
        ("A-1", "proposed", "maria", False), ("A-1", "approved", "cfo", True)]
    text_log = cli("escalation", "log", "--invoice", "A-1")
    assert "OVERRIDE" in text_log.output and "[evidence #" in text_log.output
    revoke = cli("escalation", "revoke", "A-1", "--reason", "approved in error")
    assert revoke.exit_code == 0 and "revoked by cfo" in revoke.output


@pytest.mark.parametrize("args, message", [
    (["note", "add", "Acme Crop", "hello"],
     "customer: unknown customer 'Acme Crop' (did you mean Acme Corp?)"),
    (["followup", "run", "--as-of", "12/03/2026"],
     "--as-of: '12/03/2026' is not a date (YYYY-MM-DD)"),
    (["promise", "add", "Acme Corp", "--amount", "abc", "--currency", "USD", "--date",
      "2026-03-20", "--by", "x"], "error: --amount: 'abc' is not an amount"),
    (["promise", "add", "Acme Corp", "--amount", "100.005", "--currency", "USD", "--date",
      "2026-03-20", "--by", "x"], "--amount: 100.005 has a fraction below the minor unit of USD"),
    (["promise", "add", "Acme Corp", "--amount", "100", "--currency", "XYZ", "--date",
      "2026-03-20", "--by", "x"], "--currency: unknown currency 'XYZ'"),  # not --amount
    (["promise", "add", "Acme Corp", "--amount", "-5", "--currency", "USD", "--date",
      "2026-03-20", "--by", "x"], "--amount: -5 is negative"),
    (["dispute", "open", "--invoice", "A-1", "--reason", "prcing", "--team", "Sales"],
     "unknown dispute reason 'prcing' (did you mean pricing?)"),
    (["followup", "contact", "Acme Corp", "--name", "X", "--email", "x@@y"],
     "email: 'x@@y' is not an e-mail address"),
    (["plan", "add", "Acme Corp", "--invoice", "A-1", "--instalment", "2026-04-01=999",
      "--as-of", "2026-03-12"],
     "instalments add up to 999.00, the open balance is 1000.00"),
    # payment terms the model refuses are one line naming the option, never a traceback
    (["followup", "terms", "A-1", "--eom", "-1"],
     "--eom: -1: Input should be greater than or equal to 0"),
    (["followup", "terms", "A-1", "--instalment", "30=150%"],
     "share must be above 0 % and at most 100 %"),
    (["followup", "terms", "A-1", "--instalment", "30=50%", "--instalment", "60=40%"],
     "instalment shares add up to 90 %, not 100 %"),
    (["followup", "terms", "A-1", "--instalment", "30=10", "--instalment", "60=50%"],
     "instalments do not add up to the total"),
    # a day count the database cannot hold was its error ("out of the database's range")
    (["followup", "terms", "A-1", "--instalment", "99999999999999999=100%"],
     "--instalment: 99999999999999999: Input should be less than or equal to 3650"),
    # issue 14, item 6: the one money door at payment-plan creation
    (["plan", "add", "Acme Corp", "--invoice", "A-1", "--instalment", "2026-04-01=100.005",
      "--as-of", "2026-03-12"],
     "instalment: 100.005 has a fraction below the minor unit of USD"),
])
def test_bad_input_is_one_clear_line(cli: Any, acme: Workspace, args: list[str],
                                     message: str) -> None:
    result = cli(*args)
    assert result.exit_code == 1
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output


class Auth:
    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user.encode(), password.encode()

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str,
                 auth_data: Any) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == self.user
              and auth_data.password == self.password)
        return AuthResult(success=ok, handled=False)  # not handled: the server answers 535


def test_smtp_login_and_the_password_never_lands_anywhere(
        cli: Any, acme: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "s3cr3t-Pa55-word"
    handler = Handler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, authenticator=Auth(
        "ar-bot", secret), auth_require_tls=False, auth_required=True)
    controller.start()
    try:
        write_config(acme, None, smtp={"host": "127.0.0.1", "port": port, "username": "ar-bot",
                                       "password": {"env": "TEST_SMTP_PASSWORD"}})
        monkeypatch.setenv("TEST_SMTP_PASSWORD", "wrong-" + secret)
        refused = cli("--verbose", "followup", "run", "--as-of", "2026-03-12")
        assert refused.exit_code == 1 and "SMTP login as ar-bot refused (535)" in refused.output
        assert secret not in refused.output
        monkeypatch.setenv("TEST_SMTP_PASSWORD", secret)
        sent = cli("--verbose", "followup", "run", "--as-of", "2026-03-12", "--json")
        assert sent.exit_code == 0, sent.output
        assert len(handler.messages) == 1 and secret not in sent.output
        for eml in (acme.root / "followup").rglob("*.eml"):
            assert secret.encode() not in eml.read_bytes()
        with acme.store.engine.connect() as conn:
            for table in ("dunning_sends", "collection_interactions"):
                dump = " ".join(str(r) for r in conn.execute(text(f"SELECT * FROM {table}")))
                assert secret not in dump
        assert secret not in acme.config_path.read_text() and "TEST_SMTP_PASSWORD" in \
            acme.config_path.read_text()
        monkeypatch.delenv("TEST_SMTP_PASSWORD")
        missing = cli("followup", "run", "--as-of", "2026-03-22")  # second reminder due
        assert missing.exit_code == 1
        assert "environment variable TEST_SMTP_PASSWORD is not set" in missing.output
        with acme.store.engine.connect() as conn:  # nothing reserved, nothing stuck
            assert conn.execute(text("SELECT COUNT(*) FROM dunning_sends")).scalar() == 1
    finally:
        controller.stop()
    assert os.environ.get("TEST_SMTP_PASSWORD") is None


def test_rates_import_and_the_worklist_in_the_base_currency(cli: Any, acme: Workspace,
                                                            tmp_path: Any) -> None:
    no_base = tmp_path / "rates.csv"
    no_base.write_text("date,currency,rate\n2026-01-01,USD,3.75\n", encoding="utf-8")
    refused = cli("rates", "import", str(no_base))
    assert refused.exit_code == 1 and "no base currency: set base_currency" in refused.output
    write_config(acme, None, base_currency="SAR")
    done = cli("rates", "import", str(no_base))
    assert done.exit_code == 0 and "1 rate(s) to SAR from rates.csv: 1 added" in done.output
    shown = cli("worklist", "--as-of", "2026-03-12")
    assert shown.exit_code == 0, shown.output
    assert "overdue SAR 4,689.38 (USD 1,250.50)" in shown.output  # 1,250.50 × 3.75
