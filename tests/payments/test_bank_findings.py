"""Findings of an independent test with real-world statements built from the published specs
(camt.053, MT940): each statement is generated here, written for this project from the spec.

* a payment naming an invoice already paid is never applied to another invoice (D2);
* camt.053 ``AddtlTxInf`` / ``AddtlNtryInf`` are read as remittance text (D4);
* every structured reference (``Strd`` is [0..*]) and ``RfrdDocInf/Nb`` name invoices (D5);
* an MT940 transaction is known again whatever statement header it arrives under (D8).
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from claims.payments import service
from claims.payments.matching import Book, MatchSettings, OpenItem, match_line
from claims.payments.parsers import StatementLine, parse_camt053
from claims.store import Store
from claims.store.tables import InvoiceRow, PaymentRow
from tests.payments.conftest import invoice
from tests.payments.statements import OUR_IBAN, Tx, camt053, mt940

BUYER_IBAN = "DE02120300000000202051"
TWINS = [invoice("R-A", "119.00", "Buyer AG", date(2026, 11, 2), date(2026, 12, 2)),
         invoice("R-B", "119.00", "Buyer AG", date(2026, 11, 3), date(2026, 12, 3))]


def open_balance(store: Store, number: str) -> Decimal:
    with store.session() as s:
        invoice_id = s.scalar(select(InvoiceRow.id).where(InvoiceRow.number == number))
        return service._invoice_open(s, invoice_id)


# -- D2: a payment naming a paid invoice --------------------------------------------------------

def test_a_reference_to_a_paid_invoice_is_not_taken_by_the_payer_rule() -> None:
    """The book knows R-A (paid, nothing open) by number: the payment naming it goes on
    account for review, never to R-B, the payer's open item of the same amount."""
    book = Book([OpenItem(1, "R-A", 7, "EUR", Decimal(0), date(2026, 11, 2)),
                 OpenItem(2, "R-B", 7, "EUR", Decimal("119.00"), date(2026, 11, 3))],
                payer_ibans={BUYER_IBAN: 7})
    line = StatementLine("x:1", date(2026, 11, 21), Decimal("119.00"), "EUR",
                         payer_iban=BUYER_IBAN, reference="RF14RA")
    m = match_line(book, line, MatchSettings())
    assert (m.method, m.flags, m.confidence) == ("reference", ("already-paid",), 50)
    assert [(a.invoice_id, a.kind) for a in m.allocations] == [(None, "credit")]
    assert "already paid" in m.reason and "duplicate" in m.reason
    assert book.remaining[2] == Decimal("119.00")


