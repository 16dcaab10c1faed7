"""What customers, agencies and portals have done, as known at an as-of date. Pure.

:func:`learn` reads a :class:`~claims.forecast.ledger.Ledger` up to the end of the as-of day
and returns :class:`Behaviour`: delay distributions (days to pay after the due date, per
customer, per agency or segment, and for everyone), the portal stages (review time, correction
time, lateness after approval + contract payment days), and how often promises and plan
instalments are kept. Only facts dated on or before the as-of day are read.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from claims.forecast.columns import ItemColumns, Parts, cells, settle_plain
from claims.forecast.distributions import (
    SPAN, Dist, Sample, complete, estimate_rows, lower_median_at, mix,
    open_slot, paid_slot,
)
from claims.forecast.ledger import APPROVED, ClaimFacts, Item, Ledger
from claims.forecast.stage_facts import stage_facts, stages_at

GLOBAL = "everyone"


def parent_key(ledger: Ledger, item: Item) -> str:
    """The group a customer's item falls back to: its contract's agency, else the segment."""
    return parent_of(ledger, item.agency, item.customer_id)


def parent_of(ledger: Ledger, agency: str | None, customer_id: int) -> str:
    """:func:`parent_key` of an item of ``customer_id`` billing ``agency``'s contract."""
    return f"agency {agency}" if agency else f"segment {ledger.segment(customer_id)}"


@dataclass
class Behaviour:
    """Learned behaviour; every ``Dist`` is the Kaplan–Meier estimate of its group."""

    customer: dict[int, Dist] = field(default_factory=dict)
    parent: dict[str, Dist] = field(default_factory=dict)
    everyone: Dist | None = None
    lag_days: dict[int, int] = field(default_factory=dict)   # customer: recent median delay
    review: dict[str, Dist] = field(default_factory=dict)    # agency (and GLOBAL)
    correction: dict[str, Dist] = field(default_factory=dict)
    lateness: dict[str, Dist] = field(default_factory=dict)
    promise_rate: dict[int, tuple[int, int]] = field(default_factory=dict)  # kept, total
    plan_rate: dict[int, tuple[int, int]] = field(default_factory=dict)
    prior: float = 10.0
    #: mixes already made, by (customer, parent) and (stage table, agency): a mix is the same
    #: for every item of a customer, and building one walks the whole delay range
    _mixed: dict[tuple[object, ...], object] = field(default_factory=dict, repr=False,
                                                     compare=False)

    def delay(self, item: Item, parent: str) -> tuple[Dist | None, str]:
        """The item's delay distribution and where it came from (for the drill-down)."""
        key = ("delay", item.customer_id, parent)
        if key not in self._mixed:
            p = self._parent_mix(parent)
            own = self.customer.get(item.customer_id)
            d = complete(mix(own, p, self.prior))
            n = int(own.n) if own else 0
            source = (f"customer's own history ({n} invoices)" if own and own.n >= self.prior
                      else f"customer's {n} invoices shrunk toward {parent} and everyone")
            self._mixed[key] = (d, source)
        return self._mixed[key]  # type: ignore[return-value]

    def _parent_mix(self, parent: str) -> Dist | None:
        key = ("parent", parent)
        if key not in self._mixed:
            self._mixed[key] = mix(self.parent.get(parent), self.everyone, self.prior)
        return self._mixed[key]  # type: ignore[return-value]

    @staticmethod
    def overall_rate(table: dict[int, tuple[int, int]]) -> float:
        """Kept / made of everyone (0.5 with no record)."""
        kept = sum(k for k, _ in table.values())
        made = sum(n for _, n in table.values())
        return kept / made if made else 0.5

    def stage(self, table: dict[str, Dist], agency: str) -> Dist | None:
        key = ("stage", id(table), agency)
        if key not in self._mixed:
            self._mixed[key] = complete(mix(table.get(agency), table.get(GLOBAL), self.prior))
        return self._mixed[key]  # type: ignore[return-value]

    def rate(self, table: dict[int, tuple[int, int]], customer_id: int,
             overall: float | None = None) -> float:
        """Kept / made for the customer, shrunk toward everyone's rate (0.5 with no record);
        ``overall``: :meth:`overall_rate` of ``table`` when the caller has it already (one
        sum for many customers, not one per customer)."""
        if overall is None:
            overall = self.overall_rate(table)
        own_kept, own_made = table.get(customer_id, (0, 0))
        prior = 3.0
        return (own_kept + prior * overall) / (own_made + prior)


