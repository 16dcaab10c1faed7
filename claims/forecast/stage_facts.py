"""The portal stages of every claim as arrays, learned as of any day from one build. Pure.

:func:`stage_facts` reads every claim's events once, as columns (no Python step per event):
each review (submitted → approved or returned) and correction (returned → submitted again)
with the day it started and the day it ended (``NEVER`` while it lasts), each claim's first
approval and the payments after it (:func:`~claims.forecast.history.lateness_shares`, rank by
rank for all claims at once). :func:`stages_at` then keeps what was known by the end of a day
(nothing dated later: the cut of :func:`~claims.forecast.history.learn`) and estimates the
review, correction and lateness distributions per agency and for everyone.

One build serves one forecast (:func:`~claims.forecast.history.learn`) or the 52 as-of dates
of a backtest (:class:`~claims.forecast.learner.Learner`): the same code, the same floats.
It needs each claim's events in time order (the loader sorts them); ``in_order`` says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from itertools import chain
from operator import attrgetter, itemgetter

import numpy as np

from claims.forecast.distributions import DMAX, DMIN, SPAN, Dist, estimate_rows, open_slot, \
    paid_slot
from claims.forecast.ledger import APPROVED, Ledger

WIDTH = SPAN + 1  # a sample's slots: SPAN days and "later" (or never)
NEVER = 10**9     # the day ordinal of an end not reached
#: the group of every claim's stages together (row 0)
EVERYONE = "everyone"
_LOW = DMIN - 1
#: the slot of every delay from DMIN − 1 to DMAX + 1 (clipped beyond), by the one rule each
PAID_SLOTS = np.asarray([paid_slot(k) for k in range(_LOW, DMAX + 2)], dtype=np.int64)
OPEN_SLOTS = np.asarray([open_slot(k) for k in range(_LOW, DMAX + 2)], dtype=np.int64)
_EVENTS, _INVOICE = attrgetter("events"), attrgetter("invoice_id")
_FIRST, _SECOND = itemgetter(0), itemgetter(1)


def slots(table: np.ndarray, delays: np.ndarray) -> np.ndarray:
    """The slot of each delay by ``table`` (:data:`PAID_SLOTS` or :data:`OPEN_SLOTS`)."""
    return table[np.clip(delays, _LOW, DMAX + 1) - _LOW]


@dataclass
class StageFacts:
    """Every claim's stages (see the module docstring); rows are claims in ledger order."""

    keys: list[str]            # group rows: EVERYONE, then agencies as first met
    in_order: bool             # every claim's events in time order
    event_claim: np.ndarray    # per event: its claim and day ("an event in the window")
    event_day: np.ndarray
    obs_claim: np.ndarray      # reviews (table 0) and corrections (table 1)
    obs_table: np.ndarray
    obs_group: np.ndarray
    obs_start: np.ndarray
    obs_end: np.ndarray
    approved_on: np.ndarray    # per claim: its first approval (NEVER: none)
    target: np.ndarray         # per claim: approval + contract payment days
    group: np.ndarray          # per claim: its agency's row
    late_claim: np.ndarray     # per payment after approval, claim-major, oldest first
    late_day: np.ndarray
    late_slot: np.ndarray
    late_share: np.ndarray
    late_left: np.ndarray


