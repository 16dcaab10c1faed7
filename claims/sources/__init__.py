"""Invoice sources: Zoho Books, accounting exports (CSV / XLSX), UBL, Factur-X and ZATCA.

Each source module reads and returns :class:`~claims.sources.common.SourceInvoice` records;
:func:`~claims.sources.store.store_batch` stores them all or nothing and records the import.
The ``import_*`` functions in :mod:`claims.sources.api` are what the CLI calls.
"""

from claims.sources.common import ImportBatch, ImportFinding, ImportRejected, SourceInvoice

__all__ = ["ImportBatch", "ImportFinding", "ImportRejected", "SourceInvoice"]
