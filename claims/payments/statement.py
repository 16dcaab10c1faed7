"""What every statement parser returns: :class:`StatementLine` and :class:`Statement`, and the
field readers the parsers share (money, IBAN, text, a stable id for a line without one).

A :class:`Statement` may be *streamed*: the built-in camt.053 and CSV parsers return one whose
``lines`` is an iterator reading the file as it goes (memory flat in the number of lines), and
whose ``debits_skipped``, ``not_booked``, ``reversals``, ``account`` and ``statement_id`` are
complete once ``lines`` is exhausted. :meth:`Statement.materialize` reads it whole (small files,
tests).
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import astuple, dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import IO, Any

from claims.core.money import CURRENCIES, read_amount
from claims.core.moments import check_date
from claims.errors import InputError

#: the most bytes a statement may hold inside one token — one attribute, one text, one CSV
#: line — before the parser refuses it (a 50 MB attribute is not a statement).
MAX_TOKEN_BYTES = 1 << 20
#: the most XML elements one camt.053 entry (``Ntry``) may hold
MAX_ENTRY_ELEMENTS = 100_000
#: reversal lines of a statement kept in memory; more go to a temporary file
REVERSALS_IN_MEMORY = 10_000
#: days a statement line's value date may lie after today (UTC): banks book some credits with
#: the next business days' value (a weekend, a holiday); later than this is refused
FUTURE_VALUE_DAYS = 7


@dataclass(frozen=True, slots=True)
class StatementLine:
    """One credit (money received) on a statement."""

    external_id: str            # stable across re-imports of the same statement: dedupes
    value_date: date
    amount: Decimal             # positive
    currency: str
    payer_name: str | None = None
    payer_iban: str | None = None
    reference: str | None = None    # structured creditor reference / end-to-end id
    remittance: str | None = None   # unstructured remittance text
    #: where the line stands in its file (``row 3``, ``Stmt[1]/Ntry[2]/…``), for findings;
    #: not part of its content
    where: str | None = field(default=None, compare=False)
    #: the bank's own free text (camt.053 ``AddtlTxInf`` / ``AddtlNtryInf``): read for invoice
    #: numbers after ``reference`` and ``remittance``; kept with the remittance
    additional: str | None = None


class SpooledLines:
    """Statement lines in the order they were added: the first ``limit`` in memory, the rest
    in an anonymous temporary file (one JSON array a line), so that holding every reversal of
    a statement to the end of the import (see :mod:`claims.payments.reversals`) — a CSV's
    negative lines, which can be most of it — does not grow memory with the file."""

    def __init__(self, lines: Iterable[StatementLine] = (), *,
                 limit: int | None = None) -> None:
        self.limit = REVERSALS_IN_MEMORY if limit is None else limit
        self._memory: list[StatementLine] = []
        self._file: IO[bytes] | None = None
        self._count = 0
        self.extend(lines)

    def append(self, line: StatementLine) -> None:
        """Add ``line`` at the end."""
        self._count += 1
        if self._file is None and len(self._memory) < self.limit:
            self._memory.append(line)
            return
        if self._file is None:
            self._file = tempfile.TemporaryFile()
        self._file.seek(0, 2)
        fields = [str(v) if isinstance(v, (date, Decimal)) else v for v in astuple(line)]
        self._file.write(json.dumps(fields).encode() + b"\n")

    def extend(self, lines: Iterable[StatementLine]) -> None:
        """Add each of ``lines`` at the end."""
        for line in lines:
            self.append(line)

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[StatementLine]:
        yield from self._memory
        if self._file is None:
            return
        self._file.seek(0)
        for raw in self._file:
            eid, day, amount, *rest = json.loads(raw)
            yield StatementLine(eid, date.fromisoformat(day), Decimal(amount), *rest)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, (SpooledLines, list)):
            return NotImplemented
        return list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by content


@dataclass
class Statement:
    """A parsed statement: its credit lines, and how many debit lines were skipped.

    ``lines`` is a list, or (streamed) an iterator: then the other fields are final only once
    it is exhausted (see the module docstring)."""

    format: str
    account: str | None
    statement_id: str | None
    lines: Iterable[StatementLine] = field(default_factory=list)
    debits_skipped: int = 0
    #: returned credits (amounts positive); see claims.payments.parsers
    reversals: SpooledLines = field(default_factory=SpooledLines)
    #: True when the bank marked them as reversals; False for CSV negative lines (candidates)
    reversals_marked: bool = True
    #: entries left out because the bank has not booked them (camt.053 ``Sts`` other than
    #: BOOK), per statement and status: ``{statement, id, status, entries, credits, debits,
    #: reason}`` (credits and debits: currency → their total, as strings)
    not_booked: list[dict[str, Any]] = field(default_factory=list)

    def materialize(self) -> Statement:
        """This statement with ``lines`` read into a list (every field then final)."""
        if not isinstance(self.lines, list):
            self.lines = list(self.lines)
        return self


def read_money(text: str | None, currency: str | None, *, file: str, where: str,
               negative: bool = True, decimal: str | None = None) -> tuple[Decimal, str]:
    """(amount, currency) of a statement field, read through the one money door
    (:func:`claims.core.money.check_amount`); InputError for an unknown currency, a missing or
    malformed amount, one above the largest amount accepted (``1e400``: rule ``amount-range``),
    one finer than the currency's minor unit, or (``negative=False``: a format whose amounts
    are unsigned, the sign being a separate mark) a negative one (rule ``amount-unsigned``).
    ``decimal``: the file's declared notation (see :func:`claims.core.money.read_amount`)."""
    if not currency or currency.upper() not in CURRENCIES:
        raise InputError(f"unknown currency {currency!r} (ISO 4217 code expected)", file=file,
                         field=where, rule="currency-known")
    currency = currency.upper()
    if text is None or not text.strip():
        raise InputError("amount is missing", file=file, field=where, rule="amount-required")
    amount = read_amount(text, currency, file=file, field=where, decimal=decimal)
    if not negative and amount < 0:
        raise InputError(f"{text.strip()} is negative; amounts in this format are unsigned "
                         "(the credit/debit mark gives the sign)", file=file, field=where,
                         rule="amount-unsigned")
    return amount, currency  # as written: the ids of lines without one hash it (stable_id)


