"""Loading the forecast's ledger from the store (issue #17): the items read straight from
``collection_schedule`` are the items the collections CTE gave (statutory due dates with their
agency and the day they became known, instalments, plain invoices), on SQLite and PostgreSQL;
and the forecast pauses the cyclic collector only while it runs."""

from __future__ import annotations

import gc
from datetime import date
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest

from claims import api
from claims.api.forecast import collector_paused
from claims.collections.due import invoice_dues, set_terms
from claims.collections.dunning.plan import config_of
from claims.collections.receivables import (
    Sql, as_date, as_datetime, bind, items_cte, money,
)
from claims.collections.terms import Instalment, Terms
from claims.forecast.ledger import Item
from claims.forecast.queries import load_ledger
from claims.workspace import init_workspace
from tests.collections.conftest import add_invoices, pay, submitted_claim, write_config


def _items_through_the_cte(engine, config) -> list[Item]:
    """The items as the loader read them before (through ``items_cte``), the reference."""
    with engine.connect() as conn:
        cte, params = items_cte(Sql(conn.dialect.name), config)
        rows = conn.execute(bind(
            f"{cte}\nSELECT it.invoice_id, it.seq, it.number, it.customer_id, it.currency, "
            "it.due_date, it.amount, it.agency, i.issue_date, k.agency AS contract_agency, "
            "CASE WHEN it.agency IS NOT NULL THEN i.due_date END AS invoice_due, "
            "CASE WHEN it.agency IS NOT NULL THEN i.total END AS total, "
            "CASE WHEN it.agency IS NOT NULL THEN (SELECT MIN(e.at) FROM claims c "
            "JOIN claim_events e ON e.claim_id = c.id WHERE c.invoice_id = it.invoice_id "
            "AND e.status = 'SUBMITTED' AND c.status NOT IN ('REJECTED', 'REJECTED_BY_PORTAL')) "
            "END AS received "
            "FROM items it JOIN invoices i ON i.id = it.invoice_id "
            "LEFT JOIN contracts k ON k.number = i.contract_number "
            "WHERE it.customer_id IS NOT NULL", params)).all()
    out = []
    for (iid, seq, number, cid, currency, due, amount, agency, issued, contract_agency,
         invoice_due, total, received) in rows:
        known_from = before = None
        if agency is not None and received is not None:
            rule = config.agencies.get(agency)
            known_from = (rule.local_date(as_datetime(received)) if rule is not None
                          else as_date(received))
            before = invoice_dues(SimpleNamespace(
                issue_date=issued, due_date=invoice_due, total=total, currency=currency,
                agency=agency, received=None), config)[0].due_date
        out.append(Item(iid, int(seq), number, cid, currency, as_date(issued), as_date(due),
                        money(amount, currency), contract_agency, agency, known_from, before))
    return sorted(out, key=lambda i: (i.invoice_id, i.seq))


def test_items_read_from_the_schedule_are_the_items_of_the_collections_cte(
        tmp_path: Path, database_url: str) -> None:
    ws = init_workspace(tmp_path / "ws", database_url=database_url)
    try:
        write_config(ws, None, agencies={"Ministry of Works": {
            "rule": "prompt-payment", "interest_rate_percent": "4.625"}})
        api.load_synthetic_history(ws, invoices=400, customers=30)
        submitted_claim(ws, "MW-1", "Ministry of Works", issued=date(2026, 1, 10),
                        submitted=date(2026, 3, 2), total="10000.00")
        add_invoices(ws, "Acme Corp", [("A-1", date(2026, 1, 1), None, "900.00")])
        set_terms(ws.store, config_of(ws), "A-1", Terms(kind="instalments", instalments=(
            Instalment(days=30, amount=Decimal("300")),
            Instalment(days=60, amount=Decimal("600")))))
        pay(ws, "A-1", "100.00")
        api.cash_forecast(ws, date(2026, 3, 3))  # makes every due date
        config = config_of(ws)
        items = load_ledger(ws.store.engine, config).items
        assert items == _items_through_the_cte(ws.store.engine, config)
        assert len(items) == 400 + 1 + 2
        assert [(i.seq, i.amount) for i in items if i.number == "A-1"] == [
            (1, Decimal("300.00")), (2, Decimal("600.00"))]
        (statutory,) = [i for i in items if i.statutory_agency]
        assert (statutory.number, statutory.statutory_agency, statutory.known_from) == (
            "MW-1", "Ministry of Works", date(2026, 3, 2))
    finally:
        ws.close()


@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_is_paused_only_while_the_forecast_runs(enabled: bool) -> None:
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        with collector_paused():
            assert not gc.isenabled()
        assert gc.isenabled() is enabled
        with pytest.raises(RuntimeError), collector_paused():
            raise RuntimeError("the forecast failed")
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
