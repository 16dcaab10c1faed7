"""``claims kpi`` and ``claims report``: collection performance for managers."""

from __future__ import annotations

from pathlib import Path

import typer

from claims import api
from claims.cli.common import JsonOption, emit_json, known_format, parse_date, workspace_from


def kpi(ctx: typer.Context,
        as_of: str = typer.Option(None, "--as-of", help="YYYY-MM-DD (default: today)"),
        currency: str = typer.Option(None, "--currency", help="default: the most invoiced"),
        as_json: bool = JsonOption) -> None:
    """Collection KPIs (formulas in docs/kpis.md): DSO, CEI, aging, at risk, match rate, …

    Example: claims kpi --as-of 2026-10-31 --json
    """
    result = api.compute_kpis(workspace_from(ctx), parse_date(as_of, "--as-of"),
                              currency=currency)
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
    known_format(fmt, api.REPORT_FORMATS)
    result, path = api.write_collection_report(workspace_from(ctx), kind, fmt, out,
                                               as_of=parse_date(as_of, "--as-of"),
                                               currency=currency)
    if as_json:
        emit_json({"report": kind, "format": fmt, "out": path, "as_of": result.as_of,
                   "tables": [t.key for t in result.tables]})
    else:
        typer.echo(f"wrote {path}")