def check_value_date(line: StatementLine, *, file: str, today: date) -> None:
    """A line's value date within reason, else an InputError naming the file and line: within
    the one range of dates (:func:`claims.core.moments.check_date`, 1970 … 2199, rule
    ``date-range``) and at most :data:`FUTURE_VALUE_DAYS` after ``today`` (rule
    ``value-date-future``): money is not received in 2199."""
    where = f"{line.where}: value date" if line.where else "value date"
    check_date(line.value_date, where, file=file)
    latest = today + timedelta(days=FUTURE_VALUE_DAYS)
    if line.value_date > latest:
        raise InputError(f"{line.value_date} is in the future: a value date may lie at most "
                         f"{FUTURE_VALUE_DAYS} days after today ({today}), i.e. up to {latest}",
                         file=file, field=where, rule="value-date-future")


def ascii_digits(text: str, *, file: str, field: str, rule: str) -> None:
    """InputError when ``text`` holds a digit other than 0-9 (``٢٠٢٦``, ``２０２６``): ``\\d`` in
    ``strptime`` and in the MT940 parser takes them, ``int`` reads them; a statement's dates
    and amounts are written in ASCII digits, as its amounts must be (``amount-notation``)."""
    foreign = next((c for c in text if c.isdigit() and not c.isascii()), None)
    if foreign is not None:
        raise InputError(f"{text.strip()[:60]!r} holds the non-ASCII digit {foreign!r}: dates "
                         "and amounts are written in digits 0-9", file=file, field=field,
                         rule=rule)


def iban(text: str | None) -> str | None:
    """An IBAN without blanks, upper case; None when empty."""
    cleaned = re.sub(r"\s+", "", text or "").upper()
    return cleaned or None


def clean(text: str | None) -> str | None:
    """``text`` with runs of blanks and control characters (a NUL, which PostgreSQL's text
    refuses) made one space; None when empty."""
    shown = "".join(" " if ord(c) < 32 or ord(c) == 127 else c for c in text or "")
    cleaned = " ".join(shown.split())
    return cleaned or None


def line_id(prefix: str, account: str | None, bank_ref: str | None, parts: Iterable[object],
            seen: Counter[bytes]) -> str:
    """The one rule for a statement line's ``external_id``, every format: the bank's own
    reference for the transaction names it on its account (``prefix:account:ref``: camt.053
    ``AcctSvcrRef``/``TxId``, MT940 ``:61:`` subfield 8, a CSV ``id``); without one, a digest
    of the line's own content ``parts`` (:func:`stable_id`) — never of the statement it came in
    (``:20:``, ``:28C:``, ``Stmt/Id``), so the same transaction under another statement header
    is known again."""
    if bank_ref:
        return f"{prefix}:{account}:{bank_ref}"
    return stable_id(f"{prefix}:{account}", parts, seen)


def stable_id(prefix: str, parts: Iterable[object], seen: Counter[bytes]) -> str:
    """A deterministic id for a line without a bank-given one; repeats within a file count up.
    ``seen`` keeps a 16-byte digest per distinct line, not the line."""
    key = "\x1f".join("" if p is None else str(p) for p in parts)
    short = hashlib.blake2b(key.encode(), digest_size=16).digest()
    seen[short] += 1
    digest = hashlib.sha256(f"{key}\x1f{seen[short]}".encode()).hexdigest()[:32]
    return f"{prefix}:{digest}"
