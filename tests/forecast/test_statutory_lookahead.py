"""No look-ahead through statutory due dates: a Prompt Payment due date is made from the day the
claim reached the agency, so a forecast (or backtest, or the learning) as of a day before that
uses the due date that stood then — the invoice's own, or issue + default net days — and not
the statutory one that was known only later."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from claims import api
from claims.collections.dunning.plan import config_of
from claims.forecast.backtest import baselines
from claims.forecast.history import learn
from claims.forecast.queries import load_ledger
from claims.workspace import init_workspace
from tests.collections.conftest import submitted_claim, write_config

ISSUED, SUBMITTED = date(2026, 1, 10), date(2026, 3, 2)
BEFORE, AFTER = date(2026, 2, 20), date(2026, 3, 3)
DEFAULT_DUE = date(2026, 2, 9)      # issued Jan 10 + 30 default net days (a Monday)
STATUTORY_DUE = date(2026, 4, 1)    # received Mar 2 (after acceptance Jan 17) + 30 days


def test_a_statutory_due_date_made_later_is_not_used_before_it_was_known(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "ws")
    try:
        write_config(ws, None, agencies={"Ministry of Works": {
            "rule": "prompt-payment", "interest_rate_percent": "4.625"}})
        submitted_claim(ws, "MW-1", "Ministry of Works", issued=ISSUED, submitted=SUBMITTED,
                        total="10000.00")
        before = api.cash_forecast(ws, BEFORE)      # also makes the due dates
        ledger = load_ledger(ws.store.engine, config_of(ws))
        (item,) = ledger.items
        assert (item.due_date, item.known_from, item.due_before) == (
            STATUTORY_DUE, SUBMITTED, DEFAULT_DUE)
        # as of a day before the claim reached the agency: the due date that stood then
        (known, _), = ledger.open_items(BEFORE)
        assert known.due_date == DEFAULT_DUE and known.statutory_agency is None
        (line,) = [ln for ln in before.lines if ln.ref == "MW-1"]
        assert line.source == "invoice" and line.assumption.startswith(f"due {DEFAULT_DUE} ")
        naive = baselines(ledger, learn(ledger, BEFORE), BEFORE, 13)["naive"]["USD"]
        assert naive[0] == 10000.0 and sum(naive[1:]) == 0.0        # not week 6 (Apr 1)
        # from the day it was received on, the statutory due date stands
        (now, _), = ledger.open_items(AFTER)
        assert now.due_date == STATUTORY_DUE and now.statutory_agency == "Ministry of Works"
        assert baselines(ledger, learn(ledger, AFTER), AFTER, 13)["naive"]["USD"][4] == 10000.0
    finally:
        ws.close()
