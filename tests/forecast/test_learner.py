"""The backtest's learner (learn once, then every as-of date from arrays) against
:func:`learn` from scratch, on a generated history (issue #17).

The history is the synthetic one plus what it lacks: invoices in instalments, statutory due
dates known only from a later day, write-offs, zero and negative receipts, promises cancelled,
payment plans kept, broken and cancelled. Every weekly as-of date over the history must give
the same :class:`Behaviour`, to the bit (dataclass equality compares every distribution's
floats), and the backtest must score the same as with :func:`learn` for every date.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest

from claims.forecast.backtest import run_backtest
from claims.forecast.history import learn
from claims.forecast.learner import Learner
from claims.forecast.ledger import (
    ClaimFacts, Item, Ledger, PlanFacts, PromiseFacts, Receipt, Unsettled,
)
from claims.forecast.options import Options
from claims.forecast.synthetic import generate

START, END = date(2024, 1, 1), date(2025, 6, 30)


def _instalments(item: Item) -> list[Item]:
    half = (item.amount / 2).quantize(Decimal("0.01"))
    return [item._replace(seq=1, amount=half),
            item._replace(seq=2, amount=item.amount - half,
                    due_date=item.due_date + timedelta(days=30))]


def _ledger(seed: int) -> Ledger:
    """The synthetic history with instalments, statutory dates, write-offs, odd receipts,
    cancelled promises and plans added (see the module docstring)."""
    rng = random.Random(seed)
    h = generate(1500, 40, start=START, end=END, seed=seed)
    items: list[Item] = []
    for item in h.items:
        if item.invoice_id % 9 == 0:
            items += _instalments(item)
        elif item.invoice_id % 13 == 0:  # a statutory due date known from a later day
            items.append(item._replace(due_date=item.due_date + timedelta(days=12),
                                 known_from=item.issue_date + timedelta(days=20),
                                 due_before=item.due_date, statutory_agency="Agency 01"))
        else:
            items.append(item)
    receipts = list(h.receipts)
    for item in h.items[::17]:
        receipts.append(Receipt(item.invoice_id, item.due_date + timedelta(days=rng.randint(
            0, 400)), (item.amount / 3).quantize(Decimal("0.01")), kind="write-off"))
    for item in h.items[5::41]:
        receipts.append(Receipt(item.invoice_id, item.due_date, Decimal("0.00")))
        receipts.append(Receipt(item.invoice_id, item.due_date + timedelta(days=3),
                                Decimal("-5.00")))
    promises = [replace(p, cancelled_on=p.made_on + timedelta(days=2)) if k % 5 == 0 else p
                for k, p in enumerate(h.promises)]
    promises.append(PromiseFacts(99_001, 3, "EUR", Decimal("100.00"), date(2024, 6, 1),
                                 date(2024, 5, 20)))
    plans = []
    for k, item in enumerate(h.items[100::150]):
        agreed = item.due_date + timedelta(days=10)
        half = (item.amount / 2).quantize(Decimal("0.01"))
        plans.append(PlanFacts(k + 1, item.customer_id, item.currency, agreed,
                               (item.invoice_id,),
                               ((agreed + timedelta(days=20), half),
                                (agreed + timedelta(days=50), item.amount - half)),
                               cancelled_on=agreed + timedelta(days=35) if k % 3 == 0 else None))
        if k % 2:
            receipts.append(Receipt(item.invoice_id, agreed + timedelta(days=18), half))
    return Ledger(items, receipts, {c.id: (c.name, c.segment) for c in h.customers},
                  list(h.claims), promises, plans, list(h.disputes))


@pytest.mark.parametrize("seed", [3, 17])
def test_the_learner_learns_what_learn_does_on_every_weekly_date(seed: int) -> None:
    ledger = _ledger(seed)
    assert any(i.seq for i in ledger.items) and any(i.known_from for i in ledger.items)
    learner = Learner(ledger)
    strict = Learner(ledger, window_days=120, prior=4.0, grace_days=3)
    day, compared = START - timedelta(days=14), 0
    while day <= END + timedelta(days=120):
        expected = learn(ledger, day)
        assert learner.at(day) == expected, day
        if compared % 3 == 1:
            assert strict.at(day) == learn(ledger, day, window_days=120, prior=4.0,
                                           grace_days=3), day
        compared += bool(expected.customer)
        day += timedelta(days=7 if compared < 12 else 28)
    assert compared > 20  # dates with something learned, not only empty ones
    # and what was learned is not trivially empty: customers, agencies, rates, plans
    late = learner.at(date(2025, 3, 3))
    assert len(late.customer) > 20 and late.review and late.lateness and late.correction
    assert late.promise_rate and late.plan_rate and late.lag_days


def test_claims_out_of_time_order_fall_back_to_learn() -> None:
    ledger = _ledger(5)
    claim = ledger.claims[0]
    ledger.claims[0] = ClaimFacts(claim.claim_id, claim.invoice_id, claim.agency, claim.portal,
                                  claim.payment_days, tuple(reversed(claim.events)))
    day = date(2025, 2, 3)
    assert Learner(ledger).at(day) == learn(ledger, day)


def test_the_backtest_scores_the_same_learning_once_or_every_date() -> None:
    ledger = _ledger(11)
    options = Options()
    once = run_backtest(ledger, date(2024, 9, 2), date(2024, 11, 25), options).to_json()
    every = run_backtest(ledger, date(2024, 9, 2), date(2024, 11, 25), options,
                         incremental=False).to_json()
    assert once["as_of_dates"] == every["as_of_dates"] == 13
    assert once["scores"] == every["scores"]
    assert once["scores"]["EUR"]["weeks 1-4"]["model"]["actual"] > 0


def test_only_unsettled_invoices_are_walked_and_open_items_stay_the_same() -> None:
    ledger = _ledger(7)
    unsettled = Unsettled(ledger)
    day, skipped = START - timedelta(days=7), 0
    while day <= END + timedelta(days=200):
        walked = unsettled.at(day)
        assert ledger.open_items(day, walked) == ledger.open_items(day), day
        skipped += sum(1 for i in ledger.items if i.issue_date <= day) - len(walked)
        day += timedelta(days=14)
    assert skipped > 10_000  # most paid invoices are not walked again


def test_settled_for_good_only_after_a_refund_is_made_good() -> None:
    d = date(2025, 1, 1)
    item = Item(1, 0, "INV-1", 1, "EUR", d, d + timedelta(days=30), Decimal("100.00"))
    receipts = [Receipt(1, d + timedelta(days=10), Decimal("100.00")),
                Receipt(1, d + timedelta(days=20), Decimal("-50.00")),
                Receipt(1, d + timedelta(days=40), Decimal("50.00"))]
    ledger = Ledger([item], receipts)
    assert ledger.settled_on(1, Decimal("100.00")) == d + timedelta(days=40)
    assert ledger.settled_on(1, Decimal("100.01")) == date.max
    assert ledger.settled_on(2, Decimal("0")) == date.min
    for days in (5, 10, 25, 39, 40):
        at = d + timedelta(days=days)
        assert ledger.open_items(at, Unsettled(ledger).at(at)) == ledger.open_items(at)
    assert [a for _, a in ledger.open_items(d + timedelta(days=25))] == [Decimal("50.00")]
