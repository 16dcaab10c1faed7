"""Delay distributions over whole days, pure Python (no I/O, no money).

A :class:`Dist` is a probability mass over delays ``DMIN … DMAX`` days plus ``later``: the mass
of "not within ``DMAX`` days, or never". It is estimated from amount-weighted samples with
right-censoring (an invoice still open at the as-of date says only "later than so many days"):
the Kaplan–Meier estimator, so recent invoices that are not paid yet do not make customers look
faster than they are. Probabilities are floats: they are weights, not money. The mixes, sums and
convolutions run on numpy arrays (a claim's arrival is a convolution of ~92×92 days, once per
situation; in pure Python that was most of the forecast's time).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

#: the earliest delay counted (days before the due date); earlier payments count as DMIN
DMIN = -60
#: the latest delay counted; a later (or no) payment is the ``later`` mass
DMAX = 240
SPAN = DMAX - DMIN + 1


@dataclass(frozen=True)
class Dist:
    """P(delay = d) for d in DMIN…DMAX (``pmf[d - DMIN]``) and P(later); ``n`` samples seen.

    ``open_from``: the first slot the samples say nothing about (every one of them was paid,
    or was still open, at an earlier delay), or ``None``. From that slot on, ``later`` is not
    "later than DMAX or never" but "not seen yet": the Kaplan–Meier estimate ends at the last
    observation. :func:`graft` takes that tail from a wider group, :func:`complete` from the
    last resort."""

    pmf: tuple[float, ...]
    later: float
    n: float = 0.0
    open_from: int | None = None

    @classmethod
    def point(cls, days: int) -> Dist:
        """All mass at ``days`` (clipped to the range)."""
        pmf = [0.0] * SPAN
        pmf[_index(days)] = 1.0
        return cls(tuple(pmf), 0.0, 0.0)

    def cdf(self) -> list[float]:
        """Cumulative P(delay ≤ d) per index."""
        return list(self.cumulative)

    @classmethod
    def of_array(cls, pmf: np.ndarray, later: float, n: float = 0.0,
                 open_from: int | None = None) -> Dist:
        """A Dist of the float64 masses ``pmf``, kept as its :attr:`array`; the tuple
        :attr:`pmf` is made from it on first read (:meth:`__getattr__`: the same values).
        Most are read as arrays only (a forecast mixes thousands: a tuple of 301 floats each
        was a tenth of the model)."""
        dist = object.__new__(cls)
        pmf.flags.writeable = False  # as frozen as the tuple (a change is made on a copy)
        # the fields but pmf, and the cached_property's slot (a frozen dataclass)
        dist.__dict__.update(later=later, n=n, open_from=open_from, array=pmf)
        return dist

    def __getattr__(self, name: str) -> object:
        """Only for :attr:`pmf` of a Dist made :meth:`of_array` (read on a miss only)."""
        array = self.__dict__.get("array") if name == "pmf" else None
        if array is None:
            raise AttributeError(name)
        pmf = self.__dict__["pmf"] = tuple(array.tolist())
        return pmf

    @cached_property
    def array(self) -> np.ndarray:
        """:attr:`pmf` as a float64 array, made once (a parent group's is read by the mix of
        every customer under it); read-only."""
        array = np.asarray(self.pmf, dtype=np.float64)
        array.flags.writeable = False
        return array

    @cached_property
    def _running(self) -> np.ndarray:
        # np.cumsum adds in order, as a loop adding the masses one by one does: the same floats
        return np.cumsum(self.array)

    @cached_property
    def cumulative(self) -> tuple[float, ...]:
        """:meth:`cdf`, computed once per distribution (every item of a customer reads it)."""
        return tuple(self._running.tolist())

    def median(self) -> int | None:
        """The median delay in days, or ``None`` when most of the mass is ``later``."""
        return self._median

    @cached_property
    def _median(self) -> int | None:
        # the first delay whose running mass (the loop's sums: :attr:`_running`) reaches 1/2
        reached = self._running >= 0.5
        k = int(np.argmax(reached)) if reached.size else 0
        return k + DMIN if reached.size and reached[k] else None


def _index(days: int) -> int:
    return min(max(days, DMIN), DMAX) - DMIN


def paid_slot(delay: int) -> int:
    """The slot of :attr:`Sample.paid` a payment ``delay`` days after the due date goes to."""
    if delay > DMAX:
        return SPAN
    return 0 if delay < DMIN else delay - DMIN


def open_slot(delay: int) -> int:
    """The slot of :attr:`Sample.censored` an amount open ``delay`` days after goes to."""
    if delay >= DMAX:
        return SPAN
    return 0 if delay < DMIN else delay - DMIN


class Sample:
    """Accumulates amount-weighted delays: paid at a delay, or still open at a delay."""

    __slots__ = ("paid", "censored", "n")

    def __init__(self) -> None:
        self.paid = [0.0] * (SPAN + 1)       # last slot: paid later than DMAX
        self.censored = [0.0] * (SPAN + 1)   # open, known to be later than this delay
        self.n = 0.0

    def add_paid(self, delay: int, weight: float) -> None:
        """``weight`` (a share of an invoice) was paid ``delay`` days after its due date."""
        self.paid[paid_slot(delay)] += weight

    def add_open(self, delay: int, weight: float) -> None:
        """``weight`` was still unpaid ``delay`` days after its due date (right-censored)."""
        self.censored[open_slot(delay)] += weight

    def count(self, invoices: float = 1.0) -> None:
        self.n += invoices

    def estimate(self) -> Dist | None:
        """The Kaplan–Meier estimate, or ``None`` without any sample."""
        rows = estimate_rows(np.asarray([self.paid], dtype=np.float64),
                             np.asarray([self.censored], dtype=np.float64), [self.n])
        return rows[0]


def estimate_rows(paid: np.ndarray, censored: np.ndarray, n: Sequence[float]
                  ) -> list[Dist | None]:
    """The Kaplan–Meier estimate of every row of ``paid`` / ``censored`` (groups × SPAN + 1
    slots, as :class:`Sample` keeps them), ``None`` for a row without any sample.

    The estimator's running sums are numpy accumulations along each row: add, subtract and
    multiply.accumulate go step by step in order, as the loop they replace did (the same floats
    for one row or many: the learner of the backtest estimates all its groups at once)."""
    at_risk = np.add.accumulate(paid, axis=1)[:, -1] + np.add.accumulate(censored, axis=1)[:, -1]
    live = np.nonzero(at_risk > 0)[0]
    out: list[Dist | None] = [None] * len(at_risk)
    if live.size == 0:
        return out
    p = paid[live, :SPAN]
    gone = p + censored[live, :SPAN]
    risk = np.subtract.accumulate(np.concatenate((at_risk[live, None], gone), axis=1),
                                  axis=1)[:, :SPAN]
    with np.errstate(divide="ignore", invalid="ignore"):
        hazard = np.where(risk > 1e-12, p / np.where(risk > 1e-12, risk, 1.0), 0.0)
    survival = np.multiply.accumulate(
        np.concatenate((np.ones((live.size, 1)), 1.0 - hazard), axis=1), axis=1)
    pmf = survival[:, :SPAN] * hazard
    later = survival[:, SPAN].tolist()
    # the slot after each row's last observation (paid or open): the estimate ends there
    seen = (paid[live] + censored[live]) > 0
    ends = (SPAN + 1 - np.argmax(seen[:, ::-1], axis=1)).tolist()
    for k, row in enumerate(live.tolist()):
        rest = max(later[k], 0.0)
        open_from = ends[k] if ends[k] < SPAN and rest > 1e-12 else None
        out[row] = Dist.of_array(pmf[k], rest, float(n[row]), open_from)  # ok: a count
    return out


def graft(child: Dist | None, wider: Dist | None) -> Dist | None:
    """``child`` with the tail it has not seen (from ``open_from``) shaped as ``wider`` shapes
    it: the child's unseen mass spread over the later delays in proportion to ``wider``'s
    mass there (conditioned on not paid before ``open_from``). A customer whose invoices are
    all still open at +12 days says nothing about +13 onwards: its agency or everyone does.
    The tail stays unseen where ``wider`` has not seen it either."""
    if child is None or child.open_from is None or wider is None:
        return child
    start = child.open_from
    tail = wider.array[start:].copy()  # a fresh array, as before: summed alike
    mass = float(tail.sum()) + wider.later  # ok: probability mass, not money
    if mass <= 1e-12:
        return child
    scale = child.later / mass
    pmf = np.concatenate((child.array[:start], tail * scale))
    still = None
    if wider.open_from is not None:
        still = max(start, wider.open_from)
    later = scale * wider.later
    return Dist.of_array(pmf, later, child.n, still if later > 1e-12 else None)


def complete(dist: Dist | None) -> Dist | None:
    """The last resort for a tail nobody has seen (no wider group left): paid at the first
    delay not seen yet, as an item without any history is taken to be paid on its due date.
    Never "never paid" for want of data (a young ledger: every invoice still open)."""
    if dist is None or dist.open_from is None:
        return dist
    pmf = dist.array.copy()
    pmf[dist.open_from] += dist.later
    return Dist.of_array(pmf, 0.0, dist.n)


def estimate_all(samples: Sequence[Sample]) -> list[Dist | None]:
    """:meth:`Sample.estimate` of every sample, in one pass (a customer each: thousands)."""
    if not samples:
        return []
    return estimate_rows(np.asarray([s.paid for s in samples], dtype=np.float64),
                         np.asarray([s.censored for s in samples], dtype=np.float64),
                         [s.n for s in samples])


def mix(child: Dist | None, parent: Dist | None, prior: float) -> Dist | None:
    """Empirical-Bayes shrinkage: ``w·child + (1−w)·parent`` with ``w = n / (n + prior)``.

    A customer with few paid invoices leans on its parent (agency, then everyone); one with
    many stands on its own history.
    """
    if child is None:
        return parent
    if parent is None:
        return child
    child = graft(child, parent)
    assert child is not None
    w = child.n / (child.n + prior) if child.n + prior > 0 else 1.0
    if child.array.size != parent.array.size:
        raise ValueError("mix: distributions over different delay ranges")
    pmf = w * child.array + (1 - w) * parent.array
    later = w * child.later + (1 - w) * parent.later
    # unseen from where either is (a blend of unseen and seen tails is no better known)
    ends = [d.open_from for d in (child, parent) if d.open_from is not None]
    return Dist.of_array(pmf, later, child.n + parent.n,
                         min(ends) if ends and later > 1e-12 else None)


def week_weights(dist: Dist, offset: int, weeks: int) -> tuple[float, ...]:
    """P(arrival in week k), k = 1…weeks, of an item whose delay is counted from a date
    ``offset`` days from the as-of date (due date − as-of), given it is unpaid at the as-of
    date: the mass at delays ≤ −offset is conditioned away. The rest (after the horizon, or
    never) is what the weights do not add up to (:func:`week_weights_rows` of one)."""
    return week_weights_rows([dist], [offset], weeks)[0]


def week_weights_rows(dists: Sequence[Dist], offsets: Sequence[int], weeks: int
                      ) -> list[tuple[float, ...]]:
    """:func:`week_weights` of every (``dists[k]``, ``offsets[k]``), in one numpy pass (a
    forecast asks for tens of thousands: a Python call each was a third of the model).

    P(delay ≤ d) at d = 7k − offset, k = 0…weeks (0 below DMIN, the last value past DMAX),
    then the same subtractions and divisions, elementwise in float64: the same values."""
    if not dists:
        return []
    row_of: dict[int, int] = {}
    rows = [row_of.setdefault(id(d), len(row_of)) for d in dists]
    distinct = {id(d): d for d in dists}
    cdf = np.array([distinct[key]._running for key in row_of], dtype=np.float64)
    points = 7 * np.arange(weeks + 1) - np.asarray(offsets, dtype=np.int64)[:, None]
    at = cdf[np.asarray(rows)[:, None], np.clip(points, DMIN, DMAX) - DMIN]
    at[points < DMIN] = 0.0
    remaining = 1.0 - at[:, 0]
    gone = remaining <= 1e-12
    remaining[gone] = 1.0  # no division by (nearly) nothing: those rows are all 0.0 below
    weights = (at[:, 1:] - at[:, :-1]) / remaining[:, None]
    weights[gone] = 0.0
    return list(map(tuple, weights.tolist()))


def convolve(a: Sequence[float], b: Sequence[float], limit: int) -> list[float]:
    """The mass of a sum of two independent day counts (index = days), cut at ``limit``.

    numpy's convolution adds the products in another order than a double loop would: the
    result differs from it by rounding only (~1e-16 of the mass)."""
    left = np.asarray(a[:limit], dtype=np.float64)
    right = np.asarray(b[:limit], dtype=np.float64)
    out = [0.0] * limit
    if left.size == 0 or right.size == 0:
        return out
    full = np.convolve(left, right)[:limit].tolist()
    out[:len(full)] = full
    return out


def days_pmf(dist: Dist, shift: int, limit: int) -> list[float]:
    """``dist`` moved by ``shift`` days as a mass over 0…limit−1 (mass below 0 goes to 0)."""
    pmf = dist.array
    days = np.maximum(np.arange(pmf.size) + (DMIN + shift), 0)
    keep = (pmf != 0.0) & (days < limit)
    out = np.zeros(limit)
    np.add.at(out, days[keep], pmf[keep])  # adds in index order, as the loop it replaces did
    return out.tolist()


def weights_from_days(arrival: Sequence[float], weeks: int) -> tuple[float, ...]:
    """Week weights from a mass over days from the as-of date (index 0 = the as-of date).

    Mass at day ≤ 0 is conditioned away (the item was not paid by the as-of date)."""
    remaining = 1.0 - (arrival[0] if arrival else 0.0)
    if remaining <= 1e-12:
        return tuple([0.0] * weeks)
    return tuple(sum(arrival[7 * (k - 1) + 1:7 * k + 1]) / remaining
                 for k in range(1, weeks + 1))


def median_of(values: Iterable[int]) -> int | None:
    """The (lower) median of whole days, or ``None`` when there are none."""
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[lower_median_at(len(ordered))]


def lower_median_at(count: int) -> int:
    """Where the (lower) median of ``count`` ordered values is (:func:`median_of`)."""
    return (count - 1) // 2
