"""``claims rates import FILE.csv``: dated exchange rates to the base currency
(``[followup] base_currency``), which the worklist and the escalation rules work in."""

from __future__ import annotations

from pathlib import Path

import typer

from claims import api
from claims.cli.common import JsonOption, emit_json, workspace_from

rates_app = typer.Typer(no_args_is_help=True, help="Exchange rates to the base currency.")


@rates_app.command("import")
def rates_import(ctx: typer.Context,
                 path: Path = typer.Argument(..., help="CSV with the columns date,currency,rate "
                                                       "(1 currency = rate base units)."),
                 as_json: bool = JsonOption) -> None:
    """Import dated exchange rates; a rate already known for a day is replaced.

    Example: claims rates import rates-2026.csv
    """
    result = api.import_rates(workspace_from(ctx), path)
    emit_json(result) if as_json else typer.echo(
        f"{result['rates']} rate(s) to {result['base']} from {path.name}: {result['added']} "
        f"added, {result['replaced']} replaced ({', '.join(result['currencies']) or '-'})")


def register(app: typer.Typer) -> None:
    """Add ``claims rates`` to the root app."""
    app.add_typer(rates_app, name="rates")
