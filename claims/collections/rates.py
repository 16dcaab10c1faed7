"""Dated exchange rates to the base currency (``[followup] base_currency``).

Rates come from a CSV the user supplies (``claims rates import FILE.csv``) with the columns
``date,currency,rate``: on ``date``, 1 ``currency`` = ``rate`` base units (the ECB's reference
rates, re-expressed against the base, fit this shape). The rate of a day is the latest one on or
before it. An amount that cannot be converted (no rate on or before the day) is never dropped
or added at face value: it is reported apart with that reason.
"""

from __future__ import annotations

import bisect
import csv
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from sqlalchemy import select

from claims.core.money import minor_units, round_money
from claims.errors import InputError
from claims.store import Store
from claims.store.tables.collections import ExchangeRateRow

COLUMNS = ("date", "currency", "rate")


def _cell(path: Path, line: int, column: str, value: str, rule: str, message: str) -> InputError:
    return InputError(f"{path.name} line {line}: {column} {value!r} {message}",
                      field=column, rule=rule)


def read_rates_csv(path: Path, base: str) -> list[tuple[date, str, Decimal]]:
    """The rows of a rates CSV, each checked (a bad cell names its file, line and column)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as err:
        raise InputError(f"cannot read {path}: {err.strerror}", field="FILE",
                         rule="readable") from err
    reader = csv.DictReader(text.splitlines())
    header = [h.strip().lower() for h in reader.fieldnames or []]
    if tuple(header[:3]) != COLUMNS:
        raise InputError(f"{path.name}: the header must be date,currency,rate (found "
                         f"{','.join(header) or 'nothing'})", field="header", rule="columns")
    rows = []
    for n, raw in enumerate(reader, start=2):
        cells = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if k}
        try:
            day = date.fromisoformat(cells["date"])
        except ValueError:
            raise _cell(path, n, "date", cells["date"], "iso-date",
                        "is not a date (YYYY-MM-DD)") from None
        currency = cells["currency"].upper()
        try:
            minor_units(currency)
        except ValueError:
            raise _cell(path, n, "currency", cells["currency"], "iso-4217",
                        "is not a known ISO 4217 code") from None
        if currency == base:
            raise _cell(path, n, "currency", currency, "not-base",
                        "is the base currency (its rate is 1)")
        try:
            rate = Decimal(cells["rate"])
        except InvalidOperation:
            rate = Decimal(0)
        if not rate.is_finite() or rate <= 0:
            raise _cell(path, n, "rate", cells["rate"], "positive",
                        "is not a positive number")
        rows.append((day, currency, rate))
    return rows


def import_rates(store: Store, path: Path, base: str) -> dict[str, object]:
    """Store the rates of ``path`` against ``base`` (a rate already known for a day is
    replaced); all or nothing."""
    if not base:
        raise InputError("no base currency: set base_currency in [followup] of claims.toml",
                         field="followup.base_currency", rule="set")
    rows = read_rates_csv(path, base)
    with store.session() as s:
        known = {(r.day, r.currency): r for r in s.scalars(
            select(ExchangeRateRow).where(ExchangeRateRow.base == base))}
        added = replaced = 0
        for day, currency, rate in rows:
            row = known.get((day, currency))
            if row is None:
                row = ExchangeRateRow(day=day, currency=currency, base=base, rate=str(rate),
                                      source=path.name)
                s.add(row)
                known[(day, currency)] = row
                added += 1
            else:
                row.rate, row.source = str(rate), path.name
                replaced += 1
    return {"file": str(path), "base": base, "rates": len(rows), "added": added,
            "replaced": replaced,
            "currencies": sorted({c for _, c, _ in rows})}


@dataclass(frozen=True)
class Converted:
    """An amount in the base currency, with the rate and its date; or why it is not."""

    amount: Decimal | None
    rate: Decimal | None = None
    rate_date: date | None = None
    reason: str | None = None


@dataclass
class Rates:
    """The rates to one base currency, by currency, sorted by day."""

    base: str
    by_currency: dict[str, tuple[list[date], list[Decimal]]] = field(default_factory=dict)

    @classmethod
    def load(cls, store: Store, base: str) -> Rates:
        rates = cls(base)
        if not base:
            return rates
        with store.session() as s:
            for row in s.scalars(select(ExchangeRateRow).where(ExchangeRateRow.base == base)
                                 .order_by(ExchangeRateRow.currency, ExchangeRateRow.day)):
                days, values = rates.by_currency.setdefault(row.currency, ([], []))
                days.append(row.day)
                values.append(Decimal(row.rate))
        return rates

    def convert(self, amount: Decimal, currency: str, day: date) -> Converted:
        """``amount`` of ``currency`` in the base currency at the rate of ``day``."""
        if currency == self.base:
            return Converted(amount, Decimal(1), day)
        days, values = self.by_currency.get(currency, ([], []))
        k = bisect.bisect_right(days, day)
        if k == 0:
            return Converted(None, reason=f"no {currency}→{self.base} rate on or before "
                                          f"{day} (claims rates import)")
        return Converted(round_money(amount * values[k - 1], self.base), values[k - 1],
                         days[k - 1])
