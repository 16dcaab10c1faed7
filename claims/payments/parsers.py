"""Bank statement parsers: ISO 20022 camt.053, SWIFT MT940 and bank CSV exports.

Each format is an importer (:mod:`claims.core.importers`) registered in the entry-point group
``claims.statement_formats`` (see ``pyproject.toml``); :func:`parse_statement` finds it by name
or asks each one to identify the file. Each parser reads a whole file and returns a
:class:`Statement` of credit lines, or raises :class:`~claims.errors.InputError` naming the
file, the field and the rule — never a partial result. camt.053 is parsed with
:mod:`defusedxml` (no DTD, no entities, no external references: a statement comes from
outside). Debit lines are counted and skipped: cash application is about money received.

Reversals of credits are kept apart (``Statement.reversals``, amounts positive): a camt.053
debit entry with the reversal indicator ``RvslInd`` true, an MT940 ``:61:`` marked ``RC``
(reversal of credit), and — in a CSV, where a return looks like any debit — every negative
line, which the import treats as a reversal only when it finds the payment it returns
(``Statement.reversals_marked`` is False). A reversal of a debit (camt.053 credit with
``RvslInd``, MT940 ``RD``) is not money received and is counted with the debits.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from claims.core.importers import (
    HEAD_BYTES, STATEMENT_FORMATS, FileImporter, read_head,
)
from claims.core.money import CURRENCIES, to_decimal
from claims.errors import InputError, PluginError



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


@dataclass(frozen=True)
class Statement:
    """A parsed statement: its credit lines, and how many debit lines were skipped."""

    format: str
    account: str | None
    statement_id: str | None
    lines: list[StatementLine] = field(default_factory=list)
    debits_skipped: int = 0
    #: returned credits (amounts positive); see the module docstring
    reversals: list[StatementLine] = field(default_factory=list)
    #: True when the bank marked them as reversals; False for CSV negative lines (candidates)
    reversals_marked: bool = True


def _money(text: str | None, currency: str | None, *, file: str, where: str) -> tuple[Decimal, str]:
    if not currency or currency.upper() not in CURRENCIES:
        raise InputError(f"unknown currency {currency!r} (ISO 4217 code expected)", file=file,
                         field=where, rule="currency-known")
    currency = currency.upper()
    if text is None or not text.strip():
        raise InputError("amount is missing", file=file, field=where, rule="amount-required")
    try:
        amount = to_decimal(text.strip(), field=where)
    except ValueError as err:
        raise InputError(str(err), file=file, field=where, rule="amount-number") from err
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > CURRENCIES[currency]:
        raise InputError(f"{amount} has more decimals than {currency} allows", file=file,
                         field=where, rule="amount-minor-units")
    return amount, currency


def _iban(text: str | None) -> str | None:
    cleaned = re.sub(r"\s+", "", text or "").upper()
    return cleaned or None


def _clean(text: str | None) -> str | None:
    cleaned = " ".join((text or "").split())
    return cleaned or None


def _stable_id(prefix: str, parts: Iterable[object], seen: Counter[str]) -> str:
    """A deterministic id for a line without a bank-given one; repeats within a file count up."""
    key = "\x1f".join("" if p is None else str(p) for p in parts)
    seen[key] += 1
    digest = hashlib.sha256(f"{key}\x1f{seen[key]}".encode()).hexdigest()[:32]
    return f"{prefix}:{digest}"


# -- camt.053 -------------------------------------------------------------------------------

_CAMT_NS = re.compile(r"^\{urn:iso:std:iso:20022:tech:xsd:camt\.053\.001\.\d\d\}")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _find(el: Element | None, path: str) -> Element | None:
    """The first descendant along ``path`` (local names, '/'-separated), namespace-agnostic."""
    current = el
    for step in path.split("/"):
        if current is None:
            return None
        current = next((c for c in current if _local(c.tag) == step), None)
    return current


def _findall(el: Element | None, name: str) -> list[Element]:
    return [] if el is None else [c for c in el if _local(c.tag) == name]


def _text(el: Element | None, path: str) -> str | None:
    found = _find(el, path)
    return found.text.strip() if found is not None and found.text else None


def _date(text: str | None, *, file: str, where: str) -> date:
    if not text:
        raise InputError("date is missing", file=file, field=where, rule="date-required")
    try:
        return date.fromisoformat(text[:10])
    except ValueError as err:
        raise InputError(f"{text!r} is not an ISO date", file=file, field=where,
                         rule="date-iso") from err


def _camt_root(data: bytes, file: str) -> Element:
    """The camt.053 ``Document`` element, parsed safely; InputError if unsafe or not camt.053."""
    try:
        root = SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True,
                                 forbid_external=True)
    except DefusedXmlException as err:
        raise InputError(f"unsafe XML refused ({type(err).__name__}): DTDs and entities are "
                         "not allowed in a statement", file=file, rule="xml-safe") from err
    except ParseError as err:
        raise InputError(f"not well-formed XML (truncated or malformed): {err}", file=file,
                         rule="xml-syntax") from err
    if _local(root.tag) != "Document" or not _CAMT_NS.match(root.tag):
        raise InputError(f"root element {root.tag!r} is not a camt.053 Document", file=file,
                         rule="camt053-namespace")
    return root


@dataclass
class _CamtEntry:
    """What the transactions of one booked credit entry share."""

    file: str
    where: str
    account: str | None
    statement_id: str | None
    value_date: date
    entry_ref: str | None
    amount: Decimal
    currency: str
    batch: bool                 # more than one transaction: each must carry its own amount
    seen: Counter[str]


def parse_camt053(data: bytes, *, file: str = "<camt.053>") -> Statement:
    """Parse an ISO 20022 camt.053 (versions .001.02 to .001.13) bank-to-customer statement.

    Returns the :class:`Statement` of its booked credit lines (debits counted, not kept)."""
    root = _camt_root(data, file)
    statements = _findall(_find(root, "BkToCstmrStmt"), "Stmt")
    if not statements:
        raise InputError("no Stmt in BkToCstmrStmt", file=file, field="BkToCstmrStmt/Stmt",
                         rule="camt053-structure")
    lines: list[StatementLine] = []
    reversals: list[StatementLine] = []
    debits = 0
    seen: Counter[str] = Counter()
    account = statement_id = None
    for s_no, stmt in enumerate(statements, start=1):
        statement_id = _text(stmt, "Id")
        account = _iban(_text(stmt, "Acct/Id/IBAN")) or _text(stmt, "Acct/Id/Othr/Id")
        for n_no, entry in enumerate(_findall(stmt, "Ntry"), start=1):
            kind, found = _camt_entry(entry, f"Stmt[{s_no}]/Ntry[{n_no}]", file, account,
                                      statement_id, seen)
            if kind == "debit":
                debits += 1
            elif kind == "reversal":
                reversals.extend(found)
            else:
                lines.extend(found)
    return Statement("camt053", account, statement_id, lines, debits, reversals)


def _camt_entry(entry: Element, where: str, file: str, account: str | None,
                statement_id: str | None, seen: Counter[str],
                ) -> tuple[str, list[StatementLine]]:
    """(kind, lines) of one entry: kind ``credit`` (``[]`` if not booked), ``debit``, or
    ``reversal`` (a debit with ``RvslInd`` true: a credit returned, its lines positive)."""
    status = _text(entry, "Sts/Cd") or _text(entry, "Sts")
    if status and status not in ("BOOK",):
        return "credit", []  # pending / information-only entries are not money received yet
    indicator = _text(entry, "CdtDbtInd")
    if indicator not in ("CRDT", "DBIT"):
        raise InputError(f"CdtDbtInd {indicator!r} is not CRDT or DBIT", file=file,
                         field=f"{where}/CdtDbtInd", rule="camt053-structure")
    amt_el = _find(entry, "Amt")
    amount, currency = _money(amt_el.text if amt_el is not None else None,
                              amt_el.get("Ccy") if amt_el is not None else None,
                              file=file, where=f"{where}/Amt")
    reversal = (_text(entry, "RvslInd") or "").lower() in ("true", "1")
    if indicator == "DBIT" and not reversal or indicator == "CRDT" and reversal:
        return "debit", []  # money paid out, or a returned debit: not money received
    value_date = _date(_text(entry, "ValDt/Dt") or _text(entry, "ValDt/DtTm")
                       or _text(entry, "BookgDt/Dt"), file=file, where=f"{where}/ValDt")
    txs = [tx for det in _findall(entry, "NtryDtls") for tx in _findall(det, "TxDtls")]
    if not txs:
        txs = [Element("TxDtls")]  # an entry without details is one payment
    shared = _CamtEntry(file, where, account, statement_id, value_date,
                        _text(entry, "AcctSvcrRef") or _text(entry, "NtryRef"), amount,
                        currency, len(txs) > 1, seen)
    lines = [_camt_tx(tx, t_no, shared) for t_no, tx in enumerate(txs, start=1)]
    total = sum(line.amount for line in lines)
    if len(lines) > 1 and total != amount:
        raise InputError(f"batch transactions sum to {total}, the entry says {amount}",
                         file=file, field=f"{where}/Amt", rule="camt053-batch-sum")
    if reversal:
        lines = [replace(line, external_id=f"{line.external_id}:reversal") for line in lines]
    return ("reversal" if reversal else "credit"), lines


def _camt_tx_amount(tx: Element, t_no: int, e: _CamtEntry) -> tuple[Decimal, str]:
    """A transaction's own amount, or the entry's when it is the entry's only one."""
    tx_where = f"{e.where}/NtryDtls/TxDtls[{t_no}]"
    tx_amt = _find(tx, "Amt")
    if tx_amt is None:  # (an Element without children is falsy: no `or` here)
        tx_amt = _find(tx, "AmtDtls/TxAmt/Amt")
    if not e.batch and tx_amt is None:
        return e.amount, e.currency
    if tx_amt is None:
        raise InputError("a batch entry's transaction has no amount", file=e.file,
                         field=f"{tx_where}/Amt", rule="camt053-structure")
    return _money(tx_amt.text, tx_amt.get("Ccy"), file=e.file, where=f"{tx_where}/Amt")


