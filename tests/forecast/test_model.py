"""Each source of the forecast on a ledger small enough to work out by hand."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from claims.forecast.history import learn
from claims.forecast.ledger import (
    ClaimFacts, DisputeFacts, Item, Ledger, PlanFacts, PromiseFacts, Receipt,
)
from claims.forecast.model import Options, forecast

AS_OF = date(2026, 3, 31)  # week k covers AS_OF + 7(k−1) + 1 … AS_OF + 7k


def _paid_history(customer: int, count: int, delay: int, first_id: int) -> tuple[list, list]:
    """``count`` past invoices of 100.00 each paid exactly ``delay`` days after due."""
    items, receipts = [], []
    for k in range(count):
        due = AS_OF - timedelta(days=60 + k)
        inv = first_id + k
        items.append(Item(inv, 0, f"H{inv}", customer, "EUR", due - timedelta(days=30), due,
                          Decimal("100.00")))
        receipts.append(Receipt(inv, due + timedelta(days=delay), Decimal("100.00")))
    return items, receipts


def _week(fc, week: int) -> Decimal:
    return next(r.p50 for r in fc.rows if r.week == week)


def test_open_invoice_on_the_customers_delay() -> None:
    """12 invoices each paid 10 days late; an open 1,000.00 due in 10 days: paid on day 20,
    which is in week 3 (days 15–21)."""
    items, receipts = _paid_history(1, 12, 10, 100)
    items.append(Item(1, 0, "OPEN", 1, "EUR", AS_OF, AS_OF + timedelta(days=10),
                      Decimal("1000.00")))
    ledger = Ledger(items, receipts, {1: ("Works", "agency")})
    fc = forecast(ledger, learn(ledger, AS_OF), AS_OF)
    assert _week(fc, 3) == Decimal("1000.00")
    assert sum(r.p50 for r in fc.rows) == Decimal("1000.00")
    line = fc.explain(3)[0]
    assert line["ref"] == "OPEN" and "median +10 d" in line["assumption"]


def test_little_history_is_shrunk_toward_the_segment() -> None:
    """Customer 1 paid its one invoice on time (+0); customer 2 (same segment) paid 20, one
    on time and 19 at +14. Customer 1's open 1,100.00 due tomorrow: own weight 1/11, the rest
    from the segment (which equals everyone): P(+0) = 1/11 + 10/11·2/21, P(+14) = 10/11·19/21.
    Day 1 is week 1; day 15 is week 3."""
    a_items, a_rec = _paid_history(1, 1, 0, 100)
    b_items, b_rec = _paid_history(2, 19, 14, 200)
    c_items, c_rec = _paid_history(2, 1, 0, 300)
    items = a_items + b_items + c_items
    items.append(Item(1, 0, "OPEN", 1, "EUR", AS_OF, AS_OF + timedelta(days=1),
                      Decimal("1100.00")))
    ledger = Ledger(items, a_rec + b_rec + c_rec,
                    {1: ("Small", "private"), 2: ("Big", "private")})
    fc = forecast(ledger, learn(ledger, AS_OF), AS_OF)
    week1 = Decimal(1100) * (Decimal(1) / 11 + Decimal(10) / 11 * Decimal(2) / 21)
    week3 = Decimal(1100) * Decimal(10) / 11 * Decimal(19) / 21
    assert _week(fc, 1) == week1.quantize(Decimal("0.01"))
    assert _week(fc, 3) == week3.quantize(Decimal("0.01"))


def _claim_ledger(events: tuple, history: list[ClaimFacts]) -> Ledger:
    """One open claimed invoice (id 1, 5,000.00) of Agency A with 30 payment days, plus past
    claims of the same agency, each paid on approval + 30 days."""
    items = [Item(1, 0, "CLAIMED", 1, "EUR", AS_OF - timedelta(days=20), AS_OF + timedelta(
        days=10), Decimal("5000.00"), "Agency A")]
    receipts = []
    for c in history:
        approved = next(at for at, st in c.events if st == "APPROVED")
        items.append(Item(c.invoice_id, 0, f"P{c.invoice_id}", 1, "EUR", c.events[0][0],
                          c.events[0][0], Decimal("100.00"), "Agency A"))
        receipts.append(Receipt(c.invoice_id, approved + timedelta(days=30), Decimal("100.00")))
    claim = ClaimFacts(1, 1, "Agency A", "sandbox", 30, events)
    return Ledger(items, receipts, {1: ("Ministry", "agency")}, [claim, *history])


def _past_claims(review: int, correction: int | None = None) -> list[ClaimFacts]:
    out = []
    for k in range(2):
        sub = AS_OF - timedelta(days=150 + k)
        events = [(sub, "SUBMITTED")]
        if correction is not None:
            events += [(sub + timedelta(days=review), "RETURNED"),
                       (sub + timedelta(days=review + correction), "SUBMITTED")]
            sub = sub + timedelta(days=review + correction)
        events.append((sub + timedelta(days=review), "APPROVED"))
        out.append(ClaimFacts(10 + k, 10 + k, "Agency A", "sandbox", 30, tuple(events)))
    return out


def test_approved_claim_on_approval_plus_payment_days() -> None:
    """Approved 12 days ago, 30 payment days, the agency pays on the day: day 18, week 3."""
    ledger = _claim_ledger(((AS_OF - timedelta(days=15), "SUBMITTED"),
                            (AS_OF - timedelta(days=12), "APPROVED")), _past_claims(10))
    fc = forecast(ledger, learn(ledger, AS_OF), AS_OF)
    assert _week(fc, 3) == Decimal("5000.00")
    assert "+ 30 contract payment days" in fc.explain(3)[0]["assumption"]


def test_claim_in_review_on_the_agencys_review_time() -> None:
    """The agency reviews in 10 days; submitted 3 days ago: 7 more + 30 payment days = day
    37, week 6 (days 36–42)."""
    ledger = _claim_ledger(((AS_OF - timedelta(days=3), "SUBMITTED"),), _past_claims(10))
    fc = forecast(ledger, learn(ledger, AS_OF), AS_OF)
    assert _week(fc, 6) == Decimal("5000.00")


def test_returned_claim_on_correction_then_review() -> None:
    """Corrections take 5 days, reviews (to approval or return) 10; returned 2 days ago:
    3 + 10 + 30 = day 43, week 7."""
    ledger = _claim_ledger(((AS_OF - timedelta(days=12), "SUBMITTED"),
                            (AS_OF - timedelta(days=2), "RETURNED")), _past_claims(10, 5))
    fc = forecast(ledger, learn(ledger, AS_OF), AS_OF)
    assert _week(fc, 7) == Decimal("5000.00")


def test_promise_weighted_by_keeping_record_and_not_counted_twice() -> None:
    """A customer who kept its one past promise (rate (1 + 3·1)/(1 + 3) = 100 %) promises
    100.00 of its 400.00 for in 3 days: 100.00 in week 1, the invoice keeps 75 % of its own
    forecast (due in 10 days, paid on time: week 2)."""
    items, receipts = _paid_history(1, 12, 0, 100)
    items.append(Item(1, 0, "OPEN", 1, "EUR", AS_OF, AS_OF + timedelta(days=10),
                      Decimal("400.00")))
    kept = PromiseFacts(1, 1, "EUR", Decimal("100.00"), items[0].due_date, items[0].due_date
                        - timedelta(days=5))
    new = PromiseFacts(2, 1, "EUR", Decimal("100.00"), AS_OF + timedelta(days=3), AS_OF)
    ledger = Ledger(items, receipts, {1: ("Works", "agency")}, promises=[kept, new])
    fc = forecast(ledger, learn(ledger, AS_OF), AS_OF)
    assert _week(fc, 1) == Decimal("100.00")
    assert _week(fc, 2) == Decimal("300.00")


def test_plan_instalments_on_their_dates_and_the_invoice_not_counted_twice() -> None:
    """A customer who pays 7 days late kept its one past plan (rate (1 + 3·1)/(1 + 3) =
    100 %). A new plan on an open 300.00 (due in 10 days): 100.00 on day 3, day 10 and day
    17; 100.00 already paid after the plan was agreed settles the first instalment. So
    100.00 in week 2 (day 10) and 100.00 in week 3 (day 17), nothing in week 1; without the
    plan the invoice's 200.00 would fall on day 17 (due + 7), and it is not added again."""
    items, receipts = _paid_history(1, 12, 7, 100)
    past = PlanFacts(1, 1, "EUR", AS_OF - timedelta(days=70), (100,),
                     ((AS_OF - timedelta(days=53), Decimal("100.00")),))
    items.append(Item(1, 0, "OPEN", 1, "EUR", AS_OF - timedelta(days=20),
                      AS_OF + timedelta(days=10), Decimal("300.00")))
    receipts.append(Receipt(1, AS_OF - timedelta(days=1), Decimal("100.00")))
    new = PlanFacts(2, 1, "EUR", AS_OF - timedelta(days=5), (1,),
                    tuple((AS_OF + timedelta(days=d), Decimal("100.00")) for d in (3, 10, 17)))
    ledger = Ledger(items, receipts, {1: ("Works", "agency")}, plans=[past, new])
    fc = forecast(ledger, learn(ledger, AS_OF), AS_OF)
    assert _week(fc, 1) == Decimal("0.00")
    assert _week(fc, 2) == Decimal("100.00")
    assert _week(fc, 3) == Decimal("100.00")
    assert sum(r.p50 for r in fc.rows) == Decimal("200.00")
    refs = {line["ref"] for week in (2, 3) for line in fc.explain(week)}
    assert refs == {"plan #2/2", "plan #2/3"}  # the plan's invoice is not forecast again


