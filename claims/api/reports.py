"""Collection performance as user actions: KPIs and the weekly / monthly report."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from claims.collections.dunning import config_of
from claims.collections.due import ensure_due_dates
from claims.core.money import minor_units
from claims.errors import InputError
from claims.api.forecast import cash_forecast
from claims.reports.forecast import forecast_table
from claims.reports.build import monthly_report, weekly_report
from claims.reports.kpis import kpis
from claims.reports.render import write_report
from claims.workspace import Workspace

__all__ = ["REPORT_KINDS", "REPORT_FORMATS", "compute_kpis", "write_collection_report"]

REPORT_KINDS = ("weekly", "monthly")
REPORT_FORMATS = ("html", "xlsx", "json")


def compute_kpis(ws: Workspace, as_of: date | None = None, *,
                 currency: str | None = None) -> dict[str, Any]:
    """DSO, CEI, aging, at risk, match rate, … as of a date (default today), in one currency."""
    settings = ws.settings.reports
    _check_currency(currency)
    ensure_due_dates(ws.store.engine, config_of(ws), as_of)
    return kpis(ws.store.engine, as_of or date.today(), settings, currency=currency)


def _check_currency(currency: str | None) -> None:
    """A ``--currency`` the KPIs can be in: an ISO 4217 code (:func:`minor_units` knows it)."""
    if currency is not None:
        try:
            minor_units(currency)
        except ValueError as err:
            raise InputError(str(err), field="--currency", rule="known-currency") from None


def write_collection_report(ws: Workspace, kind: str, fmt: str, out: Path, *,
                            as_of: date | None = None,
                            currency: str | None = None) -> tuple[Any, Path]:
    """Build the weekly or monthly report (with the cash forecast as of the same day) and write
    it as html / xlsx / json to ``out``; returns (report, path written)."""
    if kind not in REPORT_KINDS:
        raise InputError(f"unknown report {kind!r}; use weekly or monthly", field="KIND",
                         rule="report-kind")
    if fmt not in REPORT_FORMATS:
        raise InputError(f"unknown format {fmt!r}; use {', '.join(REPORT_FORMATS)}",
                         field="--format", rule="report-format")
    ws.refuse_own_file(out)
    settings = ws.settings.reports
    _check_currency(currency)
    ensure_due_dates(ws.store.engine, config_of(ws), as_of)
    as_of = as_of or date.today()
    build = weekly_report if kind == "weekly" else monthly_report
    fc = cash_forecast(ws, as_of)
    report = build(ws.store.engine, as_of, settings, currency=currency,
                   forecast=forecast_table(fc, currency or settings.currency))
    return report, write_report(report, fmt, out)
