"""learn()'s shorter paths (issue #17) against what they replaced: promise outcomes read only
the promising customers' payments (were everyone's), with the same keeping record."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from datetime import date, timedelta

import pytest

from claims.forecast.distributions import Sample, median_of
from claims.forecast.history import (
    GLOBAL, in_window, learn, parent_key, promise_outcomes, receipt_shares,
)
from claims.forecast.synthetic import generate
from tests.forecast.test_learner import _ledger


def _promises_as_before(ledger, day, grace_days):
    customer_of = {i.invoice_id: i.customer_id for i in ledger.items}
    paid = defaultdict(list)
    for r in ledger.receipts:
        if r.kind == "payment" and r.day <= day and r.invoice_id in customer_of:
            paid[customer_of[r.invoice_id]].append((r.day, float(r.amount)))
    running = {}
    for customer, rows in paid.items():
        rows.sort()
        days, sums, total = [], [0.0], 0.0
        for d, a in rows:
            total += a
            days.append(d)
            sums.append(total)
        running[customer] = (days, sums)
    out = []
    for p in ledger.promises:
        deadline = p.promised_date + timedelta(days=grace_days)
        days, sums = running.get(p.customer_id, ([], [0.0]))
        got = sums[bisect_right(days, deadline)] - sums[bisect_left(days, p.made_on)]
        out.append((p.customer_id, p.made_on, deadline, p.cancelled_on,
                    got >= float(p.amount) - 0.005))
    return out


@pytest.mark.parametrize("day", [date(2025, 3, 31), date(2026, 1, 15), date.max])
def test_promise_outcomes_read_only_the_promising_customers(day: date) -> None:
    ledger = generate(4000, 60).to_ledger()
    assert len(ledger.promises) > 20
    for grace in (0, 5):
        got = promise_outcomes(ledger, day, grace).promises
        assert got == _promises_as_before(ledger, day, grace)
        assert any(kept for *_, kept in got) and not all(kept for *_, kept in got)
    # the outcomes read the ledger's own per-customer running totals (the ones the
    # forecast's promises read again), made for every customer with receipts at once
    promising = {p.customer_id for p in ledger.promises}
    assert ledger._customer_paid and promising & set(ledger._customer_paid)
    assert set(ledger._customer_paid) == set(ledger._customers())


def test_learn_skips_items_outside_the_window_as_before() -> None:
    """Items not issued yet, due after the day or before the window, or of no amount, add
    nothing; the samples of the others are the ones of a learn() over them alone."""
    ledger = generate(2000, 40).to_ledger()
    day = date(2025, 6, 30)
    inside = [i for i in ledger.items
              if i.issue_date <= day and day - timedelta(days=365) <= i.due_date <= day]
    assert 0 < len(inside) < len(ledger.items)
    full = learn(ledger, day)
    ledger.items[:] = inside
    ledger.index()
    assert learn(ledger, day).customer == full.customer


def _delays_as_before(ledger, day, since):
    """The item-by-item loop learn() read the delays with, as the reference."""
    samples, lags, used = defaultdict(Sample), defaultdict(list), {}
    for known in ledger.items:
        item = in_window(ledger, known, day, since)
        if item is None or item.amount <= 0:
            continue
        total = float(item.amount)
        mine = (samples[item.customer_id], samples[parent_key(ledger, item)], samples[GLOBAL])
        lag = lags[item.customer_id]
        shares, left = receipt_shares(ledger, item, day, used.get(item.invoice_id, 0.0))
        for _, payment, slot, weight, delay, _ in shares:
            for s in mine:
                (s.paid if payment else s.censored)[slot] += weight
            if payment:
                lag.append(delay)
        used[item.invoice_id] = used.get(item.invoice_id, 0.0) + total - left
        for s in mine:
            if left > 0:
                s.add_open((day - item.due_date).days, left / total)
            s.count()
    dists = {k: s.estimate() for k, s in samples.items()}
    return dists, {c: median_of(v) for c, v in lags.items() if v}


@pytest.mark.parametrize("day", [date(2024, 2, 10), date(2024, 4, 30), date(2025, 6, 30)])
def test_delays_learned_column_wise_are_the_item_by_item_loop(day: date) -> None:
    """Items alone on their invoice settled a receipt rank at a time for all at once, the
    others (instalments, statutory dates known later) item by item: the same distributions
    to the bit, in the same key order, and the same lags; with write-offs, zero, negative and
    several receipts per invoice (tests/forecast/test_learner.py's history)."""
    ledger = _ledger(3)
    since = day - timedelta(days=365)
    dists, lags = _delays_as_before(ledger, day, since)
    b = learn(ledger, day)
    assert b.everyone == dists.pop(GLOBAL)
    assert list(b.customer.items()) == [(k, d) for k, d in dists.items() if isinstance(k, int)]
    assert list(b.parent.items()) == [(k, d) for k, d in dists.items() if isinstance(k, str)]
    assert list(b.lag_days.items()) == list(lags.items())
    assert len(b.customer) > 2 and (b.lag_days or day.month == 2)


def test_a_keeping_rate_given_everyones_rate_is_the_one_without() -> None:
    """The forecast sums everyone's kept / made once per table, not once per promise."""
    b = learn(_ledger(3), date(2025, 6, 30))
    for table in (b.promise_rate, b.plan_rate):
        assert table
        overall = b.overall_rate(table)
        for customer in [*list(table)[:10], -1]:
            assert b.rate(table, customer, overall) == b.rate(table, customer)
    assert b.overall_rate({}) == 0.5


def test_delays_with_customer_ids_too_far_apart_for_one_number_are_the_loop() -> None:
    """(agency, customer) pairs are grouped as one number when it fits in 62 bits, else as
    rows: the same samples either way."""

    from claims.forecast.ledger import Ledger

    base = _ledger(3)
    items = [i._replace(customer_id=i.customer_id + 2**62) if i.customer_id % 2 else i
             for i in base.items]
    ledger = Ledger(items, list(base.receipts), dict(base.customers))
    day = date(2025, 6, 30)
    dists, lags = _delays_as_before(ledger, day, day - timedelta(days=365))
    b = learn(ledger, day)
    assert b.everyone == dists.pop(GLOBAL)
    assert list(b.customer.items()) == [(k, d) for k, d in dists.items() if isinstance(k, int)]
    assert any(k > 2**62 for k in b.customer) and list(b.lag_days.items()) == list(lags.items())
