"""Findings of an independent test with real-world statements built from the published specs
(camt.053, MT940): each statement is generated here, written for this project from the spec.

* a payment naming an invoice already paid is never applied to another invoice (D2);
* camt.053 ``AddtlTxInf`` / ``AddtlNtryInf`` are read as remittance text (D4);
* every structured reference (``Strd`` is [0..*]) and ``RfrdDocInf/Nb`` name invoices (D5);
* an MT940 transaction is known again whatever statement header it arrives under (D8).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from claims.payments import service
from claims.payments.matching import Book, MatchSettings, OpenItem, match_line
from claims.payments.parsers import StatementLine, parse_camt053, parse_mt940
from claims.store import Store
from claims.store.tables import InvoiceRow
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
