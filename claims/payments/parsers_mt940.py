"""SWIFT MT940 customer statements (with German ``:86:`` structured details), streamed.

The file is read line by line and cut into its fields (a field opens with a ``:NN:`` or
``:NNa:`` tag; other lines continue it). Each statement (``:20:`` …) is handed to the mt-940
parser in pieces: its header (``:20:`` to the opening balance) with at most
:data:`MT940_CHUNK` transactions (``:61:`` and its ``:86:``) at a time, and once more with its
closing balance (``:62F:``/``:62M:`` and what follows). Memory is then flat in the number of
lines, whatever the size of one statement; the balance check (opening + transactions =
closing) is made per statement as before. Each line is decoded as UTF-8, else ISO-8859-1
(MT940 from German banks often is). A line longer than :data:`MAX_TOKEN_BYTES` is refused.
The dates a field opens with (``:61:`` value and entry date, balance dates) are checked before
the parser sees them: it would move 30 February to the 28th; an impossible date is refused
naming its line (rule ``mt940-date``).

A transaction's id is the one rule of every format (:func:`~claims.payments.statement.line_id`):
the bank's reference (``:61:`` subfield 8, after ``//``) on the account, else a digest of the
transaction's own content; never the statement header (``:20:``, ``:28C:``), so the same
``:61:``/``:86:`` lines under another header are known again.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, BinaryIO

import mt940  # the mt-940 package
from mt940.options import Options

from claims.errors import InputError
from claims.payments.statement import (
    MAX_TOKEN_BYTES, Statement, StatementLine, ascii_digits, clean, iban, read_money,
    line_id,
)

#: transactions handed to the mt-940 parser at a time (with their statement's header)
MT940_CHUNK = 500
_TAG = re.compile(r"^:([0-9][0-9][A-Z]?):")
_OPTIONS = Options(applicant_iban=True, reversal_sign=True)


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


def _said(err: Exception) -> str:
    """What the parser's error says, for a person: its "Unable to parse <Tag object at 0x…>
    from 'value'" (the message, the tag object, the value) as the tag's number and the value;
    any other object's repr cut out."""
    args = err.args
    if len(args) >= 3 and isinstance(args[2], str) and hasattr(args[1], "id"):
        return f"cannot read tag :{args[1].id}: from {args[2]!r}"
    return re.sub(r"<[\w.]+ object at 0x[0-9a-fA-F]+>", "…", str(args[0] if args else err))


def _library(text: str, file: str) -> list[Any]:
    """``text`` through the mt-940 parser; its failures become one ``mt940-syntax`` finding."""
    try:
        with _captured_log("mt940") as said:
            return list(mt940.parse_statements(text, options=_OPTIONS))
    except Exception as err:  # the parser raises bare ValueError/RuntimeError/KeyError
        first = " ".join(_said(err).split())[:200]
        noise = f" ({len(said)} parser message(s) folded in)" if said else ""
        raise InputError(f"malformed MT940: {first}{noise}", file=file,
                         rule="mt940-syntax") from err


def _fields(fh: BinaryIO, file: str) -> Iterator[tuple[str, str]]:
    """(tag, text) of each field in file order; the tag is '' for lines before the first.
    Each field's dates are checked first (:func:`_check_dates`)."""
    tag, parts, line_no = "", [], 0
    while raw := fh.readline(MAX_TOKEN_BYTES + 1):
        line_no += 1
        if len(raw) > MAX_TOKEN_BYTES:
            raise InputError(f"a line longer than {MAX_TOKEN_BYTES} bytes", file=file,
                             rule="mt940-line-length")
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            line = raw.decode("latin-1")
        found = _TAG.match(line)
        if found:
            if parts:
                yield tag, "".join(parts)
            tag, parts = found.group(1), []
            _check_dates(tag, line, file, line_no)
        parts.append(line if line.endswith("\n") else line + "\n")
    if parts:
        yield tag, "".join(parts)


