"""``claims kpi`` and ``claims report``: collection performance for managers."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer

from claims.cli.common import JsonOption, emit_json, workspace_from
from claims.errors import InputError
from claims.reports.build import monthly_report, weekly_report
from claims.reports.kpis import kpis
from claims.reports.render import write_report


def _as_of(value: str | None) -> date:
    if not value:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError as err:
        raise InputError(f"{value!r} is not a date (YYYY-MM-DD)", field="--as-of",
                         rule="date-iso") from err


def kpi(ctx: typer.Context,
        as_of: str = typer.Option(None, "--as-of", help="YYYY-MM-DD (default: today)"),
        currency: str = typer.Option(None, "--currency", help="default: the most invoiced"),
        as_json: bool = JsonOption) -> None:
    """Collection KPIs (formulas in docs/kpis.md): DSO, CEI, aging, at risk, match rate, …

    Example: claims kpi --as-of 2026-10-31 --json
    """
    ws = workspace_from(ctx)
    settings = ws.settings.reports
    result = kpis(ws.store.engine, _as_of(as_of), settings, currency=currency)
    if as_json:
        emit_json(result)
        return
    dso, cei, risk = result["dso"], result["cei"], result["at_risk"]
    rate = result["auto_match_rate"]
    lines = [
        f"KPIs as of {result['as_of']} ({result['currency']})",
        f"  receivables          {result['receivables']:>16,}",
        f"  overdue              {result['overdue']:>16,}",
        f"  DSO standard ({dso['days']} d)  {dso['standard']}",
        f"  DSO countback        {dso['countback']}",
        f"  best possible DSO    {dso['best_possible']}",
        f"  avg days delinquent  {result['average_days_delinquent']}",
        f"  CEI %                {cei['value']}",
        f"  avg days to pay      {result['average_days_to_pay']}",
        f"  % current            {result['percent_current']}",
        f"  at risk ({risk['days']}+ days)  {risk['amount']:,} ({risk['percent']} %)",
        f"  auto-match rate %    {rate['percent'] if rate else None}",
        f"  promises kept %      {(result['promises_kept'] or {}).get('percent', 'n/a')}",
        "  aging: " + ", ".join(f"{b['bucket']} {b['amount']:,}"
                                 for b in result["aging"]["buckets"]),
    ]
    typer.echo("\n".join(lines))


def report(ctx: typer.Context,
           kind: str = typer.Argument(..., help="weekly or monthly"),
           as_of: str = typer.Option(None, "--as-of", help="YYYY-MM-DD (default: today)"),
           fmt: str = typer.Option("html", "--format", help="html, xlsx or json"),
           out: Path = typer.Option(..., "--out", help="the file to write"),
           currency: str = typer.Option(None, "--currency", help="default: the most invoiced"),
           as_json: bool = JsonOption) -> None:
    """Write the weekly or monthly collection report.

    Example: claims report monthly --as-of 2026-10-31 --format xlsx --out october.xlsx
    """
    if kind not in ("weekly", "monthly"):
        raise InputError(f"unknown report {kind!r}; use weekly or monthly", field="KIND",
                         rule="report-kind")
    if fmt not in ("html", "xlsx", "json"):
        raise InputError(f"unknown format {fmt!r}; use html, xlsx or json", field="--format",
                         rule="report-format")
    ws = workspace_from(ctx)
    settings = ws.settings.reports
    build = weekly_report if kind == "weekly" else monthly_report
    result = build(ws.store.engine, _as_of(as_of), settings, currency=currency)
    path = write_report(result, fmt, out)
    if as_json:
        emit_json({"report": kind, "format": fmt, "out": path, "as_of": result.as_of,
                   "tables": [t.key for t in result.tables]})
    else:
        typer.echo(f"wrote {path}")
