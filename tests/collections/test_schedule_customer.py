"""The invoice's customer copied onto its schedule rows by the database's triggers (migration
``receivables_0001``), which the open-items rule and the worklist's sums per customer read: the
copy follows every write (schedules made and rewritten, an invoice moved to another customer
or to none, a row moved to another invoice), an existing database gets it on upgrade, and the
worklist stays exact as of any date (instalments, later payments, undone applications). On
SQLite and PostgreSQL."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, select, text, update

from claims.collections import worklist
from claims.collections.due import ensure_due_dates, set_terms
from claims.collections.dunning.plan import config_of
from claims.collections.receivables import open_items
from claims.core.due import Instalment, Terms
from claims.store import Store
from claims.store.engine import alembic_config
from claims.store.tables import CustomerRow, InvoiceRow, PaymentApplicationRow, PaymentRow
from claims.store.tables.collections import ScheduleRow
from claims.workspace import Workspace
from tests.collections.conftest import add_invoices, at
from tests.conftest import heads_before, insert_old_invoice

D = date
AS_OF = D(2026, 6, 30)

#: schedule rows whose copy differs from their invoice's customer (a mismatch is a row)
_DRIFT = """SELECT s.id FROM collection_schedule s JOIN invoices i ON i.id = s.invoice_id
WHERE s.customer_id IS NOT i.customer_id"""


def _drift(store: Store) -> list[int]:
    sql = _DRIFT
    if store.engine.dialect.name == "postgresql":
        sql = sql.replace("IS NOT", "IS DISTINCT FROM")
    with store.engine.connect() as conn:
        return [r[0] for r in conn.execute(text(sql))]


def _ids(store: Store, table: type, column: str, names: list[str]) -> dict[str, int]:
    with store.session() as s:
        col = getattr(table, column)
        return {v: i for i, v in s.execute(select(table.id, col).where(col.in_(names)))}


def _overdue(ws: Workspace, as_of: date) -> dict[str, dict[str, Decimal]]:
    return {a.customer: a.overdue for a in worklist.worklist(ws, as_of)}


def test_the_copy_follows_schedules_and_customers(ws: Workspace) -> None:
    add_invoices(ws, "Ministry", [("M-1", D(2026, 4, 1), D(2026, 5, 1), "1000.00"),
                                  ("M-2", D(2026, 4, 2), D(2026, 5, 2), "600.00")])
    add_invoices(ws, "Agency", [("A-1", D(2026, 4, 3), D(2026, 5, 3), "300.00")])
    config = config_of(ws)
    ensure_due_dates(ws.store.engine, config)
    set_terms(ws.store, config, "M-2", Terms(kind="instalments", instalments=(
        Instalment(days=20, percent=Decimal(50)), Instalment(days=50, percent=Decimal(50)))))
    assert _drift(ws.store) == []
    assert _overdue(ws, AS_OF) == {"Ministry": {"USD": Decimal("1600.00")},
                                   "Agency": {"USD": Decimal("300.00")}}
    customers = _ids(ws.store, CustomerRow, "name", ["Ministry", "Agency"])
    invoices = _ids(ws.store, InvoiceRow, "number", ["M-1", "M-2", "A-1"])
    with ws.store.session() as s:  # an invoice moved to another customer
        s.execute(update(InvoiceRow).where(InvoiceRow.id == invoices["M-2"])
                  .values(customer_id=customers["Agency"]))
    assert _drift(ws.store) == []
    assert _overdue(ws, AS_OF) == {"Ministry": {"USD": Decimal("1000.00")},
                                   "Agency": {"USD": Decimal("900.00")}}
    with ws.store.session() as s:  # … to no customer: no longer anyone's open item
        s.execute(update(InvoiceRow).where(InvoiceRow.id == invoices["A-1"])
                  .values(customer_id=None))
    assert _drift(ws.store) == []
    assert _overdue(ws, AS_OF) == {"Ministry": {"USD": Decimal("1000.00")},
                                   "Agency": {"USD": Decimal("600.00")}}
    with ws.store.session() as s:  # a schedule row moved to another customer's invoice
        s.execute(ScheduleRow.__table__.delete().where(
            ScheduleRow.invoice_id == invoices["M-2"]))
        s.execute(update(ScheduleRow).where(ScheduleRow.invoice_id == invoices["M-1"])
                  .values(invoice_id=invoices["M-2"]))
    assert _drift(ws.store) == []
    with ws.store.session() as s:
        moved = s.scalars(select(ScheduleRow.customer_id)
                          .where(ScheduleRow.invoice_id == invoices["M-2"])).all()
    assert moved == [customers["Agency"]]


def _pay(ws: Workspace, number: str, amount: str, value_date: date | None,
         applied: datetime, undone: datetime | None = None) -> None:
    """An application of ``amount`` to ``number``: through a payment with ``value_date``, or
    without one (counted from the day it was applied)."""
    with ws.store.session() as s:
        invoice_id = s.scalar(select(InvoiceRow.id).where(InvoiceRow.number == number))
        payment_id = None
        if value_date is not None:
            p = PaymentRow(source="camt053", external_id=f"P-{number}-{value_date}",
                           value_date=value_date, amount=Decimal(amount), currency="USD")
            s.add(p)
            s.flush()
            payment_id = p.id
        s.add(PaymentApplicationRow(payment_id=payment_id, invoice_id=invoice_id,
                                    amount=Decimal(amount), kind="payment", reason="test",
                                    actor="test", applied_at=applied, undone_at=undone))


def test_the_worklist_is_exact_as_of_any_date(ws: Workspace) -> None:
    add_invoices(ws, "Ministry", [("M-1", D(2026, 3, 1), D(2026, 4, 1), "1000.00"),
                                  ("M-2", D(2026, 3, 2), None, "900.00"),
                                  ("M-3", D(2026, 6, 20), D(2026, 6, 25), "50.00")])
    add_invoices(ws, "Ministry", [("M-4", D(2026, 3, 5), D(2026, 4, 5), "70000")],
                 currency="JPY")
    add_invoices(ws, "Agency", [("A-1", D(2026, 3, 3), D(2026, 4, 3), "400.00")])
    config = config_of(ws)
    ensure_due_dates(ws.store.engine, config)
    # M-2 in three instalments of 300 (due 2026-04-01, 05-01, 05-31)
    set_terms(ws.store, config, "M-2", Terms(kind="instalments", instalments=(
        Instalment(days=30, amount=Decimal("300.00")),
        Instalment(days=60, amount=Decimal("300.00")),
        Instalment(days=90, amount=Decimal("300.00")))))
    _pay(ws, "M-1", "250.00", D(2026, 5, 10), at(D(2026, 5, 11)))   # value date 10 May
    _pay(ws, "M-2", "450.00", D(2026, 6, 15), at(D(2026, 6, 16)))   # 1.5 instalments, 15 June
    _pay(ws, "M-1", "100.00", None, at(D(2026, 4, 20)))              # no payment: from 20 April
    _pay(ws, "A-1", "400.00", D(2026, 7, 5), at(D(2026, 6, 29)))    # value date after 30 June
    _pay(ws, "M-4", "1000", None, at(D(2026, 5, 1)), undone=at(D(2026, 5, 2)))  # undone
    assert _overdue(ws, AS_OF) == {
        "Ministry": {"USD": Decimal("1150.00"), "JPY": Decimal("70000")},  # 650 + 450 + 50
        "Agency": {"USD": Decimal("400.00")}}
    assert _overdue(ws, D(2026, 5, 15)) == {  # before the June payment and M-3
        "Ministry": {"USD": Decimal("1250.00"), "JPY": Decimal("70000")},  # 650 + 600
        "Agency": {"USD": Decimal("400.00")}}
    assert _overdue(ws, D(2026, 4, 15)) == {  # nothing paid yet; one instalment due
        "Ministry": {"USD": Decimal("1300.00"), "JPY": Decimal("70000")},
        "Agency": {"USD": Decimal("400.00")}}
    assert _overdue(ws, D(2026, 7, 10)).get("Agency", {}) == {}  # paid by then
    days = {a.customer: a.days_overdue for a in worklist.worklist(ws, AS_OF)}
    assert days == {"Ministry": (AS_OF - D(2026, 4, 1)).days,
                    "Agency": (AS_OF - D(2026, 4, 3)).days}
    # the worklist's sums are the open items' (the one rule), customer by customer
    for as_of in (D(2026, 4, 15), D(2026, 5, 15), AS_OF, D(2026, 7, 10)):
        with ws.store.engine.connect() as conn:
            items = open_items(conn, config, as_of=as_of)
        expected: dict[int, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
        for item in items:
            if item.due_date < as_of:
                expected[item.customer_id][item.currency] += item.open_amount
        names = {v: k for k, v in _ids(ws.store, CustomerRow, "name",
                                       ["Ministry", "Agency"]).items()}
        got = {k: v for k, v in _overdue(ws, as_of).items() if v}
        assert got == {names[c]: dict(v) for c, v in expected.items()}


def test_an_existing_database_gets_the_copy_on_upgrade(database_url: str,
                                                       tmp_path: Path) -> None:
    engine = create_engine(database_url)
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        for head in heads_before(cfg, "receivables_0001"):
            command.upgrade(cfg, head)
        insert_old_invoice(conn)
    engine.dispose()
    store = Store.open(database_url)
    try:
        with store.engine.connect() as conn:
            assert conn.execute(text("SELECT customer_id FROM collection_schedule")).all() \
                == [(1001,)]
        assert _drift(store) == []
        with store.engine.begin() as conn:  # and the triggers work from then on
            conn.execute(text("UPDATE invoices SET customer_id = NULL WHERE id = 1001"))
        assert _drift(store) == []
    finally:
        store.close()