def test_dispute_held_out_and_interest_shown_apart() -> None:
    """A disputed invoice is listed apart, not forecast; an invoice 30 days past its
    statutory due date at 12 % a year (30-day compounding, 360-day year) owes 10.00."""
    items = [Item(1, 0, "DISPUTED", 1, "EUR", AS_OF - timedelta(days=40), AS_OF,
                  Decimal("700.00")),
             Item(2, 0, "LATE", 1, "EUR", AS_OF - timedelta(days=60),
                  AS_OF - timedelta(days=30), Decimal("1000.00"), "Agency A", "Agency A")]
    ledger = Ledger(items, [], {1: ("Agency A", "agency")},
                    disputes=[DisputeFacts(1, AS_OF - timedelta(days=3))],
                    interest_rules={"Agency A": (Decimal("12"), 30, 360)})
    fc = forecast(ledger, learn(ledger, AS_OF), AS_OF)
    assert [h["invoice"] for h in fc.held_out] == ["DISPUTED"]
    assert [ln.ref for ln in fc.lines] == ["LATE"]
    assert fc.interest[0]["interest"] == "10.00"


@pytest.mark.parametrize("weeks", [4, 13])
def test_weeks_and_bands(weeks: int) -> None:
    """P10 ≤ P50 ≤ P90 in every week; the horizon is as asked."""
    items, receipts = _paid_history(1, 30, 5, 100)
    items += [Item(1000 + k, 0, f"O{k}", 1, "EUR", AS_OF, AS_OF + timedelta(days=7 * k),
                   Decimal("250.00")) for k in range(8)]
    ledger = Ledger(items, receipts, {1: ("Works", "agency")})
    fc = forecast(ledger, learn(ledger, AS_OF), AS_OF, Options(weeks=weeks))
    assert len(fc.rows) == weeks
    assert all(r.p10 <= r.p50 <= r.p90 for r in fc.rows)


