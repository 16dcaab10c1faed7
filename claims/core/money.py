"""Money: ``Decimal`` amounts with their currency, one rounding policy, one check at the door.

Never ``float``. Amounts enter as strings or ``Decimal`` (a binary float is refused, because
``0.1`` is not one tenth). A string is read in one way only: ``.`` is the decimal mark and
``,`` may group thousands *in front of a decimal part* (``1,100.00``); anything a European
reader could read otherwise (``9,5``, ``1.100,00``, ``1,100``) is refused as ambiguous.

The rounding policy (docs/kpis.md, "Rounding"): every amount the product computes is rounded
**half-up at the currency's minor unit** (ISO 4217) by :func:`round_money`, unless a contract
names another mode. :func:`check_amount` is the one check at every door: an amount finer than
the currency's minor unit or larger than :func:`amount_limit` of its currency
(:data:`MAX_MINOR_UNITS` minor units) is refused, never rounded away.
"""

from __future__ import annotations

import re
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_UP, Decimal, InvalidOperation
from typing import Literal

from claims.errors import InputError

RoundingMode = Literal["half-up", "half-even", "down", "up"]

_MODES = {"half-up": ROUND_HALF_UP, "half-even": ROUND_HALF_EVEN, "down": ROUND_DOWN,
          "up": ROUND_UP}

#: ISO 4217 codes with their minor-unit exponent (the list's "minor unit" column, checked by
#: hand: 0 for CLP, ISK, JPY, KRW, PYG, UGX, VND, XAF, XOF; 3 for BHD, IQD, JOD, KWD, LYD, OMR,
#: TND; IDR, HUF and COP 2; extend as needed). An unknown code is an input error, not a guess.
CURRENCIES: dict[str, int] = {
    "AED": 2, "AUD": 2, "BHD": 3, "BRL": 2, "CAD": 2, "CHF": 2, "CLP": 0, "CNY": 2, "COP": 2,
    "CZK": 2, "DKK": 2, "EGP": 2, "EUR": 2, "GBP": 2, "HKD": 2, "HUF": 2, "IDR": 2, "ILS": 2,
    "INR": 2, "IQD": 3, "ISK": 0, "JOD": 3, "JPY": 0, "KES": 2, "KRW": 0, "KWD": 3, "LYD": 3,
    "MAD": 2, "MXN": 2, "MYR": 2, "NGN": 2, "NOK": 2, "NZD": 2, "OMR": 3, "PHP": 2, "PKR": 2,
    "PLN": 2, "PYG": 0, "QAR": 2, "RON": 2, "SAR": 2, "SEK": 2, "SGD": 2, "THB": 2, "TND": 3,
    "TRY": 2, "UGX": 0, "USD": 2, "VND": 0, "XAF": 0, "XOF": 0, "ZAR": 2,
}


#: The policy every computed amount is rounded with (docs/kpis.md, "Rounding").
DEFAULT_ROUNDING: RoundingMode = "half-up"

#: The largest magnitude of one amount, counted in its currency's minor units: 13 digits, so
#: 99,999,999,999.99 USD, 9,999,999,999,999 JPY, 9,999,999,999.999 KWD (:func:`amount_limit`).
#: The store (``claims.store.tables``, 64-bit integers of 1/10,000) checks when it is imported
#: that it holds every currency's limit with room for SQL sums.
MAX_MINOR_UNITS = 10**13 - 1


def amount_limit(currency: str) -> Decimal:
    """The largest magnitude of one amount of ``currency``: :data:`MAX_MINOR_UNITS` of its
    minor unit (``"USD"`` → 99999999999.99, ``"JPY"`` → 9999999999999); the one rule."""
    return Decimal(MAX_MINOR_UNITS).scaleb(-minor_units(currency))


class AmountOutOfRange(ValueError):
    """An amount above its currency's :func:`amount_limit` in magnitude, or (read before its
    currency is known: ``1e400``, 59 digits) above every currency's: refused when it is read,
    before any arithmetic could overflow the decimal context."""


def check_range(amount: Decimal, currency: str, *, field: str = "amount") -> None:
    """:class:`AmountOutOfRange` naming ``field``, ``currency`` and the limit when ``amount``
    is above :func:`amount_limit` of ``currency`` in magnitude."""
    limit = amount_limit(currency)
    if abs(amount) > limit:
        raise AmountOutOfRange(f"{field}: {amount} exceeds the largest amount accepted in "
                               f"{currency}, {limit:,} (docs/kpis.md, \"Rounding\")")


