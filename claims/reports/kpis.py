"""Collection KPIs as of a date. The formulas are written out in ``docs/kpis.md``.

All aggregation happens in SQL (:mod:`claims.reports.sql`, a handful of scans whatever the
number of invoices); Python only combines the sums, in ``Decimal``. A KPI whose denominator is
zero is ``None`` (no sales, no receivables), never a made-up number.

Promises kept and disputes by age read the collections tables (``collection_promises``,
``collection_disputes``) and are ``None`` only in a database without them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, inspect, text

from claims.core import disputes
from claims.core.money import CURRENCIES, quantize
from claims.reports import sql
from claims.reports.settings import KpiSettings
from claims.store.tables import money_from_sql

#: ``run(sql_text, params)`` → rows; lets the same statements run on SQLAlchemy or DuckDB.
Runner = Callable[[str, dict[str, Any]], Sequence[Sequence[Any]]]

CEI_VARIANT = ("CRF standard: (beginning AR + credit sales − ending total AR) / (beginning AR + "
               "credit sales − ending current AR) × 100, over the calendar month to the as-of "
               "date")


def _r(value: Decimal | None, places: int = 2) -> Decimal | None:
    """A ratio rounded by the house policy (half-up), ``None`` kept."""
    return None if value is None else quantize(value, places)


def _div(a: Decimal, b: Decimal) -> Decimal | None:
    return None if b == 0 else a / b


def countback_dso(receivables: Decimal, months: Sequence[tuple[Decimal, int]]) -> Decimal | None:
    """Countback DSO: walk back month by month (newest first, ``(sales, days)``), taking whole
    months while receivables cover their sales, then the fraction of the month that is left."""
    if receivables <= 0:
        return Decimal(0)
    left, days = receivables, Decimal(0)
    for sales, month_days in months:
        if sales <= 0:
            days += month_days
            continue
        if left >= sales:
            left -= sales
            days += month_days
            if left == 0:
                return days
        else:
            return days + left / sales * month_days
    return days  # receivables exceed every month walked: the DSO is at least this


def aging_labels(settings: KpiSettings) -> list[str]:
    """Bucket names: ``current, 1-30, 31-60, 61-90, 90+`` (due basis) or ``0-30, …`` (invoice)."""
    edges = settings.aging_buckets
    if settings.aging_basis == "due":
        labels = ["current", f"1-{edges[0]}"]
    else:
        labels = [f"0-{edges[0]}"]
    labels += [f"{a + 1}-{b}" for a, b in zip(edges, edges[1:], strict=False)]
    return labels + [f"{edges[-1]}+"]


def aging_edges(as_of: date, settings: KpiSettings) -> list[date]:
    """The earliest basis date of each bucket but the last (days back from ``as_of``)."""
    days = ([0] if settings.aging_basis == "due" else []) + settings.aging_buckets
    return [as_of - timedelta(days=d) for d in days]


def sqlalchemy_runner(engine: Engine) -> Runner:
    """A :data:`Runner` on a SQLAlchemy engine (SQLite gets ISO date strings, as it stores).

    On PostgreSQL each statement runs with JIT compilation off (``SET LOCAL``: the setting
    ends with the statement's own transaction; the pooled connection keeps the server's).
    From about a million invoices the KPI scans cost enough for the planner to JIT-compile
    them, in the leader and again in each parallel worker, and compiling their wide CASE
    expressions cost more than the compiled code saved."""
    sqlite = engine.dialect.name == "sqlite"
    postgresql = engine.dialect.name == "postgresql"

    def run(statement: str, params: dict[str, Any]) -> Sequence[Sequence[Any]]:
        if sqlite:
            params = {k: v.isoformat() if isinstance(v, date) else v for k, v in params.items()}
        with engine.connect() as conn:
            if postgresql:
                conn.execute(text("SET LOCAL jit = off"))
            return [tuple(r) for r in conn.execute(text(statement), params)]
    return run


def _main_currency(run: Runner) -> str | None:
    rows = run("SELECT currency, COUNT(*) FROM invoices GROUP BY currency "
               "ORDER BY COUNT(*) DESC, currency LIMIT 1", {})
    return rows[0][0] if rows else None


def compute_kpis(run: Runner, dialect: str, as_of: date, settings: KpiSettings | None = None, *,
                 currency: str | None = None, tables: set[str] | None = None,
                 ) -> dict[str, Any]:
    """Every KPI as of ``as_of`` (see docs/kpis.md), with month-over-month trends.

    ``tables``: the table names present (for the optional collections KPIs and match rate).
    """
    settings = settings or KpiSettings()
    tables = tables or set()
    currency = currency or settings.currency or _main_currency(run) or "EUR"
    p = _Periods.of(as_of, settings)
    params = p.params(currency, as_of)
    m = settings.trend_months

    # Two grouped scans; everything else is arithmetic on their (few thousand) rows.
    inv_rows = [(_day(issue), _day(due), money_from_sql(total))
                for issue, due, total in run(sql.INVOICES_BY_DATES, params)]
    e_names = [f"e{k}" for k in range(m + 1)]
    app_rows = run(sql.applications_by_invoice_dates(dialect, e_names, ("ps", "pe")), params)
    a = _Applied.sum(app_rows, p.month_ends, m)

    def issued_sum(pred: Callable[[date, date], bool]) -> Decimal:
        return sum((t for issue, due, t in inv_rows if pred(issue, due)), Decimal(0))

    issued = [issued_sum(lambda i, d, e=e: i <= e) for e in p.month_ends]
    issued_current = [issued_sum(lambda i, d, e=e: i <= e and d >= e) for e in p.month_ends]
    sales = [issued_sum(lambda i, d, s=s_, e=e_: s <= i <= e) for s_, e_ in p.months]
    window_sales = [issued_sum(lambda i, d, s=s_, e=e_: s <= i <= e) for s_, e_ in p.windows]
    ar = [issued[k] - a.applied[k] for k in range(m + 1)]
    current = [issued_current[k] - a.applied_current[k] for k in range(m + 1)]
    trends = _trends(p, settings, ar, current, sales, window_sales, a,
                     _match_rates(run, p.months[:m], params, tables))
    now = trends[0]
    buckets, at_risk = _aging(inv_rows, a.rows, as_of, settings)
    months = p.months
    return _money_places({
        "as_of": as_of, "currency": currency,
        "receivables": ar[0], "current": current[0], "overdue": ar[0] - current[0],
        "dso": {"standard": now["dso_standard"], "countback": now["dso_countback"],
                "best_possible": now["best_possible_dso"], "days": settings.dso_days},
        "average_days_delinquent": now["average_days_delinquent"],
        "cei": {"value": now["cei"], "variant": CEI_VARIANT, "start": months[0][0],
                "end": months[0][1], "beginning_receivables": ar[1], "sales": sales[0],
                "ending_receivables": ar[0], "ending_current": current[0]},
        "average_days_to_pay": _r(_div(a.weighted_days, a.paid_in_window)),
        "percent_current": now["percent_current"],
        "at_risk": {"days": settings.at_risk_days, "amount": at_risk,
                    "percent": _r(_div(at_risk * 100, ar[0]))},
        "aging": {"basis": settings.aging_basis, "buckets": buckets},
        "collected_month_to_date": a.collected[0],
        "write_offs_month_to_date": a.written_off[0],
        "auto_match_rate": now["auto_match_rate"],
        "promises_kept": promises_kept(run, months[0], tables),
        "disputes_by_age": disputes_by_age(run, as_of, tables),
        "trends": trends,
    }, currency)


@dataclass(frozen=True)
class _Periods:
    """The calendar the KPIs are computed over: the months (newest first, trend months plus
    countback months), the month ends (one more than the trend months) and the DSO windows
    ending on each trend month's end."""

    months: list[tuple[date, date]]
    month_ends: list[date]
    windows: list[tuple[date, date]]

    @classmethod
    def of(cls, as_of: date, settings: KpiSettings) -> _Periods:
        """The periods for ``as_of`` under ``settings``."""
        m = settings.trend_months
        months = sql.month_bounds(as_of, m + settings.countback_months)
        month_ends = [months[k][1] for k in range(m + 1)]
        windows = [(e - timedelta(days=settings.dso_days - 1), e) for e in month_ends[:m]]
        return cls(months, month_ends, windows)

    def params(self, currency: str, as_of: date) -> dict[str, Any]:
        """The bind parameters of the KPI queries: ``e<k>`` month ends, ``ms<k>``/``me<k>``
        trend months, ``ps``/``pe`` the latest DSO window."""
        params: dict[str, Any] = {"currency": currency, "as_of": as_of,
                                  "never": sql.NEVER_DUE}
        for k, e in enumerate(self.month_ends):
            params[f"e{k}"] = e
        for k, (start, end) in enumerate(self.months[:len(self.windows)]):
            params[f"ms{k}"], params[f"me{k}"] = start, end
        params["ps"], params["pe"] = self.windows[0]
        return params


