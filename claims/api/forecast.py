"""The cash-flow forecast as user actions: forecast, explain, backtest, write; and loading
history in bulk (customers with segments, invoices with terms, a generated history)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from claims.collections.dunning.plan import config_of
from claims.collections.due import ensure_due_dates
from claims.core.collector import collector_paused
from claims.collections.terms import Terms
from claims.core.models import Invoice
from claims.errors import InputError
from claims.forecast import bulk
from claims.forecast.backtest import Backtest, run_backtest
from claims.forecast.history import learn
from claims.forecast.model import Forecast, Options, forecast
from claims.forecast.queries import load_ledger
from claims.forecast.synthetic import generate
from claims.reports.forecast import forecast_report
from claims.reports.render import write_report
from claims.workspace import Workspace

__all__ = ["FORECAST_FORMATS", "Backtest", "Forecast", "add_customers", "add_invoices_with_terms",
           "backtest_forecast", "cash_forecast", "load_synthetic_history", "write_forecast"]

FORECAST_FORMATS = ("table", "json", "html", "xlsx")


def _ledger(ws: Workspace, as_of: date | None = None) -> Any:
    """What the forecast learns from, with every invoice's due dates made by the one due-date
    rule first (:func:`claims.collections.due.ensure_due_dates`, for ``as_of``)."""
    config = config_of(ws)
    ensure_due_dates(ws.store.engine, config, as_of)
    return load_ledger(ws.store.engine, config, as_of)


def forecast_options(ws: Workspace, weeks: int | None = None) -> Options:
    """The ``[forecast]`` and ``[followup]`` settings as the model's options."""
    s = ws.settings.forecast
    if weeks is not None and not 1 <= weeks <= 52:
        raise InputError(f"{weeks} weeks is outside 1…52", field="--weeks", rule="weeks")
    return Options(weeks=weeks or s.weeks, prior=s.prior_invoices, window_days=s.window_days,
                   promise_grace_days=ws.settings.followup.promise_grace_days,
                   default_review_days=s.default_review_days,
                   default_correction_days=s.default_correction_days)


def cash_forecast(ws: Workspace, as_of: date | None = None, *,
                  weeks: int | None = None) -> Forecast:
    """Expected receipts per week and currency (P10/P50/P90) from what was known at the end
    of ``as_of`` (default today); each week drills down to its lines (``Forecast.explain``)."""
    options = forecast_options(ws, weeks)
    day = as_of or date.today()
    with collector_paused():
        ledger = _ledger(ws, day)
        behaviour = learn(ledger, day, window_days=options.window_days, prior=options.prior,
                          grace_days=options.promise_grace_days)
        result = forecast(ledger, behaviour, day, options)
        # freed while the collector is still off: back on, its first collection walks every
        # object made meanwhile and still alive (the ledger's ~2 million at 100,000 open)
        del ledger, behaviour
    return result


def backtest_forecast(ws: Workspace, start: date, end: date, *,
                      weeks: int | None = None) -> Backtest:
    """Replay weekly as-of dates from ``start`` to ``end`` with only what was known then, and
    score naive, lag and the model (WAPE and bias by horizon)."""
    if end < start:
        raise InputError(f"--to {end} is before --from {start}", field="--to", rule="date-order")
    options = forecast_options(ws, weeks)
    return run_backtest(_ledger(ws), start, end, options)


def write_forecast(ws: Workspace, fc: Forecast, fmt: str, out: Path) -> Path:
    """Write the forecast as html, xlsx or json (with the drill-down) to ``out``."""
    if fmt not in ("html", "xlsx", "json"):
        raise InputError(f"unknown format {fmt!r}; use {', '.join(FORECAST_FORMATS)}",
                         field="--format", rule="forecast-format")
    ws.refuse_own_file(out)
    if fmt == "json":
        report = forecast_report(fc)
        report.kpis = fc.to_json(drill_limit=None)  # the full forecast rides along
        return write_report(report, "json", out)
    return write_report(forecast_report(fc), fmt, out)


def add_customers(ws: Workspace, customers: Sequence[Mapping[str, Any]]) -> int:
    """Create or update many customers (name, segment, collector, email) at once."""
    return bulk.add_customers(ws.store, customers)


def add_invoices_with_terms(ws: Workspace, invoices: Sequence[Invoice],
                            terms: Terms | Mapping[str, Terms] | None = None) -> dict[str, int]:
    """Add invoices with their payment terms (one for all, or per number) in one transaction."""
    return bulk.add_invoices(ws.store, invoices, terms)


def load_synthetic_history(ws: Workspace, *, invoices: int = 5_000, customers: int = 200,
                           seed: int = 17, known_by: date | None = None) -> dict[str, int]:
    """Fill an empty workspace with a generated history (claims.forecast.synthetic)."""
    return bulk.load_history(ws.store, generate(invoices, customers, seed=seed),
                             known_by=known_by)