class _MinorUnits(ValueError):
    """More decimals written than the currency's minor unit."""


class _Notation(ValueError):
    """An amount not written in its notation (a stray character, a declared notation)."""


#: ``1234.5``, ``-1,234.50`` (grouping only in front of a decimal part), ``.5``
#: ASCII digits only, no exponent (``1e5`` is no way to write an amount)
_PLAIN = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")
_GROUPED = re.compile(r"[+-]?[0-9]{1,3}(,[0-9]{3})+\.[0-9]+")


def to_decimal(value: object, *, field: str = "amount", currency: str | None = None) -> Decimal:
    """A ``Decimal`` from a string, int or Decimal; floats, junk and an amount above every
    currency's :func:`amount_limit` (:class:`AmountOutOfRange`, e.g. ``1e400``) raise
    ``ValueError``: this is the one reading of an amount, so every door refuses them the same
    way. With ``currency`` the limit is that currency's (:func:`check_range`), as every door
    that knows it (:func:`check_amount`, :func:`read_amount`) has it."""
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError(
            f"{field}: {value!r} is a binary float; write amounts as strings, e.g. \"1500.50\"")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        result = _parse(value.strip(), field)
    else:
        raise ValueError(f"{field}: {value!r} is not an amount")
    if not result.is_finite():
        raise ValueError(f"{field}: {value!r} is not a finite number")
    if currency is not None:
        check_range(result, currency, field=field)
    elif abs(result) > _WIDEST:
        raise AmountOutOfRange(f"{field}: {value} exceeds the largest amount accepted in any "
                               f"currency, {_WIDEST:,} (docs/kpis.md, \"Rounding\")")
    return result


def _unexpected(text: str, field: str | None = None) -> None:
    """``ValueError`` naming the first character no amount is written with (``$``, a letter,
    a non-ASCII digit such as ``١``, the ``e`` of an exponent)."""
    odd = next((c for c in text if c not in "0123456789+-.,"), None)
    if odd is not None:
        prefix = f"{field}: " if field else ""
        raise _Notation(f"{prefix}{text!r}: unexpected character {odd!r} (an amount is "
                        "ASCII digits, a sign and a decimal mark)")


def _parse(text: str, field: str) -> Decimal:
    """A decimal string read one way only; an ambiguous separator raises ``ValueError``."""
    if _GROUPED.fullmatch(text):
        text = text.replace(",", "")
    elif "," in text:
        raise ValueError(
            f"{field}: {text!r} is ambiguous (a comma can be a decimal mark or a thousands "
            "separator); write the amount with '.' as the decimal mark, e.g. \"1100.00\"")
    elif text.lstrip("+-").lower() in ("nan", "snan", "inf", "infinity"):
        raise ValueError(f"{field}: {text!r} is not a finite number")
    elif not _PLAIN.fullmatch(text):
        _unexpected(text, field)
        raise ValueError(f"{field}: {text!r} is not a number")
    try:
        return Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{field}: {text!r} is not a number") from None


def round_money(amount: Decimal, currency: str, mode: RoundingMode | None = None) -> Decimal:
    """``amount`` rounded at ``currency``'s minor unit by the house policy (half-up) or
    ``mode``; returns the rounded ``Decimal`` (e.g. 89.985 USD → 89.99)."""
    return quantize(amount, minor_units(currency), mode or DEFAULT_ROUNDING)


def check_amount(value: object, currency: str, *, field: str = "amount",
                 negative: bool = True) -> Decimal:
    """The one check at every door: ``value`` read as an amount of ``currency``.

    Returns the amount at the currency's minor unit (``"100.5"`` USD → ``Decimal("100.50")``).
    Raises ``ValueError`` naming ``field`` and the rule for a float, an ambiguous or malformed
    number, an amount finer than the minor unit (100.005 USD), one above the currency's
    :func:`amount_limit` (:class:`AmountOutOfRange`), or (``negative=False``) a negative one.
    """
    places = minor_units(currency)
    amount = to_decimal(value, field=field, currency=currency)
    if amount != amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN):
        unit = Decimal(1).scaleb(-places)
        raise ValueError(f"{field}: {value} has a fraction below the minor unit of {currency} "
                         f"({unit}); amounts are exact to the {unit}, never rounded at the door")
    if not negative and amount < 0:
        raise ValueError(f"{field}: {value} is negative")
    return amount.quantize(Decimal(1).scaleb(-places))


