"""Bank statement parsers: ISO 20022 camt.053, SWIFT MT940 and bank CSV exports.

Each format is an importer (:mod:`claims.core.importers`) registered in the entry-point group
``claims.statement_formats`` (see ``pyproject.toml``); :func:`parse_statement` finds it by name
or asks each one to identify the file. A parser returns a :class:`Statement` of credit lines,
or raises :class:`~claims.errors.InputError` naming the file, the field and the rule. camt.053
(:mod:`claims.payments.parsers_camt`) and CSV (:mod:`claims.payments.parsers_csv`) are
*streamed* from the file — memory flat in the number of lines, a size guard on any one token;
the import keeps a statement in one transaction, so a bad line late in a file still keeps
nothing. camt.053 is parsed with :mod:`defusedxml` (no DTD, no entities, no external
references: a statement comes from outside). MT940 (:mod:`claims.payments.parsers_mt940`)
is streamed too, one statement's header with a few hundred transactions at a time.
Debit lines are counted and skipped: cash application is about money received.

Reversals of credits are kept apart (``Statement.reversals``, amounts positive): a camt.053
debit entry with the reversal indicator ``RvslInd`` true, an MT940 ``:61:`` marked ``RC``
(reversal of credit), and — in a CSV, where a return looks like any debit — every negative
line, which the import treats as a reversal only when it finds the payment it returns
(``Statement.reversals_marked`` is False). A reversal of a debit (camt.053 credit with
``RvslInd``, MT940 ``RD``) is not money received and is counted with the debits.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

from claims.core.importers import (
    HEAD_BYTES, STATEMENT_FORMATS, FileImporter, read_head, regular_file,
)
from claims.errors import InputError, PluginError
from claims.payments.parsers_camt import parse_camt053, stream_camt053, xml_encoding
from claims.payments.parsers_mt940 import stream_mt940
from claims.payments.parsers_csv import (
    CSV_FIELDS, CsvMapping, csv_mapping, parse_csv, stream_csv,
)
from claims.payments.statement import Statement, StatementLine

__all__ = [
    "CSV_FIELDS", "STATEMENT_FORMATS", "Camt053Format", "CsvFormat", "CsvMapping",
    "Mt940Format", "Statement", "StatementLine", "csv_mapping", "parse_camt053", "parse_csv",
    "parse_mt940", "parse_statement", "sniff_format", "statement_formats", "stream_camt053",
    "stream_csv", "stream_mt940",
]


# -- MT940 ----------------------------------------------------------------------------------

def parse_mt940(data: bytes, *, file: str = "<mt940>") -> Statement:
    """Parse a SWIFT MT940 customer statement held in memory (see :func:`stream_mt940`)."""
    return stream_mt940(io.BytesIO(data), file=file).materialize()


def _streamed(path: Path, rule: str, parse: Callable[[BinaryIO], Statement]) -> Statement:
    """``parse`` over ``path`` opened for reading; the file closes when the lines are read."""
    try:
        fh = regular_file(path, missing_rule=rule).open("rb")
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror}", file=str(path), rule=rule) from err
    statement = parse(fh)
    statement.lines = _closing(statement.lines, fh)
    return statement


def _closing(lines: Iterable[StatementLine], fh: BinaryIO) -> Iterator[StatementLine]:
    with fh:
        yield from lines


# -- the formats as importers (entry-point group claims.statement_formats) ---------------------

class Camt053Format(FileImporter):
    """ISO 20022 camt.053: recognised by XML content (the first non-blank character is ``<``,
    in UTF-8, UTF-16 or UTF-32, with or without a byte-order mark; see
    :func:`~claims.payments.parsers_camt.xml_encoding`)."""

    name = "camt053"
    description = "ISO 20022 camt.053 bank-to-customer statement (XML)"
    priority = 10
    read_rule = "file-readable"

    def matches(self, head: bytes) -> bool:
        """True if the content starts like XML (after blanks, whatever its encoding: one the
        parser cannot read is then refused naming it, never taken for a CSV)."""
        return xml_encoding(head) is not None

    def extract(self, path: Path, options: Mapping[str, Any]) -> Statement:
        """The statement in ``path``, streamed; see :func:`stream_camt053`."""
        return _streamed(path, self.read_rule,
                         lambda f: stream_camt053(f, file=str(path)))


class Mt940Format(FileImporter):
    """SWIFT MT940: recognised by a ``:20:`` tag at the start of a line (or of block 4)."""

    name = "mt940"
    description = "SWIFT MT940 customer statement"
    priority = 20
    read_rule = "file-readable"

    def matches(self, head: bytes) -> bool:
        """True if a ``:20:`` (transaction reference) tag opens a line."""
        return re.search(rb"(^|\n|\{4:\s*\n?):20:", head.lstrip()) is not None

    def extract(self, path: Path, options: Mapping[str, Any]) -> Statement:
        """The statement in ``path``, streamed; see :func:`stream_mt940`."""
        return _streamed(path, self.read_rule, lambda f: stream_mt940(f, file=str(path)))


class CsvFormat(FileImporter):
    """A bank CSV export: the catch-all, tried last. Options: ``mapping``, ``bank``."""

    name = "csv"
    description = "bank CSV export (columns through a saved mapping)"
    priority = 1000
    read_rule = "file-readable"

    def extract(self, path: Path, options: Mapping[str, Any]) -> Statement:
        """The statement in ``path``, streamed; see :func:`stream_csv`."""
        return _streamed(path, self.read_rule,
                         lambda f: stream_csv(f, options.get("mapping"), file=str(path),
                                              bank=options.get("bank") or "generic"))


def statement_formats() -> list[str]:
    """The names of every registered statement format (built in and plug-ins), sorted."""
    return STATEMENT_FORMATS.names()


def sniff_format(data: bytes) -> str:
    """Guess the format from the content: the first registered format whose ``matches``
    accepts the first bytes (XML → camt053, ``:20:`` tags → mt940, else csv)."""
    head = data[:HEAD_BYTES]
    for imp in STATEMENT_FORMATS.all():
        if isinstance(imp, FileImporter) and not imp.suffixes and imp.matches(head):
            return imp.name
    return "csv"


def parse_statement(path: Path, fmt: str | None = None, *,
                    mapping: CsvMapping | None = None, bank: str = "generic") -> Statement:
    """Read ``path`` and parse it as ``fmt`` (when None, the first registered format whose
    ``identify`` accepts it). Returns the :class:`Statement`."""
    try:
        read_head(path)
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror}", file=str(path),
                         rule="file-readable") from err
    importer = STATEMENT_FORMATS.get(fmt, file=str(path)) if fmt else \
        STATEMENT_FORMATS.detect(path)
    statement = importer.extract(path, {"mapping": mapping, "bank": bank})
    if not isinstance(statement, Statement):
        raise PluginError(f"extract() returned {type(statement).__name__}, not a Statement",
                          group=STATEMENT_FORMATS.group, name=importer.name,
                          target=type(importer).__qualname__)
    return statement
