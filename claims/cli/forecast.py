"""``claims forecast`` and ``claims forecast backtest``: when the money will come in."""

from __future__ import annotations

from pathlib import Path

import typer

from claims import api
from claims.cli.common import JsonOption, emit_json, known_format, parse_date, workspace_from

app = typer.Typer(invoke_without_command=True, no_args_is_help=False,
                  help="13-week cash-flow forecast (P10/P50/P90 per week) and its backtest.")


@app.callback()
def forecast(ctx: typer.Context,
             weeks: int = typer.Option(None, "--weeks", help="weeks ahead (default 13)"),
             as_of: str = typer.Option(None, "--as-of", help="YYYY-MM-DD (default: today)"),
             fmt: str = typer.Option("table", "--format", help="table, json, html or xlsx"),
             out: Path = typer.Option(None, "--out", help="the file to write (html, xlsx)"),
             explain: int = typer.Option(None, "--explain", help="list week N's lines and "
                                                                  "the assumption of each"),
             limit: int = typer.Option(20, "--limit", min=1,
                                       help="lines per week in the drill-down (≥ 1)"),
             as_json: bool = JsonOption) -> None:
    """Expected receipts per week and currency, each drilling down to its invoices and claims.

    Example: claims forecast --as-of 2026-03-31 --explain 2
    """
    if ctx.invoked_subcommand:
        return
    known_format(fmt, api.FORECAST_FORMATS)
    fc = api.cash_forecast(workspace_from(ctx), parse_date(as_of, "--as-of"), weeks=weeks)
    if explain is not None:
        if not 1 <= explain <= fc.weeks:
            raise api.InputError(f"week {explain} is outside 1…{fc.weeks}", field="--explain",
                                 rule="week")
        lines = fc.explain(explain, limit=None if as_json else limit)
        if as_json:
            emit_json({"week": explain, "lines": lines})
            return
        start, end = fc.week_dates(explain)
        typer.echo(f"week {explain} ({start} … {end}): {len(lines)} lines")
        for ln in lines:
            typer.echo(f"  {ln['expected']:>14} {ln['currency']} of {ln['open']:>12}  "
                       f"p={ln['probability']:<6} {ln['source']:<7} {ln['ref']:<28} "
                       f"{ln['customer']}: {ln['assumption']}")
        return
    if as_json or fmt == "json":
        if out is not None:
            typer.echo(f"wrote {api.write_forecast(workspace_from(ctx), fc, 'json', out)}")
            return
        emit_json(fc.to_json(drill_limit=limit))
        return
    if fmt in ("html", "xlsx"):
        if out is None:
            raise api.InputError(f"--format {fmt} needs --out FILE", field="--out",
                                 rule="output-file")
        typer.echo(f"wrote {api.write_forecast(workspace_from(ctx), fc, fmt, out)}")
        return
    _print_table(fc)


def _print_table(fc: api.Forecast) -> None:
    typer.echo(f"Cash forecast as of {fc.as_of} ({fc.weeks} weeks)")
    typer.echo(f"  {'week':>4}  {'from':<10} {'to':<10} {'cur':<4} {'P10':>14} {'P50':>14} "
               f"{'P90':>14}")
    for r in fc.rows:
        typer.echo(f"  {r.week:>4}  {r.start} {r.end} {r.currency:<4} {r.p10:>14,} "
                   f"{r.p50:>14,} {r.p90:>14,}")
    for currency, t in fc.totals().items():
        typer.echo(f"  total {currency}: expected {t['p50']} of {t['at_stake']} open")
    if fc.held_out:
        typer.echo(f"  held out: {len(fc.held_out)} disputed invoices")
    if fc.interest:
        typer.echo(f"  Prompt Payment interest owed on {len(fc.interest)} items")
    typer.echo("  drill down: claims forecast --explain WEEK")


@app.command("backtest")
def backtest(ctx: typer.Context,
             start: str = typer.Option(..., "--from", help="first as-of date, YYYY-MM-DD"),
             end: str = typer.Option(..., "--to", help="last as-of date, YYYY-MM-DD"),
             weeks: int = typer.Option(None, "--weeks", help="weeks ahead (default 13)"),
             as_json: bool = JsonOption) -> None:
    """Replay weekly as-of dates with only what was known then; WAPE and bias by horizon for
    naive (due date), lag (due + customer's median delay) and the model.

    Example: claims forecast backtest --from 2025-01-01 --to 2025-12-31
    """
    first, last = parse_date(start, "--from"), parse_date(end, "--to")
    assert first is not None and last is not None  # both options are required
    result = api.backtest_forecast(workspace_from(ctx), first, last, weeks=weeks).to_json()
    if as_json:
        emit_json(result)
        return
    typer.echo(f"Backtest {result['from']} … {result['to']}, {result['as_of_dates']} as-of "
               f"dates ({result['seconds_per_as_of']['mean']} s each)")
    for currency, horizons in result["scores"].items():
        for horizon, methods in horizons.items():
            typer.echo(f"  {currency} {horizon}:")
            for method in ("naive", "lag", "model"):
                s = methods.get(method, {})
                typer.echo(f"    {method:<6} WAPE {s.get('wape_percent')} %  "
                           f"bias {s.get('bias_percent')} %")
