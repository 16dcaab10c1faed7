"""Prompt Payment interest per 5 CFR 1315.10, with the Treasury rate table shipped as data.

- interest runs from the day after the due date through the payment date, at the rate in
  effect on the day after the due date (1315.10(a)(1));
- unpaid interest is added to the principal at the end of every 30-day period, for up to one
  year (1315.10(a)(3));
- interest stops accruing after one year (1315.10(a)(5)(ii));
- a penalty under one dollar need not be paid: it is flagged ``optional`` (1315.10(a)(7));
- the year has 360 days (the Treasury's prompt payment calculator and practice; configurable).

It applies to late payments already made (principal = the amount paid late, until its value
date) and to open items (principal = the open amount, until the as-of date). The rates are the
published six-month rates in ``data/prompt_payment_rates.json``, each with its source; a day
after a due date that no listed period covers has no rate: the interest is refused — ``None``
with the reason (:func:`rate_missing`) — never computed from a guessed rate, and never
counted as zero.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from typing import Any

from claims.collections.settings import AgencyRule
from claims.core.money import round_money

ONE_YEAR_DAYS = 365
COMPOUNDING_DAYS = 30
OPTIONAL_BELOW = Decimal("1.00")


@dataclass(frozen=True)
class RatePeriod:
    """One published rate: ``percent`` per annum from ``start`` through ``end``."""

    start: date
    end: date
    percent: Decimal
    source: str


@lru_cache(maxsize=1)
def treasury_rates() -> tuple[RatePeriod, ...]:
    """The shipped table of Prompt Payment rates (oldest first)."""
    text = resources.files("claims.collections").joinpath(
        "data/prompt_payment_rates.json").read_text("utf-8")
    return tuple(RatePeriod(date.fromisoformat(p["start"]), date.fromisoformat(p["end"]),
                            Decimal(p["percent"]), p["source"])
                 for p in json.loads(text)["periods"])


def rate_on(day: date, rates: tuple[RatePeriod, ...] | None = None) -> RatePeriod | None:
    """The rate period in effect on ``day``, or ``None`` when no sourced period covers it."""
    for period in rates if rates is not None else treasury_rates():
        if period.start <= day <= period.end:
            return period
    return None


@dataclass(frozen=True)
class Interest:
    """The interest penalty on one principal: ``amount`` is ``None`` when the rate is not
    known; ``optional`` when it is under one dollar (5 CFR 1315.10(a)(7))."""

    principal: Decimal
    due_date: date
    until: date
    days: int
    amount: Decimal | None
    rate: RatePeriod | None
    optional: bool
    #: why ``amount`` is None: the refusal, naming the day and the table (else None)
    missing: str | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (amounts as strings)."""
        return {"principal": str(self.principal), "due_date": self.due_date,
                "until": self.until, "days": self.days,
                "amount": None if self.amount is None else str(self.amount),
                "rate_percent": None if self.rate is None else str(self.rate.percent),
                "rate_source": None if self.rate is None else self.rate.source,
                "optional": self.optional, "rate_missing": self.missing}


RATE_TABLE = "claims/collections/data/prompt_payment_rates.json"


def rate_missing(day: date) -> str:
    """The refusal when no sourced period covers ``day``: one line naming the day, the rule
    and the table to extend (interest is never computed from a guessed rate)."""
    return (f"no sourced Treasury Prompt Payment rate in effect on {day.isoformat()} (the day "
            f"after the due date, 5 CFR 1315.10(a)(1)); interest not computed — add the "
            f"period with its Federal Register source to {RATE_TABLE}")


def compound_interest(principal: Decimal, days: int, annual_percent: Decimal, *,
                      day_count: int = 360, compounding_days: int = COMPOUNDING_DAYS,
                      max_days: int = ONE_YEAR_DAYS) -> Decimal:
    """Unrounded interest on ``principal`` for ``days`` (capped at ``max_days``): simple daily
    interest within each ``compounding_days`` period, added to the principal at its end."""
    days = min(days, max_days)
    if days <= 0 or principal <= 0 or annual_percent <= 0:
        return Decimal(0)
    daily = annual_percent / Decimal(100) / Decimal(day_count)
    periods, rest = divmod(days, compounding_days)
    factor = (1 + daily * compounding_days) ** periods * (1 + daily * rest)
    return principal * (factor - 1)


def prompt_payment_interest(principal: Decimal, due_date: date, until: date, currency: str, *,
                            rates: tuple[RatePeriod, ...] | None = None,
                            day_count: int = 360) -> Interest:
    """The 5 CFR 1315.10 interest penalty on ``principal`` due on ``due_date`` and paid (or
    still open) on ``until``; rounded half-up at the currency's minor unit."""
    days = (until - due_date).days
    if days <= 0 or principal <= 0:
        return Interest(principal, due_date, until, 0, round_money(Decimal(0), currency), None,
                        False)
    rate = rate_on(due_date + timedelta(days=1), rates)
    if rate is None:
        return Interest(principal, due_date, until, days, None, None, False,
                        rate_missing(due_date + timedelta(days=1)))
    amount = round_money(compound_interest(principal, days, rate.percent,
                                           day_count=day_count), currency)
    return Interest(principal, due_date, until, days, amount, rate,
                    Decimal(0) < amount < OPTIONAL_BELOW)


def agency_interest(rule: AgencyRule, principal: Decimal, due_date: date, until: date,
                    currency: str) -> Interest:
    """The interest an agency owes on ``principal`` late from ``due_date`` to ``until``: the
    contract's fixed ``interest_rate_percent`` when one is set, else the Treasury rate in
    effect the day after the due date (5 CFR 1315.10(a)(1))."""
    if rule.interest_rate_percent > 0:
        days = max(0, (until - due_date).days)
        fixed = RatePeriod(due_date, until, rule.interest_rate_percent, "contract rate")
        amount = round_money(compound_interest(
            principal, days, rule.interest_rate_percent, day_count=rule.day_count,
            compounding_days=rule.compounding_days), currency)
        return Interest(principal, due_date, until, days, amount, fixed,
                        Decimal(0) < amount < OPTIONAL_BELOW)
    return prompt_payment_interest(principal, due_date, until, currency,
                                   day_count=rule.day_count)
