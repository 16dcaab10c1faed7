"""A small ledger worked by hand (see the figures in test_kpis.py), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from claims.store.tables.payments import PaymentMatchRow
from claims.store import Store
from claims.store.tables import CustomerRow, InvoiceRow, PaymentApplicationRow, PaymentRow
from tests.payments.conftest import invoice

AS_OF = date(2026, 3, 31)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    s = Store.open(database_url)
    yield s
    s.close()


def pay(store: Store, ref: str, number: str, amount: str, day: date, *, auto: bool,
        kind: str = "payment") -> None:
    """A payment applied to ``number`` (with its match record)."""
    with store.session() as s:
        invoice_id = s.scalar(select(InvoiceRow.id).where(InvoiceRow.number == number))
        p = PaymentRow(source="camt053", external_id=ref, value_date=day,
                       amount=Decimal(amount), currency="EUR")
        s.add(p)
        s.flush()
        s.add(PaymentApplicationRow(payment_id=p.id, invoice_id=invoice_id,
                                    amount=Decimal(amount), kind=kind, reason="test"))
        s.add(PaymentMatchRow(payment_id=p.id, method="reference", confidence=100, reason="t",
                              flags=[], proposal=[], auto=auto,
                              status="applied" if auto else "accepted"))


@pytest.fixture
def countback_ledger(store: Store) -> Store:
    """Sales Jan 700,000 (31 d), Feb 800,000 (28 d), Mar 900,000 (31 d); 300,000 paid on the
    January invoice: receivables 2,100,000 at 31 March 2026."""
    store.put_invoices([
        invoice("J1", "700000.00", "Ministry of Works", date(2026, 1, 10), date(2026, 2, 9)),
        invoice("F1", "800000.00", "Health Agency", date(2026, 2, 10), date(2026, 3, 12)),
        invoice("M1", "900000.00", "Ministry of Works", date(2026, 3, 10), date(2026, 4, 9)),
    ])
    pay(store, "P-FEB", "J1", "100000.00", date(2026, 2, 20), auto=False)
    pay(store, "P-MAR", "J1", "200000.00", date(2026, 3, 5), auto=True)
    return store


@pytest.fixture
def aged_ledger(countback_ledger: Store) -> Store:
    """The countback ledger plus an old invoice of 50,000 (due 31 Oct 2025, 151 days late)."""
    countback_ledger.put_invoices([
        invoice("O1", "50000.00", "Roads Authority", date(2025, 10, 1), date(2025, 10, 31))])
    with countback_ledger.session() as s:
        for row in s.scalars(select(CustomerRow)):
            row.collector = "Dana" if row.name != "Roads Authority" else "Eli"
    return countback_ledger
