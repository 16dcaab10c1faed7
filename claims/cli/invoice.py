"""``claims invoice …``: invoices from files (and, through importers, from where they live)."""

from __future__ import annotations

from pathlib import Path

import typer

from claims import api
from claims.cli.common import JsonOption, emit_json, workspace_from

app = typer.Typer(no_args_is_help=True, help="Invoices: add from JSON, YAML or CSV; import from "
                                                 "Zoho Books, accounting exports, e-invoices.")


@app.command("add")
def add(ctx: typer.Context,
        file: Path = typer.Argument(..., help="invoices.json, .yaml or .csv"),
        as_json: bool = JsonOption) -> None:
    """Add invoices, all or none. Re-adding the same content changes nothing; changed content
    is updated unless a claim was built from it (then it is reported as a conflict).

    Example: claims invoice add invoices.json
    """
    result = api.add_invoices(workspace_from(ctx), file)
    if as_json:
        emit_json({"added": result.added, "unchanged": result.unchanged,
                   "changed": result.changed, "conflicts": result.conflicts})
    else:
        typer.echo(f"added {len(result.added)}, unchanged {len(result.unchanged)}, "
                   f"changed {len(result.changed)}, conflicts {len(result.conflicts)}")
        for number in result.conflicts:
            typer.echo(f"  conflict: {number} changed at the source after its claim was built; "
                       "kept the old content", err=True)
    if result.conflicts:
        raise typer.Exit(1)


from claims.cli import sources  # noqa: E402  (``claims invoice import …``)
app.add_typer(sources.app, name="import")
