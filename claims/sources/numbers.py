"""Numbers in accounting exports, read by the locale the mapping declares. Pure: no I/O.

This is the one rule for an export's numbers (:func:`parse_amount`; the tabular importer and
its preview use nothing else). The mapping declares the notation (``locale = "de"``, or
``decimal`` and ``thousands``), and that declaration decides what a separator means: ``14.875``
is fourteen thousand eight hundred seventy-five in ``de`` and fourteen point eight seven five in
``en``. A value that does not fit the declared notation exactly — a group that is not three
digits, separators in the other order, a second decimal mark — is refused, naming the notation
it looks like, never guessed (``1.234,56`` read with ``en`` used to become ``1.23456``).

Signs: a leading ``-`` or ``+``, a trailing ``-`` (SAP: ``14.875,00-``, ``14,875.00-``), or
parentheses (``(250.00)``). A currency symbol (``$1,500.00``, ``12,00 €``) is dropped: the
mapping's currency column, or its currency, says which currency it is.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation
from typing import Any

#: The notations a mapping can declare by name: locale → (decimal mark, thousands separator).
#: ``en``: 1,234.56 (SAP decimal notation "X"); ``de``: 1.234,56 (SAP: blank);
#: ``fr``: 1 234,56 (SAP: "Y"); ``ch``: 1'234.56.
LOCALES: dict[str, tuple[str, str]] = {
    "en": (".", ","), "de": (",", "."), "fr": (",", " "), "ch": (".", "'"),
}

_NEG_PAREN = re.compile(r"^\((.*)\)$")


def _grammar(decimal: str, thousands: str) -> re.Pattern[str]:
    """ASCII digits (``[0-9]``: ``\\d`` would take ``١٢٣`` and ``１２３``, which Decimal reads as
    123), optionally grouped by threes with ``thousands``, optionally a ``decimal`` part."""
    d = re.escape(decimal)
    frac = rf"(?:{d}[0-9]+)?"
    if not thousands:
        return re.compile(rf"[0-9]+{frac}|{d}[0-9]+")
    t = re.escape(thousands)
    return re.compile(rf"[0-9]+{frac}|[0-9]{{1,3}}(?:{t}[0-9]{{3}})+{frac}|{d}[0-9]+")


def notation(decimal: str, thousands: str) -> str:
    """How a notation is named in messages: ``decimal ',' thousands '.' (de)``."""
    name = next((k for k, v in LOCALES.items() if v == (decimal, thousands)), None)
    return f"decimal {decimal!r} thousands {thousands!r}" + (f" ({name})" if name else "")


def _looks_like(body: str, decimal: str, thousands: str) -> str:
    """The declared-locale-independent hint: which other named notation the text fits."""
    for name, (dec, thou) in LOCALES.items():
        if (dec, thou) != (decimal, thousands) and _grammar(dec, thou).fullmatch(body):
            return f"; it reads as locale {name!r} (decimal {dec!r}, thousands {thou!r})"
    return ""


def parse_amount(raw: Any, decimal: str, thousands: str, *,
                 declared: bool = True) -> Decimal | None:
    """A Decimal from an export's cell in the notation ``decimal`` / ``thousands``, or None if
    it is empty; ``ValueError`` naming the notation if it is not a number in it (never
    guessed). When the notation is only the default (``declared`` false: the mapping names no
    locale, decimal or thousands), a value that another named locale reads differently —
    ``1,234`` or ``14.875`` — is ambiguous and refused too."""
    if raw is None:
        return None
    if isinstance(raw, bool):
        raise ValueError(f"{raw!r} is not a number")
    if isinstance(raw, int):
        return Decimal(raw)
    if isinstance(raw, float):
        # openpyxl hands numeric cells over as floats; repr() is the shortest string that
        # round-trips, i.e. the number the sheet shows, so no binary noise gets in
        return Decimal(repr(raw))  # ok: converting the spreadsheet's float exactly once
    if isinstance(raw, Decimal):
        return raw
    text = str(raw).strip().replace("\u00a0", " ").replace("\u202f", " ")
    if not text:
        return None
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Sc").strip()
    negative = False
    if m := _NEG_PAREN.match(text):
        text, negative = m[1].strip(), True
    if text.endswith("-"):
        text, negative = text[:-1].strip(), not negative
    if text and text[0] in "+-":
        negative, text = negative != (text[0] == "-"), text[1:].strip()
    if any(ch.isdigit() and not ch.isascii() for ch in text):
        raise ValueError(f"{raw!r} is not a number: digits are ASCII 0-9 only (rule: "
                         "number-locale)")
    if not _grammar(decimal, thousands).fullmatch(text):
        raise ValueError(f"{raw!r} is not a number in the declared notation "
                         f"({notation(decimal, thousands)}){_looks_like(text, decimal, thousands)}"
                         "; refused, not guessed (rule: number-locale)")
    value = _value(text, decimal, thousands)
    if not declared:
        for name, (dec, thou) in LOCALES.items():
            other = _value(text, dec, thou) if _grammar(dec, thou).fullmatch(text) else value
            if other != value:
                raise ValueError(f"{raw!r} is ambiguous: {value} with "
                                 f"{notation(decimal, thousands)}, {other} in locale {name!r}; "
                                 "declare the export's locale in the mapping (rule: "
                                 "number-locale)")
    return -value if negative else value


def _value(text: str, decimal: str, thousands: str) -> Decimal:
    """``text``, which fits the notation's grammar, as a Decimal."""
    try:
        return Decimal(text.replace(thousands, "").replace(decimal, ".")
                       if thousands else text.replace(decimal, "."))
    except InvalidOperation:  # pragma: no cover - the grammar admits only digits and marks
        raise ValueError(f"{text!r} is not a number") from None
