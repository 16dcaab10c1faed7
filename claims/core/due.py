"""When an invoice falls due: THE one function, :func:`due_dates`. Pure, no I/O.

Every command, KPI and report reads the due dates this function made: the collections slice
materialises them as ``collection_schedule`` rows when an invoice, its terms or its claim
change (:mod:`claims.collections.due`), and the SQL of receivables and KPIs reads those rows.

The rule, in order (docs/kpis.md, "Due dates"):

1. explicit payment terms given to the invoice (``net`` N days after issue, ``eom`` N days
   after the end of the issue month, or ``instalments``, each N days after issue);
2. an agency's statutory rule (the US Prompt Payment Act, 31 U.S.C. 3903(a)(1)): ``payment_days``
   after the later of the receipt of a proper invoice (the claim's submission; after the agency
   returned it, its resubmission) and the deemed acceptance (delivery, taken as the invoice
   date, + ``acceptance_days``). While the agency has it back for correction the clock is
   stopped (5 CFR 1315.9: an improper invoice is returned, and the payment clock runs from the
   receipt of the proper one): nothing falls due before a resubmission, at the earliest on
   the command's as-of day, else today (basis ``returned``);
3. the due date printed on the invoice;
4. the issue date + the default net days.

Then the agency's calendar: a due date on a weekend day or a holiday of the agency's calendar
moves to the next business day (the Prompt Payment clause, FAR 52.232-25(a)(4), "payment due
on Saturdays, Sundays, and legal holidays"; GAO B-217644.1, 68 Comp. Gen. 355 (1989)).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Literal

from pydantic import Field, model_validator

from claims.core.models import Amount, Model
from claims.core.money import quantize

#: the bases a due date can have; the first three are terms given explicitly to the invoice
EXPLICIT_BASES = ("net", "eom", "instalments")
COMPUTED_BASES = ("statutory", "returned", "invoice", "default")
#: the claim statuses that start or stop the statutory clock (a receipt, a return): recording
#: one makes the invoice's computed due dates stale (:mod:`claims.store.schedule`)
CLOCK_STATUSES = ("SUBMITTED", "RETURNED")


class Instalment(Model):
    """One part of an invoice: a share in percent (or an amount) due N days after issue."""

    days: int = Field(ge=0, le=3650, description="days after the invoice date (ten years at "
                                                "most: a due date stays a date)")
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
        shares = [p.percent for p in self.instalments if p.percent is not None]
        if any(s <= 0 or s > 100 for s in shares):
            raise ValueError("an instalment's share must be above 0 % and at most 100 %")
        if any(p.amount is not None and p.amount <= 0 for p in self.instalments):
            raise ValueError("an instalment's amount must be above zero")
        if len(shares) == len(self.instalments) and shares and sum(shares) != 100:
            raise ValueError(f"instalment shares add up to {sum(shares)} %, not 100 %")
        return self


@dataclass(frozen=True)
class Due:
    """One due amount: ``seq`` 0 for a single due date, 1… for instalments; ``basis`` says
    which rule gave the date (net, eom, instalments, statutory, invoice, default)."""

    seq: int
    due_date: date
    amount: Decimal
    basis: str = ""


@dataclass(frozen=True)
class BusinessCalendar:
    """An agency's working days: weekend days (0 = Monday … 6 = Sunday) and holidays."""

    weekend: frozenset[int] = frozenset({5, 6})
    holidays: frozenset[date] = field(default_factory=frozenset)

    def is_business_day(self, day: date) -> bool:
        """True when ``day`` is neither a weekend day nor a holiday."""
        return day.weekday() not in self.weekend and day not in self.holidays

    def next_business_day(self, day: date) -> date:
        """``day`` itself when it is a business day, else the first business day after it."""
        for _ in range(366):
            if self.is_business_day(day):
                return day
            day += timedelta(days=1)
        raise ValueError("the calendar has no business day within a year")


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The ``n``-th ``weekday`` of the month (``n`` = -1: the last one)."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = date(year, month, calendar.monthrange(year, month)[1])
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def us_federal_holidays(year: int) -> set[date]:
    """The legal public holidays of 5 U.S.C. 6103(a) in ``year``, as observed: one falling on
    a Saturday is observed the Friday before, on a Sunday the Monday after (5 U.S.C. 6103(b),
    Executive Order 11582). Juneteenth counts from 2021 (Pub. L. 117-17)."""
    fixed = [date(year, 1, 1), date(year, 7, 4), date(year, 11, 11), date(year, 12, 25)]
    if year >= 2021:
        fixed.append(date(year, 6, 19))
    days = {d - timedelta(days=1) if d.weekday() == 5 else
            d + timedelta(days=1) if d.weekday() == 6 else d for d in fixed}
    days |= {_nth_weekday(year, 1, 0, 3), _nth_weekday(year, 2, 0, 3),   # MLK, Washington
             _nth_weekday(year, 5, 0, -1), _nth_weekday(year, 9, 0, 1),  # Memorial, Labor
             _nth_weekday(year, 10, 0, 2), _nth_weekday(year, 11, 3, 4)}  # Columbus, Thanksg.
    # New Year's Day of the next year observed on 31 December of this one
    if date(year + 1, 1, 1).weekday() == 5:
        days.add(date(year, 12, 31))
    return days


