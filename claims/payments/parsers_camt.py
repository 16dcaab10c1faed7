"""ISO 20022 camt.053 (versions .001.02 to .001.13), streamed.

The file is fed in chunks to an expat pull parser made safe by :mod:`defusedxml` (no DTD, no
entities, no external references: a statement comes from outside). Each ``Ntry`` is read when
it closes and then dropped from the tree, so memory stays flat in the number of entries. Size
guards: no single token (an attribute, a text) may run past
:data:`~claims.payments.statement.MAX_TOKEN_BYTES` without the parser completing an element,
and no entry may hold more than :data:`~claims.payments.statement.MAX_ENTRY_ELEMENTS`
elements — either is refused with one finding (rule ``xml-size``). Amounts are unsigned, as
the ISO 20022 schema has them (the sign is ``CdtDbtInd``): a negative ``Amt`` is refused (rule
``amount-unsigned``), never read as a credit of minus that much. Only booked entries (``Sts``
``BOOK``) are read and count in the balance check; the others (pending ``PDNG``, ``INFO``,
``FUTR``…) are counted per Stmt and status in ``Statement.not_booked``, never dropped unsaid.

What names the invoices: every structured remittance (``RmtInf/Strd`` is [0..*]) — its
creditor reference ``CdtrRefInf/Ref`` and each referred document's number ``RfrdDocInf/Nb`` —
is the line's ``reference`` (else the end-to-end id); ``Ustrd`` is its ``remittance``; the
bank's free texts ``AddtlTxInf`` (the transaction's) and ``AddtlNtryInf`` (the entry's, for an
entry of one payment: a batch's describes the batch) are its ``additional`` text, which the
matcher reads after the others (:func:`claims.payments.matching.match_line`).

The encoding is the XML's own (:func:`xml_encoding`: its byte-order mark, else the width of its
first ``<``, and its declaration): UTF-8, UTF-16 (LE or BE, with a BOM or without) and
single-byte encodings are read; any other (UTF-32, Shift_JIS, a name Python does not know, a
declaration that contradicts the BOM) is refused naming it (rule ``xml-encoding``).
"""

from __future__ import annotations

import codecs
import io
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from functools import lru_cache, partial
from itertools import chain
from typing import Any, BinaryIO
from xml.etree.ElementTree import Element, ParseError, TreeBuilder, XMLPullParser

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from claims.errors import InputError
from claims.payments.statement import (
    MAX_ENTRY_ELEMENTS, MAX_TOKEN_BYTES, Statement, StatementLine, clean, iban, read_money,
    line_id,
)

_CAMT_NS = re.compile(r"^\{urn:iso:std:iso:20022:tech:xsd:camt\.053\.001\.\d\d\}")
#: bytes read from the file per feed
CHUNK = 64 * 1024
#: byte-order marks, longest first (UTF-32-LE's begins with UTF-16-LE's)
_BOMS = ((b"\x00\x00\xfe\xff", "UTF-32-BE"), (b"\xff\xfe\x00\x00", "UTF-32-LE"),
         (b"\xef\xbb\xbf", "UTF-8"), (b"\xfe\xff", "UTF-16-BE"), (b"\xff\xfe", "UTF-16-LE"))
#: without a BOM, the widths tried (XML 1.0 appendix F: the zero bytes around the first '<')
_WIDE = (("UTF-32-BE", 4), ("UTF-32-LE", 4), ("UTF-16-BE", 2), ("UTF-16-LE", 2))
#: why an entry the bank has not booked is left out, by its status (ExternalEntryStatus1Code);
#: any other status is named as it is. Only ``BOOK`` entries are payments and count in balances.
NOT_BOOKED = {"PDNG": "pending: not booked yet", "INFO": "information only: never booked",
              "FUTR": "future: booked on a later date"}
_DECLARED = re.compile(r"""\s*<\?xml\s[^>]*?\bencoding\s*=\s*["']([^"']{1,40})["']""")


