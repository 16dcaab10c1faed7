"""``claims invoice import …``: invoices from where they already live.

Each command reads its source, stores all or nothing, and prints what it did. ``--json`` prints
the :class:`~claims.sources.common.ImportBatch` (see its ``to_json``). Exit codes: 0 done; 1 bad
input (nothing imported), some invoices conflict (changed after their claim was built; kept
as they were) or a Zoho invoice was held back by an error (the others stored); 3 Zoho could not
be reached.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import typer

from claims import api
from claims.api import ImportBatch, InputError, InvoiceChange
from claims.cli.common import TERMS_REMOVED, JsonOption, emit_json, shown_value, workspace_from

app = typer.Typer(no_args_is_help=True,
                  help="Import invoices: Zoho Books, CSV/XLSX exports, UBL, Factur-X, ZATCA.")

DryRun = typer.Option(False, "--dry-run", help="Read and check everything; store nothing.")


def _change(change: InvoiceChange) -> list[str]:
    return [f"      {field}: {shown_value(old)} → {shown_value(new)}"
            for field, (old, new) in change.fields.items()]


def report(batch: ImportBatch, as_json: bool) -> None:
    """Print the batch; exit 1 if any invoice conflicts (kept, never overwritten)."""
    if as_json:
        emit_json(batch.to_json())
    else:
        verb = "would import" if batch.dry_run else "imported"
        typer.echo(f"{batch.source}: {verb} {batch.invoices} invoice(s): added "
                   f"{len(batch.added)}, unchanged {len(batch.unchanged)}, updated "
                   f"{len(batch.changed)}, conflicts {len(batch.conflicts)}; customers added "
                   f"{batch.customers_added}, contacts added {batch.contacts_added}"
                   + (f"; {batch.requests} request(s)" if batch.requests else ""))
        for change in batch.changed:
            typer.echo(f"  updated {change.number}:")
            for line in _change(change):
                typer.echo(line)
        for number in batch.terms_removed:
            typer.echo(f"  {TERMS_REMOVED.format(number=number)}", err=True)
        for change in batch.conflicts:
            typer.echo(f"  CONFLICT {change.number}: {change.reason}; kept the old content:",
                       err=True)
            for line in _change(change):
                typer.echo(line, err=True)
        for finding in batch.findings:
            typer.echo(f"  {finding.severity}: {finding}", err=True)
    if batch.conflicts or any(f.severity == "error" for f in batch.findings):
        raise typer.Exit(1)   # kept apart, never overwritten; or held back: the others stored


def _since(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        raise InputError(f"{text!r} is not a date like 2026-03-01", field="--since",
                         rule="date-format") from None


@app.command("zoho")
def zoho(ctx: typer.Context,
         since: str = typer.Option(None, "--since", metavar="DATE",
                                   help="Invoices modified since DATE (default: since the last "
                                        "import)."),
         dry_run: bool = DryRun, as_json: bool = JsonOption) -> None:
    """Import from Zoho Books (settings: the invoice_import.zoho table in claims.toml).

    Example: claims invoice import zoho --since 2026-01-01 --dry-run
    """
    batch = api.import_zoho(workspace_from(ctx), since=_since(since), dry_run=dry_run)
    report(batch, as_json)


def _tabular(ctx: typer.Context, file: Path, mapping: str, preview: int | None, dry_run: bool,
             as_json: bool, skip_rows: int | None) -> None:
    ws = workspace_from(ctx)
    if preview is not None:
        shown = api.preview_tabular(ws, file, mapping, preview, skip_rows=skip_rows)
        if as_json:
            emit_json(shown)
            return
        typer.echo(f"{file} through mapping {mapping!r} (first {len(shown['rows'])} rows):")
        for row in shown["rows"]:
            fields = ", ".join(f"{k}={v}" for k, v in row.items() if k != "row" and v)
            typer.echo(f"  row {row['row']}: {fields}")
        return
    report(api.import_tabular(ws, file, mapping, dry_run=dry_run, skip_rows=skip_rows), as_json)


MappingOption = typer.Option(..., "--mapping", "-m",
                             help="quickbooks, quickbooks-invoice-list, sap, sap-en, oracle, or "
                                  "one of yours in claims.toml (claims invoice import mappings).")
PreviewOption = typer.Option(None, "--preview", metavar="N", min=1,
                             help="Show the first N rows (N ≥ 1) as the mapping reads them; "
                                  "import nothing.")
SkipRowsOption = typer.Option(None, "--skip-rows", metavar="N", min=0,
                              help="Rows above the header (default: the header is found: the "
                                   "first row holding the mapping's columns).")


@app.command("csv")
def csv_(ctx: typer.Context, file: Path = typer.Argument(..., help="the CSV export"),
         mapping: str = MappingOption, preview: int | None = PreviewOption, dry_run: bool = DryRun,
         skip_rows: int | None = SkipRowsOption, as_json: bool = JsonOption) -> None:
    """Import a CSV accounting export through a column mapping, all rows or none.

    Example: claims invoice import csv ar.csv --mapping quickbooks --preview 5
    """
    _tabular(ctx, file, mapping, preview, dry_run, as_json, skip_rows)


@app.command("xlsx")
def xlsx(ctx: typer.Context, file: Path = typer.Argument(..., help="the XLSX export"),
         mapping: str = MappingOption, preview: int | None = PreviewOption, dry_run: bool = DryRun,
         skip_rows: int | None = SkipRowsOption, as_json: bool = JsonOption) -> None:
    """Import an XLSX accounting export through a column mapping, all rows or none.

    Example: claims invoice import xlsx receivables.xlsx --mapping oracle
    """
    _tabular(ctx, file, mapping, preview, dry_run, as_json, skip_rows)


Files = typer.Argument(..., help="one or more files")


@app.command("ubl")
def ubl(ctx: typer.Context, files: list[Path] = Files, dry_run: bool = DryRun,
        as_json: bool = JsonOption) -> None:
    """Import UBL 2.1 / PEPPOL BIS 3 invoices and credit notes, all files or none.

    Example: claims invoice import ubl inbox/*.xml
    """
    report(api.import_xml_files(workspace_from(ctx), "ubl", files, dry_run=dry_run), as_json)


@app.command("facturx")
def facturx(ctx: typer.Context, files: list[Path] = Files, dry_run: bool = DryRun,
            as_json: bool = JsonOption) -> None:
    """Import Factur-X / ZUGFeRD PDFs (the embedded XML; the PDF becomes the document).

    Example: claims invoice import facturx RE-2026-001.pdf
    """
    report(api.import_xml_files(workspace_from(ctx), "facturx", files, dry_run=dry_run),
           as_json)


@app.command("cii")
def cii(ctx: typer.Context, files: list[Path] = Files, dry_run: bool = DryRun,
        as_json: bool = JsonOption) -> None:
    """Import plain UN/CEFACT CII XML invoices (XRechnung CII, a Factur-X XML), all or none.

    Example: claims invoice import cii xrechnung-cii/*.xml
    """
    report(api.import_xml_files(workspace_from(ctx), "cii", files, dry_run=dry_run), as_json)


@app.command("zatca")
def zatca(ctx: typer.Context, files: list[Path] = Files, dry_run: bool = DryRun,
          as_json: bool = JsonOption) -> None:
    """Import ZATCA e-invoices (UBL with QR code and invoice hash, both checked).

    Example: claims invoice import zatca SME00062.xml
    """
    report(api.import_xml_files(workspace_from(ctx), "zatca", files, dry_run=dry_run), as_json)


@app.command("mappings")
def list_mappings(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """List the column mappings (built in, and yours from claims.toml).

    Example: claims invoice import mappings --json
    """
    known = api.tabular_mappings(workspace_from(ctx))
    if as_json:
        emit_json({name: m.model_dump() for name, m in known.items()})
        return
    for name, m in known.items():
        typer.echo(f"{name}: {m.description or ', '.join(m.columns.values())}")


@app.command("history")
def history(ctx: typer.Context,
            limit: int = typer.Option(20, "--limit", min=1, help="How many (≥ 1)."),
            as_json: bool = JsonOption) -> None:
    """Recent imports: source, input, counts, who and when.

    Example: claims invoice import history --limit 5
    """
    rows = api.import_history(workspace_from(ctx), limit)
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        typer.echo(f"#{r['id']} {r['finished_at'][:19]} {r['source']} by {r['actor']}: "
                   f"{r['invoices']} invoice(s), +{r['added']} ={r['unchanged']} "
                   f"~{r['changed']} !{r['conflicts']}  {r['target']}")