def stage_facts(ledger: Ledger) -> StageFacts:
    """The stage facts of every claim of ``ledger`` (see the module docstring)."""
    claims = ledger.claims
    counts = np.fromiter(map(len, map(_EVENTS, claims)), np.int64, len(claims))
    flat = list(chain.from_iterable(map(_EVENTS, claims)))
    days, statuses = list(map(_FIRST, flat)), list(map(_SECOND, flat))
    day = np.fromiter(map(date.toordinal, days), np.int64, len(flat))
    owner = np.repeat(np.arange(len(claims)), counts)
    same = owner[1:] == owner[:-1]
    in_order = bool(np.all(~same | (day[1:] >= day[:-1])))
    names = list(dict.fromkeys(statuses))
    code = np.fromiter(map({s: k for k, s in enumerate(names)}.__getitem__, statuses),
                       np.int64, len(flat))

    def among(wanted: object) -> np.ndarray:
        return np.isin(code, [k for k, s in enumerate(names) if s in wanted])  # type: ignore

    submitted, returned, approved = among({"SUBMITTED"}), among({"RETURNED"}), among(APPROVED)
    agencies = list(map(attrgetter("agency"), claims))
    keys = {key: k for k, key in enumerate(dict.fromkeys([EVERYONE, *agencies]))}
    group = np.fromiter(map(keys.__getitem__, agencies), np.int64, len(claims))
    # a review ends at the next approval or return of its claim, a correction at the next
    # submission (stage_observations, from the last event back)
    review_end = _next_day(owner, day, returned | approved)
    correction_end = _next_day(owner, day, submitted)
    obs = np.flatnonzero(submitted | returned)
    is_review = submitted[obs]
    first_approval = _first_day(owner, day, among({"APPROVED"}), len(claims))
    payment_days = np.fromiter(map(attrgetter("payment_days"), claims), np.int64, len(claims))
    return StageFacts(
        list(keys), in_order, owner, day,
        owner[obs], np.where(is_review, 0, 1), group[owner[obs]], day[obs],
        np.where(is_review, review_end[obs], correction_end[obs]),
        first_approval, first_approval + payment_days, group,
        *_lateness(ledger, first_approval, payment_days))


def _next_day(owner: np.ndarray, day: np.ndarray, mark: np.ndarray) -> np.ndarray:
    """Per event: the day of the next later event of its claim that ``mark`` marks, NEVER
    when there is none."""
    size = owner.size
    at = np.where(mark, np.arange(size), size)
    # the first marked position at or after each one, then the one strictly after
    nxt = np.minimum.accumulate(at[::-1])[::-1]
    after = np.append(nxt[1:], size)[:size]
    found = np.flatnonzero(after < size)
    found = found[owner[after[found]] == owner[found]]  # of the same claim
    out = np.full(size, NEVER, dtype=np.int64)
    out[found] = day[after[found]]
    return out


def _first_day(owner: np.ndarray, day: np.ndarray, mark: np.ndarray, claims: int
               ) -> np.ndarray:
    """Per claim: the day of its first event that ``mark`` marks (NEVER: none)."""
    out = np.full(claims, NEVER, dtype=np.int64)
    where = np.flatnonzero(mark)[::-1]  # the first of a claim written last
    out[owner[where]] = day[where]
    return out


def _lateness(ledger: Ledger, approved_on: np.ndarray, payment_days: np.ndarray
              ) -> tuple[np.ndarray, ...]:
    """:func:`~claims.forecast.history.lateness_shares` of every approved claim (until any
    day), the k-th receipt of every such claim at once, k = 0, 1, …: elementwise, the same
    floats; rows claim-major, oldest receipt first."""
    inv, rday, amount, payment = ledger.receipt_columns()
    claims = np.flatnonzero(approved_on < NEVER)
    invoice = np.fromiter(map(_INVOICE, ledger.claims), np.int64, len(ledger.claims))[claims]
    billed = np.fromiter(map(float, ledger.billed_many(invoice.tolist())),  # ok: statistics
                         np.float64, claims.size)
    start = np.searchsorted(inv, invoice, side="left")
    count = np.searchsorted(inv, invoice, side="right") - start
    left = np.ones(claims.size)
    target = approved_on[claims] + payment_days[claims]
    parts: list[tuple[np.ndarray, ...]] = []
    for k in range(int(count.max(initial=0))):
        sel = np.flatnonzero(count > k)
        r = start[sel] + k
        share = np.where(billed[sel] > 0, amount[r] / np.where(billed[sel] > 0, billed[sel],
                                                                1.0), 0.0)
        share = np.where(billed[sel] > 0, np.minimum(share, left[sel]),
                         np.where(amount[r] > 0, 1.0, 0.0))
        go = payment[r] & (rday[r] >= approved_on[claims[sel]]) & (left[sel] > 1e-9) & \
            (share > 0)
        sel, r, share = sel[go], r[go], share[go]
        left[sel] -= share
        parts.append((sel, np.full(sel.size, k), rday[r],
                      slots(PAID_SLOTS, rday[r] - target[sel]), share, left[sel].copy()))
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty, np.zeros(0), np.zeros(0)
    row, rank, rd, slot, share, after = (np.concatenate([p[j] for p in parts])
                                         for j in range(6))
    order = np.lexsort((rank, row))
    return claims[row[order]], rd[order], slot[order], share[order], after[order]


