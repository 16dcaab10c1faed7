"""Bank CSV exports, streamed: a :mod:`csv` reader over the file, one row at a time.

Columns come through a :class:`CsvMapping` (a bank's layout, saved by name). Every physical
line is read with a bound (:data:`~claims.payments.statement.MAX_TOKEN_BYTES`), so one huge
line without a newline is refused (rule ``csv-size``) instead of read whole. Negative lines are
kept as reversal candidates (``Statement.reversals``, ``reversals_marked`` False): the import
treats one as a reversal only when it finds the payment it returns.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime
from functools import lru_cache
from typing import Any, BinaryIO, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from claims.core.config import text_encoding
from claims.core.money import CURRENCIES
from claims.errors import InputError
from claims.payments.statement import (
    MAX_TOKEN_BYTES, Statement, StatementLine, ascii_digits, clean, iban, read_money,
    line_id,
)

CSV_FIELDS = ("date", "amount", "currency", "payer_name", "payer_iban", "reference",
              "remittance", "id")
#: the strptime directives a date column may use: day, month (number or English name), year,
#: day of the year, and a time of day after the date
DATE_DIRECTIVES = frozenset("dmbByYjHMS%")
#: a date and time every date format must write and read back as the same date
_SAMPLE = datetime(2026, 11, 20, 13, 45, 30)
#: the rules a mapping is checked by, beyond its types (each also the error's pydantic type)
_RULES = ("csv-column-name", "csv-column-once", "currency-known", "csv-date-format")


def _refuse(rule: str, field: str, message: str) -> PydanticCustomError:
    """A mapping's validation error naming its ``field`` and ``rule`` (see :func:`csv_mapping`)."""
    return PydanticCustomError(rule, "{message}", {"field": field, "message": message})


class CsvMapping(BaseModel):
    """A bank's CSV layout: ``columns`` maps our field names to the bank's column headers."""

    model_config = ConfigDict(extra="forbid")

    columns: dict[Literal["date", "amount", "currency", "payer_name", "payer_iban", "reference",
                          "remittance", "id"], str] = Field(
        default_factory=lambda: {f: f for f in CSV_FIELDS},
        description="our field → the bank's column header; date and amount are required")
    date_format: str = Field("%Y-%m-%d", description="strptime format of the date column")
    decimal: Literal[".", ","] = Field(".", description="decimal separator of amounts")
    delimiter: str = Field(",", min_length=1, max_length=1, description="field separator")
    currency: str | None = Field(None, description="currency when there is no currency column")
    encoding: str = Field("utf-8-sig", description="file encoding")

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, name: str) -> str:
        return text_encoding(name)

    @field_validator("columns")
    @classmethod
    def _column_names(cls, columns: dict[str, str]) -> dict[str, str]:
        """A column name is printable text without quotes; each column maps one field."""
        used: dict[str, str] = {}
        for field, name in columns.items():
            if not name.strip() or '"' in name or not name.isprintable() or len(name) > 200:
                raise _refuse("csv-column-name", f"columns.{field}", f"{name!r} is no column "
                              "name: printable text without quotes (\"), not blank, at most 200 "
                              "characters")
            if name in used:
                raise _refuse("csv-column-once", f"columns.{field}", f"column {name!r} is "
                              f"already mapped to {used[name]}: a column is used once")
            used[name] = field
        return columns

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, code: str | None) -> str | None:
        if code is None:
            return None
        if code.strip().upper() not in CURRENCIES:
            raise _refuse("currency-known", "currency", f"{code!r} is no currency: an ISO 4217 "
                          f"code of three letters known here ({', '.join(CURRENCIES)})")
        return code.strip().upper()

    @field_validator("date_format")
    @classmethod
    def _date_format(cls, fmt: str) -> str:
        """Only :data:`DATE_DIRECTIVES`, and a sample date written and read back unchanged."""
        unknown = sorted({f"%{d}" for d in re.findall(r"%(.?)", fmt, re.S)
                          if d not in DATE_DIRECTIVES})
        if unknown:
            raise _refuse("csv-date-format", "date_format", f"{fmt!r} uses {', '.join(unknown)}: "
                          "a date format uses only "
                          f"{' '.join('%' + d for d in sorted(DATE_DIRECTIVES))}")
        try:
            back = datetime.strptime(_SAMPLE.strftime(fmt), fmt).date()
        except ValueError:
            back = None
        if back != _SAMPLE.date():
            raise _refuse("csv-date-format", "date_format", f"{fmt!r} does not read back the "
                          f"date it writes ({_SAMPLE:%Y-%m-%d} as {_SAMPLE.strftime(fmt)!r}): a "
                          "date format needs the day, the month and the year")
        return fmt


def csv_mapping(data: dict[str, Any], *, file: str = "<mapping>") -> CsvMapping:
    """Validate a mapping (e.g. read from JSON); a clear error names the bad field."""
    try:
        mapping = CsvMapping.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        rule = first["type"] if first["type"] in _RULES else "csv-mapping"
        field = (first.get("ctx") or {}).get("field") or ".".join(map(str, first["loc"]))
        raise InputError(first["msg"].removeprefix("Value error, "), file=file, field=field,
                         rule=rule) from None
    missing = [f for f in ("date", "amount") if f not in mapping.columns]
    if missing:
        raise InputError(f"the mapping must name the {' and '.join(missing)} column(s)",
                         file=file, field="columns", rule="csv-mapping")
    if "currency" not in mapping.columns and not mapping.currency:
        raise InputError("give a currency column or a fixed currency", file=file,
                         field="currency", rule="csv-mapping")
    return mapping


