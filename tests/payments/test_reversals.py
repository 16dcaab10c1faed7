"""Returned credits reopen what they paid: camt.053 ``RvslInd`` (ISO 20022 camt.053 Ntry/RvslInd:
"the entry is the result of a reversal"; a returned credit is booked DBIT), MT940 ``:61:``
debit/credit marks ``RC`` (reversal of credit) and ``RD`` (reversal of debit) (SWIFT MT940
field 61, subfield 3), and negative CSV lines that find the payment they return; in review
when several payments fit. Real files, a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from claims.errors import ConflictError, InputError
from claims.payments import reconcile, reversals, service, statement as statement_module
from claims.payments.parsers import csv_mapping, parse_camt053, parse_csv, parse_mt940
from claims.store import Store
from claims.store.tables.payments import PaymentMatchRow
from tests.payments.conftest import HEALTH_IBAN, WORKS_IBAN
from tests.payments.statements import GERMAN_MAPPING, Tx, bank_csv, camt053, mt940
from tests.payments.test_service import open_balance


def _import(store: Store, path: Path, data: bytes, **kwargs: object) -> service.ImportSummary:
    path.write_bytes(data)
    return service.import_statement(store, path, actor="ana", **kwargs)  # type: ignore[arg-type]


def _match_status(store: Store, payment_id: int) -> str:
    with store.session() as s:
        return s.scalar(select(PaymentMatchRow.status).where(
            PaymentMatchRow.payment_id == payment_id)) or ""


PAID = Tx("1500.00", payer="Ministry of Works", iban=WORKS_IBAN, reference="RF18INV2026001",
          bank_ref="B1")


# -- the parsers keep reversals apart --------------------------------------------------------

def test_camt053_reversal_indicator_on_a_debit_is_a_returned_credit() -> None:
    data = camt053([Tx("10.00", text="INV-2026-009"),
                    Tx("1500.00", credit=False, reversal=True, reference="RF18INV2026001"),
                    Tx("7.00", credit=True, reversal=True, text="fee refunded")])
    statement = parse_camt053(data)
    assert [line.amount for line in statement.lines] == [Decimal("10.00")]
    (returned,) = statement.reversals
    assert returned.amount == Decimal("1500.00") and returned.reference == "RF18INV2026001"
    assert returned.external_id.endswith(":reversal") and statement.reversals_marked
    assert statement.debits_skipped == 1  # a returned debit (CRDT + RvslInd) is not a receipt


def test_mt940_rc_is_a_returned_credit_and_rd_a_returned_debit() -> None:
    data = mt940([Tx("10.00", text="INV-2026-009"),
                  Tx("1500.00", credit=False, reversal=True, text="RETOURE INV-2026-001"),
                  Tx("7.00", credit=True, reversal=True, text="fee refunded")])
    statement = parse_mt940(data)  # the balance check holds: RC counts negative, RD positive
    assert [line.amount for line in statement.lines] == [Decimal("10.00")]
    (returned,) = statement.reversals
    assert returned.amount == Decimal("1500.00") and statement.debits_skipped == 1


def test_csv_negative_lines_are_reversal_candidates() -> None:
    data = bank_csv([Tx("12.00", credit=False, payer="Health Agency")])
    statement = parse_csv(data, csv_mapping(GERMAN_MAPPING))
    (candidate,) = statement.reversals
    assert candidate.amount == Decimal("12.00") and not statement.reversals_marked


# -- the import reopens what they returned ---------------------------------------------------

def test_camt053_reversal_reopens_the_invoice(ledger: Store, tmp_path: Path) -> None:
    first = _import(ledger, tmp_path / "a.xml", camt053([PAID], stmt_id="S1"))
    assert first.applied == 1 and open_balance(ledger, "INV-2026-001") == 0
    pid = first.matches[0]["payment_id"]
    back = Tx("1500.00", credit=False, reversal=True, payer="Ministry of Works",
              iban=WORKS_IBAN, reference="RF18INV2026001", bank_ref="R1")
    second = _import(ledger, tmp_path / "b.xml", camt053([back], stmt_id="S2"))
    assert (second.reversed, second.reversals_review, second.lines) == (1, 0, 0)
    assert open_balance(ledger, "INV-2026-001") == Decimal("1500.00")
    assert _match_status(ledger, pid) == "reversed"
    assert [e["kind"] for e in service.history(ledger, pid)][-1] == "reversed"
    (row,) = reversals.reversals(ledger)
    assert (row["status"], row["payment_id"]) == ("reversed", pid)
    works = next(e for e in reconcile.reconciliation(ledger, customer="Ministry of Works"))
    assert works["unapplied"] == 0 and works["paid"] == 0  # received and given back
    # the same reversal in another file is known and reopens nothing twice
    again = _import(ledger, tmp_path / "c.xml", camt053([back], stmt_id="S3"))
    assert again.reversed == 0 and again.already_known == 1


def test_a_reversal_bank_id_met_again_with_other_facts_is_refused(ledger: Store,
                                                                 tmp_path: Path) -> None:
    """One bank id names one transaction, reversals too (claims.payments.bank_ids): met again
    with another amount or date, in a later file or later in the same one, the file is refused
    naming the line, the id and what differs; nothing of it is kept."""
    first = _import(ledger, tmp_path / "a.xml", camt053([PAID], stmt_id="S1"))
    back = Tx("1500.00", credit=False, reversal=True, payer="Ministry of Works",
              iban=WORKS_IBAN, reference="RF18INV2026001", bank_ref="R1")
    assert _import(ledger, tmp_path / "b.xml", camt053([back], stmt_id="S2")).reversed == 1
    other = Tx("1400.00", credit=False, reversal=True, payer="Ministry of Works",
               iban=WORKS_IBAN, reference="RF18INV2026001", bank_ref="R1")
    later = Tx("1500.00", value_date=date(2026, 11, 21), credit=False, reversal=True,
               payer="Ministry of Works", iban=WORKS_IBAN, reference="RF18INV2026001",
               bank_ref="R1")
    for entries, differs in (([other], "amount 1500.00 ≠ 1400.00"),
                             ([later], "value date 2026-11-20 ≠ 2026-11-21")):
        with pytest.raises(InputError) as err:
            _import(ledger, tmp_path / "c.xml", camt053(entries, stmt_id="S3"))
        assert err.value.rule == "bank-id-conflict" and differs in str(err.value)
        assert "already kept as reversal #1 (from an earlier import)" in str(err.value)
        assert str(err.value).startswith(f"{tmp_path / 'c.xml'}: Stmt[1]/Ntry[1]: ")
    assert len(reversals.reversals(ledger)) == 1
    twice = Tx("300.00", credit=False, reversal=True, payer="Stranger", bank_ref="R7")
    with pytest.raises(InputError) as err:
        _import(ledger, tmp_path / "d.xml", camt053(
            [twice, Tx("310.00", credit=False, reversal=True, payer="Stranger",
                       bank_ref="R7")], stmt_id="S4"))
    assert err.value.rule == "bank-id-conflict" and "an earlier line of this file" in str(
        err.value) and "amount 300.00 ≠ 310.00" in str(err.value)
    assert len(reversals.reversals(ledger)) == 1 and first.applied == 1
    same = _import(ledger, tmp_path / "e.xml", camt053([twice, twice], stmt_id="S5"))
    assert (same.reversals_unmatched, same.already_known) == (1, 1)  # a duplicate, kept once


def test_mt940_rc_reversal_reopens_the_invoice(ledger: Store, tmp_path: Path) -> None:
    paid = Tx("999.00", payer="Health Agency", iban=HEALTH_IBAN, text="INV-2026-005")
    first = _import(ledger, tmp_path / "a.sta", mt940([paid]))
    assert first.applied == 1 and open_balance(ledger, "INV-2026-005") == 0
    back = Tx("999.00", credit=False, reversal=True, payer="Health Agency", iban=HEALTH_IBAN,
              text="RUECKLASTSCHRIFT")
    second = _import(ledger, tmp_path / "b.sta", mt940([back], opening="1999.00"))
    assert second.reversed == 1
    assert open_balance(ledger, "INV-2026-005") == Decimal("999.00")


@pytest.mark.parametrize("in_memory", [10_000, 0])  # 0: every reversal line in the spool file
def test_csv_negative_line_reopens_only_what_it_finds(ledger: Store, tmp_path: Path,
                                                      monkeypatch, in_memory: int) -> None:
    monkeypatch.setattr(statement_module, "REVERSALS_IN_MEMORY", in_memory)
    service.save_mapping(ledger, "sparkasse", GERMAN_MAPPING)
    paid = Tx("750.00", payer="Roads Authority", text="INV-2026-008")
    first = _import(ledger, tmp_path / "a.csv", bank_csv([paid]), bank="sparkasse")
    assert first.applied == 1
    returned = Tx("750.00", credit=False, payer="Roads Authority", text="return")
    fee = Tx("12.00", credit=False, payer="Our Bank", text="account fee")
    second = _import(ledger, tmp_path / "b.csv", bank_csv([returned, fee]), bank="sparkasse")
    assert (second.reversed, second.debits_skipped) == (1, 1)  # the fee is an ordinary debit
    assert open_balance(ledger, "INV-2026-008") == Decimal("750.00")
    assert [r["status"] for r in reversals.reversals(ledger)] == ["reversed"]


def test_ambiguous_reversal_waits_in_review(ledger: Store, tmp_path: Path) -> None:
    twice = [Tx("200.00", payer="Ministry of Works", text="INV-2026-002", bank_ref="P1"),
             Tx("300.00", payer="Ministry of Works", text="INV-2026-003", bank_ref="P2"),
             Tx("200.00", payer="Ministry of Works", text="payment", bank_ref="P3")]
    first = _import(ledger, tmp_path / "a.xml", camt053(twice, stmt_id="S1"))
    p1 = first.matches[0]["payment_id"]
    back = Tx("200.00", credit=False, reversal=True, payer="Ministry of Works",
              bank_ref="R1")
    second = _import(ledger, tmp_path / "b.xml", camt053([back], stmt_id="S2"))
    assert (second.reversed, second.reversals_review) == (0, 1)
    assert open_balance(ledger, "INV-2026-002") == 0  # nothing reopened on a guess
    (row,) = reversals.reversals(ledger, status="review")
    assert p1 in row["candidates"] and len(row["candidates"]) == 2
    assert reversals.resolve(ledger, row["reversal_id"], p1, actor="ana") == 1
    assert open_balance(ledger, "INV-2026-002") == Decimal("200.00")
    with pytest.raises(ConflictError, match="already reopened"):
        reversals.resolve(ledger, row["reversal_id"], p1)


def test_marked_reversal_without_its_payment_changes_nothing(ledger: Store,
                                                             tmp_path: Path) -> None:
    back = Tx("42.00", credit=False, reversal=True, payer="Stranger", bank_ref="R9")
    summary = _import(ledger, tmp_path / "b.xml", camt053([back]))
    assert (summary.reversed, summary.reversals_unmatched) == (0, 1)
    assert [r["status"] for r in reversals.reversals(ledger)] == ["unmatched"]
