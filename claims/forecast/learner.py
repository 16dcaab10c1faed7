"""Learning once for many as-of dates (the backtest): :class:`Learner`. Pure.

:func:`~claims.forecast.history.learn` reads the whole ledger for one as-of date; a backtest
over 52 dates read it 52 times (on a 1,000,000-invoice history, most of the time). The
learner walks the ledger once, in the order facts became known, and keeps every fact as an
array row with the day it became known: a payment's slot and weight in its invoice's delay
sample, the amount still open after it, a promise's outcome; the claims' stages are
:func:`~claims.forecast.stage_facts.stage_facts`, the build :func:`learn` makes too.
:meth:`Learner.at` then selects what was known by the end of a day (nothing dated later:
the same no-look-ahead cut as :func:`learn`) and sums it per customer, agency or segment,
and everyone, in one numpy pass.

Same figures as :func:`learn`, to the bit: the sums add the same weights in the same order
(``np.bincount`` adds in input order; the rows keep the ledger's item and receipt order), the
estimate is :func:`~claims.forecast.distributions.estimate_rows` for both, and what depends on
the as-of day in ways a prefix cannot express — invoices with instalments (a payment settles
the earliest one in the window first) and statutory due dates known only later — goes through
the one-item step of :func:`learn` itself for every day (they are few).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

import numpy as np

from claims.forecast.distributions import (
    estimate_rows, median_of, open_slot,
)
from claims.forecast.history import (
    GLOBAL, Behaviour, count_outcomes, in_window, learn, put_delay, parent_key,
    promise_outcomes, receipt_shares,
)
from claims.forecast.ledger import Item, Ledger
from claims.forecast.stage_facts import OPEN_SLOTS, WIDTH, slots, stage_facts, stages_at



def _ord(day: date) -> int:
    return day.toordinal()


def _columns(rows: list[tuple[Any, ...]], names: str, dtypes: str) -> dict[str, np.ndarray]:
    """Rows → one array per column (``names`` and numpy ``dtypes`` space-separated): one
    float64 table first (exact for day ordinals, rows, slots and flags), then each column."""
    table = np.asarray(rows, dtype=np.float64).reshape(len(rows), len(names.split()))
    return {n: table[:, k].astype(t)
            for k, (n, t) in enumerate(zip(names.split(), dtypes.split(), strict=True))}


class Groups:
    """Sample keys (customer ids, parent keys, agencies) → rows; row 0 is everyone."""

    def __init__(self) -> None:
        self.index: dict[object, int] = {GLOBAL: 0}

    def __call__(self, key: object) -> int:
        return self.index.setdefault(key, len(self.index))

    def __len__(self) -> int:
        return len(self.index)


class Learner:
    """:func:`learn` for many as-of dates from one walk over ``ledger`` (see the module
    docstring); ``learner.at(day) == learn(ledger, day, ...)`` with the same settings."""

    def __init__(self, ledger: Ledger, *, window_days: int = 365, prior: float = 10.0,
                 grace_days: int = 0) -> None:
        self.ledger, self.window, self.prior, self.grace = ledger, window_days, prior, grace_days
        self.delay_groups = Groups()
        self.stages = stage_facts(ledger)
        self.in_order = self.stages.in_order  # else no prefix to cut: learn() each day
        self._delay_facts()
        self.outcomes = promise_outcomes(ledger, date.max, grace_days)

    def _delay_facts(self) -> None:
        """Items of one-item invoices with a fixed due date: a row each; their receipts in
        the order :func:`learn` takes them: a row each with the share left open after it.
        The other items (instalments, statutory due dates) are kept for :meth:`at`."""
        ledger, group = self.ledger, self.delay_groups
        per_invoice: dict[int, int] = defaultdict(int)
        for item in ledger.items:
            per_invoice[item.invoice_id] += 1
        items: list[tuple[Any, ...]] = []
        shares: list[tuple[Any, ...]] = []
        self.others: list[tuple[int, Item]] = []
        parents: dict[tuple[str | None, int], int] = {}
        for pos, item in enumerate(ledger.items):
            if per_invoice[item.invoice_id] > 1 or item.known_from is not None:
                self.others.append((pos, item))
                continue
            if item.amount <= 0:
                continue
            pkey = (item.agency, item.customer_id)
            if pkey not in parents:
                parents[pkey] = group(parent_key(ledger, item))
            k = len(items)
            items.append((pos, _ord(item.due_date), _ord(item.issue_date),
                          group(item.customer_id), parents[pkey]))
            total = float(item.amount)  # ok: a weight for the delay distribution, not money
            for day, payment, slot, weight, delay, left in receipt_shares(
                    ledger, item, date.max, 0.0)[0]:
                shares.append((k, _ord(day), payment, slot, weight, delay, left / total,
                               left > 0))
        self.items = _columns(items, "pos due issue cust parent", "i8 i8 i8 i8 i8")
        self.shares = _columns(shares, "item day payment slot weight delay left open",
                               "i8 i8 ? i8 f8 i8 f8 ?")

    def at(self, day: date) -> Behaviour:
        """What :func:`learn` returns for ``day`` with this learner's settings."""
        if not self.in_order:  # a claim's events out of time order: no prefix to cut
            return learn(self.ledger, day, window_days=self.window, prior=self.prior,
                         grace_days=self.grace)
        b = Behaviour(prior=self.prior)
        self._delays_at(day, b)
        b.review, b.correction, b.lateness = stages_at(
            self.stages, _ord(day), _ord(day - timedelta(days=self.window)))
        count_outcomes(self.outcomes, day, b)
        return b

    def _delays_at(self, day: date, b: Behaviour) -> None:
        """The delay samples of every customer, parent and everyone as :func:`learn` adds
        them, one ``np.bincount`` each for paid and censored (it adds in input order)."""
        d, since = _ord(day), _ord(day - timedelta(days=self.window))
        it, sh = self.items, self.shares
        live = (it["due"] >= since) & (it["due"] <= d) & (it["issue"] <= d)
        sel = np.nonzero(live[sh["item"]] & (sh["day"] <= d))[0]
        left, still = np.ones(live.size), np.ones(live.size, dtype=bool)
        if sel.size:  # the share still open: after the item's last receipt by ``day``
            owner = sh["item"][sel]
            last = sel[np.append(owner[1:] != owner[:-1], True)]
            left[sh["item"][last]] = sh["left"][last]
            still[sh["item"][last]] = sh["open"][last]
        pay, off = sel[sh["payment"][sel]], sel[~sh["payment"][sel]]
        rows = np.nonzero(live)[0]
        opened = rows[still[rows]]
        owner_pay, owner_off = sh["item"][pay], sh["item"][off]
        paid = [(it["pos"][owner_pay], it["cust"][owner_pay], it["parent"][owner_pay],
                 sh["slot"][pay], sh["weight"][pay])]
        censored = [(2 * it["pos"][owner_off], it["cust"][owner_off], it["parent"][owner_off],
                     sh["slot"][off], sh["weight"][off]),
                    (2 * it["pos"][opened] + 1, it["cust"][opened], it["parent"][opened],
                     slots(OPEN_SLOTS, d - it["due"][opened]), left[opened])]
        lags = [(it["cust"][owner_pay], sh["delay"][pay])]
        counted = [(it["cust"][rows], it["parent"][rows])]
        self._others_at(day, paid, censored, lags, counted)
        size = len(self.delay_groups)
        keys = list(self.delay_groups.index)
        for g, dist in enumerate(estimate_rows(_sum(paid, size), _sum(censored, size),
                                               _count(counted, size))):
            if dist is not None:
                put_delay(b, keys[g], dist)
        b.lag_days = _medians(lags, keys)

    def _others_at(self, day: date, paid: list[Any], censored: list[Any], lags: list[Any],
                   counted: list[Any]) -> None:
        """The items kept out of the arrays, through :func:`learn`'s own step, in order."""
        ledger, group = self.ledger, self.delay_groups
        since = day - timedelta(days=self.window)
        used: dict[int, float] = {}
        rows: list[tuple[int, int, int, int, float]] = []
        gone: list[tuple[int, int, int, int, float]] = []
        delays: list[tuple[int, int]] = []
        seen: list[tuple[int, int]] = []
        for pos, known in self.others:
            item = in_window(ledger, known, day, since)
            if item is None or item.amount <= 0:
                continue
            total = float(item.amount)  # ok: a weight for the delay distribution, not money
            cust, parent = group(item.customer_id), group(parent_key(ledger, item))
            shares, left = receipt_shares(ledger, item, day, used.get(item.invoice_id, 0.0))
            for _, payment, slot, weight, delay, _ in shares:
                if payment:
                    rows.append((pos, cust, parent, slot, weight))
                    delays.append((cust, delay))
                else:
                    gone.append((2 * pos, cust, parent, slot, weight))
            used[item.invoice_id] = used.get(item.invoice_id, 0.0) + total - left
            if left > 0:
                gone.append((2 * pos + 1, cust, parent, open_slot((day - item.due_date).days),
                             left / total))
            seen.append((cust, parent))
        for target, extra, types in ((paid, rows, "i8 i8 i8 i8 f8"),
                                     (censored, gone, "i8 i8 i8 i8 f8"),
                                     (lags, delays, "i8 i8"), (counted, seen, "i8 i8")):
            if extra:
                names = " ".join(f"c{k}" for k in range(len(types.split())))
                target.append(tuple(_columns(extra, names, types).values()))


