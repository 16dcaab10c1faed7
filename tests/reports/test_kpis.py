"""Every KPI against a small ledger worked by hand (docs/kpis.md has the formulas).

Countback ledger, as of 31 March 2026 (dso_days 90 = 1 Jan – 31 Mar):
  J1 700,000 issued 10 Jan, due 9 Feb; paid 100,000 on 20 Feb and 200,000 on 5 Mar
  F1 800,000 issued 10 Feb, due 12 Mar
  M1 900,000 issued 10 Mar, due 9 Apr
  receivables 2,100,000; current (due ≥ 31 Mar) 900,000; sales in the 90 days 2,400,000
  countback: 2.1M − 900k (Mar, 31 d) − 800k (Feb, 28 d) = 400k; 400/700 × 31 = 17.714
             → 31 + 28 + 17.714 = 76.71 days
  standard DSO 2.1M / 2.4M × 90 = 78.75; best possible 900k / 2.4M × 90 = 33.75
  average days delinquent 78.75 − 33.75 = 45.00; % current 900/2100 = 42.86
  CEI (March): beginning AR (28 Feb) 1,400,000 + sales 900,000 − ending 2,100,000 = 200,000
               over 1,400,000 + 900,000 − current 900,000 = 1,400,000 → 14.29 %
  average days to pay: (100,000 × 41 + 200,000 × 54) / 300,000 = 49.67
  auto-match rate: March 1 of 1 = 100 %, February 0 of 1 = 0 %
"""

from __future__ import annotations

from decimal import Decimal

from claims.reports.build import weekly_report

import pytest
from sqlalchemy import text

from claims.errors import InputError
from claims.reports.kpis import KpiSettings, countback_dso, kpis, sqlalchemy_runner
from claims.settings import load_settings
from claims.store import Store
from tests.reports.conftest import AS_OF, pay
from tests.payments.conftest import invoice
from claims.collections.due import ensure_due_dates
from claims.collections.settings import CollectionsConfig
from datetime import date

D = Decimal


def test_countback_dso_of_the_issue_example() -> None:
    months = [(D(900_000), 31), (D(800_000), 28), (D(700_000), 31)]
    assert round(countback_dso(D(2_100_000), months), 2) == D("76.71")
    assert countback_dso(D(900_000), months) == 31
    assert countback_dso(D(0), months) == 0
    assert round(countback_dso(D(450_000), months), 2) == D("15.50")
    # a month without sales counts whole: the receivables are older
    assert countback_dso(D(100), [(D(0), 30), (D(200), 31)]) == D("45.5")


def test_kpis_of_the_countback_ledger(countback_ledger: Store) -> None:
    k = kpis(countback_ledger.engine, AS_OF)
    assert k["currency"] == "EUR"
    assert k["receivables"] == D("2100000.00") and k["current"] == D("900000.00")
    assert k["dso"] == {"standard": D("78.75"), "countback": D("76.71"),
                        "best_possible": D("33.75"), "days": 90}
    assert k["average_days_delinquent"] == D("45.00")
    assert k["percent_current"] == D("42.86")
    assert k["cei"]["value"] == D("14.29")
    assert k["cei"]["beginning_receivables"] == D("1400000.00")
    assert k["average_days_to_pay"] == D("49.67")
    assert k["collected_month_to_date"] == D("200000.00")
    assert k["auto_match_rate"] == {"auto": 1, "total": 1, "percent": D("100.00")}
    # the collections tables are there (empty): counted, not "not available"
    assert k["promises_kept"] == {"kept": 0, "broken": 0, "open": 0, "percent": None}
    assert [b["open"] for b in k["disputes_by_age"]] == [0, 0, 0, 0]