def learn(ledger: Ledger, day: date, *, window_days: int = 365, prior: float = 10.0,
          grace_days: int = 0) -> Behaviour:
    """:class:`Behaviour` from the facts known at the end of ``day``, over the last
    ``window_days`` (behaviour drifts: old habits count no more)."""
    b = Behaviour(prior=prior)
    since = day - timedelta(days=window_days)
    _learn_delays(ledger, day, since, b)
    facts = stage_facts(ledger)
    if facts.in_order:  # every loaded ledger: its events are read in time order
        b.review, b.correction, b.lateness = stages_at(facts, day.toordinal(),
                                                       since.toordinal())
    else:
        _learn_stages(ledger, day, since, b)
    count_outcomes(promise_outcomes(ledger, day, grace_days), day, b)
    return b


def in_window(ledger: Ledger, item: Item, day: date, since: date) -> Item | None:
    """The item as known at the end of ``day`` if its due date falls ``since`` … ``day``."""
    if item.issue_date > day:  # not issued yet (as_known keeps the issue date)
        return None
    item = ledger.as_known(item, day)   # a statutory due date made later was not known
    if item.due_date > day or item.due_date < since or item.issue_date > day:
        return None
    return item


#: a receipt's share of an item: (value day, payment?, slot, weight, delay, left after it)
Share = tuple[date, bool, int, float, int, float]


def receipt_shares(ledger: Ledger, item: Item, day: date, skip: float
                   ) -> tuple[list[Share], float]:
    """The item's receipts by ``day`` in the order they settle it, after ``skip`` (what its
    invoice's earlier items took), and the amount left open; a payment's slot is in the paid
    sample, a write-off's is the censored "never" (SPAN)."""
    total = float(item.amount)  # ok: a weight for the delay distribution, not money
    left = total
    out: list[Share] = []
    for r in ledger.receipts_of(item.invoice_id):
        if r.day > day or left <= 0:
            break
        amount = float(r.amount)  # ok: statistics, not money
        if skip > 0:
            taken = min(skip, amount)
            skip -= taken
            amount -= taken
        share = min(amount, left)
        if share <= 0:
            continue
        left -= share
        delay = (r.day - item.due_date).days
        payment = r.kind == "payment"
        out.append((r.day, payment, paid_slot(delay) if payment else SPAN, share / total,
                    delay, left))
    return out, left


def _learn_delays(ledger: Ledger, day: date, since: date, b: Behaviour) -> None:
    """Per item due in the window: each payment by ``day`` at its delay, the rest open
    (censored at ``day − due``), write-offs as never.

    Column-wise (a Python step per item and receipt was most of learning): an item alone on
    its invoice with a due date known from its issue (nearly all) is settled by its receipts
    one rank at a time for all such items at once (:func:`settle_plain`); the others go
    through :func:`receipt_shares` in item order. Each sample's cells add the same weights
    in the same order as the item-by-item loop (sorted by item, then receipt:
    ``np.bincount`` adds in input order): the same floats."""
    cols = ItemColumns(ledger)
    d = day.toordinal()
    live = cols.plain & (cols.issue <= d) & (cols.due >= since.toordinal()) & \
        (cols.due <= d) & cols.positive
    paid, censored, lags, width = settle_plain(cols, live, ledger.receipt_columns(), d)
    counted = _others(ledger, cols, day, since, width, paid, censored, lags)
    live[counted] = True  # the others counted: disjoint from the plain ones
    counted = np.flatnonzero(live)
    if not counted.size:  # nothing due in the window: no sample at all
        return
    keys, cust_of, parent_of = _delay_groups(ledger, cols, counted)
    size = len(keys)
    n = np.bincount(cust_of[counted], minlength=size) + np.bincount(parent_of[counted],
                                                                     minlength=size)
    n[keys.index(GLOBAL)] += counted.size
    dists = estimate_rows(cells(paid, cust_of, parent_of, keys.index(GLOBAL), size),
                          cells(censored, cust_of, parent_of, keys.index(GLOBAL), size),
                          n.astype(np.float64))
    for key, dist in zip(keys, dists, strict=True):
        if dist is not None:
            put_delay(b, key, dist)
    pos = np.concatenate([p for p, _ in lags]) if lags else np.zeros(0, dtype=np.int64)
    delay = np.concatenate([x for _, x in lags]) if lags else np.zeros(0, dtype=np.int64)
    rows = cust_of[pos]
    order = np.lexsort((delay, rows))
    rows, delay = rows[order], delay[order]
    starts = np.flatnonzero(np.append(True, rows[1:] != rows[:-1])) if rows.size else rows
    ends = np.append(starts[1:], rows.size)[:starts.size]
    # each customer's run of delays is in order already: its lower median read off it
    at = starts + lower_median_at(ends - starts)  # type: ignore[arg-type]
    b.lag_days = dict(zip(map(keys.__getitem__, rows[starts].tolist()),  # type: ignore[arg-type]
                          delay[at].tolist(), strict=True))


