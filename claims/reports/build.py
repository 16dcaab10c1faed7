"""The weekly and monthly collection reports as data: a headline and titled tables (with a
chart where one helps). :mod:`claims.reports.render` turns a :class:`Report` into HTML, XLSX or
JSON; every format shows the same tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import Engine, inspect

from claims.core.money import CURRENCIES, quantize
from claims.reports import charts, sql
from claims.reports.kpis import (
    KpiSettings, Runner, aging_edges, aging_labels, compute_kpis, dispute_rows, promise_rows,
    sqlalchemy_runner,
)
from claims.store.tables import money_from_sql

ColumnType = Literal["text", "money", "date", "int", "number", "percent"]


@dataclass
class Table:
    """One table of a report (one sheet in the workbook)."""

    key: str
    title: str
    columns: list[tuple[str, str, ColumnType]]     # (key, header, type)
    rows: list[dict[str, Any]]
    chart: str | None = None
    note: str | None = None


@dataclass
class Report:
    """A report ready to render."""

    kind: str
    title: str
    as_of: date
    currency: str
    headline: list[tuple[str, Any, ColumnType]]
    tables: list[Table] = field(default_factory=list)
    kpis: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "title": self.title, "as_of": self.as_of,
                "currency": self.currency,
                "headline": {label: value for label, value, _ in self.headline},
                "tables": {t.key: t.rows for t in self.tables},
                "notes": {t.key: t.note for t in self.tables if t.note}}


def _context(engine: Engine) -> tuple[Runner, str, set[str]]:
    return (sqlalchemy_runner(engine), engine.dialect.name,
            set(inspect(engine).get_table_names()))


def _m(value: Any, currency: str) -> Decimal:
    return quantize(money_from_sql(value), CURRENCIES.get(currency, 2))


def _headline(kpis: dict[str, Any]) -> list[tuple[str, Any, ColumnType]]:
    rate = kpis["auto_match_rate"]
    return [("Receivables", kpis["receivables"], "money"),
            ("Overdue", kpis["overdue"], "money"),
            ("% current", kpis["percent_current"], "percent"),
            ("DSO (countback)", kpis["dso"]["countback"], "number"),
            ("Best possible DSO", kpis["dso"]["best_possible"], "number"),
            ("CEI", kpis["cei"]["value"], "percent"),
            ("At risk (90+ days)", kpis["at_risk"]["amount"], "money"),
            ("Auto-match rate", rate["percent"] if rate else None, "percent")]


def weekly_report(engine: Engine, as_of: date, settings: KpiSettings | None = None, *,
                  currency: str | None = None, top: int = 20,
                  forecast: Table | None = None) -> Report:
    """Aging by customer and by collector, top overdue, promises due and broken, open disputes,
    unapplied cash, and the cash forecast when ``forecast`` (its table) is given."""
    settings = settings or KpiSettings()
    run, dialect, tables = _context(engine)
    kpis = compute_kpis(run, dialect, as_of, settings, currency=currency, tables=tables)
    currency = kpis["currency"]
    params: dict[str, Any] = {"as_of": as_of, "currency": currency, "never": sql.NEVER_DUE}
    for k, e in enumerate(aging_edges(as_of, settings)):
        params[f"ag{k}"] = e
    aging_customer, aging_collector = _aging_tables(run, params, kpis, settings)
    top_overdue = _top_overdue(run, params, top)
    unapplied = _unapplied_cash(run, params, tables)
    week_end = as_of + timedelta(days=7)
    promises = promise_rows(run, as_of, tables)
    due_or_broken = None if promises is None else [
        r for r in promises if r["status"] == "broken"
        or (r["status"] == "open" and as_of <= r["promised_date"] <= week_end)]
    disputes = dispute_rows(run, as_of, tables)
    missing = "not available: the collections tables are not in this database"
    report = Report("weekly", f"Weekly collection report — {as_of}", as_of, currency,
                    _headline(kpis), kpis=kpis)
    report.tables += [aging_customer, aging_collector, top_overdue,
                      _generic("promises", "Promises due this week and broken", due_or_broken,
                               missing),
                      _generic("open_disputes", "Open disputes", disputes, missing),
                      unapplied]
    report.tables += [forecast] if forecast else []
    return report


def _aging_tables(run: Runner, params: dict[str, Any], kpis: dict[str, Any],
                  settings: KpiSettings) -> tuple[Table, Table]:
    """Open amounts per aging bucket (bind parameters ``ag<k>``), by customer and by
    collector, largest total first; the customer table carries the aging chart."""
    currency = params["currency"]
    labels = aging_labels(settings)
    column = "op.due_basis" if settings.aging_basis == "due" else "op.issue_date"
    case = " ".join(f"WHEN {column} >= :ag{k} THEN '{label}'"
                    for k, label in enumerate(labels[:-1]))
    bucket = f"CASE {case} ELSE '{labels[-1]}' END"
    grouped = run(sql.open_at() + f"SELECT c.name, c.collector, {bucket}, SUM(op.open) "
                  "FROM op LEFT JOIN customers c ON c.id = op.customer_id WHERE op.open <> 0 "
                  f"GROUP BY c.name, c.collector, {bucket}", params)
    by_customer: dict[tuple[str, str], dict[str, Any]] = {}
    by_collector: dict[str, dict[str, Any]] = {}
    zero = quantize(Decimal(0), CURRENCIES.get(currency, 2))
    for name, collector, label, amount in grouped:
        name, collector = name or "(no customer)", collector or "(unassigned)"
        for key, target in (((name, collector), by_customer), (collector, by_collector)):
            row = target.setdefault(key, {  # type: ignore[arg-type]
                **({"customer": name} if target is by_customer else {}),
                "collector": collector, **{lb: zero for lb in labels}, "total": zero})
            row[label] += _m(amount, currency)
            row["total"] += _m(amount, currency)
    money_cols: list[tuple[str, str, ColumnType]] = [(lb, lb, "money") for lb in labels]
    aging_customer = Table(
        "aging_by_customer", "Aging by customer",
        [("customer", "Customer", "text"), ("collector", "Collector", "text"), *money_cols,
         ("total", "Total", "money")],
        sorted(by_customer.values(), key=lambda r: (-r["total"], r["customer"])),
        chart=charts.bar_chart(f"Aging ({settings.aging_basis} date basis, {currency})", labels,
                               {"open": [b["amount"] for b in kpis["aging"]["buckets"]]}))
    aging_collector = Table(
        "aging_by_collector", "Aging by collector",
        [("collector", "Collector", "text"), *money_cols, ("total", "Total", "money")],
        sorted(by_collector.values(), key=lambda r: (-r["total"], r["collector"])))
    return aging_customer, aging_collector


def _top_overdue(run: Runner, params: dict[str, Any], top: int) -> Table:
    """The ``top`` largest overdue open invoices on ``params["as_of"]``."""
    as_of, currency = params["as_of"], params["currency"]
    overdue_rows = run(sql.open_at() + "SELECT op.number, c.name, c.collector, op.due_basis, "
                       "op.open FROM op LEFT JOIN customers c ON c.id = op.customer_id "
                       "WHERE op.open > 0 AND op.due_basis < :as_of "
                       f"ORDER BY op.open DESC, op.due_basis, op.number LIMIT {int(top)}", params)
    top_overdue = Table(
        "top_overdue", f"Top {top} overdue invoices",
        [("invoice", "Invoice", "text"), ("customer", "Customer", "text"),
         ("collector", "Collector", "text"), ("due_date", "Due", "date"),
         ("days_overdue", "Days overdue", "int"), ("open", "Open", "money")],
        [{"invoice": n, "customer": c, "collector": col, "due_date": _as_date(d),
          "days_overdue": (as_of - _as_date(d)).days, "open": _m(o, currency)}
         for n, c, col, d, o in overdue_rows])
    return top_overdue


def _unapplied_cash(run: Runner, params: dict[str, Any], tables: set[str]) -> Table:
    """Payments not fully applied to invoices by ``params["as_of"]`` (at most 500)."""
    currency = params["currency"]
    unapplied_rows = run(
        "SELECT p.id, p.value_date, p.payer_name, c.name, p.amount, COALESCE(u.used, 0), "
        "m.status FROM payments p LEFT JOIN (SELECT payment_id, SUM(amount) AS used FROM "
        "payment_applications WHERE undone_at IS NULL AND kind = 'payment' GROUP BY payment_id)"
        " u ON u.payment_id = p.id LEFT JOIN customers c ON c.id = p.customer_id "
        + ("LEFT JOIN payment_matches m ON m.payment_id = p.id " if "payment_matches" in tables
           else "LEFT JOIN (SELECT NULL AS payment_id, NULL AS status) m ON 1 = 0 ")
        + "WHERE p.currency = :currency AND p.value_date <= :as_of AND "
        "(m.status IS NULL OR m.status <> 'reversed') AND "  # returned: no cash
        "p.amount > COALESCE(u.used, 0) ORDER BY p.value_date, p.id LIMIT 500", params)
    unapplied = Table(
        "unapplied_cash", "Unapplied cash (in review, rejected or on account)",
        [("payment_id", "Payment", "int"), ("value_date", "Value date", "date"),
         ("payer", "Payer", "text"), ("customer", "Customer", "text"),
         ("amount", "Amount", "money"), ("unapplied", "Unapplied", "money"),
         ("status", "Status", "text")],
        [{"payment_id": pid, "value_date": _as_date(vd), "payer": payer, "customer": cust,
          "amount": _m(amount, currency), "unapplied": _m(amount, currency) - _m(used, currency),
          "status": status or "on account"}
         for pid, vd, payer, cust, amount, used, status in unapplied_rows])
    return unapplied


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _generic(key: str, title: str, rows: list[dict[str, Any]] | None, missing: str) -> Table:
    if rows is None:
        return Table(key, title, [], [], note=missing)
    columns: list[tuple[str, str, ColumnType]] = []
    for name, value in (rows[0].items() if rows else []):
        kind: ColumnType = ("date" if isinstance(value, date) else
                            "number" if isinstance(value, (int, Decimal)) else "text")
        columns.append((name, name.replace("_", " ").capitalize(), kind))
    return Table(key, title, columns, rows)


def monthly_report(engine: Engine, as_of: date, settings: KpiSettings | None = None, *,
                   currency: str | None = None, forecast: Table | None = None) -> Report:
    """KPI trends, collected against target, write-offs, match rate, and the cash forecast
    when ``forecast`` (its table) is given."""
    settings = settings or KpiSettings()
    run, dialect, tables = _context(engine)
    kpis = compute_kpis(run, dialect, as_of, settings, currency=currency, tables=tables)
    currency = kpis["currency"]
    trends = list(reversed(kpis["trends"]))  # oldest first for reading and charts
    months = [t["month"] for t in trends]
    trend_table = Table(
        "kpi_trends", "KPI trends, month over month",
        [("month", "Month", "text"), ("receivables", "Receivables", "money"),
         ("overdue", "Overdue", "money"), ("sales", "Sales", "money"),
         ("dso_standard", f"DSO ({settings.dso_days} d)", "number"),
         ("dso_countback", "DSO countback", "number"),
         ("best_possible_dso", "Best possible DSO", "number"),
         ("average_days_delinquent", "Avg days delinquent", "number"),
         ("cei", "CEI %", "percent"), ("percent_current", "% current", "percent")],
        trends,
        chart=charts.line_chart("DSO and CEI", months, {
            "DSO countback": [t["dso_countback"] for t in trends],
            "Best possible DSO": [t["best_possible_dso"] for t in trends],
            "CEI %": [t["cei"] for t in trends]}))
    target = settings.monthly_target
    collected_rows = [{"month": t["month"], "collected": t["collected"], "target": target,
                       "percent_of_target": (quantize(t["collected"] * 100 / target, 2)
                                             if target else None)} for t in trends]
    collected = Table(
        "collected_vs_target", "Collected against target",
        [("month", "Month", "text"), ("collected", "Collected", "money"),
         ("target", "Target", "money"), ("percent_of_target", "% of target", "percent")],
        collected_rows,
        chart=charts.bar_chart(f"Collected against target ({currency})", months,
                               {"collected": [t["collected"] for t in trends],
                                **({"target": [target] * len(trends)} if target else {})}),
        note=None if target else "no monthly_target set in [reports] of claims.toml")
    start = kpis["trends"][0]["start"]
    writeoff_rows = run(
        "SELECT i.number, c.name, a.kind, a.amount, p.value_date, a.reason FROM "
        "payment_applications a JOIN payments p ON p.id = a.payment_id JOIN invoices i ON "
        "i.id = a.invoice_id LEFT JOIN customers c ON c.id = i.customer_id WHERE "
        "a.undone_at IS NULL AND a.kind IN ('writeoff', 'discount') AND p.value_date >= :s AND "
        "p.value_date <= :e AND i.currency = :currency ORDER BY p.value_date, i.number LIMIT 1000",
        {"s": start, "e": as_of, "currency": currency})
    writeoffs = Table(
        "write_offs", "Write-offs and discounts this month",
        [("invoice", "Invoice", "text"), ("customer", "Customer", "text"),
         ("kind", "Kind", "text"), ("amount", "Amount", "money"), ("date", "Date", "date"),
         ("reason", "Reason", "text")],
        [{"invoice": n, "customer": c, "kind": k, "amount": _m(a, currency),
          "date": _as_date(d), "reason": r} for n, c, k, a, d, r in writeoff_rows])
    per_month = [{"month": t["month"], "write_offs": t["write_offs"],
                  "auto": (t["auto_match_rate"] or {}).get("auto"),
                  "payments": (t["auto_match_rate"] or {}).get("total"),
                  "auto_match_rate": (t["auto_match_rate"] or {}).get("percent")}
                 for t in trends]
    match = Table(
        "match_rate", "Write-offs and auto-match rate by month",
        [("month", "Month", "text"), ("write_offs", "Write-offs", "money"),
         ("auto", "Applied automatically", "int"), ("payments", "Payments", "int"),
         ("auto_match_rate", "Auto-match rate %", "percent")], per_month,
        chart=charts.bar_chart("Auto-match rate %", months,
                               {"auto-match %": [r["auto_match_rate"] for r in per_month]}))
    report = Report("monthly", f"Monthly collection report — {as_of:%B %Y}", as_of, currency,
                    _headline(kpis), kpis=kpis)
    report.tables += [trend_table, collected, writeoffs, match]
    report.tables += [forecast] if forecast else []
    return report