def stream_csv(stream: BinaryIO, mapping: CsvMapping | None = None, *, file: str = "<csv>",
               bank: str = "generic") -> Statement:
    """A streamed :class:`Statement` of a bank CSV export read with ``mapping`` (default: our
    own column names). Its ``lines`` raise InputError as they meet bad input."""
    statement = Statement("csv", None, None, reversals_marked=False)
    statement.lines = _rows(stream, mapping or CsvMapping(), file, bank, statement)
    return statement


def parse_csv(data: bytes, mapping: CsvMapping | None = None, *, file: str = "<csv>",
              bank: str = "generic") -> Statement:
    """Parse a whole bank CSV export held in memory (see :func:`stream_csv`)."""
    return stream_csv(io.BytesIO(data), mapping, file=file, bank=bank).materialize()


def _bounded(text: io.TextIOBase, file: str) -> Iterator[str]:
    """The physical lines of ``text``, each read with a bound: a longer one is refused."""
    line_no = 0
    while line := text.readline(MAX_TOKEN_BYTES + 1):
        line_no += 1
        if len(line) > MAX_TOKEN_BYTES and not line.endswith("\n"):
            raise InputError(f"a line longer than {MAX_TOKEN_BYTES:,} characters", file=file,
                             field=f"line {line_no}", rule="csv-size")
        yield line


def _reader(stream: BinaryIO, mapping: CsvMapping, file: str,
            ) -> tuple[csv.DictReader[str], dict[str, str]]:
    """The row reader over ``stream`` and the mapping's columns, header checked."""
    try:
        text = io.TextIOWrapper(stream, encoding=mapping.encoding, newline="")
    except LookupError as err:
        raise InputError(f"cannot decode as {mapping.encoding}: {err}", file=file,
                         rule="csv-encoding") from err
    reader = csv.DictReader(_bounded(text, file), delimiter=mapping.delimiter)
    header = reader.fieldnames or []
    wanted = dict(mapping.columns)
    missing = sorted(c for c in wanted.values() if c not in header)
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}; the file has "
                         f"{', '.join(header) or 'no header'}", file=file, field="header",
                         rule="csv-columns")
    return reader, wanted


def _rows(stream: BinaryIO, mapping: CsvMapping, file: str, bank: str,
          st: Statement) -> Iterator[StatementLine]:
    seen: Counter[bytes] = Counter()
    try:
        reader, wanted = _reader(stream, mapping, file)
        for row_no, row in enumerate(reader, start=2):
            line = _row(row, row_no, wanted, mapping, file, bank, seen)
            if line is None:
                continue
            if line.amount < 0:
                st.reversals.append(_positive(line))
            else:
                yield line
    except UnicodeDecodeError as err:
        raise InputError(f"cannot decode as {mapping.encoding}: {err}", file=file,
                         rule="csv-encoding") from err
    except csv.Error as err:
        raise InputError(f"malformed CSV: {err}", file=file, rule="csv-syntax") from err


def _positive(line: StatementLine) -> StatementLine:
    return StatementLine(line.external_id, line.value_date, -line.amount, line.currency,
                         line.payer_name, line.payer_iban, line.reference, line.remittance,
                         line.where)


@lru_cache(maxsize=4096)
def _date(text: str, date_format: str) -> date:
    """``text`` read as a date in ``date_format`` (cached: a statement repeats its dates)."""
    return datetime.strptime(text, date_format).date()


def _row(row: dict[str | Any, str | Any], row_no: int, wanted: dict[str, str],
         mapping: CsvMapping, file: str, bank: str, seen: Counter[bytes],
         ) -> StatementLine | None:
    """One row as a line (amount signed as in the file); None for a zero amount."""
    if None in row or any(row.get(c) is None for c in wanted.values()):
        raise InputError("wrong number of fields", file=file, field=f"row {row_no}",
                         rule="csv-row-length")

    def get(name: str) -> str | None:
        column = wanted.get(name)
        return (row[column] or "").strip() or None if column else None

    amount, currency = read_money(get("amount"), get("currency") or mapping.currency,
                                  file=file, where=f"row {row_no}: {wanted['amount']}",
                                  decimal=mapping.decimal)
    raw_date = get("date") or ""
    ascii_digits(raw_date, file=file, field=f"row {row_no}: {wanted['date']}", rule="csv-date")
    try:
        value_date = _date(raw_date, mapping.date_format)
    except ValueError as err:
        raise InputError(f"{raw_date!r} does not match {mapping.date_format}", file=file,
                         field=f"row {row_no}: {wanted['date']}", rule="csv-date") from err
    if amount == 0:
        return None
    parts = (bank, value_date, amount, currency, get("payer_name"), get("payer_iban"),
             get("reference"), get("remittance"))
    bank_id = get("id")
    return StatementLine(
        external_id=line_id("csv", bank, bank_id, parts, seen),
        value_date=value_date, amount=amount, currency=currency,
        payer_name=clean(get("payer_name")), payer_iban=iban(get("payer_iban")),
        reference=clean(get("reference")), remittance=clean(get("remittance")),
        where=f"row {row_no}")
