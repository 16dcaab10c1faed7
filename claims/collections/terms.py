"""Payment terms and statutory interest: pure functions, no I/O.

- The due dates: :func:`claims.core.due.due_dates` is THE function (re-exported here with
  :class:`Terms`, :class:`Instalment`, :func:`schedule`).
- :func:`late_interest` is a contractual interest at one configured annual rate, accruing
  daily, compounding every 30 days, for one year at most; the Prompt Payment penalty with the
  Treasury rate table is :func:`claims.collections.interest.prompt_payment_interest`.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from claims.collections.interest import compound_interest
from claims.core.due import Due, Instalment, Terms, due_dates, end_of_month, schedule
from claims.core.money import quantize

__all__ = ["Due", "Instalment", "Terms", "due_dates", "end_of_month", "schedule",
           "late_interest", "statutory_due_date"]


def late_interest(principal: Decimal, due: date, paid_or_as_of: date, *,
                  annual_rate_percent: Decimal, compounding_days: int = 30,
                  day_count: int = 360) -> Decimal:
    """Interest on ``principal`` paid late: daily accrual, compounded every
    ``compounding_days``, stopping after one year (5 CFR 1315.10(a)(5)(ii)).

    Returns 0 when it is not late. Rounded half-up to cents at the end only.
    """
    return quantize(compound_interest(principal, (paid_or_as_of - due).days,
                                      annual_rate_percent, day_count=day_count,
                                      compounding_days=compounding_days), 2)


def statutory_due_date(received: date, delivered: date, *, acceptance_days: int,
                       payment_days: int) -> date:
    """Prompt payment: ``payment_days`` after the later of receipt and deemed acceptance."""
    acceptance = delivered + timedelta(days=acceptance_days)
    return max(received, acceptance) + timedelta(days=payment_days)
