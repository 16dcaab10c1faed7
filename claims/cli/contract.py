"""``claims contract …``: describe a government contract once."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from claims import api
from claims.api import fmt
from claims.cli.common import JsonOption, console, emit_json, workspace_from

app = typer.Typer(no_args_is_help=True, help="Contracts: add and list.")


@app.command("add")
def add(ctx: typer.Context,
        file: Path = typer.Argument(..., help="Contract file (YAML or JSON)."),
        replace: bool = typer.Option(False, "--replace", help="Update an existing contract."),
        as_json: bool = JsonOption) -> None:
    """Add a contract, checked against schemas/contract.schema.json.

    Example: claims contract add contract.yaml
    """
    contract, new = api.add_contract(workspace_from(ctx), file, replace=replace)
    if as_json:
        emit_json({"contract": contract, "new": new})
    else:
        typer.echo(f"{'added' if new else 'updated'} contract {contract.number} "
                   f"({contract.agency}, ceiling {contract.currency} {fmt(contract.ceiling)})")


@app.command("list")
def list_(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """List contracts; one whose stored ceiling breaks a rule is named on stderr, not listed.

    Example: claims contract list --json
    """
    contracts, problems = api.list_contracts(workspace_from(ctx))
    for problem in problems:  # the others are listed; each one left out is named on stderr
        typer.echo(f"warning: not listed: {problem}", err=True)
    if as_json:
        emit_json([c.model_dump(mode="json") for c in contracts])
        return
    ceilings = [f"{c.currency} {fmt(c.ceiling)}" for c in contracts]
    table = Table("number", "agency", "portal")
    # the ceiling is never cut: the other columns wrap first
    table.add_column("ceiling", no_wrap=True, min_width=max(map(len, ceilings), default=7))
    table.add_column("period")
    table.add_column("claim types")
    for c, ceiling in zip(contracts, ceilings, strict=True):
        table.add_row(c.number, c.agency, c.portal, ceiling,
                      f"{c.period_start} – {c.period_end}", ", ".join(c.claim_types))
    console.print(table)