def business_calendar(kind: str, *, years: Iterable[int], weekend: Iterable[int] = (5, 6),
                      holidays: Iterable[date] = ()) -> BusinessCalendar:
    """A calendar: ``us-federal`` (the federal holidays of ``years``) or ``none`` (weekend
    days only), plus the agency's own ``holidays``."""
    days = set(holidays)
    if kind == "us-federal":
        for year in years:
            days |= us_federal_holidays(year)
    elif kind != "none":
        raise ValueError(f"unknown holiday calendar {kind!r}; use us-federal or none")
    return BusinessCalendar(frozenset(weekend), frozenset(days))


@dataclass(frozen=True)
class StatutoryRule:
    """An agency's prompt-payment rule: due ``payment_days`` after the later of receipt and
    deemed acceptance (delivery + ``acceptance_days``)."""

    acceptance_days: int = 7
    payment_days: int = 30


def end_of_month(day: date) -> date:
    """The last day of ``day``'s month."""
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def schedule(terms: Terms, issue_date: date, total: Decimal, places: int = 2) -> list[Due]:
    """The due dates and amounts of an invoice under ``terms``; amounts add up to ``total``
    (a percent share is rounded half-up at ``places``; the last instalment takes the rest)."""
    if terms.kind == "net":
        return [Due(0, issue_date + timedelta(days=terms.days), total, "net")]
    if terms.kind == "eom":
        return [Due(0, end_of_month(issue_date) + timedelta(days=terms.days), total, "eom")]
    out: list[Due] = []
    remaining = total
    for seq, part in enumerate(terms.instalments, start=1):
        last = seq == len(terms.instalments)
        if last and part.amount is not None and part.amount != remaining:
            raise ValueError(f"instalments do not add up to the total {total}")
        if last and part.percent is not None:
            share = quantize(total * part.percent / 100, places)
            if abs(remaining - share) > Decimal(len(terms.instalments)).scaleb(-places):
                raise ValueError(f"instalments do not add up to the total {total}")
        if last:
            amount = remaining  # a percent share takes the rounding remainder
        elif part.amount is not None:
            amount = part.amount
        else:
            assert part.percent is not None  # the validator guarantees one of them
            amount = quantize(total * part.percent / 100, places)
        remaining -= amount
        out.append(Due(seq, issue_date + timedelta(days=part.days), amount, "instalments"))
    if remaining != 0 or any(d.amount < 0 for d in out):
        raise ValueError(f"instalments do not add up to the total {total}")
    return out


def computed_due(issue_date: date, *, invoice_due: date | None = None,
                 default_net_days: int = 30, rule: StatutoryRule | None = None,
                 received: date | None = None, returned_on: date | None = None,
                 business_days: BusinessCalendar | None = None) -> tuple[date, str]:
    """THE due date of an invoice without explicit terms, and its basis (rules 2 to 4 of the
    module docstring, then the agency's calendar). It depends on dates only, never on the
    amount, so a bulk fill computes it once per distinct set of dates (the amount of the one
    due is the invoice total).

    ``received``: the receipt of the proper invoice, the claim's first submission since the
    agency last returned it (None: none since). ``returned_on``: set (to the command's as-of
    day, else today, the agency's day) while the agency has the claim back with no
    resubmission since: under ``rule`` the
    clock is stopped, and the earliest the invoice can fall due is a resubmission that day
    (basis ``returned``: never overdue, no interest, no reminder)."""
    if rule is not None and (received is not None or returned_on is not None):
        accepted = issue_date + timedelta(days=rule.acceptance_days)
        start = received if received is not None else returned_on
        assert start is not None
        day = max(start, accepted) + timedelta(days=rule.payment_days)
        basis = "statutory" if received is not None else "returned"
    elif invoice_due is not None:
        day, basis = invoice_due, "invoice"
    else:
        day, basis = issue_date + timedelta(days=default_net_days), "default"
    if business_days is not None:
        day = business_days.next_business_day(day)
    return day, basis


def due_dates(issue_date: date, total: Decimal, *, places: int = 2, terms: Terms | None = None,
              invoice_due: date | None = None, default_net_days: int = 30,
              rule: StatutoryRule | None = None, received: date | None = None,
              returned_on: date | None = None,
              business_days: BusinessCalendar | None = None) -> list[Due]:
    """THE due dates of one invoice (see the module docstring for the order of the rules).

    ``received``: when the agency received the proper invoice (the claim's submission); the
    statutory rule applies only with ``rule`` and ``received`` (or ``returned_on``: the clock
    stopped, see :func:`computed_due`). ``business_days``: the
    agency's calendar; a due date on a non-business day moves to the next business day.
    Returns one :class:`Due` (seq 0) or one per instalment (seq 1…), amounts adding up to
    ``total``. Without ``terms`` the date is :func:`computed_due`'s.
    """
    if terms is None:
        day, basis = computed_due(issue_date, invoice_due=invoice_due,
                                  default_net_days=default_net_days, rule=rule,
                                  received=received, returned_on=returned_on,
                                  business_days=business_days)
        return [Due(0, day, total, basis)]
    dues = schedule(terms, issue_date, total, places)
    if business_days is None:
        return dues
    return [Due(d.seq, business_days.next_business_day(d.due_date), d.amount, d.basis)
            for d in dues]