def _sum(parts: list[tuple[np.ndarray, ...]], size: int) -> np.ndarray:
    """(order key, customer row, parent row, slot, weight) parts → groups × slots, each cell
    adding its weights in key order (stable: a key's own rows keep theirs)."""
    key, cust, parent, slot, weight = (np.concatenate([p[k] for p in parts]) for k in range(5))
    if len(parts) > 1:
        order = np.argsort(key, kind="stable")
        cust, parent, slot, weight = cust[order], parent[order], slot[order], weight[order]
    cells = np.concatenate((cust * WIDTH + slot, parent * WIDTH + slot, slot))
    return np.bincount(cells, np.concatenate((weight, weight, weight)),
                       minlength=size * WIDTH).reshape(size, WIDTH)


def _count(parts: list[tuple[np.ndarray, ...]], size: int) -> np.ndarray:
    cust = np.concatenate([p[0] for p in parts])
    parent = np.concatenate([p[1] for p in parts])
    n = (np.bincount(cust, minlength=size) + np.bincount(parent, minlength=size)).astype(float)
    n[0] = float(cust.size)  # ok: a count of items
    return n


def _medians(parts: list[tuple[np.ndarray, ...]], keys: list[object]) -> dict[int, int]:
    """Each customer's lower median delay (:func:`median_of`) of its payments."""
    cust = np.concatenate([p[0] for p in parts])
    delay = np.concatenate([p[1] for p in parts])
    if cust.size == 0:
        return {}
    order = np.lexsort((delay, cust))
    cust, delay = cust[order], delay[order]
    starts = np.flatnonzero(np.append(True, cust[1:] != cust[:-1]))
    ends = np.append(starts[1:], cust.size)
    out: dict[int, int] = {}
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        key = keys[int(cust[s])]
        out[key] = median_of(delay[s:e].tolist())  # type: ignore[index, assignment]
    return out
