"""The import functions the CLI calls: read a source, store all or nothing, return the batch."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from claims.errors import InputError
from claims.sources.common import ImportBatch, SourceInvoice, sha256_of
from claims.sources.store import store_batch
from claims.workspace import Workspace


def _read_all(paths: Sequence[Path]) -> list[bytes]:
    out = []
    for path in paths:
        try:
            out.append(path.read_bytes())
        except OSError as err:
            raise InputError(f"cannot read: {err.strerror}", file=str(path),
                             rule="readable") from err
    return out


def import_xml_files(ws: Workspace, kind: str, paths: Sequence[Path], *,
                     dry_run: bool = False) -> ImportBatch:
    """Import UBL (``ubl``), Factur-X (``facturx``) or ZATCA (``zatca``) files, all or none.

    Every file is read and checked first; one bad file (unsafe or malformed XML, a total that
    does not add up, an unknown currency) stops the import and nothing is stored.
    """
    if not paths:
        raise InputError("no files given", field="FILE", rule="files-required")
    blobs = _read_all(paths)
    items: list[SourceInvoice] = []
    for path, data in zip(paths, blobs, strict=True):
        if kind == "ubl":
            from claims.sources.ubl import parse_ubl
            items.append(parse_ubl(data, file=str(path)))
        elif kind == "facturx":
            from claims.sources.facturx import parse_facturx
            items.append(parse_facturx(data, file=str(path)))
        elif kind == "zatca":
            from claims.sources.zatca import parse_zatca
            items.append(parse_zatca(data, file=str(path)))
        else:  # pragma: no cover - the CLI offers only the three
            raise InputError(f"unknown e-invoice kind {kind!r}", rule="known-source")
    return store_batch(ws, items, source=kind, target=", ".join(str(p) for p in paths),
                       input_sha256=sha256_of(blobs), dry_run=dry_run)


def import_tabular(ws: Workspace, path: Path, mapping_name: str, *,
                   dry_run: bool = False) -> ImportBatch:
    """Import a CSV or XLSX accounting export through the named mapping, all rows or none."""
    from claims.sources.tabular import get_mapping, read_tabular

    mapping = get_mapping(mapping_name, ws.settings.extra)
    source = "xlsx" if path.suffix.lower() in (".xlsx", ".xlsm") else "csv"
    items = read_tabular(path, mapping, mapping_name, source=source)
    return store_batch(ws, items, source=source, target=str(path),
                       input_sha256=sha256_of(_read_all([path])), dry_run=dry_run,
                       detail={"mapping": mapping_name})


def preview_tabular(ws: Workspace, path: Path, mapping_name: str, rows: int = 5) -> dict:
    """The first ``rows`` rows of an export as the mapping reads them."""
    from claims.sources.tabular import get_mapping, preview

    return preview(path, get_mapping(mapping_name, ws.settings.extra), mapping_name, rows)
