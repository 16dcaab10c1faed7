"""The KPI aggregates as plain SQL text, so the very same statements run on SQLite, PostgreSQL
and (in the benchmark, as the reference) DuckDB. Money columns are integers of 1/10,000.

Dates are bound as parameters; only the day difference differs per dialect.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date


def day_diff(dialect: str, later: str, earlier: str) -> str:
    """SQL for the whole days from ``earlier`` to ``later`` (both DATE columns)."""
    if dialect == "sqlite":
        return f"(julianday({later}) - julianday({earlier}))"
    return f"({later} - {earlier})"  # PostgreSQL and DuckDB: date - date is an integer


#: Invoice totals grouped by (issue date, due basis): a few thousand rows for any number of
#: invoices, from which sales per month/window and receivables at any date follow.
INVOICES_BY_DATES = (
    "SELECT issue_date, COALESCE(due_date, issue_date), SUM(total) FROM invoices "
    "WHERE currency = :currency GROUP BY issue_date, COALESCE(due_date, issue_date)")


def applications_by_invoice_dates(dialect: str, month_ends: Sequence[str],
                                  months: Sequence[tuple[str, str]],
                                  pay_window: tuple[str, str]) -> str:
    """One scan of live applications (dated by their payment's value date), grouped by the
    invoice's (issue date, due basis) and the kind: applied up to each month end, applied in
    each month, and the amount-weighted days to pay within ``pay_window``."""
    cols = [f"SUM(CASE WHEN p.value_date <= :{e} THEN a.amount ELSE 0 END)"
            for e in month_ends]
    cols += [f"SUM(CASE WHEN p.value_date >= :{s} AND p.value_date <= :{e} THEN a.amount "
             "ELSE 0 END)" for s, e in months]
    start, end = pay_window
    in_window = f"p.value_date >= :{start} AND p.value_date <= :{end}"
    days = day_diff(dialect, "p.value_date", "i.issue_date")
    # a float weighted sum: it yields a number of days, never money  # ok: not money
    cols.append(f"SUM(CASE WHEN {in_window} THEN a.amount * 1.0 * {days} ELSE 0 END)")
    cols.append(f"SUM(CASE WHEN {in_window} THEN a.amount ELSE 0 END)")
    keys = "i.issue_date, COALESCE(i.due_date, i.issue_date), a.kind"
    return (f"SELECT {keys}, " + ", ".join(cols) + " FROM payment_applications a "
            "JOIN payments p ON p.id = a.payment_id JOIN invoices i ON i.id = a.invoice_id "
            f"WHERE a.undone_at IS NULL AND i.currency = :currency GROUP BY {keys}")


def open_at(extra_columns: str = "") -> str:
    """A CTE ``op``: every invoice's open balance as of ``:as_of`` and its aging basis date."""
    return (
        "WITH applied AS (SELECT a.invoice_id, SUM(a.amount) AS amount "
        "FROM payment_applications a JOIN payments p ON p.id = a.payment_id "
        "WHERE a.undone_at IS NULL AND p.value_date <= :as_of GROUP BY a.invoice_id), "
        "op AS (SELECT i.id, i.customer_id, i.number, i.issue_date, i.due_date, "
        "COALESCE(i.due_date, i.issue_date) AS due_basis, "
        f"i.total - COALESCE(applied.amount, 0) AS open{extra_columns} "
        "FROM invoices i LEFT JOIN applied ON applied.invoice_id = i.id "
        "WHERE i.issue_date <= :as_of AND i.currency = :currency) ")


def month_bounds(as_of: date, count: int) -> list[tuple[date, date]]:
    """``count`` calendar months back from ``as_of``'s month, newest first; the first ends at
    ``as_of`` itself (a month to date), the others at their last day."""
    result = []
    year, month = as_of.year, as_of.month
    end = as_of
    for _ in range(count):
        start = date(year, month, 1)
        result.append((start, end))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        end = start.fromordinal(start.toordinal() - 1)
    return result
