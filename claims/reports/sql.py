"""The KPI aggregates as plain SQL text, so the very same statements run on SQLite, PostgreSQL
and (in the benchmark, as the reference) DuckDB. Money columns are integers of 1/10,000.

Dates are bound as parameters; only the day difference differs per dialect.

Due dates come from ``collection_schedule`` only: the rows made by the one due-date function
(:func:`claims.core.due.due_dates`, stored by :mod:`claims.collections.due`), the very rows
``claims followup receivables`` reads. An invoice with instalments counts per instalment;
its payments settle the earliest instalment first (in value-date order), as in follow-up.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date


def day_diff(dialect: str, later: str, earlier: str) -> str:
    """SQL for the whole days from ``earlier`` to ``later`` (both DATE columns)."""
    if dialect == "sqlite":
        return f"(julianday({later}) - julianday({earlier}))"
    return f"({later} - {earlier})"  # PostgreSQL and DuckDB: date - date is an integer


#: The day an unapplied credit falls due: never. A credit note is stored as a negative
#: schedule row; what the customer may still deduct is not overdue, so its due basis is the
#: last representable day: current at every date, in no past-due bucket (docs/kpis.md).
NEVER_DUE = date.max


def due_basis(row: str) -> str:
    """The due basis of the schedule row ``row`` (bind parameter ``:never`` =
    :data:`NEVER_DUE`): its due date, or never for a credit (a negative amount). The one rule
    of the KPIs' current, overdue and aging and of the reports' aging and overdue tables."""
    return f"CASE WHEN {row}.amount < 0 THEN :never ELSE {row}.due_date END"


#: Amounts due grouped by (issue date, due basis): a few thousand rows for any number of
#: invoices, from which sales per month/window and receivables at any date follow. The
#: schedule rows carry their invoice's issue date and currency (copies kept by the database's
#: triggers, migration ``kpis_0001``): one table scanned, no join.
INVOICES_BY_DATES = (
    f"SELECT s.issue_date, {due_basis('s')}, SUM(s.amount) FROM collection_schedule s "
    "WHERE s.currency = :currency GROUP BY 1, 2")

_RUNNING = "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"

def split_over_instalments(dialect: str) -> str:
    """CTEs ending in ``x``: live applications to invoices with instalments (``seq > 0``),
    split over the instalments earliest first: the part of each application that settles
    each instalment, with the instalment's due date. (Single-due invoices, seq 0, need no
    split: see :func:`applications_by_invoice_dates`.)

    An instalment's running total (``hi``) is a window over the schedule rows, except on
    SQLite: there it is summed from its invoice's earlier schedule rows, so that the
    applications are joined to the schedule table through its (invoice_id, seq) index.
    SQLite joined a window CTE by scanning it whole for each application (it has no index),
    work growing with the square of the instalment invoices; PostgreSQL hash-joins the
    window and would run the per-row sum several times per row instead."""
    if dialect == "sqlite":
        parts = """(
    SELECT s.invoice_id, s.due_date, s.amount,
           (SELECT SUM(c.amount) FROM collection_schedule c WHERE c.invoice_id = s.invoice_id
            AND c.seq > 0 AND c.seq <= s.seq) AS hi
    FROM collection_schedule s WHERE s.seq > 0)"""
        with_parts = ""
    else:
        parts = "parts"
        with_parts = f"""parts AS (
  SELECT invoice_id, due_date, amount,
         SUM(amount) OVER (PARTITION BY invoice_id ORDER BY seq {_RUNNING}) AS hi
  FROM collection_schedule WHERE seq > 0),
"""
    return f"""WITH
apps AS (
  SELECT a.id, a.invoice_id, a.amount, a.kind, p.value_date,
         SUM(a.amount) OVER (PARTITION BY a.invoice_id ORDER BY p.value_date, a.id
                             {_RUNNING}) AS hi
  FROM payment_applications a JOIN payments p ON p.id = a.payment_id
  WHERE a.undone_at IS NULL AND a.invoice_id IN (
    SELECT invoice_id FROM collection_schedule WHERE seq > 0)),
{with_parts}x AS (
  SELECT a.invoice_id, s.due_date, a.kind, a.value_date,
         (CASE WHEN a.hi < s.hi THEN a.hi ELSE s.hi END)
         - (CASE WHEN a.hi - a.amount > s.hi - s.amount THEN a.hi - a.amount
                 ELSE s.hi - s.amount END) AS amount
  FROM apps a JOIN {parts} s ON s.invoice_id = a.invoice_id
   AND s.hi - s.amount < a.hi AND a.hi - a.amount < s.hi)
