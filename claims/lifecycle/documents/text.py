"""Text matching for supporting documents: normalised text, needles (invoice numbers, amounts in
their usual spellings) and labelled dates ("Expiry Date: 2027-03-31").

Pure functions on strings; :func:`claims.lifecycle.documents.pdf.inspect_pdf` applies them to
the text of each page.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

__all__ = [
    "amount_spellings",
    "find_ambiguous_dates",
    "find_labelled_dates",
    "needle_pattern",
    "normalise_text",
    "text_contains",
]

# --------------------------------------------------------------------------- text matching

_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d"), "-")
_WHITESPACE = re.compile(r"\s+")


def normalise_text(text: str) -> str:
    """Normalise text for matching: NFKC, case-folded, unicode dashes → ``-``, whitespace
    runs (including non-breaking and thin spaces) collapsed to one space, stripped."""
    text = unicodedata.normalize("NFKC", text).translate(_DASHES).casefold()
    return _WHITESPACE.sub(" ", text).strip()


def needle_pattern(needle: str) -> re.Pattern[str] | None:
    """The regex that finds ``needle`` in normalised text (see :func:`text_contains`); None for
    an empty needle."""
    norm = normalise_text(needle)
    if not norm:
        return None
    # Boundaries keep "9,000.00" from matching inside "19,000.00" and "INV-7" inside
    # "INV-71", while still matching "EUR9,000.00" (PDF text extraction often glues cells).
    start = ""
    if norm[0].isdigit():
        start = r"(?<!\d)(?<!\d[.,'])"
    elif norm[0].isalnum():
        start = r"(?<!\w)"
    end = ""
    if norm[-1].isdigit():
        end = r"(?!\d)(?![.,']\d)"
    elif norm[-1].isalnum():
        end = r"(?!\w)"
    return re.compile(start + re.escape(norm) + end)


def text_contains(text: str, needle: str) -> bool:
    """True if ``needle`` occurs in ``text`` under the matching rules of :func:`inspect_pdf`:
    case-insensitive, whitespace collapsed, unicode dashes as ``-``, and not glued to further
    digits (``9,000.00`` is not found in ``19,000.00``). An empty needle is never found."""
    pattern = needle_pattern(needle)
    return bool(pattern and pattern.search(normalise_text(text)))


def amount_spellings(amount: Decimal) -> list[str]:
    """Return the usual printed spellings of a money amount, rounded half-up to 2 places.

    ``amount_spellings(Decimal("9000"))`` gives ``["9,000.00", "9000.00", "9 000,00",
    "9.000,00", "9 000.00", "9000,00", "9'000.00"]`` (duplicates removed, order kept, so for
    amounts under 1,000 the list is shorter). Negative amounts keep a leading ``-``. Pass them
    all as needles and accept a page where any is found.
    """
    if not isinstance(amount, Decimal):
        raise TypeError(f"amount must be a Decimal, not {type(amount).__name__}")
    q = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    sign = "-" if q < 0 else ""
    whole, frac = f"{abs(q):.2f}".split(".")
    groups: list[str] = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    variants = [
        ",".join(groups) + "." + frac,
        "".join(groups) + "." + frac,
        " ".join(groups) + "," + frac,
        ".".join(groups) + "," + frac,
        " ".join(groups) + "." + frac,
        "".join(groups) + "," + frac,
        "'".join(groups) + "." + frac,
    ]
    return list(dict.fromkeys(sign + v for v in variants))


# --------------------------------------------------------------------------- labelled dates

_MONTHS: dict[str, int] = {}
for _number in range(1, 13):
    _MONTHS[calendar.month_name[_number].lower()] = _number
    _MONTHS[calendar.month_abbr[_number].lower()] = _number
_MONTHS["sept"] = 9
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))

_DATE_RE = (
    r"(?:(?P<iy>\d{4})[-/.](?P<im>\d{1,2})[-/.](?P<id>\d{1,2})(?!\d)"
    r"|(?P<nd>\d{1,2})[/.\-](?P<nm>\d{1,2})[/.\-](?P<ny>\d{4})(?!\d)"
    rf"|(?P<td>\d{{1,2}})(?:st|nd|rd|th)?\s*(?:of\s+)?(?P<tm>{_MONTH_RE})\.?,?\s*(?P<ty>\d{{4}})"
    rf"|(?P<am>{_MONTH_RE})\.?\s+(?P<ad>\d{{1,2}})(?:st|nd|rd|th)?,?\s*(?P<ay>\d{{4}}))"
)
_EXPIRY_LABELS = (
    r"expiry date|date of expiry|expiration date|expiration|expiry|expires|expiring"
    r"|valid (?:from \S+(?: \S+ \d{4})? )?(?:until|till|to|through|thru)|not valid after"
)
_ISSUE_LABELS = r"date of issue|issue date|issued date|date issued|issued|issuing date|invoice date"
_LABELLED_DATE = re.compile(
    rf"(?<!\w)(?:(?P<expiry>{_EXPIRY_LABELS})|(?P<issue>{_ISSUE_LABELS}))"
    rf"(?: on)?\s*[:\-]?\s*(?:on\s+)?{_DATE_RE}",
    re.IGNORECASE,
)


def find_labelled_dates(text: str, date_order: str | None = None) -> list[tuple[str, date]]:
    """Return ``(label, date)`` pairs for the labelled dates in ``text``, in order.

    Labels are normalised to ``"expiry"`` ("Expiry Date", "Valid until", "Expires on", …) or
    ``"issue"`` ("Date of issue", "Issue date", "Issued", "Invoice date"). Dates may be ISO
    (``2027-03-31``), written (``31 March 2027``, ``31st Mar 2027``, ``March 31, 2027``) or
    numeric: read as ``date_order`` (``"DMY"`` or ``"MDY"``) when declared; without it only
    when day and month cannot be swapped (``31/03/2027``); an ambiguous one (``01/12/2027``)
    is left out here and listed by :func:`find_ambiguous_dates`. Impossible dates are skipped.
    """
    found: list[tuple[str, date]] = []
    for m in _LABELLED_DATE.finditer(normalise_text(text)):
        label = "expiry" if m.group("expiry") else "issue"
        parsed = _parse_date_match(m, date_order)
        if isinstance(parsed, date) and (label, parsed) not in found:
            found.append((label, parsed))
    return found


def find_ambiguous_dates(text: str, date_order: str | None = None) -> list[tuple[str, str]]:
    """``(label, as written)`` for the labelled numeric dates whose day and month could be
    swapped (``01/12/2027``) when no ``date_order`` is declared (empty when one is)."""
    if date_order:
        return []
    return [("expiry" if m.group("expiry") else "issue", m.group(0).split()[-1])
            for m in _LABELLED_DATE.finditer(normalise_text(text))
            if _parse_date_match(m, None) is _AMBIGUOUS]


_AMBIGUOUS = object()


def _numeric(first: int, second: int, year: int, date_order: str | None) -> date | object:
    """A numeric date ``first/second/year`` in ``date_order``, or unambiguous without one."""
    if date_order == "MDY" or (date_order is None and second > 12 >= first):
        return date(year, first, second)
    if date_order == "DMY" or (date_order is None and first > 12 >= second):
        return date(year, second, first)
    if first == second:
        return date(year, first, second)
    return _AMBIGUOUS


def _parse_date_match(m: re.Match[str], date_order: str | None = None) -> date | object | None:
    """The date a ``_DATE_RE`` match spells, ``_AMBIGUOUS`` when its day and month cannot be
    told apart, or None when there is no such day."""
    g = m.groupdict()
    try:
        if g["iy"]:
            return date(int(g["iy"]), int(g["im"]), int(g["id"]))
        if g["ny"]:
            return _numeric(int(g["nd"]), int(g["nm"]), int(g["ny"]), date_order)
        if g["ty"]:
            return date(int(g["ty"]), _MONTHS[g["tm"].lower()], int(g["td"]))
        return date(int(g["ay"]), _MONTHS[g["am"].lower()], int(g["ad"]))
    except ValueError:
        return None
