"""Loading the forecast's ledger from the store (issue #17): the items read straight from
``collection_schedule`` are the items the collections CTE gave (statutory due dates with their
agency and the day they became known, instalments, plain invoices), on SQLite and PostgreSQL;
and the forecast pauses the cyclic collector only while it runs."""

from __future__ import annotations

import gc
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import text

from claims import api
from claims.collections.due import RECEIVED_SQL, invoice_dues, set_terms
from claims.collections.dunning.plan import config_of
from claims.collections.receivables import (
    Sql, as_date, as_datetime, bind, items_cte, money,
)
from claims.collections.terms import Instalment, Terms
from claims.forecast.ledger import ClaimFacts, Item, Receipt
from claims.forecast.model import Line
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
            # the receipt by the one rule (after a return: the resubmission)
            f"CASE WHEN it.agency IS NOT NULL THEN {RECEIVED_SQL.format(invoice='it.invoice_id')} "
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
                agency=agency, received=None, returned=0), config)[0].due_date
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


def test_receipts_and_claim_events_read_as_the_driver_gives_them_are_the_rows_ones(
        tmp_path: Path, database_url: str) -> None:
    """load_ledger reads its big queries through the driver's cursor (no SQLAlchemy rows) and
    cuts each claim's events out of one ordered read: the receipts (day, amount as Decimal at
    the currency's places, kind) and every claim's (day, status) in order are those read
    through SQLAlchemy's rows, on SQLite and PostgreSQL."""
    ws = init_workspace(tmp_path / "ws", database_url=database_url)
    try:
        api.load_synthetic_history(ws, invoices=300, customers=20)
        add_invoices(ws, "Acme Corp", [("A-1", date(2026, 1, 1), None, "900.00")])
        pay(ws, "A-1", "100.00")
        ledger = load_ledger(ws.store.engine, config_of(ws))
        with ws.store.engine.connect() as conn:
            receipts = sorted((r.invoice_id, as_date(r.day), money(r.amount, r.currency), r.kind)
                              for r in conn.execute(text(
                "SELECT a.invoice_id, COALESCE(p.value_date, a.applied_at) AS day, a.amount, "
                "a.kind, i.currency FROM payment_applications a "
                "JOIN invoices i ON i.id = a.invoice_id "
                "LEFT JOIN payments p ON p.id = a.payment_id WHERE a.undone_at IS NULL")))
            events: dict[int, list[tuple[date, str]]] = {}
            for r in conn.execute(text("SELECT claim_id, at, status FROM claim_events "
                                       "WHERE status IS NOT NULL ORDER BY claim_id, at, id")):
                events.setdefault(r.claim_id, []).append((as_date(r.at), r.status))
            claims = [r.id for r in conn.execute(text("SELECT id FROM claims ORDER BY id"))]
    finally:
        ws.close()
    got = sorted((r.invoice_id, r.day, r.amount, r.kind) for r in ledger.receipts)
    assert got == receipts and len(got) > 50
    assert [str(r[2]) for r in got] == [str(r[2]) for r in receipts]  # the same places
    assert any(r[2] == Decimal("100.00") for r in got)
    assert [c.claim_id for c in ledger.claims] == claims
    assert {c.claim_id: list(c.events) for c in ledger.claims} == {
        c: events.get(c, []) for c in claims}
    assert any(len(c.events) > 2 for c in ledger.claims)


def test_a_second_forecast_sees_what_changed_after_the_first(
        tmp_path: Path, database_url: str) -> None:
    """The driver-cursor reads leave nothing open behind them: a payment and a new invoice
    recorded after a forecast are in the next one (same workspace, same engine)."""
    ws = init_workspace(tmp_path / "ws", database_url=database_url)
    try:
        day = date(2026, 3, 3)
        add_invoices(ws, "Acme Corp", [("A-1", date(2026, 1, 1), None, "900.00")])
        first = api.cash_forecast(ws, day)
        assert [(ln.ref, ln.amount) for ln in first.lines] == [("A-1", Decimal("900.00"))]
        pay(ws, "A-1", "100.00", at=datetime(2026, 2, 1, 12, tzinfo=UTC))
        add_invoices(ws, "Acme Corp", [("A-2", date(2026, 2, 1), None, "50.00")])
        second = api.cash_forecast(ws, day)
        assert sorted((ln.ref, ln.amount) for ln in second.lines) == [
            ("A-1", Decimal("800.00")), ("A-2", Decimal("50.00"))]
    finally:
        ws.close()


