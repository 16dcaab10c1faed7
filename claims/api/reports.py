"""Collection performance as user actions: KPIs and the weekly / monthly report."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from claims.errors import InputError
from claims.reports.build import monthly_report, weekly_report
from claims.reports.kpis import kpi_settings, kpis
from claims.reports.render import write_report
from claims.workspace import Workspace

__all__ = ["REPORT_KINDS", "REPORT_FORMATS", "compute_kpis", "write_collection_report"]

REPORT_KINDS = ("weekly", "monthly")
REPORT_FORMATS = ("html", "xlsx", "json")


def compute_kpis(ws: Workspace, as_of: date | None = None, *,
                 currency: str | None = None) -> dict[str, Any]:
    """DSO, CEI, aging, at risk, match rate, … as of a date (default today), in one currency."""
    settings = kpi_settings(ws.settings.extra, file=str(ws.config_path))
    return kpis(ws.store.engine, as_of or date.today(), settings, currency=currency)


def write_collection_report(ws: Workspace, kind: str, fmt: str, out: Path, *,
                            as_of: date | None = None,
                            currency: str | None = None) -> tuple[Any, Path]:
    """Build the weekly or monthly report and write it as html / xlsx / json to ``out``;
    returns (report, path written)."""
    if kind not in REPORT_KINDS:
        raise InputError(f"unknown report {kind!r}; use weekly or monthly", field="KIND",
                         rule="report-kind")
    if fmt not in REPORT_FORMATS:
        raise InputError(f"unknown format {fmt!r}; use {', '.join(REPORT_FORMATS)}",
                         field="--format", rule="report-format")
    settings = kpi_settings(ws.settings.extra, file=str(ws.config_path))
    build = weekly_report if kind == "weekly" else monthly_report
    report = build(ws.store.engine, as_of or date.today(), settings, currency=currency)
    return report, write_report(report, fmt, out)
