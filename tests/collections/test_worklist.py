"""The worklist ranks accounts by a score whose parts explain the order; escalation candidates
carry their reasons and nothing is decided without an approval; the receivables ledger shows
expected payment dates and statutory interest."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from claims.collections import dunning, escalation, records, worklist
from claims.workspace import Workspace
from tests.collections.conftest import (
    SmtpServer, add_invoices, at, customer, pay, submitted_claim, write_config,
)

D = date
AS_OF = D(2026, 6, 30)


def test_the_order_is_explained_by_the_parts(ws: Workspace) -> None:
    # big but recent: 10,000 overdue 10 days      → 10 + 5                 = 15
    add_invoices(ws, "Big Recent", [("B-1", D(2026, 5, 1), D(2026, 6, 20), "10000.00")])
    # small but old: 1,000 overdue 60 days          → 1 + 30                 = 31
    add_invoices(ws, "Small Old", [("S-1", D(2026, 4, 1), D(2026, 5, 1), "1000.00")])
    # 500 overdue 5 days, a broken promise, a dispute → 0.5 + 2.5 + 25 + 10  = 38
    add_invoices(ws, "Unreliable", [("U-1", D(2026, 5, 1), D(2026, 6, 25), "500.00"),
                                    ("U-2", D(2026, 6, 1), D(2026, 7, 31), "80.00")])
    records.add_promise(ws.store, "Unreliable", amount=Decimal("500"), currency="USD",
                        promised_date=D(2026, 6, 27), promised_by="CFO", channel="call",
                        actor="maria", at=at(D(2026, 6, 26)))
    records.open_dispute(ws.store, invoice="U-2", reason="quantity", team="Operations",
                         due_date=None, note="", actor="maria", at=at(D(2026, 6, 28)))
    # nothing overdue, nothing on record: not on the list
    add_invoices(ws, "Fine", [("F-1", D(2026, 6, 1), D(2026, 7, 31), "99999.00")])

    accounts = worklist.worklist(ws, AS_OF)
    assert [a.customer for a in accounts] == ["Unreliable", "Small Old", "Big Recent"]
    unreliable = accounts[0].to_json()
    assert unreliable["parts"] == {"amount_overdue": "0.50", "days_overdue": "2.50",
                                   "broken_promises": "25.00", "disputes": "10.00",
                                   "stuck_claims": "0.00", "defaulted_plans": "0.00"}
    assert unreliable["score"] == "38.00"
    assert unreliable["overdue"] == {"USD": "500.00"} and unreliable["days_overdue"] == 5
    for account in accounts:
        assert account.score == sum(account.parts.values())
    scores = [a.score for a in accounts]
    assert scores == sorted(scores, reverse=True) == [Decimal("38.00"), Decimal("31.00"),
                                                      Decimal("15.00")]
    # a payment that keeps the promise takes the promise part away
    pay(ws, "U-1", "500.00", at(D(2026, 6, 29)))
    again = {a.customer: a for a in worklist.worklist(ws, AS_OF)}
    assert again["Unreliable"].parts["broken_promises"] == 0
    assert again["Unreliable"].overdue == {}


def test_stuck_claims_defaulted_plans_and_statutory_interest(ws: Workspace) -> None:
    write_config(ws, None, agencies={"Ministry of Works": {
        "rule": "prompt-payment", "interest_rate_percent": "4.625"}})
    # issued Jan 10, submitted Jan 12 → due Feb 16; still SUBMITTED since then (stuck)
    submitted_claim(ws, "MW-1", "Ministry of Works", issued=D(2026, 1, 10),
                    submitted=D(2026, 1, 12), total="10000.00")
    add_invoices(ws, "Planner", [("P-1", D(2026, 1, 1), D(2026, 2, 1), "1000.00")])
    records.add_plan(ws.store, "Planner", invoices=["P-1"], actor="maria",
                     instalments=[(D(2026, 3, 1), Decimal("500")),
                                  (D(2026, 4, 1), Decimal("500"))], at=at(D(2026, 2, 20)))
    accounts = {a.customer: a for a in worklist.worklist(ws, D(2026, 4, 17))}
    mow = accounts["Ministry of Works"]
    assert mow.stuck_claims == 1 and mow.parts["stuck_claims"] == Decimal("15.00")
    # due Feb 16 is Presidents' Day (5 U.S.C. 6103(a)): moved to Feb 17 (FAR 52.232-25(a)(4));
    # 59 days late: one 30-day period compounded, then 29 days simple
    assert mow.interest == {"USD": Decimal("75.94")}
    assert accounts["Planner"].defaulted_plans == 1
    assert accounts["Planner"].parts["defaulted_plans"] == Decimal("30.00")
    ledger = worklist.receivables(ws, D(2026, 4, 17), customer="Ministry of Works")
    assert ledger[0]["due_date"] == D(2026, 2, 17) and ledger[0]["interest"] == "75.94"
    assert ledger[0]["claim_status"] == "SUBMITTED"


def test_a_page_is_a_slice_of_the_same_ranking_with_its_interest(ws: Workspace) -> None:
    write_config(ws, None, agencies={"Ministry of Works": {
        "rule": "prompt-payment", "interest_rate_percent": "4.625"}})
    submitted_claim(ws, "MW-1", "Ministry of Works", issued=D(2026, 1, 10),
                    submitted=D(2026, 1, 12), total="10000.00")
    for n in range(7):  # seven more accounts, each later and smaller than the last
        add_invoices(ws, f"Customer {n}", [(f"C-{n}", D(2026, 1, 1), D(2026, 2, 1 + n),
                                            f"{900 - 100 * n}.00")])
    day = D(2026, 4, 17)
    ranked = worklist.worklist(ws, day)
    assert len(ranked) == 8
    pages = [worklist.worklist_page(ws, n, per_page=3, as_of=day) for n in (1, 2, 3)]
    assert [p.pages for p in pages] == [3, 3, 3] and {p.total for p in pages} == {8}
    assert [p.start for p in pages] == [0, 3, 6]
    got = [a.to_json() for p in pages for a in p.accounts]
    assert got == [a.to_json() for a in ranked]  # the same accounts, parts and interest
    mow = next(a for p in pages for a in p.accounts if a.customer == "Ministry of Works")
    assert mow.interest == {"USD": Decimal("75.94")}
    # a page past the last is the last; a page below 1 is refused with the field and rule
    last = worklist.worklist_page(ws, 99, per_page=3, as_of=day)
    assert (last.page, last.start, [a.customer for a in last.accounts]) == (
        3, 6, [a.customer for a in ranked[6:]])
    for bad in (0, -1):
        with pytest.raises(worklist.InputError, match=r"page.*\[rule: whole-number\]"):
            worklist.worklist_page(ws, bad, as_of=day)
    # limit keeps the head of the same ranking; 0 or None means every account
    assert [a.customer for a in worklist.worklist(ws, day, limit=2)] == [
        a.customer for a in ranked[:2]]
    assert len(worklist.worklist(ws, day, limit=0)) == 8


def test_expected_payment_date_of_an_approved_claim(ws: Workspace) -> None:
    write_config(ws, None, agencies={"Health Agency": {"payment_days": 45}})
    submitted_claim(ws, "HA-1", "Health Agency", issued=D(2026, 1, 5),
                    submitted=D(2026, 1, 6), total="300.00", status="APPROVED",
                    status_at=D(2026, 2, 1))
    [entry] = worklist.receivables(ws, D(2026, 2, 10))
    assert entry["claim_status"] == "APPROVED"
    assert entry["expected_payment_date"] == D(2026, 3, 18)  # approved Feb 1 + 45 days
    # no statutory rule for this agency: the invoice's own terms (issue + 30) apply
    assert entry["due_date"] == D(2026, 2, 4) and entry["interest"] == "0.00"


def test_escalation_candidates_have_reasons_and_need_approval(
        ws: Workspace, smtp_server: SmtpServer) -> None:
    add_invoices(ws, "Old Large", [("L-1", D(2025, 11, 1), D(2025, 12, 1), "6000.00")])
    add_invoices(ws, "Old Small", [("T-1", D(2025, 5, 1), D(2025, 6, 1), "300.00")])
    add_invoices(ws, "Silent", [("Q-1", D(2026, 3, 1), D(2026, 4, 1), "100.00")])
    customer(ws, "Silent", "ap@silent.test")
    assert dunning.run(ws, D(2026, 5, 20), customer="Silent").ok  # final notice (49 days)
    found = {c.invoice: c for c in escalation.escalation_candidates(ws, AS_OF)}
    assert found["L-1"].action == "legal"
    assert found["L-1"].reasons == ["211 days overdue (policy: 120)", "open 6000.00 ≥ 5000"]
    assert found["T-1"].action == "write-off"
    assert found["T-1"].reasons == ["394 days overdue (policy: 365)", "open 300.00 ≤ 500"]
    assert found["Q-1"].action == "legal"
    assert found["Q-1"].reasons == ["no answer 41 days after the final notice (policy: 14)"]
    # an unanswered call is no answer: the silence reason stays
    records.add_note(ws.store, "Silent", "rang AP, nobody picked up", author="maria",
                     kind="call", direction="outbound", outcome="no_answer",
                     at=at(D(2026, 5, 30)))
    assert "Q-1" in {c.invoice for c in escalation.escalation_candidates(ws, AS_OF)}
    # an answer from the client takes the silence reason away
    records.add_note(ws.store, "Silent", "AP called back: payment run next week",
                     author="maria", kind="call", direction="inbound", outcome="reached",
                     at=at(D(2026, 6, 1)))
    assert "Q-1" not in {c.invoice for c in escalation.escalation_candidates(ws, AS_OF)}
    # nothing is written off until approved (tests/collections/test_escalation.py)
    assert worklist.receivables(ws, AS_OF, customer="Old Small")


def test_notes_need_a_known_customer_and_text(ws: Workspace) -> None:
    add_invoices(ws, "Acme Corp", [("A-1", D(2026, 1, 1), None, "10.00")])
    entry = records.add_note(ws.store, "Acme Corp", "Left a voicemail", author="maria",
                             kind="call", invoice="A-1")
    assert entry["author"] == "maria" and entry["at"].tzinfo is not None
    [logged] = records.list_notes(ws.store, "Acme Corp")
    assert (logged["kind"], logged["summary"], logged["invoice"]) == (
        "call", "Left a voicemail", "A-1")
    with pytest.raises(Exception, match="unknown customer 'Acme'"):
        records.add_note(ws.store, "Acme", "x", author="maria")
    with pytest.raises(Exception, match="the note is empty"):
        records.add_note(ws.store, "Acme Corp", "  ", author="maria")
    with pytest.raises(Exception, match="unknown interaction kind 'fax'"):
        records.add_note(ws.store, "Acme Corp", "x", author="maria", kind="fax")
