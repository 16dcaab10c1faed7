"""Money is Decimal with its currency; floats are refused, rounding is explicit."""

from decimal import Decimal

import pytest

from claims.core.money import fmt, minor_units, quantize, to_decimal


def test_a_binary_float_is_refused_with_a_hint() -> None:
    with pytest.raises(ValueError, match="binary float.*strings"):
        to_decimal(0.1, field="ceiling")


@pytest.mark.parametrize("text, expected", [("1500.50", Decimal("1500.50")),
                                            ("1,500.50", Decimal("1500.50")), (7, Decimal(7))])
def test_strings_and_ints_become_exact_decimals(text, expected) -> None:
    assert to_decimal(text) == expected


def test_junk_is_refused() -> None:
    with pytest.raises(ValueError, match="unexpected character 'a'"):
        to_decimal("12abc")
    with pytest.raises(ValueError, match="finite"):
        to_decimal("NaN")


@pytest.mark.parametrize("mode, expected", [("half-up", "2.35"), ("half-even", "2.34"),
                                            ("down", "2.34"), ("up", "2.35")])
def test_rounding_modes_are_explicit(mode, expected) -> None:
    assert quantize(Decimal("2.345"), 2, mode) == Decimal(expected)


def test_an_unknown_currency_has_no_minor_units() -> None:
    assert minor_units("KWD") == 3 and minor_units("JPY") == 0
    with pytest.raises(ValueError, match="unknown currency"):
        minor_units("XXX")


def test_amounts_print_the_way_a_specialist_reads_them() -> None:
    assert fmt(Decimal("9000")) == "9,000.00"
    assert fmt(Decimal("1350"), minor_units("KWD")) == "1,350.000"
