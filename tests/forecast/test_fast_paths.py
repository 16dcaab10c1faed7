"""The numpy paths of the forecast (issue #17) against the pure-Python loops they replaced.

The loops are written out here as the reference. Mixes, cumulative sums, day shifts and the
Kaplan–Meier estimate add in the same order as the loops did: equal to the last bit. The
convolution adds its products in another order: equal within 1e-15 of the mass. A backtest
that shares each as-of date's open items between the methods scores as one that does not.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

import pytest

from claims.forecast.backtest import actuals, baselines, invoices_of, run_backtest
from claims.forecast.distributions import (
    DMAX, DMIN, SPAN, Dist, Sample, convolve, days_pmf, mix, week_weights,
    week_weights_rows,
)
from claims.forecast.history import learn
from claims.forecast.model import forecast
from claims.forecast.synthetic import generate


def _loop_convolve(a, b, limit):
    out = [0.0] * limit
    for i, pa in enumerate(a[:limit]):
        for j, pb in enumerate(b[:limit - i]):
            out[i + j] += pa * pb
    return out


def _loop_estimate(sample: Sample):
    at_risk = sum(sample.paid) + sum(sample.censored)
    survival, pmf = 1.0, []
    for k in range(SPAN):
        paid = sample.paid[k]
        hazard = paid / at_risk if at_risk > 1e-12 else 0.0
        pmf.append(survival * hazard)
        survival *= 1.0 - hazard
        at_risk -= paid + sample.censored[k]
    return pmf, max(survival, 0.0)


def _random_sample(rng: random.Random, draws: int) -> Sample:
    s = Sample()
    for _ in range(draws):
        delay = rng.randint(DMIN - 20, DMAX + 40)
        if rng.random() < 0.8:
            s.add_paid(delay, rng.random())
        else:
            s.add_open(delay, rng.random())
        s.count()
    return s


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_estimate_mix_and_cumulative_are_the_loops_to_the_bit(seed: int) -> None:
    rng = random.Random(seed)
    a, b = _random_sample(rng, 400), _random_sample(rng, 40)
    da, db = a.estimate(), b.estimate()
    assert (list(da.pmf), da.later) == _loop_estimate(a)
    mixed = mix(db, da, 10.0)
    w = db.n / (db.n + 10.0)
    assert mixed.pmf == tuple(w * x + (1 - w) * y for x, y in zip(db.pmf, da.pmf, strict=True))
    running, total = [], 0.0
    for p in mixed.pmf:
        total += p
        running.append(total)
    assert mixed.cdf() == running


def test_all_mass_censored_later_is_no_payment_at_all() -> None:
    s = Sample()
    s.add_open(DMAX + 5, 1.0)
    s.count()
    d = s.estimate()
    assert sum(d.pmf) == 0.0 and d.later == 1.0


def _loop_week_weights(dist: Dist, offset: int, weeks: int) -> tuple[float, ...]:
    cdf = dist.cdf()
    at = [0.0 if 7 * k - offset < DMIN else cdf[min(7 * k - offset, DMAX) - DMIN]
          for k in range(weeks + 1)]
    remaining = 1.0 - at[0]
    if remaining <= 1e-12:
        return tuple([0.0] * weeks)
    return tuple((at[k] - at[k - 1]) / remaining for k in range(1, weeks + 1))


@pytest.mark.parametrize("seed", [6, 7])
def test_week_weights_of_many_items_are_the_loop_to_the_bit(seed: int) -> None:
    """The forecast spreads every distinct (distribution, offset) in one numpy pass: each
    row is the per-item loop's, including offsets far before and after the delay range and
    a distribution fully paid by the as-of date (all weights 0)."""
    rng = random.Random(seed)
    dists = [_random_sample(rng, 200).estimate(), _random_sample(rng, 20).estimate(),
             Dist.point(-5)]
    pairs = [(rng.choice(dists), rng.randint(-400, 200)) for _ in range(300)]
    pairs += [(dists[2], 10), (dists[2], -3), (dists[0], DMIN - 100), (dists[1], DMAX + 50)]
    rows = week_weights_rows([d for d, _ in pairs], [o for _, o in pairs], 13)
    assert rows == [_loop_week_weights(d, o, 13) for d, o in pairs]
    assert rows[-3] == (0.0,) * 13 and rows[-4][0] == 1.0
    assert week_weights(dists[0], 3, 5) == _loop_week_weights(dists[0], 3, 5)
    assert week_weights_rows([], [], 13) == []


@pytest.mark.parametrize("seed", [4, 5])
def test_convolution_and_day_shift_match_the_loops(seed: int) -> None:
    rng = random.Random(seed)
    limit = 92
    a = [rng.random() if rng.random() < 0.6 else 0.0 for _ in range(limit)]
    b = [rng.random() if rng.random() < 0.6 else 0.0 for _ in range(limit)]
    fast, slow = convolve(a, b, limit), _loop_convolve(a, b, limit)
    assert len(fast) == limit
    assert max(abs(x - y) for x, y in zip(fast, slow, strict=True)) <= 1e-15 * max(1.0, max(slow))
    assert convolve([], b, limit) == [0.0] * limit
    dist = _random_sample(rng, 300).estimate()
    for shift in (-70, 0, 30):
        out = [0.0] * limit
        for k, p in enumerate(dist.pmf):
            if p and max(k + DMIN + shift, 0) < limit:
                out[max(k + DMIN + shift, 0)] += p
        assert days_pmf(dist, shift, limit) == out
    assert days_pmf(Dist.point(10), 5, limit)[15] == 1.0


def test_backtest_sharing_open_items_scores_as_separate_passes() -> None:
    ledger = generate(1500, 40, start=date(2024, 1, 1), end=date(2026, 12, 31)).to_ledger()
    day = date(2025, 6, 2)
    b = learn(ledger, day)
    items = ledger.open_items(day)
    assert items
    assert baselines(ledger, b, day, 13, items) == baselines(ledger, b, day, 13)
    shared, alone = forecast(ledger, b, day, None, items), forecast(ledger, b, day)
    assert shared.rows == alone.rows and shared.lines == alone.lines
    # actuals as they were: payments after the day on invoices issued by then, by currency
    issued = {i.invoice_id: i for i in ledger.items if i.issue_date <= day}
    expected: dict[str, list[float]] = {}
    for r in ledger.receipts_between(day, day + timedelta(days=91)):
        item = issued.get(r.invoice_id)
        if item is not None and r.kind == "payment":
            week = expected.setdefault(item.currency, [0.0] * 13)
            week[((r.day - day).days - 1) // 7] += float(r.amount)  # ok: a test's sum
    assert dict(actuals(ledger, day, 13, invoices_of(ledger))) == expected
    assert len(run_backtest(ledger, day, day + timedelta(days=7)).dates) == 2


def test_paid_by_customer_bisects_to_the_scan() -> None:
    ledger = generate(800, 20, start=date(2025, 1, 1), end=date(2025, 12, 31)).to_ledger()
    customers = {i.customer_id for i in ledger.items}
    of = {i.invoice_id: i.customer_id for i in ledger.items}
    spans = [(date(2025, 1, 1), date(2025, 12, 31)), (date(2025, 3, 5), date(2025, 3, 5)),
             (date(2025, 6, 1), date(2025, 8, 15)), (date(2025, 9, 1), date(2025, 8, 1))]
    for customer in customers:
        for start, end in spans:
            scan = sum((r.amount for r in ledger.receipts if of.get(r.invoice_id) == customer
                        and r.kind == "payment" and start <= r.day <= end), Decimal(0))
            assert ledger.paid_by_customer(customer, start, end) == scan
    assert ledger.paid_by_customer(-1, date(2025, 1, 1), date(2025, 12, 31)) == 0
