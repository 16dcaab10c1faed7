"""The 13-week forecast: every open receivable spread over the weeks ahead. Pure: no I/O.

Sources (each line of the forecast says which, and the assumption it used):

- a claim on a portal: approved → approval date + the contract's payment days, shifted by the
  agency's lateness after that; submitted or under review → the agency's review time (given it
  has not ended yet) + payment days + lateness; returned → correction time + review + payment;
- an open invoice without such a claim → its due date (from collections) shifted by the
  customer's days-to-pay distribution, shrunk toward its agency (or segment) and everyone;
- a promise to pay → its amount on its date with the customer's keeping rate (the customer's
  invoice lines give up the share the promise is expected to pay);
- a payment plan → its open instalments on their dates with the customer's keeping rate, the
  rest on the customer's delay distribution; the plan's invoices are not counted again;
- a disputed invoice → held out, listed apart; Prompt Payment interest owed → listed apart.

Week k covers the days as-of + 7(k−1) + 1 … as-of + 7k. A week's P50 is its expected receipts;
P10 and P90 come from a normal approximation whose variance treats one customer's lines in a
week as moving together and customers as independent (clipped to 0 … the amount at stake).
Probabilities and expected figures are floats rounded to the currency's minor units at the end;
amounts at stake stay ``Decimal``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

import numpy as np

from claims.collections.terms import late_interest
from claims.core.money import CURRENCIES, quantize
from claims.forecast.distributions import (
    Dist, complete, graft, week_weights, week_weights_rows,
)
from claims.forecast.history import Behaviour, parent_key
from claims.forecast.ledger import APPROVED, RETURNED, REVIEW, Item, Ledger, active
from claims.forecast.options import Options
from claims.forecast.stages import claim_weights

Z90 = 1.2815515655446004  # the standard normal's 90th percentile


class Line(NamedTuple):
    """One receivable spread over the weeks: ``amount`` × ``weights[k]`` expected in week k+1.

    A named tuple, as :class:`~claims.forecast.ledger.Item` (a line per open item: 100,000)."""

    source: str           # claim | invoice | promise | plan
    ref: str
    customer_id: int
    customer: str
    currency: str
    amount: Decimal
    weights: tuple[float, ...]
    assumption: str

    def expected(self, week: int) -> float:
        return float(self.amount) * self.weights[week - 1]  # ok: statistics, not money


@dataclass(frozen=True)
class Week:
    week: int
    start: date
    end: date
    currency: str
    p10: Decimal
    p50: Decimal
    p90: Decimal

    def to_json(self) -> dict[str, Any]:
        return {"week": self.week, "start": self.start, "end": self.end,
                "currency": self.currency, "p10": str(self.p10), "p50": str(self.p50),
                "p90": str(self.p90)}


@dataclass
class Forecast:
    as_of: date
    weeks: int
    rows: list[Week] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    held_out: list[dict[str, Any]] = field(default_factory=list)
    interest: list[dict[str, Any]] = field(default_factory=list)

    def week_dates(self, week: int) -> tuple[date, date]:
        return (self.as_of + timedelta(days=7 * (week - 1) + 1),
                self.as_of + timedelta(days=7 * week))

    def explain(self, week: int, currency: str | None = None,
                limit: int | None = None) -> list[dict[str, Any]]:
        """The lines in ``week`` (largest expected first) with the assumption of each."""
        rows = []
        for line in self.lines:
            if currency and line.currency != currency:
                continue
            value = line.expected(week)
            if value >= 0.005:
                rows.append((value, line))
        rows.sort(key=lambda r: (-r[0], r[1].ref))
        places = {c: CURRENCIES.get(c, 2) for c in {ln.currency for _, ln in rows}}
        return [{"source": ln.source, "ref": ln.ref, "customer": ln.customer,
                 "currency": ln.currency, "open": str(ln.amount),
                 "probability": round(ln.weights[week - 1], 4),
                 "expected": str(_money(v, places[ln.currency])), "assumption": ln.assumption}
                for v, ln in rows[:limit]]

    def to_json(self, drill_limit: int | None = 20) -> dict[str, Any]:
        """The forecast: weeks with P10/P50/P90 each drilling down to its largest lines."""
        weeks = []
        for row in self.rows:
            lines = self.explain(row.week, row.currency)
            weeks.append({**row.to_json(), "lines": len(lines),
                          "drilldown": lines[:drill_limit]})
        return {"as_of": self.as_of, "weeks": self.weeks, "forecast": weeks,
                "totals": self.totals(), "held_out": self.held_out, "interest": self.interest}

    def totals(self) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, Decimal]] = {}
        for row in self.rows:
            t = out.setdefault(row.currency, {"p50": Decimal(0), "at_stake": Decimal(0)})
            t["p50"] += row.p50
        for line in self.lines:
            out.setdefault(line.currency, {"p50": Decimal(0), "at_stake": Decimal(0)})
            out[line.currency]["at_stake"] += line.amount
        return {c: {k: str(v) for k, v in t.items()} for c, t in sorted(out.items())}


def _money(value: float, places: int) -> Decimal:
    return quantize(Decimal(repr(value)), places)


def forecast(ledger: Ledger, behaviour: Behaviour, day: date,
             options: Options | None = None,
             open_items: list[tuple[Item, Decimal]] | None = None) -> Forecast:
    """The forecast as of the end of ``day`` from what ``ledger`` knew then (``open_items``:
    ``ledger.open_items(day)`` when the caller has it already, as the backtest does)."""
    options = options or Options()
    result = Forecast(day, options.weeks)
    disputed = {d.invoice_id for d in ledger.disputes if active(d.opened_on, d.resolved_on, day)}
    planned = {i for p in ledger.plans if active(p.agreed_on, p.cancelled_on, day)
               for i in p.invoice_ids}
    if open_items is None:
        open_items = ledger.open_items(day)
    owing = {item.invoice_id for item, _ in open_items}
    claims = {}
    for claim in ledger.claims:
        if claim.invoice_id not in owing:  # a claim's money is read off its open invoice
            continue
        status, since = claim.status_on(day)
        if status in REVIEW or status in APPROVED or status in RETURNED:
            claims[claim.invoice_id] = (claim, status, since)
    invoices: list[tuple[Item, Decimal, str]] = []  # spread over the weeks all at once
    cache: dict[tuple[Any, ...], tuple[tuple[float, ...], str]] = {}
    rules = ledger.interest_rules
    names: dict[int, str] = {}  # ledger.name once per customer, not once per line
    for item, open_amount in open_items:
        if rules.get(item.statutory_agency or "") is not None:  # else _interest adds nothing
            _interest(ledger, item, open_amount, day, result)
        name = names.get(item.customer_id)
        if name is None:
            name = names[item.customer_id] = ledger.name(item.customer_id)
        if item.invoice_id in disputed:
            result.held_out.append({"invoice": item.label, "customer": name,
                                    "currency": item.currency, "open": str(open_amount),
                                    "reason": "open dispute: held out of the weekly figures"})
            continue
        if item.invoice_id in planned:
            continue
        if item.invoice_id in claims:
            claim, status, since = claims[item.invoice_id]
            weights, why = claim_weights(claim, status, since, behaviour, day,
                                         options, cache)
            result.lines.append(Line("claim", f"claim #{claim.claim_id} ({item.label})",
                                     item.customer_id, name, item.currency, open_amount,
                                     weights, why))
            continue
        invoices.append((item, open_amount, name))
    spread = _invoice_weights(ledger, behaviour, [item for item, _, _ in invoices], day,
                              options.weeks)
    invoice_lines = [Line("invoice", item.label, item.customer_id, name, item.currency,
                          open_amount, weights, why)
                     for (item, open_amount, name), (weights, why) in zip(invoices, spread,
                                                                            strict=True)]
    result.lines += _promises(ledger, behaviour, day, options, invoice_lines)
    result.lines += _plans(ledger, behaviour, day, options)
    result.rows = _weeks(result, options.weeks)
    return result


def _invoice_weights(ledger: Ledger, behaviour: Behaviour, items: list[Item], day: date,
                     weeks: int) -> list[tuple[tuple[float, ...], str]]:
    """Each item's week weights and assumption, made once per (customer, contract agency,
    days from the as-of date to the due date): the parent group follows from the customer
    and the agency, the distribution from both; the weights of every distinct one in one
    pass (:func:`week_weights_rows`)."""
    keys = [(item.customer_id, item.agency, (item.due_date - day).days) for item in items]
    firsts: dict[tuple[int, str | None, int], Item] = {}
    for key, item in zip(keys, items, strict=True):
        if key not in firsts:
            firsts[key] = item
    made: dict[tuple[int, str | None, int], tuple[tuple[float, ...], str]] = {}
    pending: list[tuple[tuple[int, str | None, int], Dist, str]] = []
    # per (customer, agency): the distribution and what its lines say of it after the date
    delays: dict[tuple[int, str | None], tuple[Dist | None, str]] = {}
    for key, item in firsts.items():
        offset = key[2]
        found = delays.get(key[:2])
        if found is None:
            dist, source = behaviour.delay(item, parent_key(ledger, item))
            median = dist.median() if dist is not None else None
            found = delays[key[:2]] = (dist, "" if dist is None else (
                f" shifted by the {source}: median {'+' if (median or 0) >= 0 else ''}"
                f"{median} d, later than {240} d or never {dist.later:.0%}"))
        dist, tail = found
        if dist is None:  # no history at all: the due date itself (overdue: next week)
            weights = tuple([1.0] + [0.0] * (weeks - 1)) if offset <= 7 else \
                week_weights(Dist.point(0), offset, weeks)
            made[key] = (weights, "no payment history anywhere: paid on its due date")
            continue
        pending.append((key, dist, f"due {item.due_date}{tail}"
                                   + (f"; {-offset} d overdue, unpaid so far" if offset < 0
                                      else "")))
    rows = week_weights_rows([dist for _, dist, _ in pending],
                             [key[2] for key, _, _ in pending], weeks)
    for (key, _, why), weights in zip(pending, rows, strict=True):
        made[key] = (weights, why)
    return [made[key] for key in keys]


def _week_of(day: date, target: date, weeks: int) -> int:
    return min(max((target - day).days + 6, 7) // 7, weeks + 1)


def _point(day: date, target: date, weeks: int, mass: float) -> list[float]:
    out = [0.0] * weeks
    k = _week_of(day, target, weeks)
    if k <= weeks:
        out[k - 1] = mass
    return out


def _promises(ledger: Ledger, behaviour: Behaviour, day: date, options: Options,
              invoice_lines: list[Line]) -> list[Line]:
    """Promise lines; the promising customer's invoice lines are scaled down by the share the
    promise is expected to pay (so nothing is counted twice). Returns promises + invoices."""
    open_by_customer: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    for line in invoice_lines:
        open_by_customer[(line.customer_id, line.currency)] += line.amount
    taken: dict[tuple[int, str], float] = defaultdict(float)
    out: list[Line] = []
    grace = timedelta(days=options.promise_grace_days)
    overall = behaviour.overall_rate(behaviour.promise_rate)
    for p in ledger.promises:
        if not active(p.made_on, p.cancelled_on, day) or p.promised_date + grace < day:
            continue
        paid = ledger.paid_by_customer(p.customer_id, p.made_on, day)
        key = (p.customer_id, p.currency)
        still = min(p.amount - paid, open_by_customer[key])
        if still <= 0:
            continue
        q = behaviour.rate(behaviour.promise_rate, p.customer_id, overall)
        taken[key] += q * float(still)  # ok: statistics, not money
        out.append(Line("promise", f"promise #{p.id}", p.customer_id, ledger.name(p.customer_id),
                        p.currency, still, tuple(_point(day, p.promised_date, options.weeks, q)),
                        f"promised for {p.promised_date}; customer keeps {q:.0%} of promises"))
    for line in invoice_lines:
        key = (line.customer_id, line.currency)
        if taken.get(key):
            factor = max(0.0, 1.0 - taken[key] / float(open_by_customer[key]))  # ok: statistics
            line = Line(line.source, line.ref, line.customer_id, line.customer, line.currency,
                        line.amount, tuple(w * factor for w in line.weights),
                        line.assumption + f"; less {1 - factor:.0%} expected through a promise")
        out.append(line)
    return out


def _plans(ledger: Ledger, behaviour: Behaviour, day: date, options: Options) -> list[Line]:
    """The open instalments of active plans: kept with the customer's rate on their dates,
    else on the customer's delay distribution after their dates."""
    out = []
    overall = behaviour.overall_rate(behaviour.plan_rate)
    for plan in ledger.plans:
        if not active(plan.agreed_on, plan.cancelled_on, day):
            continue
        paid = sum((r.amount for i in plan.invoice_ids for r in ledger.receipts_of(i)
                    if plan.agreed_on <= r.day <= day and r.kind == "payment"), Decimal(0))
        q = behaviour.rate(behaviour.plan_rate, plan.customer_id, overall)
        for seq, (due, amount) in enumerate(plan.instalments, start=1):
            settled = min(paid, amount)
            paid -= settled
            if amount - settled <= 0:
                continue
            late = complete(graft(behaviour.customer.get(plan.customer_id),
                                  behaviour.everyone) or behaviour.everyone)
            rest = (week_weights(late, (due - day).days, options.weeks) if late
                    else tuple(_point(day, due, options.weeks, 1.0)))
            weights = tuple(q * a + (1 - q) * b for a, b in
                            zip(_point(day, due, options.weeks, 1.0), rest, strict=True))
            out.append(Line("plan", f"plan #{plan.id}/{seq}", plan.customer_id,
                            ledger.name(plan.customer_id), plan.currency, amount - settled,
                            weights, f"instalment due {due}; customer keeps {q:.0%} of "
                                     "instalments, else its usual delay"))
    return out


