"""Bank statement parsers: ISO 20022 camt.053, SWIFT MT940 and bank CSV exports.

Each format is an importer (:mod:`claims.core.importers`) registered in the entry-point group
``claims.statement_formats`` (see ``pyproject.toml``); :func:`parse_statement` finds it by name
or asks each one to identify the file. A parser returns a :class:`Statement` of credit lines,
or raises :class:`~claims.errors.InputError` naming the file, the field and the rule. camt.053
(:mod:`claims.payments.parsers_camt`) and CSV (:mod:`claims.payments.parsers_csv`) are
*streamed* from the file — memory flat in the number of lines, a size guard on any one token;
the import keeps a statement in one transaction, so a bad line late in a file still keeps
nothing. camt.053 is parsed with :mod:`defusedxml` (no DTD, no entities, no external
references: a statement comes from outside). MT940 files are read whole (they are small).
Debit lines are counted and skipped: cash application is about money received.

Reversals of credits are kept apart (``Statement.reversals``, amounts positive): a camt.053
debit entry with the reversal indicator ``RvslInd`` true, an MT940 ``:61:`` marked ``RC``
(reversal of credit), and — in a CSV, where a return looks like any debit — every negative
line, which the import treats as a reversal only when it finds the payment it returns
(``Statement.reversals_marked`` is False). A reversal of a debit (camt.053 credit with
``RvslInd``, MT940 ``RD``) is not money received and is counted with the debits.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

from claims.core.importers import (
    HEAD_BYTES, STATEMENT_FORMATS, FileImporter, read_head, regular_file,
)
from claims.errors import InputError, PluginError
from claims.payments.parsers_camt import parse_camt053, stream_camt053
from claims.payments.parsers_csv import (
    CSV_FIELDS, CsvMapping, csv_mapping, parse_csv, stream_csv,
)
from claims.payments.statement import (
    Statement, StatementLine, clean as _clean, iban as _iban, read_money as _money,
    stable_id as _stable_id,
)

__all__ = [
    "CSV_FIELDS", "STATEMENT_FORMATS", "Camt053Format", "CsvFormat", "CsvMapping",
    "Mt940Format", "Statement", "StatementLine", "csv_mapping", "parse_camt053", "parse_csv",
    "parse_mt940", "parse_statement", "sniff_format", "statement_formats", "stream_camt053",
    "stream_csv",
]


# -- MT940 ----------------------------------------------------------------------------------

class _Collect(logging.Handler):
    """Keeps the records a library logs instead of letting them reach stderr."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record.getMessage())


@contextmanager
def _captured_log(name: str) -> Iterator[list[str]]:
    """What logger ``name`` says inside the block, kept (not printed on stderr): the mt-940
    parser logs dozens of lines for a garbage file; they become part of one finding."""
    logger, handler = logging.getLogger(name), _Collect()
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate

def parse_mt940(data: bytes, *, file: str = "<mt940>") -> Statement:
    """Parse a SWIFT MT940 customer statement (with German ``:86:`` structured details)."""
    import mt940  # the mt-940 package
    from mt940.options import Options

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")  # MT940 from German banks is often ISO-8859-1
    if ":20:" not in text or ":61:" not in text and ":62F:" not in text:
        raise InputError("not an MT940 statement (no :20: / :61: / :62F: tags)", file=file,
                         rule="mt940-structure")
    try:
        with _captured_log("mt940") as said:
            blocks = mt940.parse_statements(text, options=Options(applicant_iban=True,
                                                                  reversal_sign=True))
    except Exception as err:  # the parser raises bare ValueError/RuntimeError/KeyError
        first = " ".join(str(err).split())[:200]
        noise = f" ({len(said)} parser message(s) folded in)" if said else ""
        raise InputError(f"malformed MT940: {first}{noise}", file=file,
                         rule="mt940-syntax") from err
    lines: list[StatementLine] = []
    reversals: list[StatementLine] = []
    debits = 0
    seen: Counter[bytes] = Counter()
    account = statement_id = None
    for b_no, block in enumerate(blocks, start=1):
        head: dict[str, Any] = block.data
        account = _iban(head.get("account_identification"))
        statement_id = head.get("statement_number") or head.get("transaction_reference")
        opening = head.get("final_opening_balance") or head.get("intermediate_opening_balance")
        closing = head.get("final_closing_balance") or head.get("intermediate_closing_balance")
        if closing is None:
            raise InputError("no closing balance :62F: (truncated statement?)", file=file,
                             field=f"statement {b_no}", rule="mt940-closing-balance")
        total = Decimal(0)
        for t_no, tx in enumerate(block, start=1):
            d: dict[str, Any] = tx.data
            where = f"statement {b_no} :61: #{t_no}"
            amount_obj = d.get("amount")
            if amount_obj is None or d.get("date") is None:
                raise InputError("transaction without amount or value date", file=file,
                                 field=where, rule="mt940-structure")
            amount, currency = _money(str(abs(amount_obj.amount)), amount_obj.currency,
                                      file=file, where=where)
            total += amount_obj.amount
            mark = (d.get("status") or "").upper()
            if mark in ("D", "RD") or mark != "RC" and amount_obj.amount < 0:
                debits += 1  # money paid out, or a returned debit: not money received
                continue
            value_date = date(d["date"].year, d["date"].month, d["date"].day)
            customer_ref = d.get("customer_reference")
            if customer_ref and customer_ref.upper() == "NONREF":
                customer_ref = None
            remittance = " ".join(str(x) for x in (d.get("purpose"), d.get("additional_purpose"))
                                  if x) or d.get("transaction_details")
            bank_ref = d.get("bank_reference")
            parts = (account, statement_id, value_date, amount, customer_ref, bank_ref,
                     remittance)
            (reversals if mark == "RC" else lines).append(StatementLine(
                external_id=_stable_id("mt940" + ":reversal" * (mark == "RC"), parts, seen),
                value_date=value_date,
                amount=amount, currency=currency, payer_name=_clean(d.get("applicant_name")),
                payer_iban=_iban(d.get("applicant_iban") or d.get("gvc_applicant_iban")),
                reference=_clean(customer_ref), remittance=_clean(remittance)))
        if opening is not None and opening.amount.amount + total != closing.amount.amount:
            raise InputError(f"opening balance {opening.amount.amount} plus transactions {total} "
                             f"is not the closing balance {closing.amount.amount} (truncated or "
                             "corrupted statement)", file=file, field=f"statement {b_no}",
                             rule="mt940-balance")
    if not blocks:
        raise InputError("no statement found", file=file, rule="mt940-structure")
    return Statement("mt940", account, statement_id, lines, debits, reversals)


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
    """ISO 20022 camt.053: recognised by XML content (the first non-blank byte is ``<``)."""

    name = "camt053"
    description = "ISO 20022 camt.053 bank-to-customer statement (XML)"
    priority = 10
    read_rule = "file-readable"

    def matches(self, head: bytes) -> bool:
        """True if the content starts like XML (after blanks, with or without a BOM)."""
        head = head.lstrip()
        return head.startswith(b"<") or head.startswith(b"\xef\xbb\xbf<")

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
        """The statement in ``path``; see :func:`parse_mt940`."""
        return parse_mt940(self.read(path), file=str(path))


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
