"""Matching rules on a hand-made book: each rule, its confidence and its reason."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from claims.payments.matching import (
    Book, MatchSettings, OpenItem, candidate_keys, match_line, match_lines, normalise,
)
from claims.payments.parsers import StatementLine

WORKS, HEALTH = 1, 2


def item(invoice_id: int, number: str, open_: str, customer: int, day: int,
         currency: str = "EUR") -> OpenItem:
    return OpenItem(invoice_id, number, customer, currency, Decimal(open_),
                    date(2026, 9, day), date(2026, 10, day))


def book() -> Book:
    return Book([
        item(1, "INV-2026-001", "1500.00", WORKS, 1),
        item(2, "INV-2026-002", "100.00", WORKS, 2),
        item(3, "INV-2026-003", "200.00", WORKS, 3),
        item(4, "INV-2026-004", "300.00", WORKS, 4),
        item(5, "INV-2026-005", "100.00", WORKS, 5),
        item(6, "INV-2026-006", "999.00", HEALTH, 6),
        item(7, "INV-2026-007", "999.00", HEALTH, 7),
        item(8, "INV-2026-008", "450.00", HEALTH, 8),
        item(9, "GBP-1", "450.00", HEALTH, 9, currency="GBP"),
    ], payer_ibans={"DE02 1203 0000 0000 2020 51": WORKS},
        customer_names={"Health Agency": HEALTH, "Ministry of Works": WORKS})


def line(amount: str, **kw: str) -> StatementLine:
    return StatementLine(external_id=f"x:{amount}:{sorted(kw.items())}",
                         value_date=date(2026, 11, 20),
                         amount=Decimal(amount), currency=kw.pop("currency", "EUR"), **kw)


S = MatchSettings()


def test_normalised_keys_find_numbers_written_any_way() -> None:
    assert normalise("inv 2026-001") == "INV2026001"
    assert "INV2026001" in candidate_keys("Payment inv 2026 - 001 thanks")
    assert "INV2026001" in candidate_keys("RF18INV2026001")


def test_structured_reference_with_the_exact_amount() -> None:
    m = match_line(book(), line("1500.00", reference="RF18 INV2026001"), S)
    assert (m.method, m.confidence, m.flags) == ("reference", 100, ())
    assert [(a.number, a.amount, a.kind) for a in m.allocations] == [
        ("INV-2026-001", Decimal("1500.00"), "payment")]
    assert "reference INV-2026-001" in m.reason and m.customer_id == WORKS


def test_invoice_number_in_free_text_normalised() -> None:
    m = match_line(book(), line("999.00", remittance="our ref 77 / inv 2026 006 september"), S)
    assert (m.method, m.confidence) == ("text", 95)
    assert m.allocations[0].number == "INV-2026-006"


def test_payer_by_iban_then_one_open_item_of_that_amount() -> None:
    m = match_line(book(), line("1500.00", payer_iban="DE02120300000000202051"), S)
    assert (m.method, m.confidence) == ("payer", 90)
    assert "IBAN" in m.reason and m.allocations[0].number == "INV-2026-001"


def test_payer_by_name_with_two_items_of_the_amount_is_ambiguous() -> None:
    m = match_line(book(), line("999.00", payer_name="HEALTH AGENCY"), S)
    assert m.flags == ("ambiguous",) and m.confidence == 55
    assert m.allocations[0].number == "INV-2026-006"  # the oldest


def test_one_payment_for_three_invoices_oldest_first() -> None:
    # 100 + 200 + 300 = 600, but so is 200 + 300 + 100 (INV-005): the oldest subset wins
    m = match_line(book(), line("600.00", payer_iban="DE02120300000000202051"), S)
    assert m.method == "subset" and m.confidence == 80
    assert [a.number for a in m.allocations] == ["INV-2026-002", "INV-2026-003", "INV-2026-004"]
    assert sum(a.amount for a in m.allocations) == Decimal("600.00")


def test_several_invoice_numbers_in_the_text() -> None:
    m = match_line(book(), line("300.00", remittance="INV-2026-002, INV-2026-003"), S)
    assert m.method == "text" and m.confidence == 95
    assert [a.amount for a in m.allocations] == [Decimal("100.00"), Decimal("200.00")]


def test_short_payment_leaves_the_rest_open_and_is_flagged() -> None:
    b = book()
    m = match_line(b, line("1000.00", reference="INV-2026-001"), S)
    assert m.flags == ("short-payment",) and m.confidence == 90
    assert [(a.amount, a.kind) for a in m.allocations] == [(Decimal("1000.00"), "payment")]
    assert b.remaining[1] == Decimal("500.00")


@pytest.mark.parametrize("kind", ["writeoff", "discount"])
def test_difference_within_tolerance_is_written_off_or_discounted(kind: str) -> None:
    settings = MatchSettings(tolerance=Decimal("1.00"), small_difference=kind)
    b = book()
    m = match_line(b, line("1499.25", reference="INV-2026-001"), settings)
    assert m.flags == ("small-difference",) and m.confidence == 95
    assert [(a.amount, a.kind) for a in m.allocations] == [
        (Decimal("1499.25"), "payment"), (Decimal("0.75"), kind)]
    assert b.remaining[1] == 0


def test_percentage_tolerance() -> None:
    settings = MatchSettings(tolerance=Decimal("0"), tolerance_percent=Decimal("1"))
    m = match_line(book(), line("1486.00", reference="INV-2026-001"), settings)
    assert m.flags == ("small-difference",)  # 14.00 ≤ 1 % of 1,500.00
    m = match_line(book(), line("1484.00", reference="INV-2026-001"), settings)
    assert m.flags == ("short-payment",)


def test_overpayment_becomes_credit_on_account() -> None:
    m = match_line(book(), line("1600.00", reference="INV-2026-001"), S)
    assert m.flags == ("overpayment",) and m.confidence == 90
    assert [(a.number, a.amount, a.kind) for a in m.allocations] == [
        ("INV-2026-001", Decimal("1500.00"), "payment"), (None, Decimal("100.00"), "credit")]


def test_no_reference_and_unknown_payer_waits_unmatched() -> None:
    m = match_line(book(), line("123.45", payer_name="Someone Else"), S)
    assert (m.method, m.confidence, m.allocations) == ("none", 0, ())


def test_known_payer_without_a_fitting_amount_proposes_credit_for_review() -> None:
    m = match_line(book(), line("7.00", payer_name="Ministry of Works"), S)
    assert m.flags == ("unmatched",) and m.confidence < S.auto_apply_threshold
    assert m.allocations[0].kind == "credit"


def test_a_second_payment_of_a_paid_invoice_is_not_applied_twice() -> None:
    first, second = match_lines(book(), [line("1500.00", reference="INV-2026-001"),
                                         line("1500.00", remittance="INV-2026-001 again")], S)
    assert first.confidence == 100
    assert second.flags == ("already-paid",) and second.confidence == 95 - 50
    assert second.allocations[0].kind == "credit"


def test_currency_must_match() -> None:
    m = match_line(book(), line("450.00", reference="GBP-1"), S)
    assert m.method != "reference"
    m = match_line(book(), line("450.00", reference="GBP-1", currency="GBP"), S)
    assert m.method == "reference" and m.confidence == 100


def _dated(amount: str, day: date, **kw: str) -> StatementLine:
    return StatementLine(external_id=f"d:{amount}:{day}", value_date=day,
                         amount=Decimal(amount), currency="EUR", **kw)


def test_a_payment_dated_before_the_invoice_is_never_proposed_for_it() -> None:
    """(pay28 item 1) a payment value-dated before an invoice's issue date cannot pay it: by
    reference or text it goes to review without a proposal, naming both dates; the payer
    rules leave such invoices out."""
    b = book()
    early = match_line(b, _dated("1500.00", date(2026, 3, 1), reference="INV-2026-001"), S)
    assert (early.method, early.confidence, early.allocations) == ("reference", 0, ())
    assert early.flags == ("before-issue",)
    assert "value date 2026-03-01 is before the invoice's issue date" in early.reason
    assert "INV-2026-001 issued 2026-09-01" in early.reason
    assert b.remaining[1] == Decimal("1500.00")  # nothing reserved
    # naming one invoice issued by then and one after: only the first is proposed, -25
    mixed = match_line(b, _dated("1600.00", date(2026, 9, 1),
                                 remittance="INV-2026-001 INV-2026-002"), S)
    assert [a.number for a in mixed.allocations if a.invoice_id] == ["INV-2026-001"]
    assert "before-issue" in mixed.flags and mixed.confidence < S.auto_apply_threshold
    # the payer known by name, the amount of an invoice issued later: not that invoice
    payer = match_line(book(), _dated("450.00", date(2026, 9, 7), payer_name="Health Agency"),
                       S)
    assert all(a.invoice_id is None for a in payer.allocations)
    subset = match_line(book(), _dated("300.00", date(2026, 9, 2),
                                       payer_name="Ministry of Works"), S)
    assert subset.method != "subset" or all(a.invoice_id in (1, 2) for a in subset.allocations)
