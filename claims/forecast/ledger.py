"""The facts a forecast is made from, and what of them was known at an as-of date. Pure.

:class:`Ledger` holds every fact with the date it became known: an invoice from its issue date,
a payment from its value date, a claim status from its event time, a promise from when it was
made, a plan from when it was agreed, a dispute from when it was opened. :meth:`Ledger.paid_by`
and the ``known``/``active`` helpers answer "as of that day" and nothing later: the backtest's
guarantee of no look-ahead lives here, and only here.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from itertools import accumulate, repeat
from operator import attrgetter, ge, is_, itemgetter
from typing import NamedTuple

import numpy as np

#: claim statuses the forecast reads a claim's money from (the portal has it)
REVIEW = frozenset({"SUBMITTED", "UNDER_REVIEW"})
APPROVED = frozenset({"APPROVED", "PAYMENT_ORDERED", "PAID"})
RETURNED = frozenset({"RETURNED"})
_DAY, _AMOUNT = attrgetter("day"), attrgetter("amount")
_INVOICE, _KIND = attrgetter("invoice_id"), attrgetter("kind")
_ZERO = Decimal(0)


# The three kinds of fact made by the hundred thousand (a 100,000-open forecast loads 250,000
# items, 160,000 receipts, 120,000 claims) are named tuples: made from a row without a Python
# call (``tuple.__new__`` over the loader's columns), no ``__dict__`` to fill and free, fields
# read by position in C. Immutable as the frozen dataclasses they replaced; ``_replace``
# makes a changed copy.


class Item(NamedTuple):
    """A receivable: an invoice (seq 0) or an instalment of one, with its due date."""

    invoice_id: int
    seq: int
    number: str
    customer_id: int
    currency: str
    issue_date: date
    due_date: date
    amount: Decimal
    agency: str | None = None          # the contract's agency, if the invoice bills one
    #: set when a prompt-payment rule gave the due date: from the claim's receipt, or (the
    #: agency has the claim back) the stopped clock's, which lies after the day it is counted
    #: from, so never overdue and never with interest
    statutory_agency: str | None = None
    #: a statutory due date is made from the claim's receipt: known only from that day (a
    #: stopped clock's: from the day it was counted from); before it the invoice's own (or
    #: default) due date stood (:meth:`Ledger.as_known`)
    known_from: date | None = None
    due_before: date | None = None
    #: the due dates that stood between the claim's first receipt and ``known_from`` (a
    #: resubmission, or the day a stopped clock was counted from), each (from day, due date,
    #: statutory?): an earlier receipt's statutory due date; while the agency had the claim
    #: back, the stopped clock's of each day
    earlier: tuple[tuple[date, date, bool], ...] = ()

    @property
    def label(self) -> str:
        return self.number if self.seq == 0 else f"{self.number}/{self.seq}"


class Receipt(NamedTuple):
    """Money applied to an invoice, dated by its value date; ``kind`` payment or other."""

    invoice_id: int
    day: date
    amount: Decimal
    kind: str = "payment"


class ClaimFacts(NamedTuple):
    """A claim of an invoice on a portal: its statuses in time order, (day, status)."""

    claim_id: int
    invoice_id: int
    agency: str
    portal: str
    payment_days: int
    events: tuple[tuple[date, str], ...]

    def status_on(self, day: date) -> tuple[str | None, date | None]:
        """(status, since when) as of the end of ``day``; (None, None) before any status."""
        status, since = None, None
        for at, st in self.events:
            if at > day:
                break
            if st != status:
                status, since = st, at
        return status, since

    def first(self, status: str, day: date) -> date | None:
        """The first day the claim reached ``status``, if that was by ``day``."""
        for at, st in self.events:  # a loop, not next(generator): one call per claim fewer
            if st == status and at <= day:
                return at
        return None


class ReceiptColumns(NamedTuple):
    """The receipts as columns (:meth:`Ledger.receipt_columns`)."""

    invoice: np.ndarray   # int64 invoice ids, ascending
    day: np.ndarray       # int64 value-day ordinals
    amount: np.ndarray    # float64 (statistics, not money)
    payment: np.ndarray   # bool: a payment (not a write-off or other kind)


class ItemArrays(NamedTuple):
    """The items as columns, positions as in :attr:`Ledger.items` (:meth:`Ledger.item_arrays`)."""

    invoice: np.ndarray    # int64 invoice ids (ascending)
    customer: np.ndarray   # int64
    agencies: list[str | None]  # the distinct contract agencies (and None) as first met
    agency: np.ndarray     # int64 code into ``agencies``
    issue: np.ndarray      # int64 issue-day ordinals
    due: np.ndarray        # int64 due-day ordinals (as loaded: :meth:`Ledger.as_known` aside)
    positive: np.ndarray   # bool: amount > 0
    total: np.ndarray      # float64 amount (statistics, not money)
    #: alone on its invoice, with a due date known from its issue (as_known: itself)
    plain: np.ndarray


@dataclass(frozen=True)
class PromiseFacts:
    id: int
    customer_id: int
    currency: str
    amount: Decimal
    promised_date: date
    made_on: date
    cancelled_on: date | None = None


@dataclass(frozen=True)
class PlanFacts:
    id: int
    customer_id: int
    currency: str
    agreed_on: date
    invoice_ids: tuple[int, ...]
    instalments: tuple[tuple[date, Decimal], ...]
    cancelled_on: date | None = None


@dataclass(frozen=True)
class DisputeFacts:
    invoice_id: int
    opened_on: date
    resolved_on: date | None = None


def active(start: date, end: date | None, day: date) -> bool:
    """Known by ``day`` and not ended by then."""
    return start <= day and (end is None or end > day)


@dataclass
class Ledger:
    """Every fact, each with the day it became known (see the module docstring)."""

    items: list[Item]
    receipts: list[Receipt]
    customers: dict[int, tuple[str, str]] = field(default_factory=dict)  # id: (name, segment)
    claims: list[ClaimFacts] = field(default_factory=list)
    promises: list[PromiseFacts] = field(default_factory=list)
    plans: list[PlanFacts] = field(default_factory=list)
    disputes: list[DisputeFacts] = field(default_factory=list)
    #: agency: (annual rate %, compounding days, day count) of prompt-payment agencies
    interest_rules: dict[str, tuple[Decimal, int, int]] = field(default_factory=dict)
    _paid: dict[int, tuple[list[date], list[Decimal]]] = field(default_factory=dict, repr=False)
    _by_invoice: dict[int, list[Receipt]] = field(default_factory=dict, repr=False)
    #: per customer: its invoices' receipts (made on first use: only promising customers' are
    #: read, :meth:`receipts_of_customer`)
    _by_customer: dict[int, list[Receipt]] | None = field(default=None, repr=False,
                                                           compare=False)
    _sorted: list[Receipt] = field(default_factory=list, repr=False)
    #: per customer: the days of its payments in order and the running totals before each
    #: (made per customer on first use, :meth:`paid_by_customer`)
    _customer_paid: dict[int, tuple[list[date], list[Decimal]]] = field(
        default_factory=dict, repr=False, compare=False)
    _days: list[date] = field(default_factory=list, repr=False)
    _billed: dict[int, Decimal] = field(default_factory=dict, repr=False)
    _customer_of: dict[int, int] = field(default_factory=dict, repr=False)
    _receipt_columns: ReceiptColumns | None = field(default=None, repr=False, compare=False)
    _item_arrays: ItemArrays | None = field(default=None, repr=False, compare=False)
    #: per row of :meth:`receipt_columns`: its receipt's position in :attr:`receipts`
    _receipt_rows: np.ndarray | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.items.sort(key=attrgetter("invoice_id", "seq"))
        self.index()

    def index(self) -> None:
        """Build the per-invoice running totals :meth:`paid_by` reads (call after changes).

        One pass per index, no lookup per receipt it can avoid (a 100,000-open forecast builds
        them over 250,000 items and 160,000 receipts); the same Decimal sums in the same
        order as before."""
        zero = Decimal(0)
        self._sorted = sorted(self.receipts, key=attrgetter("day"))
        self._days = list(map(attrgetter("day"), self._sorted))
        by_invoice: dict[int, list[Receipt]] = {}
        for r in self._sorted:
            rows = by_invoice.get(r.invoice_id)
            if rows is None:
                by_invoice[r.invoice_id] = [r]
            else:
                rows.append(r)
        self._by_invoice = by_invoice
        items = self.items
        invoices = list(map(attrgetter("invoice_id"), items))
        # the last item of an invoice names its customer, as the loop before said
        self._customer_of = dict(zip(invoices, map(attrgetter("customer_id"), items),
                                     strict=True))
        amounts = list(map(_AMOUNT, items))
        # one item per invoice (an invoice without instalments): its amount, made in C
        billed: dict[int, Decimal] = dict(zip(invoices, amounts, strict=True))
        if len(billed) < len(items):  # instalments: each invoice's items added up in order
            billed = {}
            get = billed.get
            for invoice_id, amount in zip(invoices, amounts, strict=True):
                billed[invoice_id] = get(invoice_id, zero) + amount
        self._billed = billed
        paid: dict[int, tuple[list[date], list[Decimal]]] = {}
        for invoice_id, rows in by_invoice.items():
            if len(rows) == 1:
                paid[invoice_id] = ([rows[0].day], [zero + rows[0].amount])
                continue
            days, running, total = [], [], zero
            for r in rows:
                total += r.amount
                days.append(r.day)
                running.append(total)
            paid[invoice_id] = (days, running)
        self._paid = paid
        # per customer, on first use (a forecast reads the few customers who promised)
        self._by_customer = None
        self._receipt_columns = None
        self._item_arrays = None
        self._customer_paid = {}

    def _customers(self) -> dict[int, list[Receipt]]:
        """Per customer: the receipts of its invoices, invoice by invoice in the order of
        their first receipt, each invoice's oldest first (built once, on first use)."""
        if self._by_customer is None:
            customer_of = self._customer_of
            by_customer: dict[int, list[Receipt]] = {}
            for invoice_id, rows in self._by_invoice.items():
                customer = customer_of.get(invoice_id)
                if customer is not None:
                    mine = by_customer.get(customer)
                    if mine is None:
                        by_customer[customer] = list(rows)
                    else:
                        mine.extend(rows)
            self._by_customer = by_customer
        return self._by_customer

    def _paid_of_customer(self, customer_id: int
                          ) -> tuple[list[date], list[Decimal]] | None:
        """The days of the customer's payments in order and the running totals before each;
        ``None`` for a customer without receipts. Made for every customer at once, on first
        use (:meth:`_index_customers`)."""
        if not self._customer_paid:
            self._index_customers()
        return self._customer_paid.get(customer_id)

    def _index_customers(self) -> None:
        """Every customer's payments (not write-offs) in the order :meth:`_customers` lists
        them after a stable sort by day: by value day, then by the invoice's first receipt
        in :attr:`_sorted`, then as in :attr:`_sorted`; with the running totals before each
        made by accumulate: zero, zero + the first, … (the same Decimal sums in the same
        order as a customer at a time). One numpy sort for all customers, not a Python pass
        over every receipt per customer (most of learning the promises)."""
        rows, zero = self.receipts, Decimal(0)
        size = len(rows)
        customer_of = self._customer_of
        invoice = np.fromiter(map(_INVOICE, rows), np.int64, size)
        known = np.fromiter(map(customer_of.__contains__, invoice.tolist()), bool, size)
        customer = np.fromiter(map(customer_of.get, invoice.tolist(), repeat(0)), np.int64,
                               size)
        day = np.fromiter(map(date.toordinal, map(_DAY, rows)), np.int64, size)
        payment = np.fromiter(map("payment".__eq__, map(_KIND, rows)), bool, size)
        order = np.argsort(day, kind="stable")  # _sorted: sorted() by day is stable
        rank = np.empty(size, dtype=np.int64)  # where each receipt stands in _sorted
        rank[order] = np.arange(size)
        # per receipt: where its invoice's first receipt stands in _sorted
        invoices, first = np.unique(invoice[order], return_index=True)
        first_of = first[np.searchsorted(invoices, invoice)]
        sel = np.flatnonzero(known & payment)
        sel = sel[np.lexsort((rank[sel], first_of[sel], day[sel], customer[sel]))]
        # read in the order made (memory in order), then gathered: C calls, no Python step
        take = itemgetter(*sel.tolist()) if sel.size > 1 else None
        days, amounts = list(map(_DAY, rows)), list(map(_AMOUNT, rows))
        days = list(take(days)) if take else [days[k] for k in sel.tolist()]
        amounts = list(take(amounts)) if take else [amounts[k] for k in sel.tolist()]
        owners = customer[sel]
        starts = np.flatnonzero(np.append(True, owners[1:] != owners[:-1])) if sel.size \
            else sel
        ends = np.append(starts[1:], sel.size)
        paid: dict[int, tuple[list[date], list[Decimal]]] = {
            c: ([], [zero]) for c in dict.fromkeys(customer[known].tolist())}
        for c, s, e in zip(owners[starts].tolist(), starts.tolist(), ends.tolist(),
                           strict=True):
            paid[c] = (days[s:e], list(accumulate(amounts[s:e], initial=zero)))
        self._customer_paid = paid

    def billed(self, invoice_id: int) -> Decimal:
        """What the invoice billed, known from its issue: its items' amounts (the invoice, seq
        0, or its instalments, 1…, which add up to it); 0 for an invoice not in the items."""
        return self._billed.get(invoice_id, Decimal(0))

    def billed_many(self, invoice_ids: Iterable[int]) -> Iterator[Decimal]:
        """:meth:`billed` of each invoice, in order (no Python call per invoice)."""
        return map(self._billed.get, invoice_ids, repeat(Decimal(0)))

    def paid_by(self, invoice_id: int, day: date) -> Decimal:
        """Everything applied to the invoice with a value date on or before ``day``."""
        entry = self._paid.get(invoice_id)
        if entry is None:
            return Decimal(0)
        k = bisect_right(entry[0], day)
        return entry[1][k - 1] if k else Decimal(0)

    def paid_by_customer(self, customer_id: int, start: date, end: date) -> Decimal:
        """Payments (not write-offs) on the customer's invoices valued ``start`` … ``end``:
        two bisections in the running totals (a scan of the customer's receipts per promise
        was most of a 100,000-invoice forecast). Decimal sums are exact: same figures."""
        entry = self._paid_of_customer(customer_id)
        if entry is None or start > end:
            return Decimal(0)
        days, running = entry
        return running[bisect_right(days, end)] - running[bisect_left(days, start)]

    def receipts_between(self, after: date, until: date) -> list[Receipt]:
        """Receipts valued after ``after`` and on or before ``until`` (for scoring)."""
        return self._sorted[bisect_right(self._days, after):bisect_right(self._days, until)]

    def receipts_of_customer(self, customer_id: int) -> list[Receipt]:
        """The receipts of the customer's invoices (any day, any kind; filter before use)."""
        return self._customers().get(customer_id, [])

    def receipts_by_invoice(self) -> list[Receipt]:
        """Every receipt, invoice by invoice (ascending id), each invoice's in the order of
        :meth:`receipts_of` (oldest first)."""
        return sorted(self._sorted, key=attrgetter("invoice_id"))  # stable: the day order

    def receipt_columns(self) -> ReceiptColumns:
        """Every receipt as columns in :meth:`receipts_by_invoice` order, made once (until
        :meth:`index`): learning the delays and the claims' lateness both read them."""
        if self._receipt_columns is None:
            # read in the order made (memory in order: a pass over the receipts sorted by day
            # jumps about), then put in that order by numpy: by invoice, then by day, then as
            # read (a stable sort, as receipts_by_invoice's two)
            rows = self.receipts
            size = len(rows)
            invoice = np.fromiter(map(_INVOICE, rows), np.int64, size)
            day = np.fromiter(map(date.toordinal, map(_DAY, rows)), np.int64, size)
            order = self._receipt_rows = np.lexsort((day, invoice))
            self._receipt_columns = ReceiptColumns(
                invoice[order], day[order],
                # ok: statistics (shares of what was billed), not money
                np.fromiter(map(float, map(_AMOUNT, rows)), np.float64, size)[order],
                np.fromiter(map("payment".__eq__, map(_KIND, rows)), bool, size)[order])
        return self._receipt_columns

    def item_arrays(self) -> ItemArrays:
        """Every item as columns, made once (until :meth:`index`): learning the delays and
        the open items both read them."""
        if self._item_arrays is None:
            items = self.items
            size = len(items)
            invoice = np.fromiter(map(_INVOICE, items), np.int64, size)
            agencies = list(map(attrgetter("agency"), items))
            names = list(dict.fromkeys(agencies))
            code = {agency: k for k, agency in enumerate(names)}
            amounts = list(map(_AMOUNT, items))
            # alone on its invoice, with a due date known from its issue
            alone = np.ones(size, dtype=bool)
            same = invoice[1:] == invoice[:-1]
            alone[1:] &= ~same
            alone[:-1] &= ~same
            self._item_arrays = ItemArrays(
                invoice, np.fromiter(map(attrgetter("customer_id"), items), np.int64, size),
                names, np.fromiter(map(code.__getitem__, agencies), np.int64, size),
                np.fromiter(map(date.toordinal, map(attrgetter("issue_date"), items)),
                            np.int64, size),
                np.fromiter(map(date.toordinal, map(attrgetter("due_date"), items)),
                            np.int64, size),
                np.fromiter(map(_ZERO.__lt__, amounts), bool, size),
                # ok: weights for the delay distributions, not money
                np.fromiter(map(float, amounts), np.float64, size),
                alone & np.fromiter(map(is_, map(attrgetter("known_from"), items),
                                        repeat(None)), bool, size))
        return self._item_arrays

    def receipts_of(self, invoice_id: int) -> list[Receipt]:
        """The invoice's receipts, oldest first (filter by day before use)."""
        return self._by_invoice.get(invoice_id, [])

    @staticmethod
    def as_known(item: Item, day: date) -> Item:
        """The item as known at the end of ``day``: a statutory due date made from a claim's
        receipt after ``day`` was not known yet. The due date that stood then is the last of
        ``earlier`` from ``day`` or before (an earlier receipt's statutory due date, with its
        interest; the stopped clock's while the agency had the claim back), else
        ``due_before``: the invoice's own (or default) one, no statutory interest."""
        if item.known_from is None or day >= item.known_from or item.due_before is None:
            return item
        due, statutory = item.due_before, False
        for start, step_due, step_statutory in item.earlier:
            if start > day:
                break
            due, statutory = step_due, step_statutory
        return item._replace(due_date=due,
                             statutory_agency=item.statutory_agency if statutory else None,
                             known_from=None, due_before=None, earlier=())

    def open_items(self, day: date, items: Iterable[Item] | None = None
                   ) -> list[tuple[Item, Decimal]]:
        """(item, open amount) of every item issued by ``day`` and unpaid at its end, with its
        due date as known then (:meth:`as_known`); an invoice's payments settle its earliest
        instalment first. ``items``: only these (whole invoices, in order), e.g.
        :meth:`Unsettled.at` (the others are known to be paid)."""
        out: list[tuple[Item, Decimal]] = []
        left: dict[int, Decimal] = {}
        as_known, index, zero = self.as_known, self._paid, Decimal(0)
        for item in self._maybe_open(day) if items is None else items:
            if item.issue_date > day:
                continue
            if item.known_from is not None:  # as_known leaves the others as they are
                item = as_known(item, day)
            invoice_id = item.invoice_id
            paid = left.get(invoice_id)
            if paid is None:  # paid_by, inline
                entry = index.get(invoice_id)
                if entry is None:
                    paid = zero
                else:
                    k = bisect_right(entry[0], day)
                    paid = entry[1][k - 1] if k else zero
            amount = item.amount
            settled = amount if amount < paid else paid  # min(paid, amount)
            left[invoice_id] = paid - settled
            if amount - settled > 0:
                out.append((item, amount - settled))
        return out

    def _maybe_open(self, day: date) -> list[Item]:
        """The items :meth:`open_items` reads at ``day``: those issued by then, less the ones
        alone on their invoice (a due date known from the issue) paid in full by then, whose
        open amount is nothing: paid ≥ amount. Beyond any rounding when the float sum of
        their receipts by ``day`` exceeds the amount by more than a billionth of the amounts
        added (float error is ~1e-16 of it per addition); else, when every receipt of the
        invoice is by ``day`` and the sums are near, by the exact Decimal total
        (:meth:`paid_by`'s). Every other item keeps the exact step, in order (an item alone
        on its invoice touches no other's)."""
        cols = self.item_arrays()
        size, d = cols.invoice.size, day.toordinal()
        if not size:
            return []
        inv, days, amount, _ = self.receipt_columns()
        owner = np.minimum(np.searchsorted(cols.invoice, inv), size - 1)
        mine = cols.invoice[owner] == inv
        by = mine & (days <= d)
        paid = np.bincount(owner[by], amount[by], minlength=size)
        margin = 1e-9 * (np.bincount(owner[by], np.abs(amount[by]), minlength=size)
                         + np.abs(cols.total))
        over = paid - cols.total
        done = cols.plain & (over > margin)
        # near: every receipt by ``day`` (so paid_by is the last running total), exactly
        near = cols.plain & ~done & (np.abs(over) <= margin) & \
            (np.bincount(owner[by], minlength=size) > 0) & \
            (np.bincount(owner[mine & (days > d)], minlength=size) == 0)
        at = np.flatnonzero(near)
        if at.size:  # paid ≥ amount, exactly: an invoice's one receipt read off the list
            one = np.searchsorted(inv, cols.invoice[at])
            alone = np.flatnonzero(np.append(inv[1:] != inv[:-1], True)[one])
            done[at] = np.fromiter(map(ge, self._totals(at, one, alone), map(
                _AMOUNT, map(self.items.__getitem__, at.tolist()))), bool, at.size)
        keep = np.flatnonzero((cols.issue <= d) & ~done).tolist()
        if len(keep) < 2:
            return [self.items[k] for k in keep]
        return list(itemgetter(*keep)(self.items))

    def _totals(self, at: np.ndarray, first: np.ndarray, alone: np.ndarray
                ) -> list[Decimal]:
        """The Decimal sum of every receipt of the invoices of the items at ``at`` (each with
        receipts): of an invoice with one receipt (``alone``: positions in ``at``; ``first``:
        its row in :meth:`receipt_columns`) that receipt's amount, gathered from the
        receipts as read; of the others the last running total of :meth:`paid_by`."""
        assert self._receipt_rows is not None  # made with the receipt columns
        rows = self._receipt_rows[first[alone]].tolist()
        out = list(itemgetter(*rows)(list(map(_AMOUNT, self.receipts)))) \
            if len(rows) > 1 else [self.receipts[k].amount for k in rows]
        if len(rows) == at.size:
            return out
        full: list[Decimal] = [self._paid[self.items[k].invoice_id][1][-1]
                               for k in at.tolist()]
        for k, total in zip(alone.tolist(), out, strict=True):
            full[k] = total
        return full

    def settled_on(self, invoice_id: int, amount: Decimal) -> date:
        """The first day from which everything applied to the invoice stays at ``amount`` or
        more for good (``date.max``: never; ``date.min``: ``amount`` is nothing)."""
        days, running = self._paid.get(invoice_id, ([], []))
        if amount <= 0:
            return date.min
        if not running or running[-1] < amount:
            return date.max
        k = len(running) - 1
        while k > 0 and running[k - 1] >= amount:
            k -= 1
        return days[k]

    def segment(self, customer_id: int) -> str:
        return self.customers.get(customer_id, ("", "customer"))[1] or "customer"

    def name(self, customer_id: int) -> str:
        return self.customers.get(customer_id, (f"customer #{customer_id}", ""))[0]