@dataclass
class _Applied:
    """Payments, write-offs and discounts applied to invoices, summed per month end / month."""

    applied: list[Decimal]
    applied_current: list[Decimal]
    collected: list[Decimal]
    written_off: list[Decimal]
    weighted_days: Decimal = Decimal(0)
    paid_in_window: Decimal = Decimal(0)
    #: (issue, due basis, applied up to as-of) per application row, for aging
    rows: list[tuple[date, date, Decimal]] = field(default_factory=list)

    @classmethod
    def sum(cls, app_rows: Iterable[Sequence[Any]], month_ends: list[date], m: int) -> _Applied:
        """Add up the rows of ``sql.applications_by_invoice_dates`` over ``m`` trend months:
        a row of bucket ``b`` counts up to month end ``k`` when ``b >= k`` and in month ``k``
        when ``b == k``; bucket −1 (after the as-of date) counts nowhere."""
        out = cls([Decimal(0)] * (m + 1), [Decimal(0)] * (m + 1), [Decimal(0)] * m,
                  [Decimal(0)] * m)
        for row in app_rows:
            issue, due, kind, bucket = _day(row[0]), _day(row[1]), row[2], int(row[3])
            amount = money_from_sql(row[4])
            if kind == "payment":
                out.weighted_days += Decimal(str(row[5] or 0)).scaleb(-4)
                out.paid_in_window += money_from_sql(row[6])
            if bucket < 0:
                continue
            out.rows.append((issue, due, amount))
            for k in range(min(bucket, m) + 1):
                out.applied[k] += amount
                if issue <= month_ends[k] <= due:
                    out.applied_current[k] += amount
            if bucket < m:
                if kind == "payment":
                    out.collected[bucket] += amount
                elif kind in ("writeoff", "discount"):
                    out.written_off[bucket] += amount
        return out


