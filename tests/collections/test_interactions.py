"""Structured interactions, callbacks due, write-time checks of promises and plans (cancel,
edit, list), contacts (list, edit, remove; languages with templates) and the account view.
Figures are computed by hand in the comments."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from claims import api
from claims.collections import commitments, contacts, dunning, escalation, records
from claims.errors import ConflictError, InputError, UnknownName
from claims.store.tables import ContactRow
from claims.workspace import Workspace
from tests.collections.conftest import SmtpServer, add_invoices, at, customer, pay

D = date
AS_OF = D(2026, 6, 30)


@pytest.fixture
def book(ws: Workspace) -> Workspace:
    """Acme owes USD 1,000 (A-1, due 2026-05-01) and USD 500 (A-2, due 2026-06-15), 250 paid
    on A-1: open USD 750 + 500 = 1,250. Beta owes USD 300 (B-1)."""
    add_invoices(ws, "Acme", [("A-1", D(2026, 4, 1), D(2026, 5, 1), "1000.00"),
                              ("A-2", D(2026, 5, 15), D(2026, 6, 15), "500.00")])
    add_invoices(ws, "Beta", [("B-1", D(2026, 4, 1), D(2026, 5, 1), "300.00")])
    customer(ws, "Acme", "ap@acme.test")
    pay(ws, "A-1", "250.00", at(D(2026, 5, 20)))
    return ws


def test_a_note_has_structure_and_is_checked(book: Workspace) -> None:
    ws = book
    entry = records.add_note(ws.store, "Acme", "rang twice, voicemail", author="maria",
                             kind="call", direction="outbound", contact="AP Acme",
                             outcome="left_message", at=at(D(2026, 6, 28), 9),
                             next_action="call again", next_action_date=D(2026, 6, 29),
                             invoice="A-1")
    assert (entry["direction"], entry["contact"], entry["outcome"], entry["reached"]) == (
        "outbound", "AP Acme", "left_message", False)
    [logged] = records.list_notes(ws.store, "Acme")
    assert logged["at"] == datetime(2026, 6, 28, 9, tzinfo=UTC)  # backdated, kept as given
    assert logged["next_action_date"] == D(2026, 6, 29) and logged["invoice"] == "A-1"
    with pytest.raises(InputError, match="invoice B-1 is not Acme's"):
        records.add_note(ws.store, "Acme", "x", author="maria", invoice="B-1")
    with pytest.raises(InputError, match="is in the future"):
        records.add_note(ws.store, "Acme", "x", author="maria",
                         at=datetime.now(UTC) + timedelta(hours=2))
    with pytest.raises(UnknownName, match="unknown outcome 'answered'"):
        records.add_note(ws.store, "Acme", "x", author="maria", outcome="answered")
    with pytest.raises(UnknownName, match="unknown contact of Acme 'Nobody'") as err:
        records.add_note(ws.store, "Acme", "x", author="maria", contact="Nobody")
    assert err.value.rule == "known-contact"  # was known-contact-of-Acme: a rule per customer
    with pytest.raises(InputError, match="--next-action and --next-action-date together"):
        records.add_note(ws.store, "Acme", "x", author="maria", next_action="call")
    with pytest.raises(InputError, match="before the interaction"):
        records.add_note(ws.store, "Acme", "x", author="maria", at=at(D(2026, 6, 28)),
                         next_action="call", next_action_date=D(2026, 6, 27))


def test_only_reaching_someone_resets_the_silence(book: Workspace,
                                                  smtp_server: SmtpServer) -> None:
    ws = book
    # A-1 is 49 days late on 2026-06-19: the final notice (45 days) goes out that day
    assert dunning.run(ws, D(2026, 6, 19), customer="Acme").ok
    silence = ["no answer 21 days after the final notice (policy: 14)"]
    day = D(2026, 7, 10)  # 2026-06-19 → 07-10 = 21 days

    def reasons() -> list[str]:
        found = {c.invoice: c for c in escalation.escalation_candidates(ws, day)}
        return found["A-1"].reasons if "A-1" in found else []

    assert reasons() == silence
    for outcome in ("no_answer", "left_message", "wrong_number"):
        records.add_note(ws.store, "Acme", outcome, author="maria", kind="call",
                         outcome=outcome, at=at(D(2026, 6, 25)))
        assert reasons() == silence, outcome
    records.add_note(ws.store, "Acme", "plain note, nobody spoken to", author="maria",
                     at=at(D(2026, 6, 26)))
    assert reasons() == silence
    records.add_note(ws.store, "Acme", "AP: in the next run", author="maria", kind="call",
                     direction="inbound", outcome="reached", at=at(D(2026, 6, 27)))
    assert reasons() == []


def test_callbacks_due_until_followed_up(book: Workspace) -> None:
    ws = book
    records.add_note(ws.store, "Acme", "no answer", author="maria", kind="call",
                     outcome="no_answer", at=at(D(2026, 6, 25)), next_action="call again",
                     next_action_date=D(2026, 6, 28))
    records.add_note(ws.store, "Beta", "asked for a copy", author="omar", kind="email",
                     outcome="reached", at=at(D(2026, 6, 26)), next_action="send copy",
                     next_action_date=D(2026, 7, 2))
    assert api.callbacks_due(ws, D(2026, 6, 27)) == []  # neither date reached yet
    [due] = api.callbacks_due(ws, AS_OF)
    assert (due["customer"], due["next_action"], due["due"], due["days_late"]) == (
        "Acme", "call again", D(2026, 6, 28), 2)
    assert [c["customer"] for c in api.callbacks_due(ws, D(2026, 7, 2))] == ["Acme", "Beta"]
    records.add_note(ws.store, "Acme", "called again: reached", author="maria", kind="call",
                     outcome="reached", at=at(D(2026, 6, 29)))
    assert [c["customer"] for c in api.callbacks_due(ws, D(2026, 7, 2))] == ["Beta"]


def test_promises_are_checked_when_written(book: Workspace) -> None:
    ws = book
    kw = {"promised_by": "CFO", "channel": "call", "actor": "maria", "as_of": AS_OF}
    with pytest.raises(InputError, match="2026-06-29 is in the past"):
        records.add_promise(ws.store, "Acme", amount=Decimal("100"), currency="USD",
                            promised_date=D(2026, 6, 29), **kw)
    # open: 1,000 − 250 + 500 = 1,250.00
    with pytest.raises(InputError, match=r"USD 1250.01 is more than Acme has open in USD "
                                         r"\(1250.00\)"):
        records.add_promise(ws.store, "Acme", amount=Decimal("1250.01"), currency="USD",
                            promised_date=D(2026, 7, 10), **kw)
    with pytest.raises(InputError, match="is not a known|unknown currency|XYZ"):
        api.add_promise(ws, "Acme", amount=Decimal("10"), currency="XYZ",
                        promised_date=D(2026, 7, 10), promised_by="CFO", channel="call")
    promise = records.add_promise(ws.store, "Acme", amount=Decimal("1250.00"), currency="USD",
                                  promised_date=D(2026, 7, 10), **kw)
    edited = commitments.edit_promise(ws.store, promise["id"], actor="maria",
                                      amount=Decimal("600"), promised_date=D(2026, 7, 20),
                                      as_of=AS_OF)
    assert (edited["amount"], edited["promised_date"]) == (Decimal("600"), D(2026, 7, 20))
    with pytest.raises(InputError, match="is in the past"):
        commitments.edit_promise(ws.store, promise["id"], actor="maria",
                                 promised_date=D(2026, 6, 1), as_of=AS_OF)
    commitments.cancel_promise(ws.store, promise["id"], reason="wrong account", actor="maria")
    [state] = records.promise_states(ws.store, D(2026, 8, 1))
    assert state.state == "cancelled"  # not broken: it was cancelled
    with pytest.raises(ConflictError, match="cancelled already"):
        commitments.cancel_promise(ws.store, promise["id"], reason="again", actor="maria")


def test_one_live_plan_per_invoice_cancel_edit_and_list(book: Workspace) -> None:
    ws = book
    kw = {"actor": "maria", "as_of": AS_OF}
    with pytest.raises(InputError, match="is in the past"):
        records.add_plan(ws.store, "Acme", invoices=["A-1"],
                         instalments=[(D(2026, 6, 1), Decimal("750"))], **kw)
    # A-1 open 1,000 − 250 = 750.00, in two instalments
    plan = records.add_plan(ws.store, "Acme", invoices=["A-1"],
                            instalments=[(D(2026, 7, 15), Decimal("400")),
                                         (D(2026, 8, 15), Decimal("350"))], **kw)
    with pytest.raises(ConflictError, match=f"invoice A-1 is in live plan #{plan['id']}"):
        records.add_plan(ws.store, "Acme", invoices=["A-1", "A-2"],
                         instalments=[(D(2026, 7, 15), Decimal("1250"))], **kw)
    with pytest.raises(InputError, match="the open balance is 750.00"):
        commitments.edit_plan(ws.store, plan["id"], actor="maria", as_of=AS_OF,
                              instalments=[(D(2026, 7, 31), Decimal("700"))])
    assert records.plan_status(ws.store, plan["id"], AS_OF)["standing"] == "good"  # stands
    new = commitments.edit_plan(ws.store, plan["id"], actor="maria", as_of=AS_OF,
                                instalments=[(D(2026, 7, 31), Decimal("750"))])
    assert new["replaces"] == plan["id"] and new["total"] == Decimal("750.00")
    listed = commitments.list_plans(ws.store, AS_OF)
    assert [(p["id"], p["standing"], p["next_due"], p["invoices"]) for p in listed] == [
        (new["id"], "good", D(2026, 7, 31), ["A-1"])]
    everything = commitments.list_plans(ws.store, AS_OF, include_cancelled=True)
    assert [p["standing"] for p in everything] == ["cancelled", "good"]
    commitments.cancel_plan(ws.store, new["id"], reason="went to legal", actor="maria")
    assert commitments.list_plans(ws.store, AS_OF) == []
    again = records.add_plan(ws.store, "Acme", invoices=["A-1"],
                             instalments=[(D(2026, 7, 31), Decimal("750"))], **kw)
    assert again["id"] > new["id"]  # a cancelled plan leaves the invoice free


def test_contacts_list_edit_remove_and_languages(book: Workspace,
                                                 smtp_server: SmtpServer) -> None:
    ws = book
    assert api.contact_languages(ws) == ["ar", "en"]
    with pytest.raises(UnknownName, match="unknown language 'ja'; known: ar, en"):
        api.add_contact(ws, "Beta", name="K. Sato", email="k@beta.test", language="ja")
    cid = api.add_contact(ws, "Beta", name="K. Sato", email="k@beta.test", language="ar")
    assert [(c["customer"], c["name"]) for c in api.list_contacts(ws)] == [
        ("Acme", "AP Acme"), ("Beta", "K. Sato")]
    with pytest.raises(UnknownName, match="unknown language 'ja'"):
        api.edit_contact(ws, cid, language="ja")
    assert api.edit_contact(ws, cid, email="sato@beta.test")["email"] == "sato@beta.test"
    # a contact stored before the check (an import, an old workspace) is caught by the dry run
    with ws.store.session() as s:
        s.get(ContactRow, cid).language = "ja"  # type: ignore[union-attr]
    result = dunning.run(ws, AS_OF, dry_run=True)
    [failed] = [f for f in result.failed if f["customer"] == "Beta"]
    assert "language 'ja' has no reminder templates (known: ar, en)" in failed["error"]
    removed = api.remove_contact(ws, cid)
    assert removed["name"] == "K. Sato" and api.list_contacts(ws, "Beta") == []
    assert contacts.available_languages("", ws.root) == ["ar", "en"]


def test_the_account_on_one_page(book: Workspace, smtp_server: SmtpServer) -> None:
    ws = book
    assert dunning.run(ws, D(2026, 6, 1), customer="Acme").ok  # A-1 31 days: a call task
    records.add_note(ws.store, "Acme", "CFO: paying next week", author="maria", kind="call",
                     outcome="promised", at=at(D(2026, 6, 20)), next_action="check payment",
                     next_action_date=D(2026, 6, 29))
    records.add_promise(ws.store, "Acme", amount=Decimal("500"), currency="USD",
                        promised_date=D(2026, 7, 5), promised_by="CFO", channel="call",
                        actor="maria", at=at(D(2026, 6, 20)))
    records.open_dispute(ws.store, invoice="A-2", reason="pricing", team="Sales",
                         actor="maria", at=at(D(2026, 6, 21)), due_date=None, note="")
    view = api.show_account(ws, "Acme", AS_OF)
    items = {i["invoice"]: i for i in view["open_items"]}
    # due 05-01, 60 days → 31-60; A-2: due 06-15, 15 days → 1-30; open 750 and 500
    assert (items["A-1"]["open"], items["A-1"]["aging"]) == ("750.00", "31-60")
    assert (items["A-2"]["open"], items["A-2"]["aging"]) == ("500.00", "1-30")
    assert [c["name"] for c in view["contacts"]] == ["AP Acme"]
    assert [p["state"] for p in view["promises"]] == ["open"]
    assert [d["invoice"] for d in view["disputes"]] == ["A-2"]
    assert [c["next_action"] for c in view["callbacks_due"]] == ["check payment"]
    [reminder] = view["reminders"]
    assert reminder["channel"] == "task" and reminder["as_of"] == D(2026, 6, 1)
    whats = [t["what"] for t in view["timeline"]]
    assert whats.index("reminder") < whats.index("call") < whats.index("dispute")
    assert whats.index("dispute") < whats.index("promise due")  # 06-21 < 07-05


def test_the_migration_keeps_old_notes_and_marks_promises(book: Workspace) -> None:
    """interactions_0001 adds the columns; a promise's entry becomes 'promised' (someone was
    reached), an old note's outcome stays unknown (it no longer counts as an answer)."""
    from alembic import command
    from sqlalchemy import text

    from claims.store.engine import alembic_config, migrate

    ws = book
    engine = ws.store.engine
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "interactions@-1")
    with engine.begin() as conn:  # rows as the earlier code wrote them
        for summary in ("promise #1: CFO promised USD 100 by 2026-07-01", "Called AP"):
            conn.execute(text(
                "INSERT INTO collection_interactions (customer_id, at, author, kind, summary) "
                "SELECT id, :at, 'maria', 'call', :summary FROM customers "
                "WHERE name = 'Acme'"),
                {"summary": summary, "at": "2026-06-01 10:00:00+00:00"
                 if engine.dialect.name != "sqlite" else "2026-06-01 10:00:00.000000"})
    migrate(engine)
    notes = records.list_notes(ws.store, "Acme")
    assert [(n["summary"][:9], n["outcome"], n["reached"]) for n in notes] == [
        ("promise #", "promised", True), ("Called AP", None, False)]
