"""Dates and moments as a person types them (a CLI option, a web form field): one reading for
every door, with a clear error naming the field."""

from __future__ import annotations

from datetime import UTC, date, datetime

from claims.errors import InputError

#: Dates a command takes, the plausible range of a business date: wide enough for any contract
#: and any history a ledger holds (nothing here predates 1970), narrow enough that a typo
#: (0001-01-01, 1900-01-01, 2999) is refused rather than believed, and that date arithmetic
#: (ageing buckets, due dates, periods) can never leave the calendar.
EARLIEST_DATE, LATEST_DATE = date(1970, 1, 1), date(2199, 12, 31)


def parse_date(text: str | None, field: str) -> date | None:
    """A YYYY-MM-DD value as a date (None stays None); a clear error otherwise,
    also for a date outside :data:`EARLIEST_DATE` … :data:`LATEST_DATE`."""
    if text is None:
        return None
    try:
        value = date.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"{text!r} is not a date (YYYY-MM-DD)", field=field,
                         rule="iso-date") from None
    return check_date(value, field, shown=repr(text))


def check_date(value: date, field: str | None, *, file: str | None = None,
               shown: str | None = None) -> date:
    """``value`` if it lies within :data:`EARLIEST_DATE` … :data:`LATEST_DATE`, the one range
    of dates every door takes (a typed option, an invoice's dates, a statement's value date);
    else an InputError (rule ``date-range``) naming ``file`` and ``field``."""
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise InputError(f"{shown or value} is outside {EARLIEST_DATE} … {LATEST_DATE}",
                         file=file, field=field, rule="date-range")
    return value


def parse_moment(text: str | None, field: str) -> datetime | None:
    """A date or date-time value (YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS][+HH:MM]) as an
    aware UTC datetime (no offset: UTC; a bare date: noon UTC of that day, or now if that is
    later than now)."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"{text!r} is not a date or date-time (YYYY-MM-DD[THH:MM])",
                         field=field, rule="iso-datetime") from None
    if len(text.strip()) == 10:  # a bare date
        day = parse_date(text, field)
        assert day is not None
        value = min(datetime(day.year, day.month, day.day, 12, tzinfo=UTC),
                    max(datetime.now(UTC), datetime(day.year, day.month, day.day, tzinfo=UTC)))
    parse_date(value.date().isoformat(), field)  # the one range of dates
    return (value.replace(tzinfo=UTC) if value.tzinfo is None else value).astimezone(UTC)
