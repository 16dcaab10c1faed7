"""The built-in invoice sources as importers (entry-point group ``claims.invoice_sources``).

E-invoices (UBL, ZATCA, CII XML, Factur-X PDFs) and accounting exports (CSV / XLSX through a
column mapping); Claimwright's own invoice files are in :mod:`claims.sources.invoice_file`.
Each ``extract`` returns a list of :class:`~claims.sources.common.SourceInvoice`; the tabular
ones need ``options["mapping"]`` (a :class:`~claims.sources.tabular.Mapping`) and
``options["mapping_name"]``. Zoho Books is not here: it is an API with a cursor and a store-side
check of voided invoices, not a file, so it stays the named source
:func:`claims.sources.api.import_zoho`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from claims.core.importers import FileImporter, read_head
from claims.errors import InputError
from claims.sources.common import SourceInvoice
from claims.sources.facturx import NS as CII_NS
from claims.sources.facturx import extract_xml, parse_cii, parse_facturx
from claims.sources.tabular import read_tabular
from claims.sources.ubl import CREDIT_NOTE_NS, INVOICE_NS, parse_ubl
from claims.sources.zatca import parse_zatca

#: ZATCA documents say so in their ProfileID, after a signature block of a few KiB.
ZATCA_HEAD_BYTES = 64 * 1024


def _is_ubl(head: bytes) -> bool:
    return INVOICE_NS.encode() in head or CREDIT_NOTE_NS.encode() in head


class UblSource(FileImporter):
    """UBL 2.1 / PEPPOL BIS 3 invoices and credit notes: an .xml file in a UBL namespace."""

    name = "ubl"
    description = "UBL 2.1 / PEPPOL BIS 3 invoice or credit note (XML)"
    suffixes = (".xml",)
    priority = 20

    def matches(self, head: bytes) -> bool:
        """True if the UBL Invoice or CreditNote namespace is declared."""
        return _is_ubl(head)

    def extract(self, path: Path, options: Mapping[str, Any]) -> list[SourceInvoice]:
        """The one invoice of ``path``; see :func:`claims.sources.ubl.parse_ubl`."""
        return [parse_ubl(self.read(path), file=str(path))]


class ZatcaSource(UblSource):
    """ZATCA e-invoices: UBL whose ProfileID is ``reporting:1.0`` (tried before plain UBL)."""

    name = "zatca"
    description = "ZATCA (FATOORA) e-invoice: UBL with QR code and invoice hash"
    priority = 10

    def identify(self, path: Path) -> bool:
        """True for an .xml UBL file whose first 64 KiB carry the ZATCA profile."""
        if path.suffix.lower() not in self.suffixes:
            return False
        try:
            head = read_head(path, ZATCA_HEAD_BYTES)
        except OSError:
            return False
        return _is_ubl(head) and b">reporting:1.0<" in head

    def extract(self, path: Path, options: Mapping[str, Any]) -> list[SourceInvoice]:
        """The one invoice of ``path``; see :func:`claims.sources.zatca.parse_zatca`."""
        return [parse_zatca(self.read(path), file=str(path))]


class CiiSource(FileImporter):
    """UN/CEFACT CII XML (the XML inside Factur-X, or an XRechnung CII file)."""

    name = "cii"
    description = "UN/CEFACT Cross Industry Invoice (XML)"
    suffixes = (".xml",)
    priority = 20

    def matches(self, head: bytes) -> bool:
        """True if the CrossIndustryInvoice namespace is declared."""
        return CII_NS["rsm"].encode() in head

    def extract(self, path: Path, options: Mapping[str, Any]) -> list[SourceInvoice]:
        """The one invoice of ``path``; see :func:`claims.sources.facturx.parse_cii`."""
        return [parse_cii(self.read(path), file=str(path))]


class FacturxSource(FileImporter):
    """Factur-X / ZUGFeRD: a PDF with one of the invoice attachments. (Attachment names sit in
    compressed streams, so ``identify`` opens the PDF's attachment list: not a byte sniff.)"""

    name = "facturx"
    description = "Factur-X / ZUGFeRD PDF with the CII invoice embedded"
    suffixes = (".pdf",)
    priority = 20

    def identify(self, path: Path) -> bool:
        """True for a .pdf file with a Factur-X / ZUGFeRD / XRechnung XML attachment."""
        if path.suffix.lower() not in self.suffixes:
            return False
        try:
            data = path.read_bytes()
            extract_xml(data, file=str(path))
        except (OSError, InputError):
            return False
        return True

    def extract(self, path: Path, options: Mapping[str, Any]) -> list[SourceInvoice]:
        """The one invoice of ``path``, the PDF its document; see ``parse_facturx``."""
        return [parse_facturx(self.read(path), file=str(path))]


class CsvExportSource(FileImporter):
    """An accounting export as CSV, read through a column mapping (the catch-all for .csv)."""

    name = "csv"
    description = "CSV accounting export, through a column mapping (--mapping)"
    suffixes = (".csv",)
    priority = 1000

    def extract(self, path: Path, options: Mapping[str, Any]) -> list[SourceInvoice]:
        """The invoices of ``path``, all rows checked; see ``tabular.read_tabular``."""
        mapping = options.get("mapping")
        if mapping is None:
            raise InputError(f"the {self.name} source reads through a column mapping; name one",
                             file=str(path), field="--mapping", rule="mapping-required")
        return read_tabular(path, mapping, options.get("mapping_name") or "?",
                            source=self.name)


class XlsxExportSource(CsvExportSource):
    """An accounting export as an Excel workbook (a zip file), through a column mapping."""

    name = "xlsx"
    description = "XLSX accounting export, through a column mapping (--mapping)"
    suffixes = (".xlsx", ".xlsm")
    priority = 100

    def matches(self, head: bytes) -> bool:
        """True if the file is a zip archive (as every workbook is)."""
        return head.startswith(b"PK\x03\x04")
