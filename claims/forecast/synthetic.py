"""A generator of realistic receivables history, for tests, the backtest and the benchmark.

What it makes (all from one seed, so a run is repeatable):

- **agencies** with their own review time (median 8–40 days), contract payment days (30, 45 or
  60), lateness after that (0–15 days) and a **year-end slowdown**: reviews and payments falling
  in the second half of December wait until the new year;
- **customers** (about 70 % agencies' accounts billed through claims, 30 % private clients),
  each with a payment habit: a usual delay after the due date (−5 … +45 days) and a spread,
  some **partial payers** (pay 50–90 % first, the rest weeks later or never), a few that
  rarely pay at all, and **drift** (the usual delay moves by up to ±20 days a year);
- **invoices** issued every working day over the span, lognormal amounts, each customer on its
  own payment terms (net 30, net 45 or end of month + 30), due dates computed by
  :func:`claims.collections.terms.schedule` (the collections function, not our own);
- **claims** for the agencies' invoices: submitted a few days after issue, reviewed, 15 %
  returned for correction (5–20 days) and resubmitted, approved, paid after the payment days;
- **promises** on some overdue invoices, kept or broken after the customer's own record; and
  **disputes** on 2 % of invoices, paid only after they are resolved.

:func:`generate` returns a :class:`History`; :meth:`History.to_ledger` is the forecast's view of
it and :func:`claims.forecast.bulk.load_history` writes it to a store in a few transactions.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from claims.collections.terms import Terms, schedule
from claims.forecast.ledger import (
    ClaimFacts, DisputeFacts, Item, Ledger, PromiseFacts, Receipt,
)

TERMS = (Terms(kind="net", days=30), Terms(kind="net", days=45), Terms(kind="eom", days=30))


@dataclass
class Agency:
    name: str
    review_days: float
    payment_days: int
    lateness: float


@dataclass
class Customer:
    id: int
    name: str
    segment: str               # agency | private
    agency: Agency | None
    terms: Terms
    delay: float               # usual days after the due date
    spread: float
    drift_per_year: float
    partial: float             # probability of paying only part first
    never: float               # probability of never paying an invoice
    keeps_promises: float


@dataclass
class History:
    """Everything generated; ids are positions (invoice k has id k + 1), as a fresh store
    assigns them when :func:`~claims.forecast.bulk.load_history` loads it in order."""

    start: date
    end: date
    agencies: list[Agency] = field(default_factory=list)
    customers: list[Customer] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)
    terms: list[Terms] = field(default_factory=list)
    receipts: list[Receipt] = field(default_factory=list)
    claims: list[ClaimFacts] = field(default_factory=list)
    promises: list[PromiseFacts] = field(default_factory=list)
    disputes: list[DisputeFacts] = field(default_factory=list)

    def to_ledger(self) -> Ledger:
        """The forecast's view of the history (every fact with the day it became known)."""
        return Ledger(list(self.items), list(self.receipts),
                      {c.id: (c.name, c.segment) for c in self.customers}, list(self.claims),
                      list(self.promises), [], list(self.disputes))


def _year_end(day: date) -> date:
    """Work falling on 15–31 December waits until the first working days of January."""
    if day.month == 12 and day.day >= 15:
        return date(day.year + 1, 1, 5)
    return day


def _make_parties(rng: random.Random, customers: int, agencies: int
                  ) -> tuple[list[Agency], list[Customer]]:
    ags = [Agency(f"Agency {k + 1:02d}", rng.uniform(8, 40), rng.choice((30, 45, 60)),
                  rng.uniform(0, 15)) for k in range(agencies)]
    out = []
    for k in range(customers):
        is_agency = rng.random() < 0.7
        out.append(Customer(
            id=k + 1, name=f"Customer {k + 1:05d}", segment="agency" if is_agency else "private",
            agency=rng.choice(ags) if is_agency else None, terms=rng.choice(TERMS),
            delay=rng.uniform(-5, 45), spread=rng.uniform(1, 12),
            drift_per_year=rng.uniform(-20, 20) if rng.random() < 0.3 else 0.0,
            partial=0.3 if rng.random() < 0.15 else 0.0,
            never=0.2 if rng.random() < 0.05 else 0.005,
            keeps_promises=rng.choice((0.9, 0.7, 0.3))))
    return ags, out


