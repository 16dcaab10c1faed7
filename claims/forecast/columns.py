"""The ledger's items and receipts as columns, for learning the delays without a Python step
per item (:func:`claims.forecast.history.learn`). Pure.

Each sample cell adds the same weights in the same order as the item-by-item loop did:
``np.bincount`` adds in input order, and the parts are sorted by item, then receipt."""

from __future__ import annotations


import numpy as np

from claims.forecast.distributions import DMAX, DMIN, SPAN, open_slot, paid_slot
from claims.forecast.ledger import Ledger, ReceiptColumns


class ItemColumns:
    """The ledger's items as columns (positions as in ``ledger.items``)."""

    def __init__(self, ledger: Ledger) -> None:
        self.items = ledger.items
        (self.invoice, self.customer, self.agencies, self.agency, self.issue, self.due,
         self.positive, self.total, self.plain) = ledger.item_arrays()


#: the slot of every delay from DMIN − 1 to DMAX + 1 (clipped beyond), by the one rule each
_LOW = DMIN - 1
_PAID_SLOTS = np.asarray([paid_slot(k) for k in range(_LOW, DMAX + 2)], dtype=np.int64)
_OPEN_SLOTS = np.asarray([open_slot(k) for k in range(_LOW, DMAX + 2)], dtype=np.int64)
#: (order key, item position, slot, weight) parts of a sample's paid or censored cells
Parts = list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]


def settle_plain(cols: ItemColumns, live: np.ndarray, receipts: ReceiptColumns, d: int
                  ) -> tuple[Parts, Parts, list[tuple[np.ndarray, np.ndarray]], int]:
    """The receipts by day ``d`` of the ``live`` items (each alone on its invoice), the
    k-th receipt of every such item at once, k = 0, 1, …: the loop's share, left and weight
    per item, elementwise (an item's receipts come in its invoice's order,
    :meth:`~claims.forecast.ledger.Ledger.receipt_columns`). Order keys are item × width + k,
    width: 2 more than any invoice's receipts (the rest open is last)."""
    inv, days, amounts, payment = receipts
    size = inv.size
    first = np.flatnonzero(np.append(True, inv[1:] != inv[:-1])) if size else inv
    runs = np.diff(np.append(first, size))
    rank = np.arange(size) - np.repeat(first, runs)
    width = int(runs.max(initial=0)) + 2
    owner = np.minimum(np.searchsorted(cols.invoice, inv), max(len(cols.invoice) - 1, 0))
    keep = np.flatnonzero((cols.invoice[owner] == inv) & live[owner] & (days <= d)) \
        if len(cols.invoice) else np.zeros(0, dtype=np.int64)
    left, total, due = cols.total.copy(), cols.total, cols.due
    paid: Parts = []
    censored: Parts = []
    lags: list[tuple[np.ndarray, np.ndarray]] = []
    for k in range(width - 1):
        sel = keep[rank[keep] == k]
        if not sel.size:
            break
        item = owner[sel]
        was, amount = left[item], amounts[sel]
        share = np.where(was < amount, was, amount)  # min(amount, left)
        go = (was > 0) & (share > 0)
        sel, item, share = sel[go], item[go], share[go]
        left[item] = was[go] - share
        weight = share / total[item]
        delay = days[sel] - due[item]
        pay = payment[sel]
        paid.append((item[pay] * width + k, item[pay], slot_of(_PAID_SLOTS, delay[pay]),
                     weight[pay]))
        off = item[~pay]
        censored.append((off * width + k, off, np.full(off.size, SPAN), weight[~pay]))
        lags.append((item[pay], delay[pay]))
    rest = np.flatnonzero(live)
    rest = rest[left[rest] > 0]
    censored.append((rest * width + width - 1, rest, slot_of(_OPEN_SLOTS, d - due[rest]),
                     left[rest] / total[rest]))
    return paid, censored, lags, width


def slot_of(table: np.ndarray, delays: np.ndarray) -> np.ndarray:
    return table[np.clip(delays, _LOW, DMAX + 1) - _LOW]


def cells(parts: Parts, cust_of: np.ndarray, parent_of_: np.ndarray, everyone: int,
           size: int) -> np.ndarray:
    """The parts' weights summed per (group row, slot), in item then receipt order."""
    width = SPAN + 1
    if not parts:
        return np.zeros((size, width))
    key, pos, slot, weight = (np.concatenate([p[k] for p in parts]) for k in range(4))
    order = np.argsort(key, kind="stable")
    pos, slot, weight = pos[order], slot[order].astype(np.int64), weight[order]
    cells = np.concatenate((cust_of[pos] * width + slot, parent_of_[pos] * width + slot,
                            everyone * width + slot))
    return np.bincount(cells, np.concatenate((weight, weight, weight)),
                       minlength=size * width).reshape(size, width)