def _others(ledger: Ledger, cols: ItemColumns, day: date, since: date, width: int,
            paid: Parts, censored: Parts, lags: list[tuple[np.ndarray, np.ndarray]]
            ) -> list[int]:
    """The items not settled column-wise (instalments, statutory due dates known later),
    item by item through :func:`receipt_shares` as the loop took them, added to the parts;
    the positions of those counted."""
    used: dict[int, float] = {}
    rows: list[tuple[int, int, int, float]] = []
    gone: list[tuple[int, int, int, float]] = []
    late: list[tuple[int, int]] = []
    counted: list[int] = []
    for pos in np.flatnonzero(~cols.plain & (cols.issue <= day.toordinal())).tolist():
        item = in_window(ledger, cols.items[pos], day, since)
        if item is None or item.amount <= 0:
            continue
        total = float(item.amount)  # ok: a weight for the delay distribution, not money
        shares, left = receipt_shares(ledger, item, day, used.get(item.invoice_id, 0.0))
        for k, (_, payment, slot, weight, delay, _) in enumerate(shares):
            if payment:
                rows.append((pos * width + k, pos, slot, weight))
                late.append((pos, delay))
            else:
                gone.append((pos * width + k, pos, slot, weight))
        used[item.invoice_id] = used.get(item.invoice_id, 0.0) + total - left
        if left > 0:
            gone.append((pos * width + width - 1, pos, open_slot((day - item.due_date).days),
                         left / total))
        counted.append(pos)
    for target, extra in ((paid, rows), (censored, gone)):
        if extra:
            key, at, slot, weight = zip(*extra, strict=True)
            target.append((np.asarray(key, dtype=np.int64), np.asarray(at, dtype=np.int64),
                           np.asarray(slot, dtype=np.int64), np.asarray(weight)))
    if late:
        at, delay = zip(*late, strict=True)
        lags.append((np.asarray(at, dtype=np.int64), np.asarray(delay, dtype=np.int64)))
    return counted