def _statement(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_the_same_reference_paid_twice_waits_in_review(store: Store, tmp_path: Path) -> None:
    store.put_invoices(TWINS)
    first = _statement(tmp_path, "s1.xml", camt053(
        [Tx("119.00", payer="Buyer AG", iban=BUYER_IBAN, reference="RF14RA", bank_ref="X1")],
        version="02", stmt_id="S1"))
    assert service.import_statement(store, first).applied == 1
    assert open_balance(store, "R-A") == 0
    second = _statement(tmp_path, "s2.xml", camt053(
        [Tx("119.00", date(2026, 11, 21), payer="Buyer AG", iban=BUYER_IBAN,
            reference="RF14RA", bank_ref="X2")], version="02", stmt_id="S2"))
    summary = service.import_statement(store, second)
    (m,) = summary.matches
    assert (summary.applied, summary.review, m["flags"]) == (0, 1, ["already-paid"])
    assert [a["kind"] for a in m["allocations"]] == ["credit"]
    assert open_balance(store, "R-B") == Decimal("119.00")
    # the same in MT940, the reference in the SEPA purpose (?21SVWZ+…)
    sta = _statement(tmp_path, "q.sta", mt940([Tx(
        "119.00", date(2026, 11, 22), payer="Buyer AG", iban=BUYER_IBAN,
        text="EREF+E2E-Q1 SVWZ+RF14RA", bank_ref="BREF-Q1")]))
    summary = service.import_statement(store, sta)
    assert (summary.applied, summary.matches[0]["flags"]) == (0, ["already-paid"])
    assert open_balance(store, "R-B") == Decimal("119.00")


# -- D4, D5: what names the invoices in a camt.053 --------------------------------------------

UBL = [invoice("UBL-1003", "119.00", "Nouveau Client SA", date(2026, 11, 1)),
       invoice("UBL-1004", "1000.50", "Buyer AG", date(2026, 11, 2)),
       invoice("UBL-1005", "119.00", "Buyer AG", date(2026, 11, 3)),
       invoice("UBL-1006", "238.00", "Buyer AG", date(2026, 11, 4))]
HOLE = "<RmtInf><Ustrd>HOLE</Ustrd></RmtInf>"


def _camt(version: str, amount: str, rmt: str, *, drop_details: bool = False,
          entry_text: str | None = None) -> bytes:
    """One credit entry whose transaction's remittance part is ``rmt`` (the XML after
    ``RltdPties``: ``RmtInf``, ``AddtlTxInf``); ``drop_details``: no ``NtryDtls`` at all;
    ``entry_text``: the entry's ``AddtlNtryInf``."""
    xml = camt053([Tx(amount, payer="Buyer AG", iban=BUYER_IBAN, text="HOLE")],
                  version=version).decode().replace(HOLE, rmt)
    if drop_details:
        start, end = xml.index("<NtryDtls>"), xml.index("</NtryDtls>") + len("</NtryDtls>")
        xml = xml[:start] + xml[end:]
    if entry_text:
        xml = xml.replace("</Ntry>", f"<AddtlNtryInf>{entry_text}</AddtlNtryInf></Ntry>")
    return xml.encode()


def _one(version: str, amount: str, rmt: str, **kw: object) -> StatementLine:
    (line,) = parse_camt053(_camt(version, amount, rmt, **kw)).lines  # type: ignore[arg-type]
    return line


@pytest.mark.parametrize("version", ["02", "08"])
def test_every_structured_reference_and_referred_document_is_read(version: str) -> None:
    two = ("<RmtInf><Strd><CdtrRefInf><Ref>RF61UBL1005</Ref></CdtrRefInf></Strd>"
           "<Strd><CdtrRefInf><Ref>RF34UBL1006</Ref></CdtrRefInf></Strd></RmtInf>")
    assert _one(version, "357.00", two).reference == "RF61UBL1005 RF34UBL1006"
    doc = ("<RmtInf><Strd><RfrdDocInf><Tp><CdOrPrtry><Cd>CINV</Cd></CdOrPrtry></Tp>"
           "<Nb>UBL-1003</Nb><RltdDt>2026-11-15</RltdDt></RfrdDocInf><RfrdDocAmt>"
           '<RmtdAmt Ccy="EUR">119.00</RmtdAmt></RfrdDocAmt></Strd></RmtInf>')
    assert _one(version, "119.00", doc).reference == "UBL-1003"


@pytest.mark.parametrize("version", ["02", "08"])
def test_the_banks_additional_texts_are_read(version: str) -> None:
    line = _one(version, "1000.50", "<AddtlTxInf>Payment of invoice UBL-1004</AddtlTxInf>")
    assert (line.remittance, line.additional) == (None, "Payment of invoice UBL-1004")
    line = _one(version, "1000.50", "", drop_details=True, entry_text="UBL-1004 Buyer AG")
    assert line.additional == "UBL-1004 Buyer AG"


def test_remittance_comes_before_the_additional_text() -> None:
    book = Book([OpenItem(1, "UBL-1005", 7, "EUR", Decimal("119.00"), date(2026, 11, 3)),
                 OpenItem(2, "UBL-1006", 7, "EUR", Decimal("238.00"), date(2026, 11, 4))])
    line = StatementLine("x:2", date(2026, 11, 20), Decimal("119.00"), "EUR",
                         remittance="UBL-1005", additional="statement of UBL-1006")
    m = match_line(book, line, MatchSettings())
    assert (m.method, m.confidence, [a.number for a in m.allocations]) == (
        "text", 95, ["UBL-1005"])
    m = match_line(book, replace(line, remittance="thanks"), MatchSettings())
    assert [a.number for a in m.allocations] == ["UBL-1006"]
    assert "additional text UBL-1006" in m.reason


def test_camt_findings_are_applied(store: Store, tmp_path: Path) -> None:
    store.put_invoices(UBL)
    cases = {
        "two-strd.xml": _camt("08", "357.00", (
            "<RmtInf><Strd><CdtrRefInf><Ref>RF61UBL1005</Ref></CdtrRefInf></Strd>"
            "<Strd><CdtrRefInf><Ref>RF34UBL1006</Ref></CdtrRefInf></Strd></RmtInf>")),
        "cinv.xml": _camt("04", "119.00", (
            "<RmtInf><Strd><RfrdDocInf><Tp><CdOrPrtry><Cd>CINV</Cd></CdOrPrtry></Tp>"
            "<Nb>UBL-1003</Nb></RfrdDocInf></Strd></RmtInf>")).replace(
                BUYER_IBAN.encode(), b"FR7630006000011234567890189"),
        "entry-text.xml": _camt("02", "1000.50", "", drop_details=True,
                                entry_text="UBL-1004 Buyer AG"),
    }
    got = {}
    for n, (name, data) in enumerate(cases.items()):
        path = _statement(tmp_path, name, data.replace(b"STMT-2026-11-20", f"S{n}".encode()))
        (m,) = service.import_statement(store, path).matches
        got[name] = (m["method"], m["status"], [a["invoice"] for a in m["allocations"]])
    assert got == {"two-strd.xml": ("reference", "applied", ["UBL-1005", "UBL-1006"]),
                   "cinv.xml": ("reference", "applied", ["UBL-1003"]),
                   "entry-text.xml": ("text", "applied", ["UBL-1004"])}
    assert [open_balance(store, n) for n in ("UBL-1003", "UBL-1004", "UBL-1005", "UBL-1006")] \
        == [0, 0, 0, 0]
    with store.session() as s:
        kept = s.scalar(select(PaymentRow.remittance).where(
            PaymentRow.amount == Decimal("1000.50")))
    assert kept == "UBL-1004 Buyer AG"


# -- D8: the same MT940 transaction under another statement header ----------------------------

def test_an_mt940_transaction_is_known_under_another_header(store: Store,
                                                            tmp_path: Path) -> None:
    store.put_invoices(UBL)
    txs = [Tx("119.00", payer="Buyer AG", iban=BUYER_IBAN, text="SVWZ+RF61UBL1005",
              e2e="E2E-P1", bank_ref="BREF-P1"),
           Tx("1000.50", payer="Buyer AG", text="SVWZ+Zahlung fuer UBL-1004",
              bank_ref="BREF-P2"),
           Tx("5.00", payer="Buyer AG", text="no bank reference")]
    first = mt940(txs)
    again = first.replace(b":20:STARTUMSE", b":20:EXPORT2").replace(b":28C:00042/001",
                                                                    b":28C:00777/001")
    assert first != again
    s1 = service.import_statement(store, _statement(tmp_path, "p.sta", first))
    s2 = service.import_statement(store, _statement(tmp_path, "p2.sta", again))
    assert (s1.added, s2.duplicate, s2.added, s2.already_known) == (3, False, 0, 3)
    ids = [m["external_id"] for m in s1.matches]
    assert ids[:2] == [f"mt940:{OUR_IBAN}:BREF-P1", f"mt940:{OUR_IBAN}:BREF-P2"]


def test_a_camt_transaction_without_bank_ids_is_known_under_another_stmt_id() -> None:
    """The one rule of every format: without a bank reference the digest is of the line's own
    content, not of its ``Stmt/Id``."""

    def ids(stmt_id: str) -> list[str]:
        xml = camt053([Tx("119.00", payer="Buyer AG", text="UBL-1005")], stmt_id=stmt_id)
        xml = re.sub(rb"<NtryRef>\d+</NtryRef>|<AcctSvcrRef>ENTRY-[^<]*</AcctSvcrRef>", b"",
                     xml)
        return [line.external_id for line in parse_camt053(xml).lines]

    assert ids("STMT-A") == ids("STMT-B")
    assert ids("STMT-A")[0].startswith(f"camt053:{OUR_IBAN}:")
