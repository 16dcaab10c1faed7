"""Matching statement lines to open invoices: pure, indexed, no I/O.

Rules, most certain first (each :class:`Match` carries its confidence 0–100 and a reason):

===========================================================  =========  =====================
rule                                                          method     confidence
===========================================================  =========  =====================
structured reference / end-to-end id names the invoice (*)    reference  100 exact amount
invoice number(s) found in the free text (normalised)         text       95 exact amount
… then in the bank's additional text (``AddtlTxInf`` …)       text       95 exact amount
payer known by IBAN (learned) — one open item of that amount  payer      90 (name: 80)
payer known — several open items sum to it (oldest first)     subset     80 (name: 70)
===========================================================  =========  =====================

(*) by its number, or by the payment reference it asked the buyer to quote (EN 16931 BT-83).

A payment never pays an invoice issued after its value date (:func:`issued_by`, the one rule;
the review door :func:`claims.payments.service.accept` / ``change`` keeps it too): such an
invoice is left out of every rule; a reference or text naming only such invoices goes to review
without a proposal (flag ``before-issue``, the reason names the dates), naming some of them
costs −25 (flag ``before-issue``). Every as-of view then agrees: money is never applied before
the invoice exists, so receivables as of a date never go negative.

Then the amount is settled against the invoice(s) found: a difference within the tolerance is
written off (or taken as a discount) −5; a short payment leaves the rest open and is flagged
−10; an overpayment puts the excess on account as a credit −10. Several open items of the same
amount from one payer is ambiguous (−25). Paying an invoice already paid goes on account (−50):
the :class:`Book` knows every invoice number, paid ones too (their balance is nil), so a
reference or text naming a paid invoice finds it and the payment waits in review as a possible
duplicate to refund (flag ``already-paid``), never taken by the payer rules for another invoice
of that amount.

Every lookup is a dict access on a normalised key; the subset search looks only at a payer's
oldest ``subset_window`` items and at most ``subset_max_items`` of them, with a node budget, so
matching n lines against m open items costs O(n + m).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Literal

from claims.core.money import round_money
from claims.payments.parsers import StatementLine
from claims.payments.settings import MatchSettings

Kind = Literal["payment", "writeoff", "discount", "credit"]


@dataclass(frozen=True, slots=True)
class OpenItem:
    """An invoice with its open balance (nil or less for a paid one: known by its number only,
    see :class:`Book`)."""

    invoice_id: int
    number: str
    customer_id: int | None
    currency: str
    open: Decimal
    issue_date: date
    due_date: date | None = None


@dataclass(frozen=True, slots=True)
class Allocation:
    """Part of a payment: to an invoice (payment / writeoff / discount) or on account (credit)."""

    invoice_id: int | None
    number: str | None
    amount: Decimal
    kind: Kind = "payment"

    def to_json(self) -> dict[str, object]:
        return {"invoice_id": self.invoice_id, "invoice": self.number,
                "amount": str(plain(self.amount)), "kind": self.kind}


def plain(amount: Decimal) -> Decimal:
    """``1500.0000`` (as the store keeps it) → ``1500.00``; more places are kept if used."""
    cents = amount.quantize(Decimal("0.01"))
    return cents if cents == amount else amount.normalize()


def shown(amount: Decimal, currency: str) -> str:
    """An amount as a reason prints it: at the currency's minor unit by the one rounding
    policy (the store keeps four places: ``66.6700`` EUR → ``66.67``; issue 14, item 7)."""
    return str(round_money(amount, currency))


@dataclass(frozen=True)
class Match:
    """The proposal for one line: allocations, how sure, and why."""

    line: StatementLine
    method: str                      # reference | text | payer | subset | none
    confidence: int
    reason: str
    customer_id: int | None = None
    allocations: tuple[Allocation, ...] = ()
    flags: tuple[str, ...] = field(default=())


def normalise(text: str) -> str:
    """Upper case, letters and digits only: ``'inv 2026-001'`` → ``'INV2026001'``."""
    return re.sub(r"[^0-9A-Z]", "", text.upper())


_TOKEN = re.compile(r"[0-9A-Z]+")


def candidate_keys(text: str | None, *, max_join: int = 4) -> list[str]:
    """Normalised keys an invoice number could hide in: each word, and 2–4 adjacent words joined
    (``'INV 2026 - 001'`` has ``INV2026001``); an ISO 11649 ``RFnn`` prefix is also dropped."""
    if not text:
        return []
    tokens = _TOKEN.findall(text.upper())
    keys: list[str] = []
    for i in range(len(tokens)):
        joined = ""
        for j in range(i, min(i + max_join, len(tokens))):
            joined += tokens[j]
            keys.append(joined)
            if j == i and re.fullmatch(r"RF\d\d[0-9A-Z]+", joined):
                keys.append(joined[4:])
    return keys


class Book:
    """The open items and known payers, indexed for matching. Allocations reduce balances, so
    two lines in one batch never take the same money twice. Items with nothing open (paid
    invoices) are indexed by number only: a payment naming one is found as already paid, and no
    rule allocates to them; an open invoice's number wins over a paid one's."""

    def __init__(self, items: Iterable[OpenItem], *, payer_ibans: dict[str, int] | None = None,
                 customer_names: dict[str, int] | None = None,
                 payment_references: dict[int, str] | None = None) -> None:
        self.items: dict[int, OpenItem] = {}
        self.remaining: dict[int, Decimal] = {}
        self.by_number: dict[str, int] = {}
        self.by_customer: dict[int, list[int]] = defaultdict(list)
        self.by_amount: dict[tuple[int, str, Decimal], list[int]] = defaultdict(list)
        for item in sorted(items, key=lambda i: (i.due_date or i.issue_date, i.issue_date,
                                                 i.invoice_id)):
            self.items[item.invoice_id] = item
            self.remaining[item.invoice_id] = item.open
            key = normalise(item.number)
            if item.open <= 0:
                self.by_number.setdefault(key, item.invoice_id)
                continue
            self.by_number[key] = item.invoice_id
            if item.customer_id is not None:
                self.by_customer[item.customer_id].append(item.invoice_id)
                self.by_amount[(item.customer_id, item.currency, item.open)].append(
                    item.invoice_id)
        # the reference an invoice asked the buyer to quote (EN 16931 BT-83) names it as its
        # number does; a number wins over another invoice's reference
        for invoice_id, ref in (payment_references or {}).items():
            if invoice_id in self.items and normalise(ref):
                self.by_number.setdefault(normalise(ref), invoice_id)
        self.payer_ibans = {normalise(k): v for k, v in (payer_ibans or {}).items()}
        self.customer_names = {normalise(k): v for k, v in (customer_names or {}).items()}

    def find_numbers(self, text: str | None) -> list[int]:
        found: list[int] = []
        for key in candidate_keys(text):
            invoice_id = self.by_number.get(key)
            if invoice_id is not None and invoice_id not in found:
                found.append(invoice_id)
        return found

    def take(self, allocations: Sequence[Allocation]) -> None:
        for a in allocations:
            if a.invoice_id is not None:
                self.remaining[a.invoice_id] -= a.amount


def issued_by(issue_date: date, value_date: date) -> bool:
    """The one rule: a payment value-dated ``value_date`` can pay an invoice issued on
    ``issue_date`` only if the invoice was issued by then (on or before that day)."""
    return issue_date <= value_date


def _before_issue(book: Book, ids: Sequence[int], line: StatementLine) -> str:
    """The reason's words for invoices ``ids`` issued after ``line``'s value date."""
    dates = ", ".join(f"{book.items[i].number} issued {book.items[i].issue_date}" for i in ids)
    return (f"the payment's value date {line.value_date} is before the invoice's issue date "
            f"({dates}): not applied to it")


def _tolerance(settings: MatchSettings, invoice_open: Decimal) -> Decimal:
    return max(settings.tolerance, invoice_open * settings.tolerance_percent / 100)


def _settle(book: Book, ids: Sequence[int], amount: Decimal, settings: MatchSettings,
            ) -> tuple[list[Allocation], list[str], int, str]:
    """Spread ``amount`` over ``ids`` oldest first; returns allocations, flags, penalty, note."""
    allocations: list[Allocation] = []
    left = amount
    currency = book.items[ids[0]].currency
    total_open = sum((book.remaining[i] for i in ids), Decimal(0))
    if total_open <= 0:
        return ([Allocation(None, None, amount, "credit")], ["already-paid"], 50,
                "the invoice is already paid: a possible duplicate payment (to refund?); "
                "the payment is held on account")
    for i in ids:
        item, owed = book.items[i], book.remaining[i]
        if owed <= 0 or left <= 0:
            continue
        part = min(owed, left)
        allocations.append(Allocation(i, item.number, part))
        left -= part
    if left > 0:
        allocations.append(Allocation(None, None, left, "credit"))
        return (allocations, ["overpayment"], 10,
                f"overpaid by {shown(left, currency)}: credit on account")
    short = total_open - amount
    if short == 0:
        return allocations, [], 0, "exact amount"
    last = ids[-1]
    if short <= _tolerance(settings, total_open):
        # the difference sits on the last invoice reached (the others are settled in full)
        unpaid = [i for i in ids if book.remaining[i] - sum(
            (a.amount for a in allocations if a.invoice_id == i), Decimal(0)) > 0]
        target = unpaid[-1] if unpaid else last
        allocations.append(Allocation(target, book.items[target].number, short,
                                      settings.small_difference))
        return (allocations, ["small-difference"], 5,
                f"{shown(short, currency)} short, within tolerance: "
                f"{settings.small_difference}")
    return (allocations, ["short-payment"], 10,
            f"short payment: {shown(short, currency)} stays open")


def _subset(book: Book, customer_id: int, line: StatementLine, settings: MatchSettings,
            budget: int = 20_000) -> list[int] | None:
    """The oldest-first subset of a payer's open items (issued by the line's value date) that
    sums to the line's amount exactly."""
    currency, amount = line.currency, line.amount
    pool = [i for i in book.by_customer.get(customer_id, ())
            if book.remaining[i] > 0 and book.items[i].currency == currency
            and issued_by(book.items[i].issue_date, line.value_date)]
    pool = pool[:settings.subset_window]
    values = [book.remaining[i] for i in pool]
    nodes = 0
    chosen: list[int] = []

    def search(start: int, left: Decimal) -> bool:
        nonlocal nodes
        for k in range(start, len(pool)):
            nodes += 1
            if nodes > budget:
                return False
            v = values[k]
            if v > left:
                continue
            chosen.append(k)
            if v == left and len(chosen) >= 2:
                return True
            if len(chosen) < settings.subset_max_items and v < left and search(k + 1, left - v):
                return True
            chosen.pop()
        return False

    return [pool[k] for k in chosen] if search(0, amount) else None


