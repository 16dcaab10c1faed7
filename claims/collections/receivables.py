"""Receivables in SQL: every open item (invoice, or instalment of one) with its due date and
open balance, and what pauses dunning on it.

Everything over many rows is one SQL statement built from the common table expressions here,
the same text on SQLite and PostgreSQL except for date arithmetic (:class:`Sql`).

An item's due date is, in order: the statutory due date of its claim (``[agencies]`` rules:
the later of the claim's submission and deemed acceptance, plus the payment days), the
invoice's own due date, or the issue date + ``default_net_days``. An invoice with a schedule
(``collection_schedule``) has one item per instalment; payments settle the earliest first.
Open balance = amount − live (``undone_at IS NULL``) payment applications.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Date, bindparam, text
from sqlalchemy.sql.elements import TextClause

from claims.collections.config import CollectionsConfig
from claims.store.tables.collections import ScheduleRow
from claims.collections.terms import Terms, schedule
from claims.errors import InputError, NotFound
from claims.core.money import minor_units
from claims.store import Store
from claims.store.tables import InvoiceRow, UTCDateTime, money_from_sql

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


def day_start(day: date) -> datetime:
    """Midnight UTC at the start of ``day``."""
    return datetime.combine(day, time(0), tzinfo=UTC)


def items_cte(sql: Sql, config: CollectionsConfig) -> tuple[str, dict[str, Any]]:
    """``WITH … open_items AS (…)``: the open items, with ``agency`` for statutory ones.

    Columns of ``open_items``: invoice_id, seq, number, customer_id, currency, due_date,
    amount, open_amount, agency (NULL unless a statutory rule gave the due date).
    """
    params: dict[str, Any] = {"net_days": config.followup.default_net_days}
    rules = [(name, rule) for name, rule in sorted(config.agencies.items())
             if rule.rule == "prompt-payment"]
    if rules:
        parts = []
        for n, (name, rule) in enumerate(rules):
            params |= {f"ag{n}": name, f"acc{n}": rule.acceptance_days,
                       f"pd{n}": rule.payment_days}
            parts.append(f"SELECT :ag{n} AS agency, :acc{n} AS acc, :pd{n} AS pd")
        # delivery is the invoice date (the invoice goes with the delivery); receipt is the
        # claim's first SUBMITTED event: due = later of receipt and deemed acceptance + days
        later = sql.greatest(sql.as_date("e.sub"), sql.add_days("i.issue_date", "r.acc"))
        stat = f"""
rules AS ({' UNION ALL '.join(parts)}),
stat AS (
  SELECT c.invoice_id, MAX({sql.add_days(later, 'r.pd')}) AS due_date, MAX(k.agency) AS agency
  FROM claims c
  JOIN contracts k ON k.id = c.contract_id
  JOIN rules r ON r.agency = k.agency
  JOIN invoices i ON i.id = c.invoice_id
  JOIN (SELECT claim_id, MIN(at) AS sub FROM claim_events WHERE status = 'SUBMITTED'
        GROUP BY claim_id) e ON e.claim_id = c.id
  WHERE c.status NOT IN ('REJECTED', 'REJECTED_BY_PORTAL')
  GROUP BY c.invoice_id),"""
    else:
        stat = """
stat AS (SELECT invoice_id, due_date, CAST(NULL AS VARCHAR(200)) AS agency
         FROM collection_schedule WHERE 1 = 0),"""
    cte = f"""WITH
paid AS (
  SELECT invoice_id, SUM(amount) AS paid FROM payment_applications
  WHERE undone_at IS NULL AND invoice_id IS NOT NULL GROUP BY invoice_id),