def test_trends_month_over_month(countback_ledger: Store) -> None:
    trends = kpis(countback_ledger.engine, AS_OF)["trends"]
    assert [t["month"] for t in trends[:3]] == ["2026-03", "2026-02", "2026-01"]
    march, feb, jan = trends[:3]
    assert feb["receivables"] == D("1400000.00") and jan["receivables"] == D("700000.00")
    assert (march["sales"], feb["sales"], jan["sales"]) == (
        D("900000.00"), D("800000.00"), D("700000.00"))
    assert feb["collected"] == D("100000.00")
    assert feb["auto_match_rate"]["percent"] == D("0.00")
    assert march["change"]["receivables"] == D("700000.00")
    # February: 1.4M against Feb 800k (28 d) then 600/700 of January (31 d) = 54.57
    assert feb["dso_countback"] == D("54.57")
    # February CEI: beginning 700k + sales 800k − ending 1.4M = 100k; over 1.5M − current
    # (28 Feb: F1 800k due 12 Mar) 800k = 700k → 14.29
    assert feb["cei"] == D("14.29")


def test_aging_at_risk_and_basis(aged_ledger: Store) -> None:
    k = kpis(aged_ledger.engine, AS_OF)
    buckets = {b["bucket"]: b["amount"] for b in k["aging"]["buckets"]}
    assert buckets == {"current": D("900000.00"), "1-30": D("800000.00"),
                       "31-60": D("400000.00"), "61-90": D("0.00"), "90+": D("50000.00")}
    assert k["at_risk"] == {"days": 90, "amount": D("50000.00"), "percent": D("2.33")}
    by_invoice_date = kpis(aged_ledger.engine, AS_OF, KpiSettings(aging_basis="invoice"))
    buckets = {b["bucket"]: b["amount"] for b in by_invoice_date["aging"]["buckets"]}
    assert buckets == {"0-30": D("900000.00"), "31-60": D("800000.00"),
                       "61-90": D("400000.00"), "90+": D("50000.00")}
    custom = kpis(aged_ledger.engine, AS_OF, KpiSettings(aging_buckets=[45, 180]))
    assert [b["bucket"] for b in custom["aging"]["buckets"]] == [
        "current", "1-45", "46-180", "180+"]
    assert custom["aging"]["buckets"][2]["amount"] == D("450000.00")  # J1 400k + O1 50k


def test_promises_kept_and_disputes_by_age_read_the_collections_tables(
        aged_ledger: Store) -> None:
    """Issue #14 item 4: the KPIs read ``collection_promises`` and ``collection_disputes``.
    Kept = paid the promised amount since the promise was made; broken = its date passed."""
    from datetime import UTC, date, datetime

    from claims.store.tables import CustomerRow, InvoiceRow
    from claims.store.tables.collections import DisputeRow, PromiseRow

    def at(day: str) -> datetime:
        return datetime.fromisoformat(day).replace(tzinfo=UTC)

    with aged_ledger.session() as s:
        cust = {c.name: c.id for c in s.query(CustomerRow)}
        inv = {i.number: i.id for i in s.query(InvoiceRow)}
        mow, health, roads = cust["Ministry of Works"], cust["Health Agency"], \
            cust["Roads Authority"]

        def promise(customer: int, amount: str, day: str, made: str,
                    cancelled: str | None = None) -> PromiseRow:
            return PromiseRow(customer_id=customer, amount=D(amount), currency="EUR",
                              promised_date=date.fromisoformat(day), promised_by="AP",
                              channel="call", made_at=at(made),
                              cancelled_at=at(cancelled) if cancelled else None)
        s.add_all([
            promise(mow, "100000.00", "2026-03-05", "2026-02-01"),   # 300,000 paid since: kept
            promise(health, "10.00", "2026-03-20", "2026-03-01"),    # nothing paid: broken
            promise(roads, "10.00", "2026-04-02", "2026-03-25"),     # next month: not counted
            promise(mow, "5.00", "2026-03-15", "2026-03-01", "2026-03-02"),  # cancelled
        ])

        def dispute(number: str, customer: int, opened: str,
                    resolved: str | None = None) -> DisputeRow:
            return DisputeRow(customer_id=customer, invoice_id=inv[number], reason="price",
                              team="sales", status="resolved" if resolved else "open",
                              opened_at=at(opened), resolved_at=at(resolved) if resolved else None)
        s.add_all([dispute("F1", health, "2026-03-20"),               # 11 days: 0-30
                   dispute("O1", roads, "2025-12-01"),                # 120 days: 90+
                   dispute("J1", mow, "2026-01-01", "2026-02-01"),    # resolved by then
                   dispute("M1", mow, "2026-04-05")])                 # not yet opened
    k = kpis(aged_ledger.engine, AS_OF)
    assert k["promises_kept"] == {"kept": 1, "broken": 1, "open": 0, "percent": D("50.00")}
    assert k["disputes_by_age"] == [{"age": "0-30", "open": 1}, {"age": "31-60", "open": 0},
                                    {"age": "61-90", "open": 0}, {"age": "90+", "open": 1}]
    weekly = {t.key: t for t in weekly_report(aged_ledger.engine, AS_OF).tables}
    assert [r["status"] for r in weekly["promises"].rows] == ["broken", "open"]
    assert [r["invoice"] for r in weekly["open_disputes"].rows] == ["O1", "F1"]


