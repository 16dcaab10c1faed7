"""``claims invoice …``: invoices from files (and, through importers, from where they live)."""

from __future__ import annotations

from pathlib import Path

import typer

from claims import api
from claims.cli.common import TERMS_REMOVED, JsonOption, emit_json, shown_value, workspace_from

app = typer.Typer(no_args_is_help=True, help="Invoices: add from JSON, YAML or CSV; import from "
                                                 "Zoho Books, accounting exports, e-invoices.")


@app.command("add")
def add(ctx: typer.Context,
        file: Path = typer.Argument(..., help="invoices.json, .yaml or .csv"),
        as_json: bool = JsonOption) -> None:
    """Add invoices, all or none. Re-adding the same content changes nothing; changed content
    is updated unless a claim was built from it, or it changes the currency, customer or total
    of an invoice money was applied to (then it is reported as a conflict, kept as it was).

    Example: claims invoice add invoices.json
    """
    result = api.add_invoices(workspace_from(ctx), file)
    if as_json:
        emit_json({"added": result.added, "unchanged": result.unchanged,
                   "changed": result.changed, "conflicts": result.conflicts,
                   "reasons": {n: result.reason(n) for n in result.conflicts},
                   "differences": {n: {k: list(v) for k, v in d.items()}
                                   for n, d in result.differences.items()},
                   "terms_removed": result.terms_removed})
    else:
        typer.echo(f"added {len(result.added)}, unchanged {len(result.unchanged)}, "
                   f"changed {len(result.changed)}, conflicts {len(result.conflicts)}")
        for number in result.changed:
            typer.echo(f"  updated {number}:")
            for key, (old, new) in result.differences.get(number, {}).items():
                typer.echo(f"    {key}: {shown_value(old)} → {shown_value(new)}")
        for number in result.terms_removed:
            typer.echo(f"  {TERMS_REMOVED.format(number=number)}", err=True)
        for number in result.conflicts:
            typer.echo(f"  conflict: {number} {result.reason(number)}; kept the old content:",
                       err=True)
            for key, (old, new) in result.differences.get(number, {}).items():
                typer.echo(f"    {key}: {shown_value(old)} → {shown_value(new)}", err=True)
    if result.conflicts:
        raise typer.Exit(1)


@app.command("show")
def show(ctx: typer.Context, number: str = typer.Argument(..., help="the invoice number"),
         as_json: bool = JsonOption) -> None:
    """Show one invoice: its source, seller (name, VAT number), lines and totals.

    Example: claims invoice show 2026/1800000123 --json
    """
    record = api.show_invoice(workspace_from(ctx), number)
    if as_json:
        emit_json(record)
        return
    inv, src, seller = record["invoice"], record["source"], record["seller"]
    typer.echo(f"invoice {inv['number']} of {inv['issue_date']}"
               + (f", due {inv['due_date']}" if inv.get("due_date") else "")
               + f": {inv['customer'] or '—'}")
    if src is not None:
        typer.echo(f"  source: {src['source']} {src['kind']}"
                   + (f", id {src['external_id']}" if src["external_id"] else "")
                   + (f", import #{src['import_id']}" if src["import_id"] else "")
                   + (f" ({src['origin']})" if src["origin"] else ""))
    if seller:
        typer.echo(f"  seller: {seller.get('name') or '—'}, VAT number "
                   f"{seller.get('vat_number') or '—'}")
    for ln in record["lines"]:
        typer.echo(f"  {ln['quantity']} × {ln['unit_price']}  {ln['description']}: net "
                   f"{ln['net']}, VAT {ln['vat']}")
    t = record["totals"]
    typer.echo(f"  net {t['net']}, VAT {t['vat']}, total {t['total']} {t['currency']}")


from claims.cli import sources  # noqa: E402  (``claims invoice import …``)
app.add_typer(sources.app, name="import")
