"""Escalation is a control: one person proposes, another approves against the rules (an
override needs a reason and is marked), decisions can be rejected and revoked, every step is in
the decision log and the evidence archive, an approved write-off is posted so that every
figure of receivables agrees, and legal action keeps the account visible "at legal"."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from claims.api import compute_kpis, reconciliation
from claims.collections import dunning, escalation, worklist
from claims.errors import ConflictError, InputError
from claims.reports.build import weekly_report
from claims.workspace import Workspace
from tests.collections.conftest import SmtpServer, add_invoices, customer

D = date
AS_OF = D(2026, 6, 30)


def act_as(ws: Workspace, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv("CLAIMS_ACTOR", name)
    ws.reload_settings()


@pytest.fixture
def book(ws: Workspace) -> Workspace:
    """USD invoices: one small and old (write-off), one large and old (legal), one large
    and only 100 days late (no candidate), one not due yet."""
    add_invoices(ws, "Old Small", [("T-1", D(2025, 5, 1), D(2025, 6, 1), "300.00")])
    add_invoices(ws, "Old Large", [("L-1", D(2025, 11, 1), D(2025, 12, 1), "6000.00")])
    add_invoices(ws, "Recent Large", [("R-1", D(2026, 2, 20), D(2026, 3, 22), "60000.00"),
                                      ("R-2", D(2026, 6, 1), D(2026, 7, 31), "9000.00")])
    return ws


def test_proposer_and_approver_differ_and_every_step_is_evidence(
        book: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = book
    act_as(ws, monkeypatch, "maria")
    proposal = escalation.propose(ws, "T-1", action="write-off", reason="uneconomic",
                                  as_of=AS_OF)
    assert (proposal["status"], proposal["amount"], proposal["proposed_by"]) == (
        "proposed", Decimal("300.00"), "maria")
    # the proposal is shown beside the candidate; nothing is decided yet
    [cand] = [c for c in escalation.escalation_candidates(ws, AS_OF) if c.invoice == "T-1"]
    assert cand.proposal == {"id": proposal["id"], "action": "write-off", "by": "maria"}
    assert worklist.receivables(ws, AS_OF, customer="Old Small")
    with pytest.raises(ConflictError, match="the approver must be someone else"):
        escalation.approve(ws, "T-1", as_of=AS_OF)
    with pytest.raises(ConflictError, match="T-1: write-off is proposed already"):
        escalation.propose(ws, "T-1", action="legal", reason="again", as_of=AS_OF)

    act_as(ws, monkeypatch, "cfo")
    approved = escalation.approve(ws, "T-1", note="credit meeting", as_of=AS_OF)
    assert (approved["status"], approved["approved_by"], approved["override"]) == (
        "approved", "cfo", False)
    assert worklist.receivables(ws, AS_OF, customer="Old Small") == []
    assert "T-1" not in {c.invoice for c in escalation.escalation_candidates(ws, AS_OF)}

    revoked = escalation.revoke(ws, "T-1", reason="customer disputes the write-off")
    assert revoked["status"] == "revoked"
    [item] = worklist.receivables(ws, AS_OF, customer="Old Small")
    assert item["open"] == "300.00"  # open again: the posting was undone

    log = escalation.decision_log(ws, invoice="T-1")
    assert [(e["event"], e["actor"]) for e in log] == [
        ("proposed", "maria"), ("approved", "cfo"), ("revoked", "cfo")]
    entries = {e.index: e for e in ws.evidence.entries(None, None, None)}
    for line in log:
        entry = entries[line["evidence"]]
        assert entry.kind == f"escalation.{line['event']}" and entry.actor == line["actor"]
        assert entry.metadata["invoice"] == "T-1" and entry.metadata["escalation"] == \
            line["escalation"]
    assert entries[log[1]["evidence"]].metadata["proposed_by"] == "maria"


def test_an_invoice_not_yet_overdue_is_not_proposed(cli: Any, book: Workspace,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """R-2 falls due on 2026-07-31: as of 2026-06-30 (and on its due date itself) it is not
    overdue, so neither legal action nor a write-off can be proposed; a day later it can."""
    ws = book
    act_as(ws, monkeypatch, "maria")
    for day in (AS_OF, D(2026, 7, 31)):
        with pytest.raises(InputError) as err:
            escalation.propose(ws, "R-2", action="legal", reason="preemptive", as_of=day)
        assert str(err.value) == (f"invoice R-2 is not overdue on {day}: it falls due on "
                                  "2026-07-31; only an overdue invoice is escalated "
                                  "[rule: overdue]")
    result = cli("escalation", "propose", "R-2", "--action", "write-off", "--reason", "x",
                 "--as-of", str(AS_OF))
    assert result.exit_code == 1 and result.stderr.strip().splitlines() == [
        "error: invoice R-2 is not overdue on 2026-06-30: it falls due on 2026-07-31; only an "
        "overdue invoice is escalated [rule: overdue]"]
    assert escalation.decision_log(ws, invoice="R-2") == []
    escalation.propose(ws, "R-2", action="legal", reason="a day late", as_of=D(2026, 8, 1))


def test_candidacy_is_checked_at_approval_and_an_override_is_marked(
        book: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = book
    act_as(ws, monkeypatch, "maria")
    escalation.propose(ws, "R-1", action="write-off", reason="they will never pay",
                       as_of=AS_OF)
    act_as(ws, monkeypatch, "cfo")
    with pytest.raises(ConflictError, match=r"R-1 is no write-off candidate: the rules propose "
                                            r"nothing for it on 2026-06-30 \(100 days overdue, "
                                            r"open USD 60000.00"):
        escalation.approve(ws, "R-1", as_of=AS_OF)
    done = escalation.approve(ws, "R-1", as_of=AS_OF,
                              override_reason="insolvency filed, claim lodged with the trustee")
    assert done["override"] is True and done["override_reason"].startswith("insolvency")
    [approved_line] = [e for e in escalation.decision_log(ws, invoice="R-1")
                       if e["event"] == "approved"]
    assert approved_line["override"] is True
    with pytest.raises(ConflictError, match="no open proposal"):
        escalation.approve(ws, "R-2", as_of=AS_OF)

    # after legal action is approved, no write-off can be stacked on the same invoice
    act_as(ws, monkeypatch, "maria")
    escalation.propose(ws, "L-1", action="legal", reason="211 days, 6000", as_of=AS_OF)
    act_as(ws, monkeypatch, "cfo")
    escalation.approve(ws, "L-1", as_of=AS_OF)
    with pytest.raises(ConflictError, match="L-1: legal is approved already"):
        escalation.propose(ws, "L-1", action="write-off", reason="give up", as_of=AS_OF)
    with pytest.raises(InputError, match="reason is missing"):
        escalation.reject(ws, "L-1", reason=" ")


def test_legal_action_keeps_the_account_visible_at_legal_and_stops_reminders(
        book: Workspace, monkeypatch: pytest.MonkeyPatch, smtp_server: SmtpServer) -> None:
    ws = book
    customer(ws, "Old Large", "ap@large.test")
    act_as(ws, monkeypatch, "maria")
    escalation.propose(ws, "L-1", action="legal", reason="old and large", as_of=AS_OF)
    # a proposal alone changes nothing for the reminders
    assert [m.customer for m in dunning.plan_messages(ws, AS_OF, customer="Old Large")]
    act_as(ws, monkeypatch, "cfo")
    escalation.approve(ws, "L-1", as_of=AS_OF)
    accounts = {a.customer: a for a in worklist.worklist(ws, AS_OF)}
    assert accounts["Old Large"].at_legal == ["L-1"]
    assert accounts["Old Large"].overdue == {"USD": Decimal("6000.00")}  # still owed
    assert dunning.plan_messages(ws, AS_OF, customer="Old Large") == []
    escalation.revoke(ws, "L-1", reason="settled out of court: paying in July")
    accounts = {a.customer: a for a in worklist.worklist(ws, AS_OF)}
    assert accounts["Old Large"].at_legal == []


@pytest.mark.parametrize("days", [365, 400, 1000])
@pytest.mark.parametrize("amount", ["0.01", "500.00", "500.01", "2000.00", "4999.99",
                                    "5000.00", "999999.00"])
def test_no_age_or_amount_falls_between_the_rules(ws: Workspace, days: int,
                                                  amount: str) -> None:
    due = date.fromordinal(AS_OF.toordinal() - days)
    add_invoices(ws, "Anyone", [("X-1", date.fromordinal(due.toordinal() - 30), due, amount)])
    [cand] = escalation.escalation_candidates(ws, AS_OF)
    expected = "write-off" if Decimal(amount) <= 500 else "legal"
    assert (cand.invoice, cand.action, cand.days_overdue) == ("X-1", expected, days)


def test_two_thousand_at_four_hundred_days_is_proposed(ws: Workspace) -> None:
    add_invoices(ws, "Gap", [("G-1", D(2025, 4, 26), D(2025, 5, 26), "2000.00")], "SAR")
    [cand] = escalation.escalation_candidates(ws, AS_OF)
    assert cand.action == "legal" and cand.days_overdue == 400
    assert cand.reasons == ["400 days overdue (policy: 365)",
                            "open 2000.00 > 500: too large to write off"]


def test_an_approved_write_off_is_posted_and_every_figure_agrees(
        book: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = book

    def figures() -> tuple[Decimal, Decimal, Decimal, Decimal]:
        kpi = compute_kpis(ws, AS_OF, currency="USD")["receivables"]
        recon = sum((e["open"] for e in reconciliation(ws) if e["currency"] == "USD"),
                    Decimal(0))
        weekly = weekly_report(ws.store.engine, AS_OF, ws.settings.reports,
                               currency="USD").kpis["receivables"]
        ledger = sum((Decimal(r["open"]) for r in worklist.receivables(ws, AS_OF)), Decimal(0))
        return kpi, recon, weekly, ledger

    before = figures()
    assert set(before) == {Decimal("75300.00")}
    act_as(ws, monkeypatch, "maria")
    escalation.propose(ws, "T-1", action="write-off", reason="uneconomic", as_of=AS_OF)
    assert set(figures()) == {Decimal("75300.00")}  # proposed is not posted
    act_as(ws, monkeypatch, "cfo")
    escalation.approve(ws, "T-1", as_of=AS_OF)
    assert set(figures()) == {Decimal("75000.00")}
    kpi = compute_kpis(ws, AS_OF, currency="USD")
    assert kpi["write_offs_month_to_date"] == Decimal("300.00")
    [entry] = [e for e in reconciliation(ws, customer="Old Small")]
    assert entry["written_off"] == Decimal("300.00") and entry["differences"] == []
    escalation.revoke(ws, "T-1", reason="approved in error")
    assert set(figures()) == {Decimal("75300.00")}


def test_approvals_made_before_the_control_are_carried_over_and_posted(ws: Workspace) -> None:
    """The migration keeps earlier approvals (approver = proposer) and posts their write-offs."""
    from alembic import command
    from sqlalchemy import text

    from claims.store.engine import alembic_config, migrate

    add_invoices(ws, "Old Small", [("T-1", D(2025, 5, 1), D(2025, 6, 1), "300.00")])
    engine = ws.store.engine
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "escalation@-1")
    with engine.begin() as conn:  # a row as the earlier `escalation approve` wrote it
        conn.execute(text(
            "INSERT INTO collection_escalations (customer_id, invoice_id, action, amount, "
            "reason, approved_by, approved_at) SELECT customer_id, id, 'write-off', 3000000, "
            "'uneconomic', 'cfo', :at FROM invoices WHERE number = 'T-1'"),
            {"at": "2026-06-01 10:00:00+00:00" if engine.dialect.name != "sqlite"
             else "2026-06-01 10:00:00.000000"})
    migrate(engine)
    [line, approved] = escalation.decision_log(ws, invoice="T-1")
    assert (line["event"], approved["event"], approved["actor"], approved["status"]) == (
        "proposed", "approved", "cfo", "approved")
    assert worklist.receivables(ws, AS_OF, customer="Old Small") == []
    assert compute_kpis(ws, AS_OF, currency="USD")["receivables"] == Decimal("0.00")