def test_empty_database_gives_nulls_not_numbers(store: Store) -> None:
    k = kpis(store.engine, AS_OF)
    assert k["receivables"] == D("0.00")
    assert k["dso"]["standard"] is None and k["cei"]["value"] is None
    assert k["percent_current"] is None and k["average_days_to_pay"] is None


def test_settings_are_validated(tmp_path) -> None:
    config = tmp_path / "claims.toml"
    config.write_text("", encoding="utf-8")
    assert load_settings(config).reports == KpiSettings()
    assert load_settings(config).reports.aging_buckets == [30, 60, 90]
    config.write_text('[reports]\naging_basis = "invoice"\n', encoding="utf-8")
    assert load_settings(config).reports.aging_basis == "invoice"
    config.write_text("[reports]\naging_buckets = [60, 30]\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_settings(config)
    assert err.value.field == "reports.aging_buckets" and err.value.rule == "settings"


@pytest.fixture
def instalment_ledger(store: Store) -> Store:
    """Two invoices of 300.00 issued 2 March 2026: S1 due 1 April (one due date, seq 0) and I1
    in instalments of 100.00 due 1 April and 200.00 due 1 May (seq 1, 2). 120.00 paid on S1
    and 150.00 on I1, both valued 20 March: I1's payment settles its first instalment (100.00)
    then 50.00 of the second. S1 and I1's first instalment share (issue, due) = (2 Mar, 1 Apr),
    so that group is made of a single-due part and an instalment part."""
    from claims.collections.due import set_terms
    from claims.core.due import Instalment, Terms

    store.put_invoices([
        invoice("S1", "300.00", "Ministry of Works", date(2026, 3, 2), date(2026, 4, 1)),
        invoice("I1", "300.00", "Health Agency", date(2026, 3, 2), date(2026, 4, 1))])
    ensure_due_dates(store.engine, CollectionsConfig())
    set_terms(store, CollectionsConfig(), "I1", Terms(kind="instalments", instalments=(
        Instalment(days=30, amount=Decimal("100.00")),
        Instalment(days=60, amount=Decimal("200.00")))))
    pay(store, "P-S1", "S1", "120.00", date(2026, 3, 20), auto=True)
    pay(store, "P-I1", "I1", "150.00", date(2026, 3, 20), auto=True)
    return store


def test_kpis_add_single_due_and_instalment_applications_of_the_same_dates(
        instalment_ledger: Store) -> None:
    """By hand, at 31 March: receivables 600 − 270 = 330.00, all current; collected 270.00,
    each paid 18 days after issue; CEI (0 + 600 − 330) / (0 + 600 − 330) = 100.00 %.
    At 15 April: the 1 April group is 400.00 issued less 120.00 (S1) and 100.00 (I1's first
    instalment) = 180.00, 14 days overdue; the 1 May instalment has 200.00 − 50.00 = 150.00
    open, current."""
    march = kpis(instalment_ledger.engine, date(2026, 3, 31))
    assert march["receivables"] == D("330.00") and march["current"] == D("330.00")
    assert march["collected_month_to_date"] == D("270.00")
    assert march["average_days_to_pay"] == D("18.00")
    assert march["cei"]["value"] == D("100.00")
    april = kpis(instalment_ledger.engine, date(2026, 4, 15))
    assert april["receivables"] == D("330.00")
    assert april["current"] == D("150.00") and april["overdue"] == D("180.00")
    assert {b["bucket"]: b["amount"] for b in april["aging"]["buckets"]} == {
        "current": D("150.00"), "1-30": D("180.00"), "31-60": D("0.00"), "61-90": D("0.00"),
        "90+": D("0.00")}


def test_postgresql_kpi_statements_run_without_jit_and_leave_the_connection_as_it_was(
        store: Store) -> None:
    """JIT compilation is off for each KPI statement on PostgreSQL, only inside the
    statement's own transaction: the next user of the pooled connection sees the server's
    setting again. SQLite has no such setting (the runner sends nothing more)."""
    run = sqlalchemy_runner(store.engine)
    if store.engine.dialect.name != "postgresql":
        assert run("SELECT 1", {}) == [(1,)]
        return
    with store.engine.connect() as conn:
        server = conn.execute(text("SHOW jit")).scalar()
    assert run("SHOW jit", {}) == [("off",)]
    with store.engine.connect() as conn:
        assert conn.execute(text("SHOW jit")).scalar() == server
    assert kpis(store.engine, AS_OF)["receivables"] == D("0.00")


def test_payments_settle_instalments_earliest_first_in_value_date_order(store: Store) -> None:
    """T1, 300.00 issued 5 Jan 2026 in three instalments of 100.00 due 4 Feb, 6 Mar, 5 Apr.
    80.00 valued 1 March is entered before 70.00 valued 1 February; by value date the 70.00
    goes to the first instalment, then the 80.00: 30.00 to the first, 50.00 to the second.
    By hand, at 15 Feb: 230.00 open, 30.00 of it 11 days overdue (1-30), 200.00 current.
    At 31 Mar: 150.00 open: 50.00 of the second instalment 25 days overdue (1-30), 100.00
    current; collected in March 80.00; days to pay (70 × 27 + 80 × 55) / 150 = 41.93."""
    from claims.collections.due import set_terms
    from claims.core.due import Instalment, Terms

    store.put_invoices([invoice("T1", "300.00", "Ministry of Works", date(2026, 1, 5))])
    ensure_due_dates(store.engine, CollectionsConfig())
    set_terms(store, CollectionsConfig(), "T1", Terms(kind="instalments", instalments=tuple(
        Instalment(days=d, amount=Decimal("100.00")) for d in (30, 60, 90))))
    pay(store, "P-MAR", "T1", "80.00", date(2026, 3, 1), auto=True)
    pay(store, "P-FEB", "T1", "70.00", date(2026, 2, 1), auto=True)
    feb = kpis(store.engine, date(2026, 2, 15))
    assert feb["receivables"] == D("230.00")
    assert feb["current"] == D("200.00") and feb["overdue"] == D("30.00")
    buckets = {b["bucket"]: b["amount"] for b in feb["aging"]["buckets"]}
    assert buckets["current"] == D("200.00") and buckets["1-30"] == D("30.00")
    mar = kpis(store.engine, date(2026, 3, 31))
    assert mar["receivables"] == D("150.00")
    assert mar["current"] == D("100.00") and mar["overdue"] == D("50.00")
    buckets = {b["bucket"]: b["amount"] for b in mar["aging"]["buckets"]}
    assert buckets["current"] == D("100.00") and buckets["1-30"] == D("50.00")
    assert mar["collected_month_to_date"] == D("80.00")
    assert mar["average_days_to_pay"] == D("41.93")