sched AS (
  SELECT invoice_id, seq, due_date, amount,
         SUM(amount) OVER (PARTITION BY invoice_id ORDER BY seq
                           ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cum
  FROM collection_schedule),{stat}
items AS (
  SELECT i.id AS invoice_id, 0 AS seq, i.number, i.customer_id, i.currency,
         COALESCE(st.due_date, i.due_date, {sql.add_days('i.issue_date', ':net_days')})
           AS due_date,
         i.total AS amount, i.total - COALESCE(p.paid, 0) AS open_amount, st.agency
  FROM invoices i
  LEFT JOIN paid p ON p.invoice_id = i.id
  LEFT JOIN stat st ON st.invoice_id = i.id
  WHERE NOT EXISTS (SELECT 1 FROM collection_schedule s WHERE s.invoice_id = i.id)
  UNION ALL
  SELECT s.invoice_id, s.seq, i.number, i.customer_id, i.currency, s.due_date, s.amount,
         CASE WHEN s.cum - COALESCE(p.paid, 0) <= 0 THEN 0
              WHEN s.cum - COALESCE(p.paid, 0) >= s.amount THEN s.amount
              ELSE s.cum - COALESCE(p.paid, 0) END,
         CAST(NULL AS VARCHAR(200))
  FROM sched s JOIN invoices i ON i.id = s.invoice_id
  LEFT JOIN paid p ON p.invoice_id = s.invoice_id),
open_items AS (
  SELECT * FROM items
  WHERE open_amount > 0 AND customer_id IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM collection_escalations x
                    WHERE x.invoice_id = items.invoice_id AND x.action = 'write-off'))"""
    return cte, params


def pause_ctes(as_of: date, config: CollectionsConfig) -> tuple[str, dict[str, Any]]:
    """``disputed``, ``promised``, ``plan_state`` and ``planned``: what pauses dunning.

    - an open dispute pauses its invoice;
    - an unbroken promise (its date + grace not yet passed) pauses the customer;
    - a plan in good standing (paid since it was agreed ≥ instalments due by today − grace)
      pauses the plan's invoices; a missed instalment lifts the pause.
    """
    fu = config.followup
    params = {"promise_cutoff": as_of - timedelta(days=fu.promise_grace_days),
              "plan_cutoff": as_of - timedelta(days=fu.plan_grace_days)}
    cte = """,
disputed AS (SELECT DISTINCT invoice_id FROM collection_disputes WHERE status = 'open'),
promised AS (SELECT DISTINCT customer_id FROM collection_promises
             WHERE cancelled_at IS NULL AND promised_date >= :promise_cutoff),
plan_paid AS (
  SELECT pl.id AS plan_id, SUM(a.amount) AS paid
  FROM collection_plans pl
  JOIN collection_plan_invoices pi ON pi.plan_id = pl.id
  JOIN payment_applications a ON a.invoice_id = pi.invoice_id
  WHERE a.undone_at IS NULL AND a.applied_at >= pl.agreed_at
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
    """A raw SQL money integer as a ``Decimal`` with the currency's decimal places."""
    return money_from_sql(raw).quantize(Decimal(1).scaleb(-minor_units(currency)))


def item_from_row(row: Any) -> Item:
    return Item(invoice_id=row.invoice_id, seq=int(row.seq), number=row.number,
                customer_id=row.customer_id, currency=row.currency,
                due_date=as_date(row.due_date), amount=money(row.amount, row.currency),
                open_amount=money(row.open_amount, row.currency), agency=row.agency)


def open_items(conn: Connection, config: CollectionsConfig, *,
               customer_id: int | None = None) -> list[Item]:
    """Every open item (optionally of one customer), oldest due first."""
    sql = Sql(conn.dialect.name)
    cte, params = items_cte(sql, config)
    where = ""
    if customer_id is not None:
        where = "WHERE customer_id = :cid"
        params["cid"] = customer_id
    rows = conn.execute(bind(f"{cte}\nSELECT * FROM open_items {where} "
                             "ORDER BY due_date, number, seq", params))
    return [item_from_row(r) for r in rows]


def set_terms(store: Store, invoice_number: str, terms: Terms) -> list[dict[str, Any]]:
    """Give an invoice explicit payment terms: its schedule (instalments) replaces any other.

    Returns the schedule as stored. The instalment amounts add up to the invoice total.
    """
    with store.session() as s:
        inv = s.query(InvoiceRow).filter(InvoiceRow.number == invoice_number).one_or_none()
        if inv is None:
            raise NotFound("invoice", invoice_number)
        try:
            places = minor_units(inv.currency)
            total = inv.total.quantize(Decimal(1).scaleb(-places))
            dues = schedule(terms, inv.issue_date, total, places)
        except ValueError as err:
            raise InputError(str(err), field="instalments", rule="instalments-sum") from err
        s.query(ScheduleRow).filter(ScheduleRow.invoice_id == inv.id).delete()
        for d in dues:
            s.add(ScheduleRow(invoice_id=inv.id, seq=d.seq, due_date=d.due_date, amount=d.amount,
                              basis=terms.kind))
        return [{"seq": d.seq, "due_date": d.due_date, "amount": d.amount} for d in dues]