def generate(invoices: int = 5_000, customers: int = 200, *, agencies: int = 8,
             start: date = date(2024, 1, 1), end: date = date(2026, 6, 30),
             seed: int = 17) -> History:
    """A history of ``invoices`` invoices issued between ``start`` and ``end`` (see the module
    docstring); payments may fall after ``end`` (they are the future of the last as-of dates)."""
    rng = random.Random(seed)
    history = History(start, end)
    history.agencies, history.customers = _make_parties(rng, customers, agencies)
    span = (end - start).days
    weights = [rng.paretovariate(1.2) for _ in history.customers]  # a few big customers
    chosen = rng.choices(history.customers, weights=weights, k=invoices)
    for k, cust in enumerate(chosen):
        issue = start + timedelta(days=int(k * span / max(invoices, 1)))
        amount = Decimal(int(math.exp(rng.gauss(8.0, 1.0)) * 100)) / 100 + Decimal("10.00")
        _invoice(rng, history, k + 1, cust, issue, amount)
    return history


def _invoice(rng: random.Random, h: History, invoice_id: int, cust: Customer, issue: date,
             amount: Decimal) -> None:
    due = schedule(cust.terms, issue, amount)[0].due_date
    agency = cust.agency.name if cust.agency else None
    h.items.append(Item(invoice_id, 0, f"INV-{invoice_id:07d}", cust.id, "EUR", issue, due,
                        amount, agency))
    h.terms.append(cust.terms)
    years = (issue - h.start).days / 365.0
    if rng.random() < 0.02:  # disputed: paid after it is resolved
        opened = due + timedelta(days=rng.randint(1, 20))
        resolved = opened + timedelta(days=rng.randint(20, 90))
        h.disputes.append(DisputeFacts(invoice_id, opened, resolved))
        _pay(h, invoice_id, resolved + timedelta(days=rng.randint(3, 15)), amount)
        return
    if cust.agency is not None and rng.random() < 0.8:
        _claim(rng, h, invoice_id, cust.agency, issue, amount)
        return
    if rng.random() < cust.never:
        return
    delay = rng.gauss(cust.delay + cust.drift_per_year * years, cust.spread)
    paid_on = _year_end(due + timedelta(days=round(delay)))
    if delay > 20 and rng.random() < 0.3:  # chased: a promise, kept or broken
        made = due + timedelta(days=rng.randint(10, 18))
        promised = made + timedelta(days=rng.randint(3, 14))
        h.promises.append(PromiseFacts(len(h.promises) + 1, cust.id, "EUR", amount, promised,
                                       made))
        if rng.random() < cust.keeps_promises:
            paid_on = promised
        else:
            paid_on = max(paid_on, promised + timedelta(days=rng.randint(7, 40)))
    if rng.random() < cust.partial:
        first = (amount * Decimal(rng.randint(50, 90)) / 100).quantize(Decimal("0.01"))
        _pay(h, invoice_id, paid_on, first)
        if rng.random() < 0.7:
            _pay(h, invoice_id, paid_on + timedelta(days=rng.randint(20, 80)), amount - first)
        return
    _pay(h, invoice_id, paid_on, amount)


def _claim(rng: random.Random, h: History, invoice_id: int, agency: Agency, issue: date,
           amount: Decimal) -> None:
    submitted = issue + timedelta(days=rng.randint(1, 5))
    events = [(submitted, "SUBMITTED"), (submitted + timedelta(days=1), "UNDER_REVIEW")]
    reviewed = _year_end(submitted + timedelta(days=round(rng.expovariate(
        1 / agency.review_days)) + 2))
    if rng.random() < 0.15:
        events.append((reviewed, "RETURNED"))
        again = reviewed + timedelta(days=rng.randint(5, 20))
        events += [(again, "SUBMITTED"), (again + timedelta(days=1), "UNDER_REVIEW")]
        reviewed = _year_end(again + timedelta(days=round(rng.expovariate(
            1 / agency.review_days)) + 2))
    events.append((reviewed, "APPROVED"))
    paid_on = _year_end(reviewed + timedelta(
        days=agency.payment_days + round(rng.expovariate(1 / max(agency.lateness, 0.5)))))
    events.append((paid_on, "PAID"))
    h.claims.append(ClaimFacts(len(h.claims) + 1, invoice_id, agency.name, "sandbox",
                               agency.payment_days, tuple(events)))
    _pay(h, invoice_id, paid_on, amount)


def _pay(h: History, invoice_id: int, day: date, amount: Decimal) -> None:
    h.receipts.append(Receipt(invoice_id, day, amount))
