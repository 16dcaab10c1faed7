"""Receivables in SQL: every open item (invoice, or instalment of one) with its due date and
open balance, and what pauses dunning on it.

Everything over many rows is one SQL statement built from the common table expressions here,
the same text on SQLite and PostgreSQL except for date arithmetic (:class:`Sql`).

An item is a ``collection_schedule`` row: its due date was made by the one function,
:func:`claims.core.due.due_dates` (explicit terms, the agency's statutory rule, the invoice's
due date, or issue + ``default_net_days``; moved to the agency's next business day), and
stored by :mod:`claims.collections.due`. An invoice with instalments has one item per
instalment; payments settle the earliest first. Open balance = amount − live
(``undone_at IS NULL``) payment applications known on the as-of date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Date, bindparam, text
from sqlalchemy.sql.elements import TextClause

from claims.collections.settings import CollectionsConfig
from claims.core import disputes
from claims.core.money import minor_units, round_money
from claims.store.asof import APPLICATION_KNOWN, SCHEDULE_ISSUED, as_of_params
from claims.store.tables import MONEY_SCALE, UTCDateTime, money_from_sql

#: Claim statuses at which a claim waits on the agency (a long wait there means "stuck").
WAITING_STATUSES = ("SUBMITTED", "UNDER_REVIEW", "RETURNED", "NEEDS_ATTENTION", "APPROVED",
                    "PAYMENT_ORDERED", "UNKNOWN")


class Sql:
    """The few dialect differences: date arithmetic."""

    def __init__(self, dialect: str) -> None:
        self.sqlite = dialect == "sqlite"

    def add_days(self, expr: str, days: str) -> str:
        """``expr`` (a date) plus ``days`` (an integer expression)."""
        if self.sqlite:
            return f"date({expr}, '+' || ({days}) || ' days')"
        return f"(CAST({expr} AS date) + CAST({days} AS integer))"

    def as_date(self, expr: str) -> str:
        return f"date({expr})" if self.sqlite else f"CAST(({expr}) AT TIME ZONE 'UTC' AS date)"

    def greatest(self, a: str, b: str) -> str:
        return f"MAX({a}, {b})" if self.sqlite else f"GREATEST({a}, {b})"

    def invoice_number(self, row: str) -> tuple[str, str]:
        """The number of the invoice of the schedule row ``row``: (its expression, the join it
        needs). Only a query that reads it should read the invoice: SQLite evaluates an unused
        scalar subquery never, but keeps a join nobody reads (a lookup per row, in the
        index's customer order: random); PostgreSQL drops an unused join to a unique key,
        and for a query that reads every number a join beats a lookup per row."""
        if self.sqlite:
            return f"(SELECT i.number FROM invoices i WHERE i.id = {row}.invoice_id)", ""
        return "i.number", f"LEFT JOIN invoices i ON i.id = {row}.invoice_id"


def day_start(day: date) -> datetime:
    """Midnight UTC at the start of ``day``."""
    return datetime.combine(day, time(0), tzinfo=UTC)


def items_cte(sql: Sql, config: CollectionsConfig, as_of: date | None = None,
              ) -> tuple[str, dict[str, Any]]:
    """``WITH … open_items AS (…)``: the open items as known on ``as_of`` (default: now).

    Every item is a ``collection_schedule`` row (the due dates made by
    :func:`claims.core.due.due_dates`, see :mod:`claims.collections.due`). As of a date: only
    invoices issued by then, only payments with a value date by then (an application without a
    payment counts from the day it was made). Payments settle the earliest instalment first:
    ``cum`` is what is due up to and including an item (seq 0 is a whole invoice, so its own
    amount; an instalment sums its predecessors through the primary key — a third of the cost
    of a window function over every row). The invoice's customer, currency and issue date are
    the copies on the schedule row (kept by the database's triggers, migrations ``kpis_0001``
    and ``receivables_0001``), so a query by customer reads one index in its order and the
    invoice only for its number (:meth:`Sql.invoice_number`).

    Columns of ``open_items``: invoice_id, seq, number, customer_id, currency, due_date,
    amount, open_amount, agency (the agency of a statutory due date, else NULL).
    """
    del config  # the due dates are materialised; kept for the callers' symmetry
    params: dict[str, Any] = {}
    known = ""
    issued = ""
    if as_of is not None:  # the one rule of what is known on a date (claims.store.asof)
        params |= as_of_params(as_of)
        known = f"AND {APPLICATION_KNOWN}"
        issued = f"WHERE {SCHEDULE_ISSUED}"
    number, invoice = sql.invoice_number("s")
    cte = f"""WITH
paid AS (
  SELECT a.invoice_id, SUM(a.amount) AS paid FROM payment_applications a
  LEFT JOIN payments p ON p.id = a.payment_id
  WHERE a.undone_at IS NULL AND a.invoice_id IS NOT NULL {known} GROUP BY a.invoice_id),
sched AS (
  SELECT s.invoice_id, s.seq, s.due_date, s.amount, s.basis, s.customer_id, s.currency,
         s.issue_date,
         CASE WHEN s.seq = 0 THEN s.amount ELSE
           (SELECT SUM(t.amount) FROM collection_schedule t
            WHERE t.invoice_id = s.invoice_id AND t.seq <= s.seq) END AS cum
  FROM collection_schedule s),
items AS (
  SELECT s.invoice_id, s.seq, {number} AS number, s.customer_id, s.currency, s.due_date,
         s.amount,
         CASE WHEN s.cum - COALESCE(p.paid, 0) <= 0 THEN 0
              WHEN s.cum - COALESCE(p.paid, 0) >= s.amount THEN s.amount
              ELSE s.cum - COALESCE(p.paid, 0) END AS open_amount,
         CASE WHEN s.basis = 'statutory' THEN
           (SELECT MAX(k.agency) FROM claims c JOIN contracts k ON k.id = c.contract_id
            WHERE c.invoice_id = s.invoice_id
              AND c.status NOT IN ('REJECTED', 'REJECTED_BY_PORTAL'))
         ELSE CAST(NULL AS VARCHAR(200)) END AS agency
  FROM sched s LEFT JOIN paid p ON p.invoice_id = s.invoice_id {invoice}
  {issued}),
open_items AS (
  SELECT * FROM items
  WHERE open_amount > 0 AND customer_id IS NOT NULL)"""
    return cte, params


#: The one rule of what a promise to pay covers (issue 14, item 7): the invoices of the
#: customer who promised, in the promise's currency, that were already issued when the promise
#: was made (``issue_date`` on or before ``made_at``) — the balance the promise was about. An
#: invoice issued later is reminded as usual; the pause lasts while the promise is unbroken
#: (not cancelled, its date + grace not yet passed). ``invoice_id`` per covered invoice.
PROMISE_COVERS = """
  SELECT DISTINCT i.id AS invoice_id FROM collection_promises pr
  JOIN invoices i ON i.customer_id = pr.customer_id AND i.currency = pr.currency
  WHERE pr.cancelled_at IS NULL AND pr.promised_date >= :promise_cutoff
    AND i.issue_date <= pr.made_at"""


def pause_ctes(as_of: date, config: CollectionsConfig) -> tuple[str, dict[str, Any]]:
    """``disputed``, ``promised``, ``plan_state`` and ``planned``: what pauses dunning.

    - a dispute open on ``as_of`` (:func:`claims.core.disputes.open_on`) pauses its invoice;
    - an unbroken promise (its date + grace not yet passed) pauses the items it covers
      (:data:`PROMISE_COVERS`);
    - a plan in good standing (paid since it was agreed ≥ instalments due by today − grace)
      pauses the plan's invoices; a missed instalment lifts the pause.
    """
    fu = config.followup
    params = {"promise_cutoff": as_of - timedelta(days=fu.promise_grace_days),
              "plan_cutoff": as_of - timedelta(days=fu.plan_grace_days),
              **disputes.sql_params(as_of)}
    cte = """,
disputed AS (SELECT DISTINCT d.invoice_id FROM collection_disputes d
            WHERE """ + disputes.open_sql() + """),
promised AS (""" + PROMISE_COVERS + """),
plan_paid AS (
  SELECT pl.id AS plan_id, SUM(a.amount) AS paid
  FROM collection_plans pl
  JOIN collection_plan_invoices pi ON pi.plan_id = pl.id
  JOIN payment_applications a ON a.invoice_id = pi.invoice_id
  WHERE a.undone_at IS NULL AND a.kind = 'payment' AND a.applied_at >= pl.agreed_at
  GROUP BY pl.id),
plan_due AS (
  SELECT plan_id, SUM(amount) AS due FROM collection_plan_instalments
  WHERE due_date < :plan_cutoff GROUP BY plan_id),
plan_state AS (
  SELECT pl.id AS plan_id, pl.customer_id,
         CASE WHEN COALESCE(d.due, 0) <= COALESCE(pp.paid, 0) THEN 1 ELSE 0 END AS good
  FROM collection_plans pl
  LEFT JOIN plan_due d ON d.plan_id = pl.id
  LEFT JOIN plan_paid pp ON pp.plan_id = pl.id
  WHERE pl.cancelled_at IS NULL),
planned AS (
  SELECT pi.invoice_id FROM collection_plan_invoices pi
  JOIN plan_state ps ON ps.plan_id = pi.plan_id WHERE ps.good = 1)"""
    return cte, params


def bind(sql_text: str, params: dict[str, Any]) -> TextClause:
    """A ``text()`` with date parameters typed (SQLite stores dates as ISO text)."""
    clause = text(sql_text)
    typed = []
    for name, value in params.items():
        if isinstance(value, datetime):
            typed.append(bindparam(name, value, type_=UTCDateTime))
        elif isinstance(value, date):
            typed.append(bindparam(name, value, type_=Date))
        else:
            typed.append(bindparam(name, value))
    return clause.bindparams(*typed)


def as_date(value: Any) -> date:
    """A date from what the driver returned (SQLite gives ISO text for computed dates)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Item:
    """An open item: an invoice (seq 0) or one of its instalments (seq 1…)."""

    invoice_id: int
    seq: int
    number: str
    customer_id: int
    currency: str
    due_date: date
    amount: Decimal
    open_amount: Decimal
    agency: str | None = None

    @property
    def label(self) -> str:
        return self.number if self.seq == 0 else f"{self.number}/{self.seq}"

    def to_json(self) -> dict[str, Any]:
        return {"invoice": self.number, "instalment": self.seq or None,
                "currency": self.currency, "due_date": self.due_date,
                "amount": str(self.amount), "open": str(self.open_amount),
                "agency": self.agency}


def money(raw: int | None, currency: str) -> Decimal:
    """A raw SQL money integer as a ``Decimal`` with the currency's decimal places.

    An amount already at the currency's minor unit (every stored amount is: finer ones are
    refused at the door) is made exactly, without rounding; any other goes through the one
    rounding policy."""
    value = int(raw or 0)
    places = minor_units(currency)
    if places <= MONEY_SCALE:
        step = _STEPS[MONEY_SCALE - places]
        if value % step == 0:
            return Decimal(value // step).scaleb(-places)
    return round_money(money_from_sql(value), currency)  # the one rounding policy


_STEPS = [10 ** n for n in range(MONEY_SCALE + 1)]


def item_from_row(row: Any) -> Item:
    return Item(invoice_id=row.invoice_id, seq=int(row.seq), number=row.number,
                customer_id=row.customer_id, currency=row.currency,
                due_date=as_date(row.due_date), amount=money(row.amount, row.currency),
                open_amount=money(row.open_amount, row.currency), agency=row.agency)


def open_items(conn: Connection, config: CollectionsConfig, *,
               customer_id: int | None = None, as_of: date | None = None) -> list[Item]:
    """Every open item as known on ``as_of`` (optionally of one customer), oldest due first."""
    sql = Sql(conn.dialect.name)
    cte, params = items_cte(sql, config, as_of)
    where = ""
    if customer_id is not None:
        where = "WHERE customer_id = :cid"
        params["cid"] = customer_id
    rows = conn.execute(bind(f"{cte}\nSELECT * FROM open_items {where} "
                             "ORDER BY due_date, number, seq", params))
    return [item_from_row(r) for r in rows]