def _camt_tx(tx: Element, t_no: int, e: _CamtEntry) -> StatementLine:
    """One transaction of a credit entry as a statement line."""
    tx_amount, tx_currency = _camt_tx_amount(tx, t_no, e)
    e2e = _text(tx, "Refs/EndToEndId")
    if e2e and e2e.upper() == "NOTPROVIDED":
        e2e = None
    structured = _text(tx, "RmtInf/Strd/CdtrRefInf/Ref")
    free = " ".join(el.text.strip() for el in _findall(_find(tx, "RmtInf"), "Ustrd")
                    if el.text)
    payer = (_text(tx, "RltdPties/Dbtr/Nm") or _text(tx, "RltdPties/Dbtr/Pty/Nm")
             or _text(tx, "RltdPties/UltmtDbtr/Nm"))
    payer_iban = (_text(tx, "RltdPties/DbtrAcct/Id/IBAN")
                  or _text(tx, "RltdPties/DbtrAcct/Id/Othr/Id"))
    tx_ref = _text(tx, "Refs/AcctSvcrRef") or _text(tx, "Refs/TxId")
    if tx_ref:
        external = f"camt053:{e.account}:{tx_ref}"
    elif e.entry_ref:
        external = f"camt053:{e.account}:{e.entry_ref}:{t_no}"
    else:
        external = _stable_id("camt053", (e.account, e.statement_id, e.value_date, tx_amount,
                                          e2e, structured, free), e.seen)
    return StatementLine(
        external_id=external, value_date=e.value_date, amount=tx_amount,
        currency=tx_currency, payer_name=_clean(payer), payer_iban=_iban(payer_iban),
        reference=_clean(structured or e2e),
        remittance=_clean(" ".join(x for x in (free, e2e if structured else None) if x)))


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
    seen: Counter[str] = Counter()
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