class Unsettled:
    """The items that may be open at a day, for many days (the backtest): those of invoices
    with an item issued by then and not paid in full for good by then (every item issued and
    :meth:`Ledger.settled_on` the sum of its positive amounts). An invoice left out has nothing
    open: its payments cover every item, whatever order they settle in."""

    def __init__(self, ledger: Ledger) -> None:
        self.items = ledger.items
        self.spans: list[tuple[int, int]] = []
        self.first: list[date] = []
        self.last: list[date] = []
        self.settled: list[date] = []
        self._arrays: tuple[np.ndarray, ...] | None = None
        k = 0
        while k < len(self.items):
            j, invoice = k, self.items[k].invoice_id
            while j < len(self.items) and self.items[j].invoice_id == invoice:
                j += 1
            group = self.items[k:j]
            self.spans.append((k, j))
            self.first.append(min(i.issue_date for i in group))
            self.last.append(max(i.issue_date for i in group))
            self.settled.append(ledger.settled_on(invoice, sum(
                (i.amount for i in group if i.amount > 0), Decimal(0))))
            k = j

    def at(self, day: date) -> list[Item]:
        """The items of every invoice that may be open at the end of ``day``, in order."""
        if self._arrays is None:
            self._arrays = tuple(np.asarray([d.toordinal() for d in days], dtype=np.int64)
                                 for days in (self.first, self.last, self.settled))
        first, last, settled = self._arrays
        d = day.toordinal()
        out: list[Item] = []
        for n in np.nonzero((first <= d) & ((settled > d) | (last > d)))[0].tolist():
            k, j = self.spans[n]
            out += self.items[k:j]
        return out