def _interest(ledger: Ledger, item: Item, open_amount: Decimal, day: date,
              result: Forecast) -> None:
    rule = ledger.interest_rules.get(item.statutory_agency or "")
    if rule is None or item.due_date >= day:
        return
    rate, compounding, day_count = rule
    owed = late_interest(open_amount, item.due_date, day, annual_rate_percent=rate,
                         compounding_days=compounding, day_count=day_count)
    if owed > 0:
        result.interest.append({"invoice": item.label, "agency": item.statutory_agency,
                                "currency": item.currency, "open": str(open_amount),
                                "due_date": item.due_date, "days_late": (day - item.due_date).days,
                                "interest": str(owed)})


def _weeks(result: Forecast, weeks: int) -> list[Week]:
    """P10 / P50 / P90 per week and currency (see the module docstring); one array per
    currency (lines × weeks) rather than a Python loop over every line's every week."""
    by_currency: dict[str, list[Line]] = defaultdict(list)
    for line in result.lines:
        by_currency[line.currency].append(line)
    rows = []
    for currency in sorted(by_currency):
        places = CURRENCIES.get(currency, 2)
        mean, sigma, at_stake = _moments(by_currency[currency], weeks)
        for k in range(weeks):
            mu = mean[k]
            start, end = result.week_dates(k + 1)
            rows.append(Week(k + 1, start, end, currency,
                             _money(max(0.0, mu - Z90 * sigma[k]), places), _money(mu, places),
                             _money(min(at_stake[k], mu + Z90 * sigma[k]), places)))
    return rows