#: the dates a field opens with: ``:61:`` value date YYMMDD and entry date MMDD; a balance
#: (``:60F:``, ``:62M:``, ``:64:`` …) D/C mark and YYMMDD
_DATED = {"61": re.compile(r":61:(?P<y>\d\d)(?P<m>\d\d)(?P<d>\d\d)((?P<em>\d\d)(?P<ed>\d\d))?",
                           re.ASCII),
          **{t: re.compile(rf":{t}:[CD](?P<y>\d\d)(?P<m>\d\d)(?P<d>\d\d)", re.ASCII)
             for t in ("60F", "60M", "62F", "62M", "64", "65")}}


def _check_dates(tag: str, line: str, file: str, line_no: int) -> None:
    """An impossible date (30 February, month 13) in a field's opening line is refused naming
    the line (rule ``mt940-date``): the mt-940 parser would move it to a day that exists."""
    pattern = _DATED.get(tag)
    if pattern:  # the mt-940 parser's \d would read ٢٦ as 26, in a date or an amount
        ascii_digits(line, file=file, field=f"line {line_no}: :{tag}:", rule="mt940-syntax")
    found = pattern.match(line) if pattern else None
    if found is None:
        return  # not a dated field, or malformed: the parser's own finding (mt940-syntax)
    year = 2000 + int(found["y"])
    checks = [("value date" if tag == "61" else "date", year, found["m"], found["d"])]
    if found.groupdict().get("em"):  # its year is the value date's or a neighbour: 29 Feb may be
        checks.append(("entry date", 2000, found["em"], found["ed"]))
    for name, y, month, day in checks:
        try:
            date(y, int(month), int(day))
        except ValueError:
            shown = f"{y}-{month}-{day}" if name != "entry date" else f"{month}-{day} (MMDD)"
            raise InputError(f"{shown} is an impossible date; refused, never moved to a day "
                             "that exists", file=file, field=f"line {line_no}: :{tag}: {name}",
                             rule="mt940-date") from None


@dataclass
class _Block:
    """One statement (``:20:`` …) as it is read."""

    number: int
    header: list[str] = field(default_factory=list)
    txs: list[str] = field(default_factory=list)
    closing: list[str] = field(default_factory=list)
    head: dict[str, Any] | None = None
    total: Decimal = Decimal(0)
    tx_count: int = 0