@dataclass(frozen=True)
class XmlEncoding:
    """How a document that starts like XML is encoded: ``family`` by its byte-order mark
    (``bom``) or by the width its first ``<`` is written in (UTF-8 for any 8-bit encoding),
    and the name its declaration gives (``encoding="…"``), if any."""

    family: str
    bom: bool
    declared: str | None


def xml_encoding(head: bytes) -> XmlEncoding | None:
    """The encoding of a document starting with ``head`` when it starts like XML (its first
    non-blank character is ``<``, in UTF-8, UTF-16 or UTF-32, with a BOM or without), else
    None."""
    bom = next(((mark, name) for mark, name in _BOMS if head.startswith(mark)), None)
    if bom:
        family, body = bom[1], head[len(bom[0]):]
    else:
        family, body = next(
            ((name, head) for name, w in _WIDE
             if head[:len(head) // w * w].decode(name, "replace").lstrip().startswith("<")),
            ("UTF-8", head))
    width = 4 if "32" in family else 2 if "16" in family else 1
    text = body[:len(body) // width * width].decode(family, "replace")
    if not text.lstrip().startswith("<"):
        return None
    declared = _DECLARED.match(text)
    return XmlEncoding(family, bom is not None, declared[1] if declared else None)


def _codec(name: str) -> str | None:
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def parser_encoding(head: bytes, file: str) -> str | None:
    """The encoding the XML parser is told to read a document starting with ``head`` in (None:
    its declaration, else UTF-8); InputError (rule ``xml-encoding``) naming the encoding when
    it cannot be read (see the module doc) or the declaration contradicts the BOM."""
    enc = xml_encoding(head)
    if enc is None or enc.family == "UTF-8" and enc.declared is None:
        return None
    how = "byte-order mark" if enc.bom else "first bytes"
    codec = _codec(enc.declared) if enc.declared else None
    if enc.family.startswith("UTF-16") and (enc.declared is None or codec in (
            "utf-16", "utf-16-le", "utf-16-be")):
        return enc.family.replace("-LE", "LE").replace("-BE", "BE")  # expat's own names
    if enc.family.startswith("UTF-32"):
        problem = f"encoded {enc.family} (by its {how})"
    elif enc.family != "UTF-8":
        problem = f"encoded {enc.family} (by its {how}) but declared {enc.declared}"
    elif codec is None:
        problem = f"encoded {enc.declared} (by its declaration), an encoding Python does not know"
    elif codec == "utf-8" or len(bytes(range(256)).decode(codec, "replace")) == 256:
        return None  # expat reads UTF-8 and, through the codec, any single-byte encoding
    else:
        problem = f"encoded {enc.declared} (by its declaration)"
    raise InputError(f"the XML is {problem}, which cannot be read: save the statement as UTF-8 "
                     "or UTF-16", file=file, field="encoding", rule="xml-encoding")


@lru_cache(maxsize=4096)
def _local(tag: str) -> str:
    """``tag`` without its namespace (cached: a statement repeats a few dozen tags)."""
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


def _events(stream: BinaryIO, file: str) -> Iterator[tuple[str, Element]]:
    """(event, element) pairs of the safe pull parser over ``stream``, with the token guard."""
    first = stream.read(CHUNK)
    parser = XMLPullParser(events=("start", "end"), _parser=DefusedXMLParser(
        target=TreeBuilder(), encoding=parser_encoding(first, file), forbid_dtd=True,
        forbid_entities=True, forbid_external=True))
    pending = 0  # bytes fed since the parser last completed a start or end tag
    try:
        for chunk in chain((first,), iter(partial(stream.read, CHUNK), b"")):
            parser.feed(chunk)
            pending += len(chunk)
            got = False
            for event in parser.read_events():
                got = True
                yield event  # type: ignore[misc]
            if got:
                pending = 0
            elif pending > MAX_TOKEN_BYTES:
                raise InputError(f"more than {MAX_TOKEN_BYTES:,} bytes without a complete "
                                 "element (one attribute or text too large)", file=file,
                                 rule="xml-size")
        parser.close()
        yield from parser.read_events()  # type: ignore[misc]
    except DefusedXmlException as err:
        raise InputError(f"unsafe XML refused ({type(err).__name__}): DTDs and entities are "
                         "not allowed in a statement", file=file, rule="xml-safe") from err
    except ParseError as err:
        raise InputError(f"not well-formed XML (truncated or malformed): {err}", file=file,
                         rule="xml-syntax") from err


def stream_camt053(stream: BinaryIO, *, file: str = "<camt.053>") -> Statement:
    """A streamed :class:`Statement` of ``stream``'s booked credit lines (see the module doc).
    Its ``lines`` raise InputError naming the file, field and rule as they meet bad input."""
    statement = Statement("camt053", None, None)
    statement.lines = _lines(stream, file, statement)
    return statement


def parse_camt053(data: bytes, *, file: str = "<camt.053>") -> Statement:
    """Parse a whole camt.053 document held in memory (see :func:`stream_camt053`)."""
    return stream_camt053(io.BytesIO(data), file=file).materialize()


def _lines(stream: BinaryIO, file: str, st: Statement) -> Iterator[StatementLine]:
    seen: Counter[bytes] = Counter()
    unbooked: Counter[str] = Counter()  # the Stmt's entries not booked, per status
    #: their amounts per (status, currency, CRDT or DBIT), totalled as booked ones are
    unbooked_sums: dict[tuple[str, str, str], Decimal] = {}
    depth = s_no = n_no = inside = 0
    net = Decimal(0)  # the booked entries of the Stmt being read, credits less debits
    stmt: Element | None = None
    for event, el in _events(stream, file):
        name = _local(el.tag)
        if event == "start":
            depth += 1
            if depth == 1 and (name != "Document" or not _CAMT_NS.match(el.tag)):
                raise InputError(f"root element {el.tag!r} is not a camt.053 Document",
                                 file=file, rule="camt053-namespace")
            if depth == 3 and name == "Stmt":
                stmt, s_no, n_no, net, unbooked = el, s_no + 1, 0, Decimal(0), Counter()
                unbooked_sums = {}
            if inside:
                inside += 1
                if inside > MAX_ENTRY_ELEMENTS:
                    raise InputError(f"an entry holds more than {MAX_ENTRY_ELEMENTS:,} "
                                     "elements", file=file, field=f"Stmt[{s_no}]/Ntry[{n_no}]",
                                     rule="xml-size")
            elif depth == 4 and name == "Ntry" and stmt is not None:
                n_no, inside = n_no + 1, 1
            continue
        depth -= 1
        if depth == 3 and name == "Ntry" and stmt is not None:
            inside, where = 0, f"Stmt[{s_no}]/Ntry[{n_no}]"
            if n_no == 1:
                st.statement_id = _text(stmt, "Id")
                st.account = iban(_text(stmt, "Acct/Id/IBAN")) or _text(stmt, "Acct/Id/Othr/Id")
            status = _status(el, where, file)
            kind, found = "not booked", []
            if status == "BOOK":  # the one rule: only booked entries are money (and balances)
                kind, found = _camt_entry(el, where, file, st.account, st.statement_id, seen,
                                          _text(stmt, "Acct/Ccy"))
                net += _moved(el, where, file)[0]
            else:
                moved, currency = _moved(el, where, file)
                side = (status, currency, "CRDT" if _text(el, "CdtDbtInd") == "CRDT"
                        else "DBIT")
                unbooked_sums[side] = unbooked_sums.get(side, Decimal(0)) + abs(moved)
            stmt.remove(el)
            el.clear()
            if kind == "not booked":
                unbooked[status] += 1
            elif kind == "debit":
                st.debits_skipped += 1
            elif kind == "reversal":
                st.reversals.extend(found)
            else:
                yield from found
        elif depth == 2 and name == "Stmt" and stmt is not None:
            _check_balances(stmt, net, f"Stmt[{s_no}]", file)
            st.not_booked.extend(_not_booked(stmt, s_no, unbooked, unbooked_sums))
            stmt = None
    if s_no == 0:
        raise InputError("no Stmt in BkToCstmrStmt", file=file, field="BkToCstmrStmt/Stmt",
                         rule="camt053-structure")


def _status(entry: Element, where: str, file: str) -> str:
    """An entry's status: ``Sts`` (.001.02 to .07), ``Sts/Cd`` or ``Sts/Prtry`` (.08 on);
    InputError when it has none (the schema requires one)."""
    status = _text(entry, "Sts/Cd") or _text(entry, "Sts/Prtry") or _text(entry, "Sts")
    if not status:
        raise InputError("the entry has no status (Sts: BOOK, PDNG, INFO or FUTR expected)",
                         file=file, field=f"{where}/Sts", rule="camt053-structure")
    return status


def _not_booked(stmt: Element, s_no: int, counts: Counter[str],
                sums: dict[tuple[str, str, str], Decimal]) -> list[dict[str, Any]]:
    """What a Stmt's entries that are not booked are, per status (see :data:`NOT_BOOKED`):
    how many, and their ``credits`` and ``debits`` per currency (amounts as strings)."""
    def totals(status: str, side: str) -> dict[str, str]:
        return {c: str(a) for (s, c, d), a in sorted(sums.items()) if s == status and d == side}

    return [{"statement": f"Stmt[{s_no}]", "id": _text(stmt, "Id"), "status": status,
             "entries": count, "credits": totals(status, "CRDT"),
             "debits": totals(status, "DBIT"), "reason": NOT_BOOKED.get(
                 status, f"status {status}: only booked (BOOK) entries are money received")}
            for status, count in sorted(counts.items())]


def _moved(entry: Element, where: str, file: str) -> tuple[Decimal, str]:
    """What an entry moves (booked) or would move (not booked) on the account: its amount,
    signed by ``CdtDbtInd``, and its currency."""
    amt_el = _find(entry, "Amt")
    amount, currency = read_money(amt_el.text if amt_el is not None else None,
                                  amt_el.get("Ccy") if amt_el is not None else None,
                                  file=file, where=f"{where}/Amt", negative=False,
                                  decimal="xsd")
    return (amount if _text(entry, "CdtDbtInd") == "CRDT" else -amount), currency


def _balance(stmt: Element, codes: tuple[str, ...], where: str,
             file: str) -> tuple[Decimal, str, str] | None:
    """(signed amount, currency, code) of the Stmt's first ``Bal`` of one of ``codes``."""
    for n, bal in enumerate(_findall(stmt, "Bal"), start=1):
        code = _text(bal, "Tp/CdOrPrtry/Cd")
        if code in codes:
            amt_el = _find(bal, "Amt")
            amount, currency = read_money(
                amt_el.text if amt_el is not None else None,
                amt_el.get("Ccy") if amt_el is not None else None, file=file,
                where=f"{where}/Bal[{n}]/Amt", negative=False, decimal="xsd")
            sign = -1 if _text(bal, "CdtDbtInd") == "DBIT" else 1
            return sign * amount, currency, code
    return None


def _check_balances(stmt: Element, net: Decimal, where: str, file: str) -> None:
    """The opening balance (``OPBD`` or ``PRCD``) plus the booked entries must be the closing
    one (``CLBD``) when the Stmt gives both, else InputError (rule ``camt053-balance``): a
    statement that does not add up is truncated or corrupted."""
    opening = _balance(stmt, ("OPBD", "PRCD"), where, file)
    closing = _balance(stmt, ("CLBD",), where, file)
    if opening is None or closing is None:
        return
    if opening[1] != closing[1]:
        raise InputError(f"the {opening[2]} balance is in {opening[1]}, the CLBD in "
                         f"{closing[1]}", file=file, field=f"{where}/Bal",
                         rule="camt053-currency")
    if opening[0] + net != closing[0]:
        raise InputError(f"{opening[2]} balance {opening[0]} plus booked entries {net} is "
                         f"{opening[0] + net}, not the CLBD balance {closing[0]} (truncated or "
                         "corrupted statement)", file=file, field=f"{where}/Bal",
                         rule="camt053-balance")


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
    seen: Counter[bytes]
    text: str | None = None     # AddtlNtryInf of an entry of one payment


def _camt_entry(entry: Element, where: str, file: str, account: str | None,
                statement_id: str | None, seen: Counter[bytes], account_ccy: str | None = None,
                ) -> tuple[str, list[StatementLine]]:
    """(kind, lines) of one booked entry: kind ``credit``, ``debit``, or ``reversal`` (a debit
    with ``RvslInd`` true: a credit returned, its lines positive). An entry in another
    currency than its account's (``Acct/Ccy``) is refused."""
    indicator = _text(entry, "CdtDbtInd")
    if indicator not in ("CRDT", "DBIT"):
        raise InputError(f"CdtDbtInd {indicator!r} is not CRDT or DBIT", file=file,
                         field=f"{where}/CdtDbtInd", rule="camt053-structure")
    amt_el = _find(entry, "Amt")
    amount, currency = read_money(amt_el.text if amt_el is not None else None,
                                  amt_el.get("Ccy") if amt_el is not None else None,
                                  file=file, where=f"{where}/Amt", negative=False,
                           decimal="xsd")
    if account_ccy and currency != account_ccy.upper():
        raise InputError(f"an entry in {currency} on an account in {account_ccy} (Acct/Ccy): "
                         "currencies are never mixed", file=file, field=f"{where}/Amt",
                         rule="camt053-currency")
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
                        currency, len(txs) > 1, seen,
                        None if len(txs) > 1 else _text(entry, "AddtlNtryInf"))
    lines = [_camt_tx(tx, t_no, shared) for t_no, tx in enumerate(txs, start=1)]
    total = sum(line.amount for line in lines)
    if total != amount:  # one transaction or many: they are the entry
        what = "batch transactions sum to" if len(lines) > 1 else "its one transaction says"
        raise InputError(f"{what} {total}, the entry says {amount}",
                         file=file, field=f"{where}/Amt", rule="camt053-batch-sum")
    if reversal:
        lines = [replace(line, external_id=f"{line.external_id}:reversal") for line in lines]
    return ("reversal" if reversal else "credit"), lines


def _tx_money(el: Element, where: str, e: _CamtEntry) -> tuple[Decimal, str]:
    return read_money(el.text, el.get("Ccy"), file=e.file, where=where, negative=False,
                      decimal="xsd")


def _camt_tx_amount(tx: Element, t_no: int, e: _CamtEntry) -> tuple[Decimal, str]:
    """A transaction's amount in the entry's currency: its own (``Amt``, else
    ``AmtDtls/TxAmt/Amt``), or the entry's when it is the entry's only one and gives none. An
    amount (also ``AmtDtls/InstdAmt``) in another currency than the entry's is refused unless
    an exchange (``CcyXchg``) is given; then the line is the entry's amount (one transaction)
    or the counter value ``AmtDtls/CntrValAmt/Amt`` (a batch)."""
    tx_where = f"{e.where}/NtryDtls/TxDtls[{t_no}]"
    exchange = any(_find(tx, f"AmtDtls/{kind}/CcyXchg") is not None
                   for kind in ("InstdAmt", "TxAmt", "CntrValAmt", "AnncdPstngAmt", "PrtryAmt"))
    own: tuple[Decimal, str] | None = None
    for path in ("Amt", "AmtDtls/TxAmt/Amt", "AmtDtls/InstdAmt/Amt"):
        el = _find(tx, path)
        if el is None:  # (an Element without children is falsy: no `or` here)
            continue
        money = _tx_money(el, f"{tx_where}/{path}", e)
        if money[1] != e.currency and not exchange:
            raise InputError(f"{money[1]} {money[0]} under an entry in {e.currency} without an "
                             "exchange (CcyXchg): currencies are never mixed", file=e.file,
                             field=f"{tx_where}/{path}", rule="camt053-currency")
        if own is None and path != "AmtDtls/InstdAmt/Amt":
            own = money
    if own is None and not e.batch:
        return e.amount, e.currency
    if own is None:
        raise InputError("a batch entry's transaction has no amount", file=e.file,
                         field=f"{tx_where}/Amt", rule="camt053-structure")
    if own[1] == e.currency:
        return own
    if not e.batch:
        return e.amount, e.currency  # exchanged: the entry says what reached the account
    counter = _find(tx, "AmtDtls/CntrValAmt/Amt")
    value = _tx_money(counter, f"{tx_where}/AmtDtls/CntrValAmt/Amt", e) \
        if counter is not None else None
    if value is None or value[1] != e.currency:
        raise InputError(f"a batch transaction in {own[1]} needs its counter value in "
                         f"{e.currency} (AmtDtls/CntrValAmt)", file=e.file,
                         field=f"{tx_where}/AmtDtls", rule="camt053-currency")
    return value


def _camt_tx(tx: Element, t_no: int, e: _CamtEntry) -> StatementLine:
    """One transaction of a credit entry as a statement line."""
    tx_amount, tx_currency = _camt_tx_amount(tx, t_no, e)
    e2e = _text(tx, "Refs/EndToEndId")
    if e2e and e2e.upper() == "NOTPROVIDED":
        e2e = None
    structured = _structured(tx)
    free = " ".join(el.text.strip() for el in _findall(_find(tx, "RmtInf"), "Ustrd")
                    if el.text)
    additional = " ".join(x for x in (_text(tx, "AddtlTxInf"), e.text) if x)
    payer = (_text(tx, "RltdPties/Dbtr/Nm") or _text(tx, "RltdPties/Dbtr/Pty/Nm")
             or _text(tx, "RltdPties/UltmtDbtr/Nm"))
    payer_iban = (_text(tx, "RltdPties/DbtrAcct/Id/IBAN")
                  or _text(tx, "RltdPties/DbtrAcct/Id/Othr/Id"))
    tx_ref = _text(tx, "Refs/AcctSvcrRef") or _text(tx, "Refs/TxId") or (
        f"{e.entry_ref}:{t_no}" if e.entry_ref else None)
    external = line_id("camt053", e.account, tx_ref, (
        e.account, e.value_date, tx_amount, e2e, structured, free), e.seen)
    return StatementLine(
        external_id=external, value_date=e.value_date, amount=tx_amount,
        currency=tx_currency, payer_name=clean(payer), payer_iban=iban(payer_iban),
        reference=clean(structured or e2e),
        remittance=clean(" ".join(x for x in (free, e2e if structured else None) if x)),
        where=f"{e.where}/NtryDtls/TxDtls[{t_no}]" if e.batch else e.where,
        additional=clean(additional))


def _structured(tx: Element) -> str | None:
    """Every structured remittance of ``tx``, in order and once each: each ``Strd``'s
    ``CdtrRefInf/Ref`` and ``RfrdDocInf/Nb`` (``Strd`` is [0..*]: one payment for several
    invoices names each); None when there is none."""
    found: list[str] = []
    for strd in _findall(_find(tx, "RmtInf"), "Strd"):
        refs = [_text(strd, "CdtrRefInf/Ref")] + [_text(doc, "Nb") for doc in
                                                  _findall(strd, "RfrdDocInf")]
        found += [r for r in dict.fromkeys(refs) if r and r not in found]
    return " ".join(found) or None
