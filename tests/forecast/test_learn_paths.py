"""learn()'s shorter paths (issue #17) against what they replaced: promise outcomes read only
the promising customers' payments (were everyone's), with the same keeping record."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from datetime import date, timedelta

import pytest

from claims.forecast.history import learn, promise_outcomes
from claims.forecast.synthetic import generate


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
