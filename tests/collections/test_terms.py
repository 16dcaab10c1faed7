"""Payment terms → due dates, and statutory late-payment interest (hand-computed figures)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from claims.collections.settings import FollowupSettings
from claims.collections.terms import (
    Instalment, Terms, late_interest, schedule, statutory_due_date,
)
from claims.errors import InputError
from claims.settings import load_settings


def test_net_and_end_of_month_terms() -> None:
    assert schedule(Terms(kind="net", days=30), date(2026, 1, 15), Decimal("100"))[0].due_date \
        == date(2026, 2, 14)
    # end of month + 15: January ends on the 31st
    assert schedule(Terms(kind="eom", days=15), date(2026, 1, 15), Decimal("100"))[0].due_date \
        == date(2026, 2, 15)
    # February 2028 is a leap month
    assert schedule(Terms(kind="eom", days=0), date(2028, 2, 3), Decimal("1"))[0].due_date \
        == date(2028, 2, 29)


def test_instalments_have_their_own_due_dates_and_add_up() -> None:
    terms = Terms(kind="instalments", instalments=(
        Instalment(days=30, percent=Decimal("33.33")),
        Instalment(days=60, percent=Decimal("33.33")),
        Instalment(days=90, percent=Decimal("33.34"))))
    dues = schedule(terms, date(2026, 1, 1), Decimal("1000.00"))
    assert [(d.seq, d.due_date, d.amount) for d in dues] == [
        (1, date(2026, 1, 31), Decimal("333.30")), (2, date(2026, 3, 2), Decimal("333.30")),
        (3, date(2026, 4, 1), Decimal("333.40"))]
    assert sum(d.amount for d in dues) == Decimal("1000.00")


def test_instalments_that_exceed_the_total_are_refused() -> None:
    terms = Terms(kind="instalments", instalments=(
        Instalment(days=30, amount=Decimal("800")), Instalment(days=60, amount=Decimal("800")),
        Instalment(days=90, amount=Decimal("100"))))
    with pytest.raises(ValueError, match="do not add up"):
        schedule(terms, date(2026, 1, 1), Decimal("1000"))
    with pytest.raises(ValidationError, match="exactly one of percent or amount"):
        Instalment(days=30)


def test_prompt_payment_interest_compounds_every_30_days() -> None:
    # 10,000 at 4.625 % a year, 360-day year: one 30-day period = 0.385416…%;
    # 60 days late = two compounded periods: 10,000 × (1.0038541667² − 1) = 77.23
    assert late_interest(Decimal("10000"), date(2026, 2, 16), date(2026, 4, 17),
                         annual_rate_percent=Decimal("4.625")) == Decimal("77.23")
    # 45 days: one period, then 15 days simple on the compounded amount:
    # 10,000 × (1.0038541667 × 1.0019270833 − 1) = 10,000 × 0.0057887 = 57.89
    assert late_interest(Decimal("10000"), date(2026, 2, 16), date(2026, 4, 2),
                         annual_rate_percent=Decimal("4.625")) == Decimal("57.89")
    assert late_interest(Decimal("10000"), date(2026, 2, 16), date(2026, 2, 16),
                         annual_rate_percent=Decimal("4.625")) == Decimal("0.00")


def test_statutory_due_date_is_after_the_later_of_receipt_and_acceptance() -> None:
    # delivered Jan 10 → deemed accepted Jan 17; invoice received Jan 12 → due Feb 16
    assert statutory_due_date(date(2026, 1, 12), date(2026, 1, 10), acceptance_days=7,
                              payment_days=30) == date(2026, 2, 16)
    # received after acceptance: the receipt counts
    assert statutory_due_date(date(2026, 1, 25), date(2026, 1, 10), acceptance_days=7,
                              payment_days=30) == date(2026, 2, 24)


def test_config_defaults_and_bad_config(tmp_path) -> None:
    config = tmp_path / "claims.toml"
    config.write_text("", encoding="utf-8")
    settings = load_settings(config)
    assert settings.followup == FollowupSettings() and settings.agencies == {}
    assert [lv.name for lv in settings.followup.levels] == [
        "courtesy", "first-reminder", "second-reminder", "call", "final-notice"]
    assert settings.followup.smtp.port == 25 and settings.followup.default_net_days == 30
    config.write_text('[[followup.levels]]\nname = "a"\ndays = 1\n'
                      '[[followup.levels]]\nname = "a"\ndays = 2\n', encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_settings(config)
    assert "level names must be unique" in str(err.value)
    assert err.value.file == str(config) and err.value.field == "followup.levels"
    config.write_text("[followup.smtp]\nport = 0\n", encoding="utf-8")
    with pytest.raises(InputError, match="followup.smtp.port"):
        load_settings(config)
    config.write_text('[agencies."X"]\ninterest_rate_percent = 4.5\n', encoding="utf-8")
    with pytest.raises(InputError, match="binary float"):
        load_settings(config)