def test_columns_convert_as_one_value_at_a_time() -> None:
    """:meth:`_Conv.columns` gives what :meth:`_Conv.day` and :meth:`_Conv.money` give per
    value (text, dates and datetimes; amounts in currencies of 0, 2 and 3 places)."""
    from datetime import datetime

    from claims.forecast.queries import _Conv

    rows = [(k, day, raw, currency)
            for k, (day, raw, currency) in enumerate([
                ("2026-01-05 12:00:00.000000", 1_000_000, "EUR"),
                ("2026-01-05", 1_234_500, "EUR"), (date(2026, 2, 1), 50_000, "JPY"),
                (datetime(2026, 2, 1, 23, 30), 12_345, "KWD"), ("2026-01-05", 1_000_000, "EUR"),
                ("2026-03-01T08:00:00", 1_000_000, "JPY"), ("2026-03-01", 7, "EUR")])]
    one = _Conv()
    expected = [(k, one.day(d), one.money(raw, c), c) for k, d, raw, c in rows]
    cols = _Conv().columns(rows, days=(1,), money=((2, 3),))
    got = list(zip(*cols, strict=True))
    assert got == expected
    assert [str(m) for _, _, m, _ in got] == [str(m) for _, _, m, _ in expected]
    assert _Conv().columns([], days=(1,)) == []



@pytest.mark.parametrize("currency", ["EUR", "JPY", "KWD"])
def test_a_one_currency_column_converts_as_one_value_at_a_time(currency: str) -> None:
    """A column of one currency at its minor unit (every stored one) made at once: what
    :func:`money` makes per amount, to the exponent (negative, zero, the largest amount
    accepted); a column with an amount finer than the minor unit, or not integers, amount by
    amount as before."""
    from claims.forecast.queries import _Conv

    raws = [1_000_000, 1_234_500, 0, -50_000, 999_999_999_999_990_000, 10_000, 12_300]
    for column in (raws, raws + [12_345], raws + [None], [7, 7]):
        got = _Conv().column_money(column, [currency] * len(column))
        expected = [money(raw, currency) for raw in column]
        assert [str(m) for m in got] == [str(m) for m in expected], column

def _index_as_before(ledger):
    """The per-invoice and per-customer running totals as Ledger.index built them before."""
    by_invoice: dict = {}
    ordered = sorted(ledger.receipts, key=lambda r: r.day)
    for r in ordered:
        by_invoice.setdefault(r.invoice_id, []).append(r)
    customer_of = {i.invoice_id: i.customer_id for i in ledger.items}
    billed: dict = {}
    for i in ledger.items:
        billed[i.invoice_id] = billed.get(i.invoice_id, Decimal(0)) + i.amount
    by_customer: dict = {}
    for invoice_id, rows in by_invoice.items():
        if invoice_id in customer_of:
            by_customer.setdefault(customer_of[invoice_id], []).extend(rows)
    customer_paid = {}
    for customer_id, rows in by_customer.items():
        days, running, total = [], [Decimal(0)], Decimal(0)
        for r in sorted((r for r in rows if r.kind == "payment"), key=lambda r: r.day):
            total += r.amount
            days.append(r.day)
            running.append(total)
        customer_paid[customer_id] = (days, running)
    paid = {}
    for invoice_id, rows in by_invoice.items():
        days, running, total = [], [], Decimal(0)
        for r in rows:
            total += r.amount
            days.append(r.day)
            running.append(total)
        paid[invoice_id] = (days, running)
    return ordered, by_invoice, billed, by_customer, customer_paid, paid


