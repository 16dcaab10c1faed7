"""Payment terms and statutory interest: pure functions, no I/O.

- :func:`schedule` turns terms (net N, end of month + N, instalments) into due dates.
- :func:`late_interest` is the Prompt-Payment-Act style interest: a published annual rate,
  accruing daily, compounding every 30 days (the day count and period come from configuration).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Literal

from pydantic import Field, model_validator

from claims.core.models import Amount, Model
from claims.core.money import quantize


class Instalment(Model):
    """One part of an invoice: a share in percent (or an amount) due N days after issue."""

    days: int = Field(ge=0, description="days after the invoice date")
    percent: Amount | None = Field(None, description="share of the total, %")
    amount: Amount | None = Field(None, description="fixed amount (instead of percent)")

    @model_validator(mode="after")
    def _one_of(self) -> Instalment:
        if (self.percent is None) == (self.amount is None):
            raise ValueError("give exactly one of percent or amount")
        return self


class Terms(Model):
    """Payment terms: ``net`` (issue + days), ``eom`` (end of the issue month + days), or
    ``instalments`` (each with its own due date; the last takes the rounding remainder)."""

    kind: Literal["net", "eom", "instalments"] = "net"
    days: int = Field(30, ge=0, le=365)
    instalments: tuple[Instalment, ...] = ()

    @model_validator(mode="after")
    def _instalments(self) -> Terms:
        if self.kind == "instalments" and not self.instalments:
            raise ValueError("instalment terms need at least one instalment")
        return self


@dataclass(frozen=True)
class Due:
    seq: int
    due_date: date
    amount: Decimal


def end_of_month(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def schedule(terms: Terms, issue_date: date, total: Decimal, places: int = 2) -> list[Due]:
    """The due dates and amounts of an invoice under ``terms``; amounts add up to ``total``."""
    if terms.kind == "net":
        return [Due(0, issue_date + timedelta(days=terms.days), total)]
    if terms.kind == "eom":
        return [Due(0, end_of_month(issue_date) + timedelta(days=terms.days), total)]
    out: list[Due] = []
    remaining = total
    for seq, part in enumerate(terms.instalments, start=1):
        last = seq == len(terms.instalments)
        if last and part.amount is not None and part.amount != remaining:
            raise ValueError(f"instalments do not add up to the total {total}")
        if last:
            amount = remaining  # a percent share takes the rounding remainder
        elif part.amount is not None:
            amount = part.amount
        else:
            assert part.percent is not None  # the validator guarantees one of them
            amount = quantize(total * part.percent / 100, places)
        remaining -= amount
        out.append(Due(seq, issue_date + timedelta(days=part.days), amount))
    if remaining != 0 or any(d.amount < 0 for d in out):
        raise ValueError(f"instalments do not add up to the total {total}")
    return out


def late_interest(principal: Decimal, due: date, paid_or_as_of: date, *,
                  annual_rate_percent: Decimal, compounding_days: int = 30,
                  day_count: int = 360) -> Decimal:
    """Interest on ``principal`` paid late: daily accrual, compounded every ``compounding_days``.

    Returns 0 when it is not late. Rounded half-up to cents at the end only.
    """
    days = (paid_or_as_of - due).days
    if days <= 0 or principal <= 0 or annual_rate_percent <= 0:
        return Decimal("0.00")
    daily = annual_rate_percent / Decimal(100) / Decimal(day_count)
    periods, rest = divmod(days, compounding_days)
    factor = (1 + daily * compounding_days) ** periods * (1 + daily * rest)
    return quantize(principal * (factor - 1), 2)


def statutory_due_date(received: date, delivered: date, *, acceptance_days: int,
                       payment_days: int) -> date:
    """Prompt payment: ``payment_days`` after the later of receipt and deemed acceptance."""
    acceptance = delivered + timedelta(days=acceptance_days)
    return max(received, acceptance) + timedelta(days=payment_days)
