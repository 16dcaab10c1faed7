"""Loading the forecast's :class:`~claims.forecast.ledger.Ledger` from the store, a few scans.

Due dates come from collections (:func:`claims.collections.receivables.items_cte`: statutory,
the invoice's own, or issue + default net days; instalments from the schedule), so the forecast
and the dunning always agree on when an item falls due. Every fact is loaded with the day it
became known; filtering to an as-of date is the ledger's job (no look-ahead).
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, text

from claims.collections.receivables import Sql, as_date, bind, items_cte, money
from claims.collections.settings import CollectionsConfig
from claims.forecast.ledger import (
    ClaimFacts, DisputeFacts, Item, Ledger, PlanFacts, PromiseFacts, Receipt,
)


def load_ledger(engine: Engine, config: CollectionsConfig) -> Ledger:
    """Every receivable, receipt, claim status, promise, plan and dispute in the store."""
    with engine.connect() as conn:
        items = _items(conn, config)
        receipts = [Receipt(r.invoice_id, as_date(r.day), money(r.amount, r.currency), r.kind)
                    for r in conn.execute(text(
                        "SELECT a.invoice_id, COALESCE(p.value_date, a.applied_at) AS day, "
                        "a.amount, a.kind, i.currency FROM payment_applications a "
                        "JOIN invoices i ON i.id = a.invoice_id "
                        "LEFT JOIN payments p ON p.id = a.payment_id "
                        "WHERE a.undone_at IS NULL"))]
        customers = {r.id: (r.name, r.kind) for r in conn.execute(
            text("SELECT id, name, kind FROM customers"))}
        ledger = Ledger(items, receipts, customers, _claims(conn), _promises(conn),
                        _plans(conn), _disputes(conn))
    ledger.interest_rules = {
        name: (rule.interest_rate_percent, rule.compounding_days, rule.day_count)
        for name, rule in config.agencies.items()
        if rule.rule == "prompt-payment" and rule.interest_rate_percent > 0}
    return ledger


def _items(conn: Connection, config: CollectionsConfig) -> list[Item]:
    cte, params = items_cte(Sql(conn.dialect.name), config)
    rows = conn.execute(bind(
        f"{cte}\nSELECT it.invoice_id, it.seq, it.number, it.customer_id, it.currency, "
        "it.due_date, it.amount, it.agency, i.issue_date, k.agency AS contract_agency "
        "FROM items it JOIN invoices i ON i.id = it.invoice_id "
        "LEFT JOIN contracts k ON k.number = i.contract_number "
        "WHERE it.customer_id IS NOT NULL", params))
    return [Item(r.invoice_id, int(r.seq), r.number, r.customer_id, r.currency,
                 as_date(r.issue_date), as_date(r.due_date), money(r.amount, r.currency),
                 r.contract_agency, r.agency) for r in rows]


def _claims(conn: Connection) -> list[ClaimFacts]:
    events: dict[int, list[tuple[date, str]]] = defaultdict(list)
    for r in conn.execute(text("SELECT claim_id, at, status FROM claim_events "
                               "WHERE status IS NOT NULL ORDER BY claim_id, at, id")):
        events[r.claim_id].append((as_date(r.at), r.status))
    out = []
    for r in conn.execute(text("SELECT c.id, c.invoice_id, k.agency, k.portal, k.data "
                               "FROM claims c JOIN contracts k ON k.id = c.contract_id")):
        out.append(ClaimFacts(r.id, r.invoice_id, r.agency, r.portal, _payment_days(r.data),
                              tuple(events.get(r.id, ()))))
    return out


def _payment_days(data: Any) -> int:
    """The contract's payment days (``payment_terms.days``, 30 when it names none)."""
    if isinstance(data, str):  # some drivers hand JSON back as text
        data = json.loads(data)
    terms = (data or {}).get("payment_terms") or {}
    return int(terms.get("days", 30))


def _promises(conn: Connection) -> list[PromiseFacts]:
    return [PromiseFacts(r.id, r.customer_id, r.currency, money(r.amount, r.currency),
                         as_date(r.promised_date), as_date(r.made_at),
                         as_date(r.cancelled_at) if r.cancelled_at else None)
            for r in conn.execute(text(
                "SELECT id, customer_id, currency, amount, promised_date, made_at, cancelled_at "
                "FROM collection_promises"))]


def _plans(conn: Connection) -> list[PlanFacts]:
    invoices: dict[int, list[int]] = defaultdict(list)
    for r in conn.execute(text("SELECT plan_id, invoice_id FROM collection_plan_invoices")):
        invoices[r.plan_id].append(r.invoice_id)
    instalments: dict[int, list[tuple[date, Decimal]]] = defaultdict(list)
    plans = list(conn.execute(text("SELECT id, customer_id, currency, agreed_at, cancelled_at "
                                   "FROM collection_plans")))
    currency = {p.id: p.currency for p in plans}
    for r in conn.execute(text("SELECT plan_id, due_date, amount FROM "
                               "collection_plan_instalments ORDER BY plan_id, seq")):
        instalments[r.plan_id].append((as_date(r.due_date), money(r.amount, currency[r.plan_id])))
    return [PlanFacts(p.id, p.customer_id, p.currency, as_date(p.agreed_at),
                      tuple(invoices[p.id]), tuple(instalments[p.id]),
                      as_date(p.cancelled_at) if p.cancelled_at else None) for p in plans]


def _disputes(conn: Connection) -> list[DisputeFacts]:
    return [DisputeFacts(r.invoice_id, as_date(r.opened_at),
                         as_date(r.resolved_at) if r.resolved_at else None)
            for r in conn.execute(text(
                "SELECT invoice_id, opened_at, resolved_at FROM collection_disputes"))]
