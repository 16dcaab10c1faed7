"""Money: ``Decimal`` amounts with their currency, and explicit rounding.

Never ``float``. Amounts enter as strings or ``Decimal`` (a binary float is refused, because
``0.1`` is not one tenth); rounding is always explicit and comes from the contract.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_UP, Decimal, InvalidOperation
from typing import Literal

RoundingMode = Literal["half-up", "half-even", "down", "up"]

_MODES = {"half-up": ROUND_HALF_UP, "half-even": ROUND_HALF_EVEN, "down": ROUND_DOWN,
          "up": ROUND_UP}

#: ISO 4217 codes with their minor-unit exponent (the currencies a government supplier meets;
#: extend as needed). An unknown code is an input error, not a guess.
CURRENCIES: dict[str, int] = {
    "AED": 2, "AUD": 2, "BHD": 3, "CAD": 2, "CHF": 2, "CNY": 2, "DKK": 2, "EGP": 2, "EUR": 2,
    "GBP": 2, "HKD": 2, "INR": 2, "JOD": 3, "JPY": 0, "KWD": 3, "MAD": 2, "NOK": 2, "NZD": 2,
    "OMR": 3, "PLN": 2, "QAR": 2, "SAR": 2, "SEK": 2, "SGD": 2, "TND": 3, "TRY": 2, "USD": 2,
    "ZAR": 2,
}


def to_decimal(value: object, *, field: str = "amount") -> Decimal:
    """A ``Decimal`` from a string, int or Decimal; floats and junk raise ``ValueError``."""
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError(
            f"{field}: {value!r} is a binary float; write amounts as strings, e.g. \"1500.50\"")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip().replace(",", ""))
        except InvalidOperation:
            raise ValueError(f"{field}: {value!r} is not a number") from None
    else:
        raise ValueError(f"{field}: {value!r} is not an amount")
    if not result.is_finite():
        raise ValueError(f"{field}: {value!r} is not a finite number")
    return result


def quantize(amount: Decimal, places: int = 2, mode: RoundingMode = "half-up") -> Decimal:
    """``amount`` rounded to ``places`` decimals with the named rounding mode."""
    return amount.quantize(Decimal(1).scaleb(-places), rounding=_MODES[mode])


def fmt(amount: Decimal, places: int = 2) -> str:
    """``Decimal('9000')`` → ``'9,000.00'``: how a specialist reads an amount."""
    return f"{quantize(amount, places):,.{places}f}"


def minor_units(currency: str) -> int:
    """The number of decimal places of ``currency`` (ISO 4217)."""
    try:
        return CURRENCIES[currency]
    except KeyError:
        raise ValueError(f"unknown currency {currency!r} (ISO 4217 code expected)") from None