def _numbers(book: Book, ids: Sequence[int]) -> str:
    return ", ".join(book.items[i].number for i in ids)


def match_line(book: Book, line: StatementLine, settings: MatchSettings) -> Match:
    """Propose how to apply one line (and reserve the allocated amounts in ``book``)."""
    amount, currency = line.amount, line.currency

    def same_currency(ids: list[int]) -> list[int]:
        return [i for i in ids if book.items[i].currency == currency]

    for method, base, text, label in (
            ("reference", 100, line.reference, "reference"),
            ("text", 95, line.remittance, "invoice number in the text"),
            ("text", 95, line.additional, "invoice number in the bank's additional text")):
        found = same_currency(book.find_numbers(text))
        if not found:
            continue
        customer = book.items[found[0]].customer_id
        ids = [i for i in found if issued_by(book.items[i].issue_date, line.value_date)]
        early = [i for i in found if i not in ids]
        if not ids:  # to review, no proposal: a person decides (reject, or on account)
            return Match(line, method, 0, f"{label} {_numbers(book, early)}: "
                         f"{_before_issue(book, early, line)}", customer, (), ("before-issue",))
        allocations, flags, penalty, note = _settle(book, ids, amount, settings)
        if early:
            flags, penalty = [*flags, "before-issue"], penalty + 25
            note = f"{note}; {_before_issue(book, early, line)}"
        book.take(allocations)
        return Match(line, method, max(base - penalty, 0),
                     f"{label} {_numbers(book, ids)}: {note}", customer, tuple(allocations),
                     tuple(flags))

    customer_id, base, how = None, 0, ""
    if line.payer_iban and normalise(line.payer_iban) in book.payer_ibans:
        customer_id, base, how = book.payer_ibans[normalise(line.payer_iban)], 90, "IBAN"
    elif line.payer_name and normalise(line.payer_name) in book.customer_names:
        customer_id, base, how = book.customer_names[normalise(line.payer_name)], 80, "name"
    if customer_id is None:
        return Match(line, "none", 0, "no invoice reference and the payer is unknown")
    same = [i for i in book.by_amount.get((customer_id, currency, amount), ())
            if book.remaining[i] == amount
            and issued_by(book.items[i].issue_date, line.value_date)]
    if same:
        flags = ("ambiguous",) if len(same) > 1 else ()
        allocation = (Allocation(same[0], book.items[same[0]].number, amount),)
        book.take(allocation)
        extra = f" (oldest of {len(same)} of that amount)" if len(same) > 1 else ""
        return Match(line, "payer", base - (25 if flags else 0),
                     f"payer recognised by {how}; open item {book.items[same[0]].number} of "
                     f"that amount{extra}", customer_id, allocation, flags)
    subset = _subset(book, customer_id, line, settings)
    if subset:
        allocations = tuple(Allocation(i, book.items[i].number, book.remaining[i])
                            for i in subset)
        book.take(allocations)
        return Match(line, "subset", base - 10,
                     f"payer recognised by {how}; {len(subset)} invoices, oldest first, sum to "
                     f"the amount: {_numbers(book, subset)}", customer_id, allocations,
                     ("several-invoices",))
    return Match(line, "payer", 30, f"payer recognised by {how}, but no open item or "
                 "combination matches the amount; proposed as credit on account", customer_id,
                 (Allocation(None, None, amount, "credit"),), ("unmatched",))


def match_lines(book: Book, lines: Iterable[StatementLine], settings: MatchSettings,
                ) -> list[Match]:
    """Match every line in order (earlier lines take money first)."""
    return [match_line(book, line, settings) for line in lines]
