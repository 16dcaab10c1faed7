"""The dates the KPI scans group by, copied onto ``payment_applications`` and
``collection_schedule`` by the database's triggers (migration ``kpis_0001``), stay equal to
their sources through every write: applying, reviewing, undoing, reversing, a payment's value
date or an invoice's dates changed, schedules rewritten; and an existing database gets them on
upgrade. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, select, text, update

from claims.collections.due import ensure_due_dates, set_terms
from claims.collections.settings import CollectionsConfig
from claims.core.due import Instalment, Terms
from claims.reports.kpis import kpis
from claims.store import Store
from claims.store.engine import alembic_config
from claims.store.tables import InvoiceRow, PaymentApplicationRow, PaymentRow
from claims.store.tables.collections import ScheduleRow
from tests.payments.conftest import invoice
from tests.reports.conftest import AS_OF, pay
from tests.conftest import heads_before, insert_old_invoice

#: every application's copies beside what they copy (a mismatch is a row)
_APP_DRIFT = """
SELECT a.id FROM payment_applications a
LEFT JOIN payments p ON p.id = a.payment_id
LEFT JOIN invoices i ON i.id = a.invoice_id
LEFT JOIN collection_schedule s ON s.invoice_id = a.invoice_id AND s.seq = 0
WHERE a.value_date IS NOT p.value_date OR a.issue_date IS NOT i.issue_date
   OR a.currency IS NOT i.currency OR a.due_date IS NOT s.due_date"""
_SCHEDULE_DRIFT = """
SELECT s.id FROM collection_schedule s JOIN invoices i ON i.id = s.invoice_id
WHERE s.issue_date IS NOT i.issue_date OR s.currency IS NOT i.currency"""


def _drift(store: Store) -> list[int]:
    sqls = [_APP_DRIFT, _SCHEDULE_DRIFT]
    if store.engine.dialect.name == "postgresql":
        sqls = [q.replace("IS NOT", "IS DISTINCT FROM") for q in sqls]
    with store.engine.connect() as conn:
        return [r[0] for q in sqls for r in conn.execute(text(q))]


def _copies(store: Store) -> list[tuple]:
    with store.engine.connect() as conn:
        return [tuple(str(v) for v in r) for r in conn.execute(text(
            "SELECT a.id, a.value_date, a.issue_date, a.currency, a.due_date "
            "FROM payment_applications a ORDER BY a.id"))]


def test_copies_are_written_on_insert(countback_ledger: Store) -> None:
    rows = _copies(countback_ledger)
    assert rows == [(rows[0][0], "2026-02-20", "2026-01-10", "EUR", "2026-02-09"),
                    (rows[1][0], "2026-03-05", "2026-01-10", "EUR", "2026-02-09")]
    assert _drift(countback_ledger) == []


def test_copies_follow_a_changed_value_date_and_invoice(countback_ledger: Store) -> None:
    store = countback_ledger
    before = kpis(store.engine, AS_OF)
    with store.session() as s:
        s.execute(update(PaymentRow).where(PaymentRow.external_id == "P-FEB")
                  .values(value_date=date(2026, 2, 21)))
        s.execute(update(InvoiceRow).where(InvoiceRow.number == "J1")
                  .values(issue_date=date(2026, 1, 11), currency="USD"))
    assert _drift(store) == []
    assert {r[3] for r in _copies(store)} == {"USD"}
    with store.session() as s:
        s.execute(update(InvoiceRow).where(InvoiceRow.number == "J1")
                  .values(issue_date=date(2026, 1, 10), currency="EUR"))
        s.execute(update(PaymentRow).where(PaymentRow.external_id == "P-FEB")
                  .values(value_date=date(2026, 2, 20)))
    assert _drift(store) == []
    assert kpis(store.engine, AS_OF) == before


def test_copies_follow_rewritten_schedules(countback_ledger: Store) -> None:
    store = countback_ledger
    set_terms(store, CollectionsConfig(), "J1", Terms(kind="instalments", instalments=(
        Instalment(days=20, percent=Decimal(50)), Instalment(days=50, percent=Decimal(50)))))
    assert _drift(store) == []
    assert {r[4] for r in _copies(store)} == {"None"}  # instalments: no single due date
    with store.session() as s:  # the schedule rows go (as a cascade would take them)
        s.execute(ScheduleRow.__table__.delete().where(ScheduleRow.invoice_id == s.scalar(
            select(InvoiceRow.id).where(InvoiceRow.number == "J1"))))
    assert _drift(store) == []
    ensure_due_dates(store.engine, CollectionsConfig())  # computed again: seq 0
    assert _drift(store) == []
    assert {r[4] for r in _copies(store)} == {"2026-02-09"}
    with store.session() as s:  # a due date moved in place
        s.execute(update(ScheduleRow).where(ScheduleRow.seq == 0)
                  .values(due_date=date(2026, 2, 28)))
    assert _drift(store) == []
    assert {r[4] for r in _copies(store)} == {"2026-02-28"}


def test_copies_follow_an_application_moved_to_another_payment_or_invoice(
        countback_ledger: Store) -> None:
    store = countback_ledger
    with store.session() as s:
        feb = s.scalar(select(PaymentRow.id).where(PaymentRow.external_id == "P-FEB"))
        f1 = s.scalar(select(InvoiceRow.id).where(InvoiceRow.number == "F1"))
        first = s.scalar(select(PaymentApplicationRow.id).order_by(PaymentApplicationRow.id))
        s.execute(update(PaymentApplicationRow).where(PaymentApplicationRow.id != first)
                  .values(payment_id=feb))
        s.execute(update(PaymentApplicationRow).where(PaymentApplicationRow.id == first)
                  .values(invoice_id=f1))
    assert _drift(store) == []
    rows = _copies(store)
    assert rows[0][1:] == ("2026-02-20", "2026-02-10", "EUR", "2026-03-12")
    assert rows[1][1] == "2026-02-20"


def test_undone_and_reapplied_applications_keep_their_copies(countback_ledger: Store) -> None:
    store = countback_ledger
    with store.session() as s:
        s.execute(update(PaymentApplicationRow).values(undone_at=datetime(2026, 3, 20, tzinfo=UTC)))
    pay(store, "P-APR", "F1", "1000.00", date(2026, 3, 30), auto=True)
    assert _drift(store) == []
    assert kpis(store.engine, AS_OF)["receivables"] == Decimal("2399000.00")


def test_an_existing_database_gets_its_copies_on_upgrade(database_url: str,
                                                         tmp_path: Path) -> None:
    """Migrated to every head but ``kpis_0001`` (nor what comes after it) and written the way
    the previous release wrote (no copied columns), then opened: the copies are filled and the
    KPIs unchanged.
    (Explicit ids above the sequences' next values, as a restore would leave them.)"""
    engine = create_engine(database_url)
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        for head in heads_before(cfg, "kpis_0001"):
            command.upgrade(cfg, head)
        insert_old_invoice(conn)
        conn.execute(text("INSERT INTO payments (id, source, external_id, value_date, amount,"
                          " currency, created_at) VALUES (1001, 'camt053', 'P1', '2026-02-20', "
                          "1000000000, 'EUR', '2026-01-01 00:00:00+00')"))
        conn.execute(text("INSERT INTO payment_applications (id, payment_id, invoice_id, "
                          "amount, kind, confidence, reason, actor, applied_at) VALUES "
                          "(1001, 1001, 1001, 1000000000, 'payment', 100, 't', 't', "
                          "'2026-02-20 00:00:00+00')"))
    engine.dispose()
    store = Store.open(database_url)
    try:
        assert _copies(store) == [("1001", "2026-02-20", "2026-01-10", "EUR", "2026-02-09")]
        assert _drift(store) == []
        assert kpis(store.engine, AS_OF)["receivables"] == Decimal("600000.00")
        # and the triggers work from then on
        store.put_invoices([invoice("F1", "800000.00", "Health Agency", date(2026, 2, 10),
                                    date(2026, 3, 12))])
        ensure_due_dates(store.engine, CollectionsConfig())
        pay(store, "P-F1", "F1", "100.00", date(2026, 3, 1), auto=True)
        assert _drift(store) == []
    finally:
        store.close()