def _trends(p: _Periods, settings: KpiSettings, ar: list[Decimal], current: list[Decimal],
            sales: list[Decimal], window_sales: list[Decimal], a: _Applied,
            match_rates: list[dict[str, Any] | None]) -> list[dict[str, Any]]:
    """One entry per trend month (newest first): receivables, DSO variants, CEI, percent
    current, collections, and the ``change`` of the headline figures from the month before."""
    m = settings.trend_months
    month_days = [(end - start).days + 1 for start, end in p.months]
    n = Decimal(settings.dso_days)
    trends = []
    for k in range(m):
        std = _div(ar[k] * n, window_sales[k])
        best = _div(current[k] * n, window_sales[k])
        countback = countback_dso(ar[k], [(sales[j], month_days[j])
                                          for j in range(k, k + settings.countback_months)])
        cei_num = ar[k + 1] + sales[k] - ar[k]
        cei_den = ar[k + 1] + sales[k] - current[k]
        pct = _div(current[k] * 100, ar[k])
        trends.append({
            "month": p.months[k][0].strftime("%Y-%m"), "start": p.months[k][0],
            "end": p.months[k][1],
            "receivables": ar[k], "current": current[k], "overdue": ar[k] - current[k],
            "sales": sales[k], "collected": a.collected[k], "write_offs": a.written_off[k],
            "dso_standard": _r(std), "dso_countback": _r(countback),
            "best_possible_dso": _r(best),
            "average_days_delinquent": _r(std - best) if std is not None and best is not None
            else None,
            "cei": _r(_div(cei_num * 100, cei_den)), "percent_current": _r(pct),
            "auto_match_rate": match_rates[k],
            "target": settings.monthly_target,
        })
    for k in range(m):
        previous = trends[k + 1] if k + 1 < m else None
        trends[k]["change"] = {
            key: (trends[k][key] - previous[key]
                  if previous and trends[k][key] is not None and previous[key] is not None
                  else None)
            for key in ("receivables", "dso_countback", "cei", "collected", "percent_current")}
    return trends


