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
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime
from functools import lru_cache
from typing import Any, BinaryIO, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from claims.core.config import text_encoding

from claims.errors import InputError
from claims.payments.statement import (
    MAX_TOKEN_BYTES, Statement, StatementLine, clean, iban, read_money, stable_id,
)

CSV_FIELDS = ("date", "amount", "currency", "payer_name", "payer_iban", "reference",
              "remittance", "id")


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


def csv_mapping(data: dict[str, Any], *, file: str = "<mapping>") -> CsvMapping:
    """Validate a mapping (e.g. read from JSON); a clear error names the bad field."""
    try:
        mapping = CsvMapping.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        raise InputError(first["msg"].removeprefix("Value error, "), file=file,
                         field=".".join(map(str, first["loc"])), rule="csv-mapping") from None
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
        external_id=f"csv:{bank}:{bank_id}" if bank_id else stable_id(f"csv:{bank}", parts,
                                                                       seen),
        value_date=value_date, amount=amount, currency=currency,
        payer_name=clean(get("payer_name")), payer_iban=iban(get("payer_iban")),
        reference=clean(get("reference")), remittance=clean(get("remittance")),
        where=f"row {row_no}")