def stages_at(facts: StageFacts, day: int, since: int
              ) -> tuple[dict[str, Dist], dict[str, Dist], dict[str, Dist]]:
    """Review, correction and lateness per agency (and ``everyone``) as known at the end of
    the day ordinal ``day``, from claims with an event ``since`` … ``day``. Every review or
    correction weighs 1 (sums exact in any order); lateness weighs each payment's share."""
    size, keys = len(facts.keys), facts.keys
    recent = np.zeros(facts.group.size, dtype=bool)
    recent[facts.event_claim[(facts.event_day >= since) & (facts.event_day <= day)]] = True
    tables: list[dict[str, Dist]] = []
    for t in (0, 1):
        mine = (facts.obs_table == t) & recent[facts.obs_claim] & (facts.obs_start <= day)
        done, wait = mine & (facts.obs_end <= day), mine & (facts.obs_end > day)
        paid = _sum(facts.obs_group[done],
                    slots(PAID_SLOTS, facts.obs_end[done] - facts.obs_start[done]),
                    np.ones(int(done.sum())), size)
        cens = _sum(facts.obs_group[wait], slots(OPEN_SLOTS, day - facts.obs_start[wait]),
                    np.ones(int(wait.sum())), size)
        tables.append(_estimate(keys, paid, cens, _count(facts.obs_group[mine], size)))
    who = np.flatnonzero(recent & (facts.approved_on <= day))
    sel = np.flatnonzero(recent[facts.late_claim] & (facts.approved_on[facts.late_claim] <= day)
                         & (facts.late_day <= day))
    left = np.ones(facts.group.size)
    if sel.size:  # the share still open: after the claim's last payment by ``day``
        owner = facts.late_claim[sel]
        last = sel[np.append(owner[1:] != owner[:-1], True)]
        left[facts.late_claim[last]] = facts.late_left[last]
    paid = _sum(facts.group[facts.late_claim[sel]], facts.late_slot[sel],
                facts.late_share[sel], size)
    keep = who[left[who] > 1e-9]
    cens = _sum(facts.group[keep], slots(OPEN_SLOTS, day - facts.target[keep]), left[keep],
                size)
    tables.append(_estimate(keys, paid, cens, _count(facts.group[who], size)))
    return tables[0], tables[1], tables[2]


def _sum(groups: np.ndarray, slot: np.ndarray, weights: np.ndarray, size: int) -> np.ndarray:
    """Per agency row and slot (and everyone's, row 0): the weights in input order."""
    cells = np.concatenate((groups * WIDTH + slot, slot)).astype(np.int64)
    w = np.concatenate((weights, weights)).astype(np.float64)
    return np.bincount(cells, w, minlength=size * WIDTH).reshape(size, WIDTH)


def _count(groups: np.ndarray, size: int) -> np.ndarray:
    n = np.bincount(groups.astype(np.int64), minlength=size).astype(np.float64)
    n[0] = float(groups.size)  # ok: a count
    return n


def _estimate(keys: list[str], paid: np.ndarray, censored: np.ndarray, n: np.ndarray
              ) -> dict[str, Dist]:
    return {keys[g]: dist for g, dist in enumerate(estimate_rows(paid, censored, n))
            if dist is not None}
