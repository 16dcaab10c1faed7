"""``followup run`` against a real SMTP server: content, exactly-once, outages, pauses, faults.

Default levels: courtesy −5, first-reminder +7, second-reminder +21, call (task) +30,
final-notice +45 days from the due date.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from claims.collections import dunning, records
from claims.collections.dunning import send as dunning_send
from claims.store.tables.collections import DunningSendItemRow, DunningSendRow
from claims.errors import ConflictError, DuplicateKey, StoreError, UnknownName
from claims.workspace import Workspace
from tests.collections.conftest import (
    SmtpServer, add_invoices, at, customer, free_port, pay, submitted_claim, write_config,
)

D = date


def setup_two_customers(ws: Workspace) -> None:
    add_invoices(ws, "Acme Corp", [("A-1", D(2026, 1, 30), D(2026, 3, 1), "1000.00"),
                                   ("A-2", D(2026, 2, 3), D(2026, 3, 5), "250.50")])
    add_invoices(ws, "Ministry of Water", [("W-1", D(2026, 2, 1), D(2026, 3, 2), "2000.00")],
                 currency="SAR")
    customer(ws, "Acme Corp", "ap@acme.test")
    customer(ws, "Ministry of Water", "finance@mow.gov.test", language="ar")
    pay(ws, "A-2", "50.50", at(D(2026, 3, 3)))


def text_part(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def html_part(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


def sends(ws: Workspace) -> list[tuple[str, str, str]]:
    """(item label, level, state) of every send item on record, in order."""
    with ws.store.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT i.number, di.seq, di.level, s.state FROM dunning_send_items di "
            "JOIN dunning_sends s ON s.id = di.send_id JOIN invoices i ON i.id = di.invoice_id "
            "ORDER BY i.number, di.seq, s.id"))
        return [(n if not seq else f"{n}/{seq}", lv, st) for n, seq, lv, st in rows]


def test_one_statement_per_customer_and_level_in_its_language(
        ws: Workspace, smtp_server: SmtpServer) -> None:
    setup_two_customers(ws)
    result = dunning.run(ws, D(2026, 3, 12))
    assert result.ok and len(result.sent) == 2 and not result.tasks
    by_to = {m["To"]: m for m in smtp_server.messages}
    assert set(by_to) == {"ap@acme.test", "finance@mow.gov.test"}

    en = by_to["ap@acme.test"]
    assert en["From"] == "Receivables <ar@supplier.test>"
    assert en["Subject"].strip() == ("Payment reminder (first-reminder): statement for Acme Corp "
                             "as of 2026-03-12")
    assert en["Content-Language"] == "en" and en["X-Claimwright-Level"] == "first-reminder"
    body = text_part(en)
    # both items in ONE message; A-2 shows its open balance after the partial payment
    assert "A-1  due 2026-03-01 (11 days overdue)  open USD 1,000.00" in body
    assert "A-2  due 2026-03-05 (7 days overdue)  open USD 200.00" in body
    assert "Total open: USD 1,200.00" in body
    assert "W-1" not in body

    ar = by_to["finance@mow.gov.test"]
    assert ar["Subject"].strip() == "تذكير بالدفع: كشف حساب Ministry of Water بتاريخ 2026-03-12"
    assert ar["Content-Language"] == "ar"
    html = html_part(ar)
    assert '<html lang="ar" dir="rtl">' in html and 'dir="rtl"' in html
    assert "الفاتورة" in html and "W-1" in html and "2,000.00" in html
    assert "إجمالي المستحق: SAR 2,000.00" in text_part(ar)

    # every sent message is kept as .eml, byte for byte what the server received
    for entry in result.sent:
        eml = Path(entry["eml"])
        assert eml.is_file() and eml.parent.name == "2026-03-12"
        import email
        import email.policy
        kept = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
        assert kept["Message-ID"] == by_to[kept["To"]]["Message-ID"]
    # … and in the evidence archive, as the very bytes that went out
    archive = ws.evidence
    entries = {e.metadata["customer"]: e for e in archive.entries() if e.kind == "followup.sent"}
    assert set(entries) == {"Acme Corp", "Ministry of Water"} and result.warnings == []
    acme_sent = [e for e in result.sent if e["customer"] == "Acme Corp"][0]
    archived = archive.blobs.read(entries["Acme Corp"].blobs["message.eml"].sha256)
    assert archived == Path(acme_sent["eml"]).read_bytes()
    assert entries["Acme Corp"].metadata["items"] == ["A-1", "A-2"]
    assert sends(ws) == [("A-1", "first-reminder", "sent"), ("A-2", "first-reminder", "sent"),
                         ("W-1", "first-reminder", "sent")]
    notes = records.list_notes(ws.store, "Acme Corp")
    assert any(n["kind"] == "dunning" and "first-reminder" in n["summary"] for n in notes)


def test_a_long_statement_is_still_one_message(ws: Workspace, smtp_server: SmtpServer) -> None:
    add_invoices(ws, "Acme Corp", [(f"A-{n:03d}", D(2026, 1, 1), D(2026, 3, 1), f"{n}.50")
                                   for n in range(1, 121)])
    customer(ws, "Acme Corp", "ap@acme.test")
    result = dunning.run(ws, D(2026, 3, 12))
    assert result.ok and len(smtp_server.messages) == 1
    body = text_part(smtp_server.messages[0])
    assert all(f"A-{n:03d}  due 2026-03-01" in body for n in range(1, 121))
    assert "Total open: USD 7,320.00" in body  # 1.5 + 2.5 + … + 120.5
    assert html_part(smtp_server.messages[0]).count("<tr>") == 121


def test_many_runs_on_one_day_send_once(ws: Workspace, smtp_server: SmtpServer) -> None:
    setup_two_customers(ws)
    for _ in range(5):
        result = dunning.run(ws, D(2026, 3, 12))
        assert result.ok
    assert len(smtp_server.messages) == 2
    # the next day nothing new is due
    assert dunning.run(ws, D(2026, 3, 13)).sent == []
    assert len(smtp_server.messages) == 2


def test_dry_run_and_preview_reserve_and_send_nothing(
        ws: Workspace, smtp_server: SmtpServer) -> None:
    setup_two_customers(ws)
    dry = dunning.run(ws, D(2026, 3, 12), dry_run=True)
    assert [(m["customer"], m["items"], m["totals"]) for m in dry.sent] == [
        ("Acme Corp", ["A-1", "A-2"], {"USD": "1200.00"}),
        ("Ministry of Water", ["W-1"], {"SAR": "2000.00"})]
    assert smtp_server.messages == [] and sends(ws) == []
    assert len(dunning.run(ws, D(2026, 3, 12)).sent) == 2


def daily(ws: Workspace, start: date, end: date, skip: set[date] | None = None) -> None:
    day = start
    while day <= end:
        if not skip or day not in skip:
            for _ in range(2):  # cron may fire twice a day
                assert dunning.run(ws, day).ok
        day += timedelta(days=1)


def test_daily_runs_send_every_level_once(ws: Workspace, smtp_server: SmtpServer) -> None:
    add_invoices(ws, "Acme Corp", [("A-1", D(2026, 1, 30), D(2026, 3, 1), "1000.00")])
    customer(ws, "Acme Corp", "ap@acme.test")
    daily(ws, D(2026, 2, 20), D(2026, 4, 30))
    assert [lv for _, lv, _ in sends(ws)] == [
        "courtesy", "first-reminder", "second-reminder", "call", "final-notice"]
    assert [m["X-Claimwright-Level"] for m in smtp_server.messages] == [
        "courtesy", "first-reminder", "second-reminder", "final-notice"]
    assert "As a courtesy" in text_part(smtp_server.messages[0])
    assert smtp_server.messages[-1]["Subject"].strip().startswith("FINAL NOTICE")


def test_after_a_two_week_outage_only_the_highest_level_due_is_sent(
        ws: Workspace, smtp_server: SmtpServer) -> None:
    add_invoices(ws, "Acme Corp", [("A-1", D(2026, 1, 30), D(2026, 3, 1), "1000.00")])
    customer(ws, "Acme Corp", "ap@acme.test")
    # down from Mar 5 to Mar 24: first-reminder (Mar 8) and second (Mar 22) fell in the gap
    outage = {D(2026, 3, 5) + timedelta(days=n) for n in range(20)}
    daily(ws, D(2026, 2, 20), D(2026, 4, 30), skip=outage)
    assert [lv for _, lv, _ in sends(ws)] == [
        "courtesy", "second-reminder", "call", "final-notice"]
    levels = [m["X-Claimwright-Level"] for m in smtp_server.messages]
    assert levels == ["courtesy", "second-reminder", "final-notice"]
    assert len(levels) == len(set(levels))


def test_instalments_are_dunned_one_by_one(ws: Workspace, smtp_server: SmtpServer) -> None:
    from claims.collections.dunning import config_of
    from claims.collections.due import set_terms
    from claims.collections.terms import Instalment, Terms

    add_invoices(ws, "Acme Corp", [("A-1", D(2026, 1, 1), None, "900.00")])
    customer(ws, "Acme Corp", "ap@acme.test")
    set_terms(ws.store, config_of(ws), "A-1", Terms(kind="instalments", instalments=(
        Instalment(days=30, amount=Decimal("300")), Instalment(days=60, amount=Decimal("300")),
        Instalment(days=90, amount=Decimal("300")))))
    pay(ws, "A-1", "100.00", at(D(2026, 1, 20)))
    dunning.run(ws, D(2026, 2, 25))  # #1 due Jan 31 (25 days late), #2 due Mar 2 (in 5 days)
    assert sorted(sends(ws)) == [("A-1/1", "second-reminder", "sent"),
                                 ("A-1/2", "courtesy", "sent")]
    bodies = {m["X-Claimwright-Level"]: text_part(m) for m in smtp_server.messages}
    # the payment settles the earliest instalment first: 300 − 100 = 200 open on #1
    assert "A-1/1  due 2026-01-31 (25 days overdue)  open USD 200.00" in bodies["second-reminder"]
    assert "A-1/2  due 2026-03-02  open USD 300.00" in bodies["courtesy"]
    assert "A-1/3" not in "".join(bodies.values())


def test_an_open_dispute_pauses_its_item_until_resolved(
        ws: Workspace, smtp_server: SmtpServer) -> None:
    setup_two_customers(ws)
    dispute = records.open_dispute(ws.store, invoice="A-1", reason="pricing", team="Sales",
                                   due_date=D(2026, 3, 31), note="price differs from PO",
                                   actor="maria", at=datetime(2026, 3, 11, 9, tzinfo=UTC))
    dunning.run(ws, D(2026, 3, 12))
    acme = [m for m in smtp_server.messages if m["To"] == "ap@acme.test"]
    assert len(acme) == 1 and "A-1" not in text_part(acme[0]) and "A-2" in text_part(acme[0])
    with pytest.raises(ConflictError):
        records.open_dispute(ws.store, invoice="A-1", reason="pricing", team="Sales",
                             due_date=None, note="", actor="maria")
    records.resolve_dispute(ws.store, dispute["id"], resolution="rejected",
                            note="price per contract", actor="maria",
                            at=datetime(2026, 3, 12, 16, tzinfo=UTC))
    dunning.run(ws, D(2026, 3, 13))
    assert ("A-1", "first-reminder", "sent") in sends(ws)
    log = [n["summary"] for n in records.list_notes(ws.store, "Acme Corp")]
    assert any("dispute #" in s and "opened (pricing, Sales)" in s for s in log)
    assert any("resolved: rejected" in s for s in log)


def test_an_unbroken_promise_pauses_and_a_broken_one_resumes(
        ws: Workspace, smtp_server: SmtpServer) -> None:
    setup_two_customers(ws)
    records.add_promise(ws.store, "Acme Corp", amount=Decimal("1200.00"), currency="USD",
                        promised_date=D(2026, 3, 20), promised_by="J. Doe (AP)",
                        channel="call", actor="maria", at=at(D(2026, 3, 10)))
    dunning.run(ws, D(2026, 3, 12))
    assert [m["To"] for m in smtp_server.messages] == ["finance@mow.gov.test"]
    dunning.run(ws, D(2026, 3, 20))  # the promised day itself: still paused
    assert len(smtp_server.messages) == 1
    states = records.promise_states(ws.store, D(2026, 3, 21))
    assert [s.state for s in states] == ["broken"]
    dunning.run(ws, D(2026, 3, 21))  # broken: the level now due goes out
    assert smtp_server.messages[-1]["To"] == "ap@acme.test"
    assert smtp_server.messages[-1]["X-Claimwright-Level"] == "first-reminder"
    assert "A-1  due 2026-03-01 (20 days overdue)" in text_part(smtp_server.messages[-1])


def test_a_kept_promise_is_not_broken(ws: Workspace, smtp_server: SmtpServer) -> None:
    setup_two_customers(ws)
    records.add_promise(ws.store, "Acme Corp", amount=Decimal("1000.00"), currency="USD",
                        promised_date=D(2026, 3, 20), promised_by="J. Doe", channel="email",
                        actor="maria", at=at(D(2026, 3, 10)))
    pay(ws, "A-1", "1000.00", at(D(2026, 3, 18)))
    assert [s.state for s in records.promise_states(ws.store, D(2026, 3, 25))] == ["kept"]


def test_a_plan_in_good_standing_pauses_and_a_missed_instalment_resumes(
        ws: Workspace, smtp_server: SmtpServer) -> None:
    setup_two_customers(ws)
    with pytest.raises(Exception, match="open balance is 1000.00"):
        records.add_plan(ws.store, "Acme Corp", invoices=["A-1"], actor="maria",
                         instalments=[(D(2026, 3, 15), Decimal("400"))], at=at(D(2026, 3, 9)))
    plan = records.add_plan(ws.store, "Acme Corp", invoices=["A-1"], actor="maria",
                            instalments=[(D(2026, 3, 15), Decimal("500")),
                                         (D(2026, 4, 15), Decimal("500"))],
                            at=at(D(2026, 3, 9)))
    dunning.run(ws, D(2026, 3, 12))
    acme = [m for m in smtp_server.messages if m["To"] == "ap@acme.test"]
    assert len(acme) == 1 and "A-1" not in text_part(acme[0])
    pay(ws, "A-1", "500.00", at(D(2026, 3, 15)))
    dunning.run(ws, D(2026, 4, 10))
    assert not [i for i in sends(ws) if i[0] == "A-1"]
    assert records.plan_status(ws.store, plan["id"], D(2026, 4, 10))["standing"] == "good"
    # the April instalment is missed (grace 3 days): the plan defaults, dunning resumes
    status = records.plan_status(ws.store, plan["id"], D(2026, 4, 20))
    assert status["standing"] == "defaulted"
    assert [i["state"] for i in status["instalments"]] == ["paid", "missed"]
    dunning.run(ws, D(2026, 4, 20))
    assert ("A-1", "final-notice", "sent") in sends(ws)
    last = text_part([m for m in smtp_server.messages if m["To"] == "ap@acme.test"][-1])
    assert "A-1  due 2026-03-01 (50 days overdue)  open USD 500.00" in last


def test_a_refusing_server_leaves_the_reminder_due(
        ws: Workspace, smtp_server: SmtpServer) -> None:
    setup_two_customers(ws)
    smtp_server.handler.mode = "refuse"
    result = dunning.run(ws, D(2026, 3, 12))
    assert not result.ok and len(result.failed) == 2
    assert all("554" in f["error"] and "rejected by policy" in f["error"]
               for f in result.failed)
    assert sends(ws) == [] and smtp_server.messages == []
    assert not list((ws.root / "followup").rglob("*.eml"))
    smtp_server.handler.mode = "accept"
    assert len(dunning.run(ws, D(2026, 3, 12)).sent) == 2


def test_a_dropped_connection_leaves_the_reminder_due(
        ws: Workspace, smtp_server: SmtpServer) -> None:
    setup_two_customers(ws)
    write_config(ws, smtp_server, smtp={"connections": 1})  # one connection: a known order
    smtp_server.handler.mode = "drop"
    result = dunning.run(ws, D(2026, 3, 12))
    assert not result.ok
    assert "connection lost" in result.failed[0]["error"]
    # after the connection died the other message is not attempted; both stay due
    assert "not attempted" in result.failed[1]["error"]
    assert sends(ws) == []
    smtp_server.handler.mode = "accept"
    assert len(dunning.run(ws, D(2026, 3, 12)).sent) == 2


def test_an_unreachable_server_is_a_clear_error(ws: Workspace, smtp_server: SmtpServer) -> None:
    setup_two_customers(ws)
    write_config(ws, None, smtp={"host": "127.0.0.1", "port": free_port()})
    result = dunning.run(ws, D(2026, 3, 12))
    assert "cannot reach SMTP server 127.0.0.1" in result.failed[0]["error"]
    assert sends(ws) == []


def test_bad_addresses_and_missing_contacts_stay_due(
        ws: Workspace, smtp_server: SmtpServer) -> None:
    setup_two_customers(ws)
    add_invoices(ws, "Nobody Ltd", [("N-1", D(2026, 2, 1), D(2026, 3, 1), "10.00")])
    add_invoices(ws, "Typo Inc", [("T-1", D(2026, 2, 1), D(2026, 3, 1), "10.00")])
    with pytest.raises(Exception, match="'ap@typo' is not an e-mail address"):
        records.add_contact(ws.store, "Typo Inc", name="AP", email="ap@typo")
    with ws.store.engine.begin() as conn:  # as an import from the books might leave it
        cid = conn.execute(text("SELECT id FROM customers WHERE name = 'Typo Inc'")).scalar()
        conn.execute(text("INSERT INTO contacts (customer_id, name, email, role, language) "
                          "VALUES (:c, 'AP', 'ap@@typo', 'finance', 'en')"), {"c": cid})
    result = dunning.run(ws, D(2026, 3, 12))
    errors = {f["customer"]: f["error"] for f in result.failed}
    assert errors == {"Nobody Ltd": "no finance contact with an e-mail address for Nobody Ltd",
                      "Typo Inc": "malformed address 'ap@@typo' for Typo Inc"}
    assert len(result.sent) == 2
    assert {i[0] for i in sends(ws)} == {"A-1", "A-2", "W-1"}


def test_unknown_customer_is_named_with_a_suggestion(ws: Workspace) -> None:
    setup_two_customers(ws)
    with pytest.raises(UnknownName) as err:
        dunning.run(ws, D(2026, 3, 12), customer="Acme Crop")
    assert "unknown customer 'Acme Crop' (did you mean Acme Corp?)" in str(err.value)


def test_a_send_stuck_after_a_crash_is_reported_not_resent(
        ws: Workspace, smtp_server: SmtpServer) -> None:
    setup_two_customers(ws)
    # a run that crashed after reserving Acme's message, before the SMTP server answered
    acme = [m for m in dunning.plan_messages(ws, D(2026, 3, 12)) if m.customer == "Acme Corp"][0]
    send_id = dunning_send._reserve(ws, acme, D(2026, 3, 12), state="sending")
    assert send_id is not None
    result = dunning.run(ws, D(2026, 3, 12))
    assert [s["send_id"] for s in result.stuck] == [send_id]
    assert [m["To"] for m in smtp_server.messages] == ["finance@mow.gov.test"]
    dunning.run(ws, D(2026, 3, 13))
    assert len(smtp_server.messages) == 1  # still not resent blindly
    assert dunning.resolve_stuck(ws, send_id, was_sent=False)["resolution"] == "released"
    result = dunning.run(ws, D(2026, 3, 14))
    assert result.stuck == [] and [m["customer"] for m in result.sent] == ["Acme Corp"]
    with pytest.raises(ConflictError):
        dunning.resolve_stuck(ws, result.sent[0]["send_id"], was_sent=True)


def test_concurrent_runs_never_send_twice(ws: Workspace, smtp_server: SmtpServer) -> None:
    for n in range(12):
        name = f"Customer {n:02d}"
        add_invoices(ws, name, [(f"C{n}-1", D(2026, 2, 1), D(2026, 3, 1), "100.00")])
        customer(ws, name, f"ap{n}@c.test")
    errors: list[BaseException] = []

    def worker() -> None:
        other = Workspace(ws.root)  # each worker its own connection pool, as on two machines
        try:
            dunning.run(other, D(2026, 3, 12))
        except BaseException as err:  # noqa: BLE001 - reported to the test thread
            errors.append(err)
        finally:
            other.close()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert sorted(m["To"] for m in smtp_server.messages) == sorted(
        f"ap{n}@c.test" for n in range(12))
    with ws.store.session() as s:
        assert s.scalar(select(func.count()).select_from(DunningSendRow)) == 12
        assert s.scalar(select(func.count()).select_from(DunningSendItemRow)) == 12


def test_a_store_error_other_than_the_reservation_conflict_fails_the_run(
        ws: Workspace, smtp_server: SmtpServer) -> None:
    """Only a unique-key refusal means "another run has it" (issue 14, item 8): a database
    that refuses the reservation for any other reason fails the run, nothing is sent."""
    add_invoices(ws, "Acme Corp", [("A-1", D(2026, 2, 1), D(2026, 3, 1), "100.00")])
    customer(ws, "Acme Corp", "ap@acme.test")
    with ws.store.engine.begin() as conn:
        if ws.store.engine.dialect.name == "sqlite":
            conn.execute(text("CREATE TRIGGER refuse BEFORE INSERT ON dunning_sends "
                              "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"))
        else:
            conn.execute(text("CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN "
                              "RAISE EXCEPTION 'refused by the test'; END $$ LANGUAGE plpgsql"))
            conn.execute(text("CREATE TRIGGER refuse BEFORE INSERT ON dunning_sends "
                              "FOR EACH ROW EXECUTE FUNCTION refuse()"))
    with pytest.raises(StoreError, match="refused by the test") as err:
        dunning.run(ws, D(2026, 3, 12))
    assert not isinstance(err.value, DuplicateKey)
    assert smtp_server.messages == []


def test_statutory_interest_is_on_the_statement(ws: Workspace, smtp_server: SmtpServer) -> None:
    write_config(ws, None, agencies={"Ministry of Works": {
        "rule": "prompt-payment", "interest_rate_percent": "4.625"}})
    submitted_claim(ws, "MW-1", "Ministry of Works", issued=D(2026, 1, 10),
                    submitted=D(2026, 1, 12), total="10000.00")
    customer(ws, "Ministry of Works", "ap@mow.test")
    # statutory due Feb 16, Presidents' Day (5 U.S.C. 6103(a)) → Feb 17; 59 days late:
    # 10,000 × (1.0038541667 × (1 + 0.04625 × 29/360) − 1) = 75.94
    dunning.run(ws, D(2026, 4, 17))
    body = text_part(smtp_server.messages[0])
    assert "MW-1  due 2026-02-17 (59 days overdue)  open USD 10,000.00  late-payment " \
           "interest USD 75.94" in body