def test_the_ledger_index_is_the_one_built_before() -> None:
    from claims.forecast.synthetic import generate

    ledger = generate(3000, 80).to_ledger()
    ordered, by_invoice, billed, by_customer, customer_paid, paid = _index_as_before(ledger)
    assert ledger._sorted == ordered and ledger._days == [r.day for r in ordered]
    assert ledger._by_invoice == by_invoice and ledger._billed == billed
    # the per-customer indexes are made on first use: none before, all of them asked for
    assert ledger._by_customer is None and ledger._customer_paid == {}
    assert ledger.receipts_of_customer(-1) == [] and ledger._paid_of_customer(-1) is None
    assert list(ledger._customers().items()) == list(by_customer.items())
    for customer in reversed(list(by_customer)):
        assert ledger.receipts_of_customer(customer) == by_customer[customer]
        ledger._paid_of_customer(customer)
    assert ledger._customer_paid == customer_paid and ledger._paid == paid
    as_text = lambda d: {k: [str(x) for x in v[1]] for k, v in d.items()}  # noqa: E731
    assert as_text(ledger._paid) == as_text(paid)
    assert as_text(ledger._customer_paid) == as_text(customer_paid)


def test_the_ledger_is_freed_before_the_collector_comes_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Back on, the collector's first pass walks every object made while it was off and still
    alive: the ledger (most of them) is gone by then; the forecast is returned."""
    import weakref

    import claims.api.forecast as module
    import claims.core.collector as collector

    ws = init_workspace(tmp_path / "ws")
    try:
        api.load_synthetic_history(ws, invoices=300, customers=20, known_by=date(2025, 9, 30))
        made, alive_at_enable = [], []
        real_ledger = module._ledger

        def ledger(w, *args):
            made.append(weakref.ref(result := real_ledger(w, *args)))
            return result

        class Gc:
            isenabled, disable = staticmethod(gc.isenabled), staticmethod(gc.disable)

            @staticmethod
            def enable() -> None:
                alive_at_enable.append(made[-1]() is not None)
                gc.enable()

        monkeypatch.setattr(module, "_ledger", ledger)
        monkeypatch.setattr(collector, "gc", Gc)
        was = gc.isenabled()
        gc.enable()
        try:
            fc = api.cash_forecast(ws, date(2025, 9, 30))
        finally:
            (gc.enable if was else gc.disable)()
        assert fc.lines and alive_at_enable == [False]
    finally:
        ws.close()


@pytest.mark.parametrize("cls", [Item, Receipt, ClaimFacts, Line])
def test_the_facts_are_immutable_named_tuples_made_whole_by_the_loader(cls, tmp_path: Path
                                                                      ) -> None:
    """Item, Receipt, ClaimFacts (and the forecast's Line) are named tuples; the loader makes
    the facts with ``tuple.__new__`` (no call per row): every one made has all the fields,
    equals the one the class's own constructor makes from the same values, and cannot be
    changed."""
    ws = init_workspace(tmp_path / "ws")
    try:
        api.load_synthetic_history(ws, invoices=300, customers=20)
        api.cash_forecast(ws, date(2026, 6, 30))  # makes every due date
        ledger = load_ledger(ws.store.engine, config_of(ws))
        lines = api.cash_forecast(ws, date(2026, 6, 30)).lines
    finally:
        ws.close()
    made = {Item: ledger.items, Receipt: ledger.receipts, ClaimFacts: ledger.claims,
            Line: lines}[cls]
    assert made
    for fact in made:
        assert type(fact) is cls and len(fact) == len(cls._fields)
        assert cls(*fact) == fact and cls(**fact._asdict()) == fact
    with pytest.raises(AttributeError):
        setattr(made[0], cls._fields[0], 1)
    assert made[0]._replace(**{cls._fields[0]: -1})[0] == -1 and made[0][0] != -1