# -- CSV ------------------------------------------------------------------------------------

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


def csv_mapping(data: dict[str, Any], *, file: str = "<mapping>") -> CsvMapping:
    """Validate a mapping (e.g. read from JSON); a clear error names the bad field."""
    try:
        mapping = CsvMapping.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        raise InputError(first["msg"], file=file, field=".".join(map(str, first["loc"])),
                         rule="csv-mapping") from err
    missing = [f for f in ("date", "amount") if f not in mapping.columns]
    if missing:
        raise InputError(f"the mapping must name the {' and '.join(missing)} column(s)",
                         file=file, field="columns", rule="csv-mapping")
    if "currency" not in mapping.columns and not mapping.currency:
        raise InputError("give a currency column or a fixed currency", file=file,
                         field="currency", rule="csv-mapping")
    return mapping


def parse_csv(data: bytes, mapping: CsvMapping | None = None, *, file: str = "<csv>",
              bank: str = "generic") -> Statement:
    """Parse a bank CSV export with ``mapping`` (default: our own column names)."""
    mapping = mapping or CsvMapping()
    try:
        text = data.decode(mapping.encoding)
    except (UnicodeDecodeError, LookupError) as err:
        raise InputError(f"cannot decode as {mapping.encoding}: {err}", file=file,
                         rule="csv-encoding") from err
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=mapping.delimiter)
    header = reader.fieldnames or []
    wanted = {f: c for f, c in mapping.columns.items()}
    missing = sorted(c for f, c in wanted.items() if c not in header)
    required_missing = [wanted[f] for f in ("date", "amount") if wanted[f] not in header]
    if required_missing or missing:
        raise InputError(f"missing column(s) {', '.join(missing)}; the file has "
                         f"{', '.join(header) or 'no header'}", file=file, field="header",
                         rule="csv-columns")
    lines: list[StatementLine] = []
    negatives: list[StatementLine] = []
    seen: Counter[str] = Counter()
    for row_no, row in enumerate(reader, start=2):
        if None in row or any(row.get(c) is None for c in wanted.values()):
            raise InputError("wrong number of fields", file=file, field=f"row {row_no}",
                             rule="csv-row-length")

        def get(name: str) -> str | None:
            column = wanted.get(name)  # noqa: B023 - used at once
            return (row[column] or "").strip() or None if column else None  # noqa: B023

        raw_amount = (get("amount") or "").replace(" ", "")
        if mapping.decimal == ",":
            raw_amount = raw_amount.replace(".", "").replace(",", ".")
        amount, currency = _money(raw_amount, get("currency") or mapping.currency, file=file,
                                  where=f"row {row_no}: {wanted['amount']}")
        raw_date = get("date") or ""
        try:
            value_date = datetime.strptime(raw_date, mapping.date_format).date()
        except ValueError as err:
            raise InputError(f"{raw_date!r} does not match {mapping.date_format}", file=file,
                             field=f"row {row_no}: {wanted['date']}", rule="csv-date") from err
        if amount == 0:
            continue
        parts = (bank, value_date, amount, currency, get("payer_name"), get("payer_iban"),
                 get("reference"), get("remittance"))
        bank_id = get("id")
        (lines if amount > 0 else negatives).append(StatementLine(
            external_id=f"csv:{bank}:{bank_id}" if bank_id else _stable_id(f"csv:{bank}", parts,
                                                                            seen),
            value_date=value_date, amount=abs(amount), currency=currency,
            payer_name=_clean(get("payer_name")), payer_iban=_iban(get("payer_iban")),
            reference=_clean(get("reference")), remittance=_clean(get("remittance"))))
    return Statement("csv", None, None, lines, 0, negatives, reversals_marked=False)


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
        """The statement in ``path``; see :func:`parse_camt053`."""
        return parse_camt053(self.read(path), file=str(path))


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
        """The statement in ``path``; see :func:`parse_csv`."""
        return parse_csv(self.read(path), options.get("mapping"), file=str(path),
                         bank=options.get("bank") or "generic")


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