def _delay_groups(ledger: Ledger, cols: ItemColumns, counted: np.ndarray
                  ) -> tuple[list[object], np.ndarray, np.ndarray]:
    """The sample keys in the order the loop made them (per (agency, customer) first met in
    item order: the customer, its parent group, everyone), and per item position its
    customer's and parent's rows."""
    items = cols.items
    met = np.stack((cols.agency[counted], cols.customer[counted]), axis=1)
    low, high = (int(met[:, 1].min()), int(met[:, 1].max())) if counted.size else (0, 0)
    if (high - low + 1) * len(cols.agencies) < 2**62:  # a pair as one number: a 1-d sort
        pair = met[:, 0] * (high - low + 1) + (met[:, 1] - low)
        _, first, inverse = np.unique(pair, return_index=True, return_inverse=True)
    else:
        _, first, inverse = np.unique(met, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(first)  # the pairs in the order first met
    rank = np.empty(order.size, dtype=np.int64)
    rank[order] = np.arange(order.size)
    index: dict[object, int] = {}
    cust, parent = [], []
    for code, customer in met[first[order]].tolist():
        agency = cols.agencies[code]
        cust.append(index.setdefault(customer, len(index)))
        parent.append(index.setdefault(parent_of(ledger, agency, customer), len(index)))
        index.setdefault(GLOBAL, len(index))
    at = rank[inverse.reshape(-1)]
    cust_of = np.zeros(len(items), dtype=np.int64)
    parent_of_ = np.zeros(len(items), dtype=np.int64)
    cust_of[counted] = np.asarray(cust, dtype=np.int64)[at] if at.size else 0
    parent_of_[counted] = np.asarray(parent, dtype=np.int64)[at] if at.size else 0
    return list(index), cust_of, parent_of_


def stage_observations(events: tuple[tuple[date, str], ...] | list[tuple[date, str]]
                       ) -> list[tuple[int, date, date | None]]:
    """(table, start, end) of the claim's reviews (table 0: submitted → approved or returned)
    and corrections (table 1: returned → submitted again); end ``None`` while it lasts.

    One pass from the last event back, carrying the next end of each kind (a scan of the
    later events per event was a fifth of learning the stages; the same observations)."""
    out: list[tuple[int, date, date | None]] = []
    review_end: date | None = None
    correction_end: date | None = None
    for at, st in reversed(events):
        if st == "SUBMITTED":
            out.append((0, at, review_end))
            correction_end = at
        elif st == "RETURNED":
            out.append((1, at, correction_end))
            review_end = at
        elif st in APPROVED:
            review_end = at
    out.reverse()
    return out


def put_delay(b: Behaviour, key: object, dist: Dist) -> None:
    """File a learned delay under its key: everyone, a customer (int) or a parent group."""
    if key == GLOBAL:
        b.everyone = dist
    elif isinstance(key, int):
        b.customer[key] = dist
    else:
        b.parent[str(key)] = dist


def lateness_shares(ledger: Ledger, claim: ClaimFacts, approved: date,
                    until: date = date.max) -> list[tuple[date, int, float, float]]:
    """The payments after approval valued by ``until``, in value-date order: (day, slot of
    paid − (approved + payment days), share of the amount the invoice billed, share left
    after it); those by an earlier ``until`` are a prefix of those by a later one.

    The shares are of what the invoice billed (:meth:`Ledger.billed`, known from its issue),
    not of its receipts: these include receipts after any as-of date, and a share of them
    would let a later payment change what is learned as of an earlier day. Shares stop at
    the whole (an overpayment adds nothing); an invoice billing nothing (or not in the
    items) counts its first payment after approval as the whole."""
    target = approved + timedelta(days=claim.payment_days)
    billed = float(ledger.billed(claim.invoice_id))  # ok: statistics, not money
    left, out = 1.0, []
    for r in ledger.receipts_of(claim.invoice_id):
        if r.day > until:  # oldest first: the rest is later too
            break
        if r.kind != "payment" or r.day < approved or left <= 1e-9:
            continue
        amount = float(r.amount)  # ok: statistics, not money
        share = min(amount / billed, left) if billed > 0 else (1.0 if amount > 0 else 0.0)
        if share <= 0:
            continue
        left -= share
        out.append((r.day, paid_slot((r.day - target).days), share, left))
    return out


def _learn_stages(ledger: Ledger, day: date, since: date, b: Behaviour) -> None:
    """Review (submitted → approved or returned), correction (returned → submitted again),
    lateness (paid − (approved + payment days)), per agency and for everyone, claim by claim
    (:func:`stage_observations`, :func:`lateness_shares`): for a ledger whose claims' events
    are not all in time order. A loaded ledger's are: then
    :func:`~claims.forecast.stage_facts.stages_at` learns the same figures column-wise."""
    review: dict[str, Sample] = defaultdict(Sample)
    correction: dict[str, Sample] = defaultdict(Sample)
    lateness: dict[str, Sample] = defaultdict(Sample)
    for claim in ledger.claims:
        events = claim.events  # skipped by its first and last event as listed, as ever
        if not events or events[0][0] > day or events[-1][0] < since:
            continue
        events = [e for e in events if e[0] <= day]
        if not events or events[-1][0] < since:
            continue
        agency = claim.agency
        for table, start, end in stage_observations(events):
            samples = review if table == 0 else correction
            for s in (samples[agency], samples["everyone"]):
                if end is None:
                    s.add_open((day - start).days, 1.0)
                else:
                    s.add_paid((end - start).days, 1.0)
                s.count()
        approved = claim.first("APPROVED", day)
        if approved is None:
            continue
        shares = lateness_shares(ledger, claim, approved, day)
        left = shares[-1][3] if shares else 1.0
        late = (day - (approved + timedelta(days=claim.payment_days))).days
        for s in (lateness[agency], lateness["everyone"]):
            for _, slot, share, _ in shares:
                s.paid[slot] += share
            if left > 1e-9:
                s.add_open(late, left)
            s.count()
    for table, samples in ((b.review, review), (b.correction, correction),
                           (b.lateness, lateness)):
        for key, sample in samples.items():
            dist = sample.estimate()
            if dist is not None:
                table[GLOBAL if key == "everyone" else key] = dist


@dataclass
class Outcomes:
    """Whether each promise and plan instalment was kept, once its date + grace passed:
    promises (customer, made on, deadline, cancelled on, kept) and plans (customer, agreed
    on, cancelled on, [(deadline, kept) per instalment in order])."""

    promises: list[tuple[int, date, date, date | None, bool]]
    plans: list[tuple[int, date, date | None, list[tuple[date, bool]]]]


def promise_outcomes(ledger: Ledger, day: date, grace_days: int) -> Outcomes:
    """A promise (or plan instalment) is kept when the customer paid its amount (cumulative,
    for a plan's invoices) between when it was made and its date + grace, from the payments
    by ``day`` (an outcome counted at ``day`` has its date + grace before it: it reads only
    payments before ``day``, the same with any later ``day``)."""
    # the customer's payments valued start … end and by ``day``: two bisections in the
    # ledger's running totals per customer (made once, on first use, and read again by the
    # forecast's promises: one index per customer, not one here and one there)
    def paid_between(customer: int, start: date, end: date) -> float:
        paid = ledger.paid_by_customer(customer, start, min(end, day))
        return float(paid)  # ok: a keeping rate (statistics), not money

    grace = timedelta(days=grace_days)
    out = Outcomes([], [])
    for p in ledger.promises:
        deadline = p.promised_date + grace
        got = paid_between(p.customer_id, p.made_on, deadline)
        promised = float(p.amount)  # ok: a keeping rate (statistics), not money
        out.promises.append((p.customer_id, p.made_on, deadline, p.cancelled_on,
                             got >= promised - 0.005))
    for plan in ledger.plans:
        receipts = sorted((r.day, float(r.amount))  # ok: statistics, not money
                          for i in plan.invoice_ids
                          for r in ledger.receipts_of(i)
                          if r.kind == "payment" and plan.agreed_on <= r.day <= day)
        due_so_far, kept = 0.0, []
        for due, amount in plan.instalments:
            if due + grace >= day:
                break
            due_so_far += float(amount)  # ok: statistics, not money
            got = sum(a for d, a in receipts if d <= due + grace)
            kept.append((due + grace, got >= due_so_far - 0.005))
        out.plans.append((plan.customer_id, plan.agreed_on, plan.cancelled_on, kept))
    return out


def count_outcomes(outcomes: Outcomes, day: date, b: Behaviour) -> None:
    """Kept / made per customer of the promises and instalments whose date + grace passed
    by ``day`` (made by then and not cancelled)."""
    for customer, made_on, deadline, cancelled_on, ok in outcomes.promises:
        if made_on > day or deadline >= day or (cancelled_on and cancelled_on <= day):
            continue
        kept, made = b.promise_rate.get(customer, (0, 0))
        b.promise_rate[customer] = (kept + ok, made + 1)
    for customer, agreed_on, cancelled_on, instalments in outcomes.plans:
        if agreed_on > day or (cancelled_on and cancelled_on <= day):
            continue
        for deadline, ok in instalments:
            if deadline >= day:
                break
            kept, made = b.plan_rate.get(customer, (0, 0))
            b.plan_rate[customer] = (kept + ok, made + 1)
