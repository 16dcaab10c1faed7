"""Replaying history: forecasts as of past weeks scored against the receipts that came. Pure.

For every weekly as-of date in the range, three methods forecast the open receivables known
then (:meth:`Ledger.open_items` and :func:`~claims.forecast.history.learn` read nothing dated
after the as-of day):

- ``naive``: every open item paid on its due date (an overdue one in week 1);
- ``lag``: due date + the customer's recent median delay (from payments by the as-of day);
- ``model``: :func:`~claims.forecast.model.forecast`.

Actual receipts of week k are the payments valued in that week on invoices issued by the as-of
date (a forecast of today's receivables is not scored on invoices not yet issued). Scores per
horizon (weeks 1–4, 5–13) and currency: WAPE = Σ|F − A| / ΣA and bias = Σ(F − A) / ΣA, in %;
for the model also how often the actual fell within P10…P90.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from claims.forecast.history import Behaviour, learn
from claims.forecast.learner import Learner
from claims.forecast.ledger import Item, Ledger, Unsettled
from claims.forecast.model import Options, forecast

METHODS = ("naive", "lag", "model")
HORIZONS = (("weeks 1-4", 1, 4), ("weeks 5-13", 5, 13))


def _week(day: date, target: date, weeks: int) -> int | None:
    """The week (1…weeks) ``target`` falls in counted from ``day``; past dates are week 1."""
    k = max((target - day).days + 6, 7) // 7
    return k if k <= weeks else None


def baselines(ledger: Ledger, behaviour: Behaviour, day: date, weeks: int,
              open_items: list[tuple[Item, Decimal]] | None = None
              ) -> dict[str, dict[str, list[float]]]:
    """Naive and lag forecasts per currency: expected receipts per week."""
    out: dict[str, dict[str, list[float]]] = {
        "naive": defaultdict(lambda: [0.0] * weeks), "lag": defaultdict(lambda: [0.0] * weeks)}
    if open_items is None:
        open_items = ledger.open_items(day)
    for item, open_amount in open_items:
        amount = float(open_amount)  # ok: a score (WAPE, bias), not money kept or shown
        k = _week(day, item.due_date, weeks)
        if k:
            out["naive"][item.currency][k - 1] += amount
        lag = behaviour.lag_days.get(item.customer_id, 0)
        k = _week(day, item.due_date + timedelta(days=lag), weeks)
        if k:
            out["lag"][item.currency][k - 1] += amount
    return out


def invoices_of(ledger: Ledger) -> dict[int, tuple[date, str]]:
    """Per invoice: the first issue date of its items and its currency (read once)."""
    out: dict[int, tuple[date, str]] = {}
    for i in ledger.items:
        seen = out.get(i.invoice_id)
        if seen is None or i.issue_date < seen[0]:
            out[i.invoice_id] = (i.issue_date, i.currency)
    return out


def actuals(ledger: Ledger, day: date, weeks: int,
            invoices: dict[int, tuple[date, str]] | None = None) -> dict[str, list[float]]:
    """Payments per week after ``day`` on invoices issued by ``day``, per currency
    (``invoices``: :func:`invoices_of`, when the caller has it already)."""
    invoices = invoices_of(ledger) if invoices is None else invoices
    end = day + timedelta(days=7 * weeks)
    out: dict[str, list[float]] = defaultdict(lambda: [0.0] * weeks)
    for r in ledger.receipts_between(day, end):
        item = invoices.get(r.invoice_id)
        if item is not None and item[0] <= day and r.kind == "payment":
            out[item[1]][((r.day - day).days - 1) // 7] += float(r.amount)  # ok: statistics
    return out


@dataclass
class Score:
    abs_error: float = 0.0
    error: float = 0.0
    actual: float = 0.0
    inside: int = 0
    cells: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"wape_percent": round(100 * self.abs_error / self.actual, 1)
                if self.actual else None,
                "bias_percent": round(100 * self.error / self.actual, 1) if self.actual else None,
                "actual": round(self.actual, 2), "weeks_scored": self.cells}


@dataclass
class Backtest:
    dates: list[date] = field(default_factory=list)
    scores: dict[tuple[str, str, str], Score] = field(default_factory=lambda: defaultdict(Score))
    seconds_per_date: list[float] = field(default_factory=list)
    setup_seconds: float = 0.0   # reading the ledger once before the first as-of date

    def to_json(self) -> dict[str, Any]:
        """Scores per currency, horizon and method, and the time each as-of date took."""
        out: dict[str, Any] = {}
        for (currency, horizon, method), s in sorted(self.scores.items()):
            entry = out.setdefault(currency, {}).setdefault(horizon, {})
            entry[method] = s.to_json()
            if method == "model" and s.cells:
                entry[method]["p10_p90_coverage_percent"] = round(100 * s.inside / s.cells, 1)
        times = self.seconds_per_date
        return {"from": self.dates[0] if self.dates else None,
                "to": self.dates[-1] if self.dates else None, "as_of_dates": len(self.dates),
                "scores": out,
                "setup_seconds": round(self.setup_seconds, 3),
                "seconds_per_as_of": {"mean": round(sum(times) / len(times), 3) if times else None,
                                      "max": round(max(times), 3) if times else None}}


def run_backtest(ledger: Ledger, start: date, end: date, options: Options | None = None,
                 *, incremental: bool = True,
                 progress: Callable[[date, float], None] | None = None) -> Backtest:
    """Forecast as of every 7th day from ``start`` to ``end`` and score the three methods.

    ``incremental``: learn through one :class:`~claims.forecast.learner.Learner` (one walk over
    the ledger, then each as-of date from arrays; the same behaviour to the bit) rather than
    :func:`learn` from scratch for every date. ``progress(day, seconds)``: called after each
    as-of date (a long backtest shows how it goes)."""
    options = options or Options()
    weeks = options.weeks
    result = Backtest()
    began = time.perf_counter()
    invoices = invoices_of(ledger)  # the invoices' issue dates and currencies, read once
    settings = {"window_days": options.window_days, "prior": options.prior,
                "grace_days": options.promise_grace_days}
    learner = Learner(ledger, **settings) if incremental else None
    unsettled = Unsettled(ledger)  # invoices paid for good are not walked again every date
    result.setup_seconds = time.perf_counter() - began
    day = start
    while day <= end:
        began = time.perf_counter()
        behaviour = learner.at(day) if learner else learn(ledger, day, **settings)
        items = ledger.open_items(day, unsettled.at(day))  # once per date, for every method
        methods = baselines(ledger, behaviour, day, weeks, items)
        fc = forecast(ledger, behaviour, day, options, items)
        model: dict[str, list[float]] = defaultdict(lambda: [0.0] * weeks)
        for line in fc.lines:
            target = model[line.currency]
            amount = float(line.amount)  # ok: a score, not money kept or shown
            for k, w in enumerate(line.weights):
                target[k] += amount * w
        methods["model"] = model
        # the bands' coverage is a score (statistics), not money kept or shown
        bands = {(r.currency, r.week): (float(r.p10), float(r.p90))  # ok: a score
                 for r in fc.rows}
        actual = actuals(ledger, day, weeks, invoices)
        result.seconds_per_date.append(time.perf_counter() - began)
        if progress is not None:
            progress(day, result.seconds_per_date[-1])
        _score(result, methods, actual, bands, weeks)
        result.dates.append(day)
        day += timedelta(days=7)
    return result


def _score(result: Backtest, methods: dict[str, dict[str, list[float]]],
           actual: dict[str, list[float]], bands: dict[tuple[str, int], tuple[float, float]],
           weeks: int) -> None:
    currencies = set(actual) | {c for m in methods.values() for c in m}
    for currency in currencies:
        real = actual.get(currency) or [0.0] * weeks
        for name, lo, hi in HORIZONS:
            for method in METHODS:
                f = methods[method].get(currency)
                s = result.scores[(currency, name, method)]
                for k in range(lo - 1, min(hi, len(real))):
                    value = f[k] if f else 0.0
                    s.abs_error += abs(value - real[k])
                    s.error += value - real[k]
                    s.actual += real[k]
                    s.cells += 1
                    if method == "model":
                        low, high = bands.get((currency, k + 1), (0.0, 0.0))
                        s.inside += low - 0.01 <= real[k] <= high + 0.01