def _moments(lines: list[Line], weeks: int) -> tuple[list[float], list[float], list[float]]:
    """Per week: expected receipts, their standard deviation (a customer's lines move
    together, customers are independent) and the amount at stake (lines with weight > 0)."""
    amount = np.array([float(ln.amount) for ln in lines])  # ok: statistics, not money
    rows = [ln.weights for ln in lines]
    if all(len(r) == weeks for r in rows):  # the usual case: one array from them all
        w = np.array(rows, dtype=np.float64).reshape(len(lines), weeks)
    else:
        w = np.zeros((len(lines), weeks))
        for i, ln in enumerate(lines):
            w[i, :len(ln.weights)] = ln.weights[:weeks]
    live = w > 0.0
    share = np.where(live, w, 0.0)
    mean = (amount[:, None] * share).sum(axis=0)
    at_stake = (amount[:, None] * live).sum(axis=0)
    partial = live & (w < 1.0)
    wp = np.where(partial, w, 0.0)
    spread = amount[:, None] * np.sqrt(wp * (1.0 - wp))
    _, customer = np.unique(np.array([ln.customer_id for ln in lines]), return_inverse=True)
    by_customer = np.zeros((int(customer.max()) + 1, weeks))
    np.add.at(by_customer, customer, spread)
    sigma = np.sqrt((by_customer * by_customer).sum(axis=0))
    return mean.tolist(), sigma.tolist(), at_stake.tolist()
