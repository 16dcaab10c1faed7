"""Issue 14 (Prompt Payment, item 3 / "What to build"): the shipped Treasury rate table —
each period sourced, no overlaps — and interest in an unsourced period refused with its
reason, never guessed and never counted as zero."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from importlib import resources

import pytest

from claims.collections import worklist
from claims.collections.interest import prompt_payment_interest, rate_on, treasury_rates
from claims.workspace import Workspace
from tests.collections.conftest import submitted_claim, write_config

D = date


def test_every_period_has_a_source_and_none_overlap() -> None:
    periods = treasury_rates()
    assert periods and all(p.source.strip() and p.percent > 0 for p in periods)
    for a, b in zip(periods, periods[1:], strict=False):
        assert a.end < b.start, (a, b)
    for p in periods:  # Treasury periods are half-years: 1 Jan–30 Jun, 1 Jul–31 Dec
        assert (p.start.month, p.start.day) in ((1, 1), (7, 1))
        assert p.end == (D(p.start.year, 6, 30) if p.start.month == 1
                         else D(p.start.year, 12, 31))


def test_2022_second_half_is_the_fiscal_service_rate() -> None:
    """Fiscal Service, https://fiscal.treasury.gov/prompt-payment/: 1 Jul–31 Dec 2022, 4.000 %."""
    period = rate_on(D(2022, 7, 1))
    assert period is not None and period.percent == Decimal("4.000")
    assert "fiscal.treasury.gov/prompt-payment" in period.source
    assert rate_on(D(2022, 12, 31)) == period and rate_on(D(2023, 1, 1)) is None


def test_the_listed_gaps_are_exactly_the_periods_missing() -> None:
    """The table's "about" names what is missing; the code agrees day by day."""
    about = json.loads(resources.files("claims.collections").joinpath(
        "data/prompt_payment_rates.json").read_text("utf-8"))["about"]
    for start, end in (("2020-07-01", "2020-12-31"), ("2022-01-01", "2022-06-30"),
                       ("2023-01-01", "2023-06-30"), ("2024-01-01", "2024-06-30")):
        assert f"{start}..{end}" in about
        assert rate_on(D.fromisoformat(start)) is None and rate_on(D.fromisoformat(end)) is None
    assert "everything from 2025-07-01" in about and rate_on(D(2025, 7, 1)) is None


@pytest.mark.parametrize("due", [D(2020, 8, 1), D(2022, 3, 1), D(2023, 2, 1), D(2024, 3, 1),
                                 D(2025, 9, 1)])
def test_interest_in_an_unsourced_period_is_refused_with_its_reason(due: date) -> None:
    """5 CFR 1315.10(a)(1): the rate in effect the day after the due date — none sourced."""
    owed = prompt_payment_interest(Decimal("1000.00"), due, due + timedelta(days=40), "USD")
    assert owed.amount is None and owed.rate is None
    day = (due + timedelta(days=1)).isoformat()
    assert owed.missing is not None and day in owed.missing
    assert "prompt_payment_rates.json" in owed.missing and "1315.10(a)(1)" in owed.missing
    assert owed.to_json()["rate_missing"] == owed.missing


def test_the_worklist_lists_refused_interest_instead_of_counting_it_as_zero(
        ws: Workspace) -> None:
    write_config(ws, None, agencies={"Ministry of Works": {"rule": "prompt-payment"}})
    # due in 2026, and no 2026 rate is sourced: the Treasury rate is unknown
    submitted_claim(ws, "MW-1", "Ministry of Works", issued=D(2026, 1, 10),
                    submitted=D(2026, 1, 12), total="10000.00")
    [mow] = [a for a in worklist.worklist(ws, D(2026, 4, 17))
             if a.customer == "Ministry of Works"]
    assert mow.interest == {}
    assert "no sourced Treasury Prompt Payment rate in effect on 2026-02-18" in \
        mow.interest_unknown["MW-1"]
    assert mow.to_json()["interest_unknown"] == mow.interest_unknown
    [entry] = worklist.receivables(ws, D(2026, 4, 17), customer="Ministry of Works")
    assert entry["interest"] is None and "2026-02-18" in entry["interest_missing"]