#: The notations a file can declare: a bank CSV mapping's ``decimal`` (``","`` or ``"."``: the
#: decimal mark at most once, thousands grouped by the other mark in threes only) and
#: ``"xsd"`` (XML Schema's ``xs:decimal``, camt.053's ``Amt``: digits and at most one ``.``).
#: ASCII digits only. Each maps to (grammar, decimal mark, grouping mark).
_NOTATIONS: dict[str, tuple[re.Pattern[str], str, str]] = {
    ",": (re.compile(r"[+-]?([0-9]{1,3}(\.[0-9]{3})+|[0-9]+)(,[0-9]+)?"), ",", "."),
    ".": (re.compile(r"[+-]?([0-9]{1,3}(,[0-9]{3})+|[0-9]+)(\.[0-9]+)?"), ".", ","),
    "xsd": (re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)"), ".", ""),
}


def _declared(text: str, notation: str, currency: str) -> str:
    """``text`` written in ``notation`` (see :data:`_NOTATIONS`), as a plain number;
    ``ValueError`` (never a guess) when it does not fit exactly, or (a CSV notation) has more
    decimals than ``currency``'s minor unit."""
    grammar, decimal, group = _NOTATIONS[notation]
    if not grammar.fullmatch(text):
        _unexpected(text)
        rule = (f"decimal mark {decimal!r} at most once, thousands grouped by {group!r} in "
                "threes" if group else "xs:decimal: digits and at most one '.'")
        raise _Notation(f"{text!r} does not fit the declared notation ({rule})")
    if not group:
        return text
    whole, _, fraction = text.partition(decimal)
    if len(fraction) > minor_units(currency):
        raise _MinorUnits(f"{text!r} has {len(fraction)} decimals; {currency} has "
                          f"{minor_units(currency)}")
    return whole.replace(group, "") + (f".{fraction}" if fraction else "")


def read_amount(value: object, currency: str, *, file: str | None, field: str,
                decimal: str | None = None) -> Decimal:
    """``value`` read as an amount of ``currency`` at a file's door, as written (not
    quantized); else one :class:`InputError` naming ``file`` and ``field``: above the
    currency's :func:`amount_limit` (rule ``amount-range``), not an exact number
    (``amount-number``), finer than the currency's minor unit (``amount-minor-units``). With
    ``decimal`` (a declared notation of :data:`_NOTATIONS`: a bank CSV mapping's ``","`` or
    ``"."``, camt.053's ``"xsd"``) the text must fit that notation exactly
    (``amount-notation``). The checks are :func:`check_amount`'s; this gives them a file's
    words."""
    if isinstance(value, str):
        value = value.strip()
    try:
        if decimal is not None and isinstance(value, str):
            value = _declared(value, decimal, currency)
        amount = to_decimal(value, field=field, currency=currency)
    except AmountOutOfRange as err:
        raise InputError(str(err).removeprefix(f"{field}: "), file=file, field=field,
                         rule="amount-range") from None
    except _MinorUnits as err:
        raise InputError(str(err), file=file, field=field, rule="amount-minor-units") from None
    except _Notation as err:
        raise InputError(str(err), file=file, field=field, rule="amount-notation") from None
    except ValueError as err:
        raise InputError(str(err).removeprefix(f"{field}: "), file=file, field=field,
                         rule="amount-number") from None
    try:
        check_amount(amount, currency, field=field)
    except ValueError:
        raise InputError(f"{amount} has more decimals than {currency} allows", file=file,
                         field=field, rule="amount-minor-units") from None
    return amount


def quantize(amount: Decimal, places: int = 2, mode: RoundingMode = DEFAULT_ROUNDING) -> Decimal:
    """``amount`` rounded to ``places`` decimals with the named mode (house default half-up)."""
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


#: Every currency's limit at once: the bound of an amount read before its currency is known.
_WIDEST = max(map(amount_limit, CURRENCIES))