MONEY_KEYS = frozenset({
    "receivables", "current", "overdue", "sales", "collected", "write_offs", "amount", "target",
    "beginning_receivables", "ending_receivables", "ending_current", "collected_month_to_date",
    "write_offs_month_to_date"})


def _money_places(value: Any, currency: str, key: str = "") -> Any:
    """Money fields rounded to the currency's minor units (they come from SQL at 4 places)."""
    if isinstance(value, dict):
        return {k: _money_places(v, currency, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_money_places(v, currency, key) for v in value]
    if isinstance(value, Decimal) and key in MONEY_KEYS:
        return quantize(value, CURRENCIES.get(currency, 2))
    return value


def _day(value: Any) -> date:
    """A DATE from any driver (SQLite gives ISO text)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _aging(invoices: Sequence[tuple[date, date, Decimal]],
           applied: Sequence[tuple[date, date, Decimal]], as_of: date, settings: KpiSettings,
           ) -> tuple[list[dict[str, Any]], Decimal]:
    """Open balance at ``as_of`` per bucket: invoice totals less applications dated ≤ as-of,
    both grouped by the invoice's dates (the bucket depends on nothing else)."""
    labels = aging_labels(settings)
    edges = aging_edges(as_of, settings)
    risk_edge = as_of - timedelta(days=settings.at_risk_days)
    totals = {label: Decimal(0) for label in labels}
    at_risk = Decimal(0)

    def add(issue: date, due: date, amount: Decimal) -> None:
        nonlocal at_risk
        if issue > as_of:
            return
        basis = due if settings.aging_basis == "due" else issue
        label = next((lb for lb, edge in zip(labels, edges, strict=False) if basis >= edge),
                     labels[-1])
        totals[label] += amount
        if due < risk_edge:
            at_risk += amount

    for issue, due, total in invoices:
        add(issue, due, total)
    for issue, due, amount in applied:
        add(issue, due, -amount)
    return [{"bucket": b, "amount": a} for b, a in totals.items()], at_risk


def _match_rates(run: Runner, months: Sequence[tuple[date, date]], params: dict[str, Any],
                 tables: set[str]) -> list[dict[str, Any] | None]:
    """The auto-match rate of each month (docs/kpis.md and docs/payments.md, one definition):
    payments with a value date in the month applied automatically (``payment_matches.auto``)
    ÷ every payment of the month with a match row — auto-applied, in review, or unmatched."""
    if "payment_matches" not in tables:
        return [None] * len(months)
    cols = []
    for k in range(len(months)):
        within = f"p.value_date >= :ms{k} AND p.value_date <= :me{k}"
        cols.append(f"SUM(CASE WHEN {within} AND pm.auto THEN 1 ELSE 0 END)")
        cols.append(f"SUM(CASE WHEN {within} THEN 1 ELSE 0 END)")
    row = run(f"SELECT {', '.join(cols)} FROM payment_matches pm JOIN payments p "
              "ON p.id = pm.payment_id WHERE p.currency = :currency", params)[0]
    rates: list[dict[str, Any] | None] = []
    for k in range(len(months)):
        auto, total = int(row[2 * k] or 0), int(row[2 * k + 1] or 0)
        rates.append({"auto": auto, "total": total,
                      "percent": _r(_div(Decimal(auto * 100), Decimal(total)))})
    return rates


_PROMISES = """
SELECT pr.id, c.name, pr.amount, pr.currency, pr.promised_date,
       (SELECT SUM(a.amount) FROM payment_applications a
        JOIN payments p ON p.id = a.payment_id JOIN invoices i ON i.id = a.invoice_id
        WHERE i.customer_id = pr.customer_id AND i.currency = pr.currency
          AND a.undone_at IS NULL AND a.kind = 'payment'
          AND a.applied_at >= pr.made_at AND p.value_date <= :as_of) AS paid
FROM collection_promises pr JOIN customers c ON c.id = pr.customer_id
WHERE pr.cancelled_at IS NULL ORDER BY pr.promised_date, pr.id"""


def promise_rows(run: Runner, as_of: date, tables: set[str]) -> list[dict[str, Any]] | None:
    """Every live promise to pay (``collection_promises``) with its state on ``as_of``: kept
    once the customer paid the amount since it was made, broken when its date passed without
    that, else open (the rule of ``claims followup promises``). ``None`` without the table."""
    if "collection_promises" not in tables:
        return None
    out = []
    for pid, name, amount, currency, promised, paid in run(_PROMISES, {"as_of": as_of}):
        promised_day, total, paid_since = _day(promised), money_from_sql(amount), \
            money_from_sql(paid)
        status = ("kept" if paid_since >= total else "broken" if promised_day < as_of
                  else "open")
        places = CURRENCIES.get(currency, 2)
        out.append({"promise": int(pid), "customer": name, "currency": currency,
                    "amount": quantize(total, places), "promised_date": promised_day,
                    "paid_since": quantize(paid_since, places), "status": status})
    return out


def promises_kept(run: Runner, month: tuple[date, date], tables: set[str],
                  ) -> dict[str, Any] | None:
    """Promises to pay falling due in the month (to its as-of end): kept / (kept + broken),
    from ``collection_promises``. ``None`` without the collections tables."""
    rows = promise_rows(run, month[1], tables)
    if rows is None:
        return None
    counts = {"kept": 0, "broken": 0, "open": 0}
    for row in rows:
        if month[0] <= row["promised_date"] <= month[1]:
            counts[row["status"]] += 1
    kept, broken = counts["kept"], counts["broken"]
    return {"kept": kept, "broken": broken, "open": counts["open"],
            "percent": _r(_div(Decimal(kept * 100), Decimal(kept + broken)))}


def dispute_rows(run: Runner, as_of: date, tables: set[str]) -> list[dict[str, Any]] | None:
    """The disputes (``collection_disputes``) open on ``as_of``: opened by then and not
    resolved by then, each with its age in days. ``None`` without the table."""
    if "collection_disputes" not in tables:
        return None
    rows = run("SELECT d.id, i.number, d.reason, d.team, d.opened_at, d.resolved_at "
               "FROM collection_disputes d JOIN invoices i ON i.id = d.invoice_id "
               "ORDER BY d.opened_at, d.id", {})
    out = []
    for did, number, reason, team, opened, resolved in rows:
        if not disputes.open_on(opened, resolved, as_of):
            continue
        opened_day = _day(opened)
        out.append({"dispute": int(did), "invoice": number, "reason": reason, "team": team,
                    "opened": opened_day, "age_days": (as_of - opened_day).days})
    return out


def disputes_by_age(run: Runner, as_of: date, tables: set[str]) -> list[dict[str, Any]] | None:
    """Disputes open on ``as_of`` by age since opened (0-30, 31-60, 61-90, 90+), from
    ``collection_disputes``. ``None`` without the collections tables."""
    rows = dispute_rows(run, as_of, tables)
    if rows is None:
        return None
    buckets = {"0-30": 0, "31-60": 0, "61-90": 0, "90+": 0}
    for row in rows:
        age = row["age_days"]
        key = ("0-30" if age <= 30 else "31-60" if age <= 60 else "61-90" if age <= 90
               else "90+")
        buckets[key] += 1
    return [{"age": k, "open": v} for k, v in buckets.items()]


def kpis(engine: Engine, as_of: date, settings: KpiSettings | None = None, *,
         currency: str | None = None) -> dict[str, Any]:
    """:func:`compute_kpis` on a Claimwright database."""
    tables = set(inspect(engine).get_table_names())
    return compute_kpis(sqlalchemy_runner(engine), engine.dialect.name, as_of, settings,
                        currency=currency, tables=tables)
