"""Migration due_0001: due dates stored before the returned-clock fix (3cdfaf3) are dropped.

Before it, a claim the agency RETURNED kept the due date made from its first SUBMITTED event
(basis statutory) and nothing made it again: the stopped clock did not reach data stored
earlier. Built here as an older version left it, in a real SQLite file: the RETURNED event
recorded, the old statutory row still there, the database at the revision before due_0001.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import insert, select, text

from claims.collections.due import ensure_due_dates
from claims.collections.dunning.plan import config_of
from claims.core.models import ClaimStatus
from claims.store.engine import migrate
from claims.store.tables import InvoiceRow
from claims.store.tables.collections import ScheduleRow
from claims.workspace import Workspace
from tests.collections.conftest import at, submitted_claim, write_config

D = date
AGENCY = {"Ministry of Works": {"rule": "prompt-payment", "interest_rate_percent": "4.625"}}


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """The migration is plain SQL; an old database is a SQLite file here."""
    return f"sqlite:///{tmp_path / 'claims.db'}"


def rows(ws: Workspace, number: str) -> list[tuple[int, str, date]]:
    with ws.store.session() as s:
        return [(r.id, r.basis, r.due_date) for r in s.scalars(
            select(ScheduleRow).join(InvoiceRow, InvoiceRow.id == ScheduleRow.invoice_id)
            .where(InvoiceRow.number == number))]


def test_due_0001_drops_the_old_due_date_of_a_returned_claim(ws: Workspace) -> None:
    write_config(ws, None, agencies=AGENCY)
    # issued Jan 10, submitted Jan 12: due Feb 16, Presidents' Day → Feb 17 (statutory)
    returned = submitted_claim(ws, "MW-1", "Ministry of Works", issued=D(2026, 1, 10),
                               submitted=D(2026, 1, 12), total="10000.00")
    submitted_claim(ws, "MW-2", "Ministry of Works", issued=D(2026, 1, 10),
                    submitted=D(2026, 1, 12), total="500.00")
    ensure_due_dates(ws.store.engine, config_of(ws))
    [(kept, basis, due)] = rows(ws, "MW-2")
    assert (basis, due) == ("statutory", D(2026, 2, 17))
    # returned Feb 3 by an older version: its RETURNED event, the statutory row left as it was
    ws.store.record_event(returned, "status.changed", status=ClaimStatus.RETURNED)
    with ws.store.engine.begin() as conn:
        conn.execute(text("UPDATE claim_events SET at = :t WHERE claim_id = :c AND "
                          "status = 'RETURNED'"), {"t": at(D(2026, 2, 3)), "c": returned})
        invoice = conn.scalar(select(InvoiceRow.id).where(InvoiceRow.number == "MW-1"))
        conn.execute(insert(ScheduleRow).values(invoice_id=invoice, seq=0,
                                                due_date=D(2026, 2, 17),
                                                amount=Decimal("10000.00"), basis="statutory"))
        conn.execute(text("UPDATE alembic_version SET version_num = 'receivables_0001' "
                          "WHERE version_num = 'due_0001'"))
    ensure_due_dates(ws.store.engine, config_of(ws))
    [(_, basis, due)] = rows(ws, "MW-1")
    assert (basis, due) == ("statutory", D(2026, 2, 17))  # the old row: overdue, interest
    migrate(ws.store.engine)
    assert rows(ws, "MW-1") == []  # dropped
    assert rows(ws, "MW-2") == [(kept, "statutory", D(2026, 2, 17))]  # never returned: kept
    with ws.store.engine.connect() as conn:
        assert "due_0001" in set(conn.scalars(text("SELECT version_num FROM alembic_version")))
    # made again by the one rule: back with the supplier, due no sooner than 30 days from today
    ensure_due_dates(ws.store.engine, config_of(ws))
    [(_, basis, due)] = rows(ws, "MW-1")
    assert basis == "returned" and due >= datetime.now(UTC).date() + timedelta(days=30)
    migrate(ws.store.engine)  # at the head: nothing runs again
    assert rows(ws, "MW-2") == [(kept, "statutory", D(2026, 2, 17))]