# -- a young ledger: what nobody has seen yet is not "never paid" -------------------------


def test_an_invoice_reaching_its_due_date_unpaid_is_not_taken_as_never_paid() -> None:
    """No payment anywhere yet; one invoice due today and still open, two due later. The
    only observation says "open at +0 days": nothing about +1 onwards. Before the fix the
    estimate read that as "never paid" and every line of the forecast was 0.00 (found by an
    independent tester on `claims init --with-samples` as of a due date). Now: the one due
    today is paid on the first day not seen yet (week 1), the others on their due dates."""
    items = [Item(1, 0, "DUE-TODAY", 1, "EUR", AS_OF - timedelta(days=30), AS_OF,
                  Decimal("1000.00")),
             Item(2, 0, "LATER-A", 1, "EUR", AS_OF, AS_OF + timedelta(days=10),
                  Decimal("200.00")),
             Item(3, 0, "LATER-B", 1, "EUR", AS_OF, AS_OF + timedelta(days=20),
                  Decimal("50.00"))]
    ledger = Ledger(items, [], {1: ("Works", "agency")})
    fc = forecast(ledger, learn(ledger, AS_OF), AS_OF)
    assert [_week(fc, k) for k in (1, 2, 3)] == [Decimal("1000.00"), Decimal("200.00"),
                                                Decimal("50.00")]
    assert "later than 240 d or never 0%" in fc.explain(1)[0]["assumption"]


def test_a_customer_seen_only_to_plus_30_takes_the_later_days_from_everyone() -> None:
    """Customer 1 paid one invoice 3 days late and has five open 30 days after their due
    dates: its own estimate ends at +30 (5/6 of the mass unseen). Customer 2 (12 invoices)
    paid at +40. The unseen 5/6 takes everyone's shape past +30, which is all at +40: the
    open 600.00 of customer 1 arrive on day +40 − 30 = 10, week 2 (days 8–14), none is lost."""
    a_items, a_rec = _paid_history(1, 1, 3, 100)
    b_items, b_rec = _paid_history(2, 12, 40, 200)
    opens = [Item(10 + k, 0, f"OPEN{k}", 1, "EUR", AS_OF - timedelta(days=60),
                  AS_OF - timedelta(days=30), Decimal("120.00")) for k in range(5)]
    ledger = Ledger(a_items + b_items + opens, a_rec + b_rec,
                    {1: ("Small", "private"), 2: ("Big", "private")})
    fc = forecast(ledger, learn(ledger, AS_OF), AS_OF)
    assert sum(r.p50 for r in fc.rows) == Decimal("600.00")
    assert _week(fc, 2) == Decimal("600.00")
