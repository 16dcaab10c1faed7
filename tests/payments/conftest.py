"""Fixtures of the cash-application tests: a store on SQLite and PostgreSQL, a ledger of open
invoices, and a ``claims`` CLI runner."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from claims.core.models import Invoice
from claims.store import Store


def invoice(number: str, total: str, customer: str, issue: date, due: date | None = None,
            currency: str = "EUR", contract: str | None = None) -> Invoice:
    return Invoice(number=number, issue_date=issue, due_date=due, currency=currency,
                   customer=customer, contract_number=contract, net=Decimal(total),
                   vat=Decimal(0), total=Decimal(total))


#: Open invoices of the matching tests (oldest first per customer).
LEDGER = [
    invoice("INV-2026-001", "1500.00", "Ministry of Works", date(2026, 9, 1), date(2026, 10, 1)),
    invoice("INV-2026-002", "200.00", "Ministry of Works", date(2026, 9, 2), date(2026, 10, 2)),
    invoice("INV-2026-003", "300.00", "Ministry of Works", date(2026, 9, 3), date(2026, 10, 3)),
    invoice("INV-2026-004", "450.00", "Ministry of Works", date(2026, 9, 4), date(2026, 10, 4)),
    invoice("INV-2026-005", "999.00", "Health Agency", date(2026, 9, 5), date(2026, 10, 5)),
    invoice("INV-2026-006", "1000.00", "Health Agency", date(2026, 9, 6), date(2026, 10, 6)),
    invoice("INV-2026-007", "2000.00", "Health Agency", date(2026, 9, 7), date(2026, 10, 7)),
    invoice("INV-2026-008", "750.00", "Roads Authority", date(2026, 9, 8), date(2026, 10, 8)),
    invoice("INV-2026-009", "640.00", "Roads Authority", date(2026, 9, 9), date(2026, 10, 9)),
]

WORKS_IBAN = "DE02120300000000202051"
HEALTH_IBAN = "DE02500105170137075030"


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    s = Store.open(database_url)
    yield s
    s.close()


@pytest.fixture
def ledger(store: Store) -> Store:
    store.put_invoices(LEDGER)
    return store


@pytest.fixture
def pay_cli(tmp_path: Path):
    """``claims …`` (the real command) in a fresh workspace: ``pay_cli("kpi", "--json")``."""
    from claims.cli import app
    from claims.workspace import init_workspace

    root = tmp_path / "ws"
    init_workspace(root).close()
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(app, ["--workspace", str(root), *args], catch_exceptions=False)

    run.root = root  # type: ignore[attr-defined]
    return run
