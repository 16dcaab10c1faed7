"""Invoice imports as user actions: Zoho Books, CSV/XLSX exports, UBL, Factur-X, ZATCA.

Each import reads its source, stores all or nothing, and returns the
:class:`~claims.sources.common.ImportBatch`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from claims.sources import api as sources
from claims.sources.common import ImportBatch, InvoiceChange
from claims.sources.store import invoice_record, list_imports
from claims.sources.tabular import mappings
from claims.sources.zoho import ZohoError
from claims.workspace import Workspace

__all__ = ["ImportBatch", "InvoiceChange", "import_invoice_files", "import_zoho", "preview_tabular",
           "import_tabular", "import_xml_files", "tabular_mappings", "import_history",
           "show_invoice"]


def import_zoho(ws: Workspace, *, since: date | str | None = None,
                dry_run: bool = False) -> ImportBatch:
    """Invoices modified in Zoho Books since ``since`` (default: since the last import).
    A Zoho that cannot be reached, or keeps refusing, exits 3 (try again later)."""
    try:
        return sources.import_zoho(ws, since=since, dry_run=dry_run)
    except ZohoError as err:
        if err.status is None or err.status == 429 or err.status >= 500:
            err.exit_code = 3
        raise


def import_invoice_files(ws: Workspace, paths: Sequence[Path], *, fmt: str | None = None,
                         mapping: str | None = None, dry_run: bool = False) -> ImportBatch:
    """Invoice files through the registered importers (entry-point group
    ``claims.invoice_sources``): each read by the importer named ``fmt``, else by the first
    that identifies it; all files or none."""
    return sources.import_files(ws, paths, fmt=fmt, mapping=mapping, dry_run=dry_run)


def preview_tabular(ws: Workspace, path: Path, mapping: str, rows: int = 5, *,
                    skip_rows: int | None = None) -> dict[str, Any]:
    """The first ``rows`` rows of a CSV/XLSX export as ``mapping`` reads them; stores nothing."""
    return sources.preview_tabular(ws, path, mapping, rows, skip_rows=skip_rows)


def import_tabular(ws: Workspace, path: Path, mapping: str, *, dry_run: bool = False,
                   skip_rows: int | None = None) -> ImportBatch:
    """A CSV/XLSX accounting export through a column mapping, all rows or none; ``skip_rows``:
    rows above the header (default: found)."""
    return sources.import_tabular(ws, path, mapping, dry_run=dry_run, skip_rows=skip_rows)


def import_xml_files(ws: Workspace, kind: str, paths: Sequence[Path], *,
                     dry_run: bool = False) -> ImportBatch:
    """E-invoices of one kind (``ubl``, ``cii``, ``facturx``, ``zatca``), all files or none."""
    return sources.import_xml_files(ws, kind, paths, dry_run=dry_run)


def tabular_mappings(ws: Workspace) -> dict[str, Any]:
    """The column mappings: built in, and the workspace's own from claims.toml."""
    return mappings(ws.settings.invoice_import)


def import_history(ws: Workspace, limit: int = 50) -> list[dict[str, Any]]:
    """Recent imports: source, input, counts, who and when; newest first."""
    return list_imports(ws, limit)


def show_invoice(ws: Workspace, number: str) -> dict[str, Any]:
    """One invoice as stored: the invoice, its source (import, kind, external id, what the
    source said beyond the invoice), its seller (name, VAT number), lines and totals."""
    return invoice_record(ws, number)
