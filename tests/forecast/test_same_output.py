"""The forecast's output does not move while its speed is worked on (issue #17): the full
JSON (weeks, every line's drill-down, held-out items, interest) of a 3,000-invoice generated
history, through the store and pure, has the SHA-256 it had before that work began (commit
ba9b370). A change meant to alter the forecast changes this digest on purpose, saying why.

Changed on purpose on 2026-12-02: a delay distribution no longer reads "not seen yet" past
its last observation as "never paid" (:func:`claims.forecast.distributions.graft`,
``complete``); the tail comes from the wider group, else the first unseen day."""

from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta
from pathlib import Path

from claims import api
from claims.forecast.history import learn
from claims.forecast.model import forecast
from claims.forecast.synthetic import generate
from claims.workspace import init_workspace

AS_OF = date(2025, 9, 30)
DIGEST = "74e742ce9354ed61f306f2b80556ca02bd8b985745b2391492af582b902001f1"


def _digest(data: dict) -> str:
    return hashlib.sha256(json.dumps(data, default=str, sort_keys=True).encode()).hexdigest()


def test_the_forecast_of_a_generated_history_is_the_one_before(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "ws")
    try:
        api.load_synthetic_history(ws, invoices=3000, customers=80, known_by=AS_OF)
        stored = api.cash_forecast(ws, AS_OF).to_json(drill_limit=None)
    finally:
        ws.close()
    ledger = generate(3000, 80).to_ledger()
    pure = forecast(ledger, learn(ledger, AS_OF), AS_OF).to_json(drill_limit=None)
    assert len(stored["forecast"]) == 13 and stored["held_out"] and stored["totals"]
    assert _digest(stored) == DIGEST
    assert _digest(pure) == DIGEST


def test_open_items_are_the_item_by_item_ones() -> None:
    """Ledger.open_items (as_known only for items with a later-known due date, one lookup of
    what was paid per invoice) against the loop it replaced, with a statutory due date known
    only from a later day among the items."""

    from claims.forecast.ledger import Ledger

    history = generate(2000, 40)
    items = list(history.items)
    items[5] = items[5]._replace(due_date=items[5].due_date + timedelta(days=20),
                       statutory_agency="Agency 01", known_from=date(2025, 6, 1),
                       due_before=items[5].due_date)
    ledger = Ledger(items, list(history.receipts))

    def before(day):
        out, left = [], {}
        for item in ledger.items:
            if item.issue_date > day:
                continue
            item = ledger.as_known(item, day)
            if item.invoice_id not in left:
                left[item.invoice_id] = ledger.paid_by(item.invoice_id, day)
            paid = left[item.invoice_id]
            settled = min(paid, item.amount)
            left[item.invoice_id] = paid - settled
            if item.amount - settled > 0:
                out.append((item, item.amount - settled))
        return out

    for day in (date(2024, 3, 1), date(2025, 5, 31), date(2025, 6, 1), date(2026, 6, 30)):
        assert ledger.open_items(day) == before(day)
