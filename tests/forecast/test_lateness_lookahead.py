"""No look-ahead in the lateness after approval (issue #17): a payment's share is of what the
invoice billed (known from its issue), not of all its receipts — which include receipts after
the as-of date. Two ledgers the same up to a day and differing only in a receipt after it must
learn the same behaviour as of that day, with :func:`learn` and with the backtest's
:class:`Learner` alike."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from claims.forecast.distributions import DMIN
from claims.forecast.history import learn, lateness_shares
from claims.forecast.learner import Learner
from claims.forecast.ledger import ClaimFacts, Item, Ledger, Receipt

ISSUED, SUBMITTED, APPROVED = date(2025, 1, 6), date(2025, 1, 10), date(2025, 1, 20)
TARGET = APPROVED + timedelta(days=30)     # approval + 30 contract payment days
AS_OF = TARGET + timedelta(days=10)
CLAIM = ClaimFacts(1, 1, "Agency A", "sandbox", 30,
                   ((SUBMITTED, "SUBMITTED"), (APPROVED, "APPROVED")))


def _items(instalments: bool) -> list[Item]:
    invoice = Item(1, 0, "INV-1", 1, "EUR", ISSUED, ISSUED + timedelta(days=30),
                   Decimal("1000.00"), "Agency A")
    if not instalments:
        return [invoice]
    return [invoice._replace(seq=1, amount=Decimal("500.00")),
            invoice._replace(seq=2, amount=Decimal("500.00"),
                    due_date=invoice.due_date + timedelta(days=30))]


def _ledger(instalments: bool, later: list[Receipt]) -> Ledger:
    """Invoice 1 (1,000.00 billed, whole or in two instalments) claimed with Agency A, 400.00
    paid 2 days after approval + payment days, then ``later`` receipts."""
    paid = [Receipt(1, TARGET + timedelta(days=2), Decimal("400.00"))]
    return Ledger(_items(instalments), paid + later, {1: ("Ministry", "agency")}, [CLAIM])


@pytest.mark.parametrize("instalments", [False, True], ids=["invoice", "instalments"])
def test_a_payment_after_the_as_of_date_does_not_change_what_is_learned(
        instalments: bool) -> None:
    known = _ledger(instalments, [])
    later = _ledger(instalments, [Receipt(1, AS_OF + timedelta(days=1), Decimal("600.00"))])
    now = learn(known, AS_OF)
    assert now.lateness["Agency A"] == learn(later, AS_OF).lateness["Agency A"]
    assert now == learn(later, AS_OF)
    assert Learner(known).at(AS_OF) == now == Learner(later).at(AS_OF)
    # 400.00 of the 1,000.00 billed was paid 2 days late; the rest is still open
    lateness = now.lateness["Agency A"]
    assert (lateness.pmf[2 - DMIN], lateness.later) == (pytest.approx(0.4), pytest.approx(0.6))
    # once the rest is paid, it is learned (the later ledger as of after it)
    after = learn(later, AS_OF + timedelta(days=1)).lateness["Agency A"]
    assert after != learn(known, AS_OF + timedelta(days=1)).lateness["Agency A"]


def test_shares_are_of_the_amount_billed() -> None:
    over = _ledger(False, [Receipt(1, AS_OF + timedelta(days=1), Decimal("900.00")),
                           Receipt(1, AS_OF + timedelta(days=2), Decimal("5.00"))])
    shares = lateness_shares(over, CLAIM, APPROVED)
    # 400.00 of 1,000.00, then the 600.00 left of the 900.00 paid; the overpayment adds nothing
    assert [(d, slot_share, left) for d, _, slot_share, left in shares] == [
        (TARGET + timedelta(days=2), 0.4, pytest.approx(0.6)),
        (AS_OF + timedelta(days=1), pytest.approx(0.6), 0.0)]
    # an invoice billing nothing: its first payment after approval is the whole
    nothing = Ledger([_items(False)[0]._replace(amount=Decimal("0.00"))],
                     [Receipt(1, TARGET, Decimal("10.00")), Receipt(1, AS_OF, Decimal("5.00"))],
                     claims=[CLAIM])
    assert [(share, left) for _, _, share, left in lateness_shares(nothing, CLAIM, APPROVED)
            ] == [(1.0, 0.0)]