class _Mt940Reader:
    """Turns fields into statement lines, keeping per-statement state (see module doc)."""

    def __init__(self, file: str, st: Statement) -> None:
        self.file, self.st = file, st
        self.seen: Counter[bytes] = Counter()
        self.blocks = 0
        self.tags: set[str] = set()

    def lines(self, fh: BinaryIO) -> Iterator[StatementLine]:
        block: _Block | None = None
        preamble: list[str] = []
        for tag, text in _fields(fh, self.file):
            self.tags.add(tag)
            if tag == "20":
                if block is not None:
                    yield from self._finish(block)
                self.blocks += 1
                block = _Block(self.blocks, header=preamble + [text])
                preamble = []
            elif block is None:
                preamble.append(text)
            elif block.closing or tag.startswith("62"):
                block.closing.append(text)
            elif tag == "61":
                if len(block.txs) >= MT940_CHUNK:
                    yield from self._chunk(block)
                block.txs.append(text)
            elif block.txs:
                block.txs[-1] += text  # its :86: (or another field the library knows)
            else:
                block.header.append(text)
        if "20" not in self.tags or "61" not in self.tags and "62F" not in self.tags:
            raise InputError("not an MT940 statement (no :20: / :61: / :62F: tags)",
                             file=self.file, rule="mt940-structure")
        if block is not None:
            yield from self._finish(block)

    def _parse(self, text: str, block: _Block) -> Any:
        parsed = _library(text, self.file)
        if len(parsed) != 1:
            raise InputError("no statement found" if not parsed else
                             "a statement split in two by a stray :20: tag", file=self.file,
                             field=f"statement {block.number}", rule="mt940-structure")
        return parsed[0]

    def _chunk(self, block: _Block) -> Iterator[StatementLine]:
        if not block.txs:
            return
        parsed = self._parse("".join(block.header + block.txs), block)
        block.txs = []
        block.head = block.head or dict(parsed.data)
        for tx in parsed:
            block.tx_count += 1
            line = self._line(tx.data, block)
            if line is not None:
                yield line
        parsed.transactions.clear()  # a cycle (each transaction names its statement): cut it

    def _finish(self, block: _Block) -> Iterator[StatementLine]:
        yield from self._chunk(block)
        if not block.closing:
            raise InputError("no closing balance :62F: (truncated statement?)", file=self.file,
                             field=f"statement {block.number}", rule="mt940-closing-balance")
        head = self._parse("".join(block.header + block.closing), block).data
        self.st.account = iban(head.get("account_identification"))
        self.st.statement_id = head.get("statement_number") or \
            head.get("transaction_reference")
        opening = head.get("final_opening_balance") or \
            head.get("intermediate_opening_balance")
        closing = head.get("final_closing_balance") or \
            head.get("intermediate_closing_balance")
        if closing is None:
            raise InputError("no closing balance :62F: (truncated statement?)", file=self.file,
                             field=f"statement {block.number}", rule="mt940-closing-balance")
        if opening is not None and opening.amount.amount + block.total != \
                closing.amount.amount:
            raise InputError(f"opening balance {opening.amount.amount} plus transactions "
                             f"{block.total} is not the closing balance "
                             f"{closing.amount.amount} (truncated or corrupted statement)",
                             file=self.file, field=f"statement {block.number}",
                             rule="mt940-balance")

    def _line(self, d: dict[str, Any], block: _Block) -> StatementLine | None:
        """The statement line of one transaction; None for a debit (counted)."""
        where = f"statement {block.number} :61: #{block.tx_count}"
        amount_obj = d.get("amount")
        if amount_obj is None or d.get("date") is None:
            raise InputError("transaction without amount or value date", file=self.file,
                             field=where, rule="mt940-structure")
        amount, currency = read_money(str(abs(amount_obj.amount)), amount_obj.currency,
                                      file=self.file, where=where)
        block.total += amount_obj.amount
        mark = (d.get("status") or "").upper()
        if mark in ("D", "RD") or mark != "RC" and amount_obj.amount < 0:
            self.st.debits_skipped += 1  # money paid out, or a returned debit
            return None
        account = iban((block.head or {}).get("account_identification"))
        value_date = date(d["date"].year, d["date"].month, d["date"].day)
        customer_ref = d.get("customer_reference")
        if customer_ref and customer_ref.upper() == "NONREF":
            customer_ref = None
        remittance = " ".join(str(x) for x in (d.get("purpose"), d.get("additional_purpose"))
                              if x) or d.get("transaction_details")
        bank_ref = d.get("bank_reference")
        if bank_ref and bank_ref.upper() == "NONREF":
            bank_ref = None
        external = line_id("mt940", account, bank_ref, (
            account, value_date, amount, currency, customer_ref, remittance), self.seen)
        line = StatementLine(
            external_id=external + ":reversal" * (mark == "RC"),
            value_date=value_date, amount=amount, currency=currency,
            payer_name=clean(d.get("applicant_name")),
            payer_iban=iban(d.get("applicant_iban") or d.get("gvc_applicant_iban")),
            reference=clean(customer_ref), remittance=clean(remittance), where=where)
        if mark == "RC":
            self.st.reversals.append(line)
            return None
        return line


def stream_mt940(fh: BinaryIO, *, file: str = "<mt940>") -> Statement:
    """A streamed :class:`Statement` of the MT940 file open in ``fh`` (module docstring): its
    ``lines`` read the file as they are consumed; the other fields are final after them."""
    st = Statement("mt940", None, None)
    st.lines = _Mt940Reader(file, st).lines(fh)
    return st