"""


def applications_by_invoice_dates(dialect: str, month_ends: Sequence[str],
                                  pay_window: tuple[str, str]) -> str:
    """One scan of live applications (dated by their payment's value date), grouped by the
    invoice's (issue date, due basis), the kind and the *month bucket* of the value date:
    bucket ``k`` (0 … m−1) is the month ending at month end ``k``, ``m`` is everything up to the
    oldest month end, −1 is after the newest (the as-of date). Per group: the amount, and the
    amount-weighted days to pay and amount within ``pay_window``. One CASE per row instead of
    one SUM(CASE) per month end and month: the months are added up in Python.

    Two grouped parts, one after the other (``UNION ALL``): applications to single-due invoices
    (schedule row seq 0) grouped straight from ``payment_applications`` alone (its copied
    dates), and the split of applications over instalments (:func:`split_over_instalments`).
    A group may come once from each part; the caller adds rows up. Grouping each part on its
    own spares the engines a 1.5-million-row intermediate union (SQLite materialised it,
    PostgreSQL appended it)."""
    start, end = pay_window

    def grouped(source: str, issue: str, due: str, value_date: str, currency: str,
                where: str = "") -> str:
        bucket = "CASE " + " ".join(
            f"WHEN {value_date} > :{e} THEN {k - 1}" for k, e in enumerate(month_ends)) + \
            f" ELSE {len(month_ends) - 1} END"
        in_window = f"{value_date} >= :{start} AND {value_date} <= :{end}"
        days = day_diff(dialect, value_date, issue)
        keys = f"{issue}, {due}, a.kind"
        # a float weighted sum: it yields a number of days, never money  # ok: not money
        return (f"SELECT {keys}, {bucket} AS bucket, SUM(a.amount), "
                f"SUM(CASE WHEN {in_window} THEN a.amount * 1.0 * {days} ELSE 0 END), "
                f"SUM(CASE WHEN {in_window} THEN a.amount ELSE 0 END) "
                f"FROM {source} WHERE {where}{currency} = :currency GROUP BY {keys}, {bucket}")

    # single-due applications read alone: each carries its payment's value date, its
    # invoice's issue date and currency and its seq-0 due date (NULL with instalments), copies
    # kept by the database's triggers (migration kpis_0001); the NOT NULLs are the inner joins
    # to the payment and the seq-0 schedule row they stand for
    single = grouped("payment_applications a", "a.issue_date", "a.due_date", "a.value_date",
                     "a.currency", "a.undone_at IS NULL AND a.due_date IS NOT NULL "
                     "AND a.value_date IS NOT NULL AND ")
    split = grouped("x a JOIN invoices i ON i.id = a.invoice_id", "i.issue_date", "a.due_date",
                    "a.value_date", "i.currency")
    return f"{split_over_instalments(dialect)}{split} UNION ALL {single}"


def open_at(extra_columns: str = "") -> str:
    """A CTE ``op``: every open item's (schedule row's) balance as of ``:as_of`` and its
    due basis (``due_basis``, :func:`due_basis`: bind ``:never``); payments settle the
    earliest instalment first. A credit's balance is negative (between its amount and 0)."""
    left = "s.cum - COALESCE(applied.amount, 0)"
    credit = (f"CASE WHEN {left} >= 0 THEN 0 WHEN {left} <= s.amount THEN s.amount "
              f"ELSE {left} END")
    return (
        "WITH applied AS (SELECT a.invoice_id, SUM(a.amount) AS amount "
        "FROM payment_applications a JOIN payments p ON p.id = a.payment_id "
        "WHERE a.undone_at IS NULL AND p.value_date <= :as_of GROUP BY a.invoice_id), "
        "sch AS (SELECT invoice_id, seq, due_date, amount, SUM(amount) OVER (PARTITION BY "
        f"invoice_id ORDER BY seq {_RUNNING}) AS cum FROM collection_schedule), "
        "op AS (SELECT i.id, i.customer_id, i.number, i.issue_date, s.due_date, "
        f"{due_basis('s')} AS due_basis, CASE WHEN s.amount < 0 THEN {credit} "
        f"WHEN {left} <= 0 THEN 0 WHEN {left} >= s.amount THEN s.amount ELSE {left} END "
        f"AS open{extra_columns} "
        "FROM sch s JOIN invoices i ON i.id = s.invoice_id "
        "LEFT JOIN applied ON applied.invoice_id = i.id "
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
