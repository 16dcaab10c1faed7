"""Real, realistic sample PDFs for ``claims init --with-samples``, the demo, tests and benchmarks.

The documents are real PDFs made with fpdf2 (text a portal or
:mod:`claims.lifecycle.documents.pdf` can
read), not placeholders. Output is deterministic: the creation date is derived from the
document's own issue date and nothing random goes in, so the same inputs give the same bytes
and a bundle built from samples is byte-reproducible. The only exception is
:func:`make_padded_pdf`, whose padding is random on purpose (incompressible).

Also here: the bad files tests need (encrypted, truncated, corrupt, empty, ZIP or EXE named
``.pdf``, a PDF without pages).
"""

from __future__ import annotations

import io
import os
import re
import unicodedata
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Literal

from fpdf import FPDF
from fpdf.enums import XPos, YPos

__all__ = [
    "CERTIFICATE_KINDS",
    "InvoiceTotals",
    "format_money",
    "make_certificate_pdf",
    "make_corrupt_pdf",
    "make_encrypted_pdf",
    "make_exe_named_pdf",
    "make_invoice_pdf",
    "make_no_pages_pdf",
    "make_padded_pdf",
    "make_truncated_pdf",
    "make_zero_byte_pdf",
    "make_zip_named_pdf",
]

PathLike = str | os.PathLike[str]
_CENT = Decimal("0.01")

#: kind → default title. Tax and registration certificates carry "Expiry Date: YYYY-MM-DD".
CERTIFICATE_KINDS: dict[str, str] = {
    "completion-certificate": "Certificate of Completion",
    "delivery-note": "Delivery Note",
    "timesheet": "Timesheet",
    "tax-certificate": "Tax Compliance Certificate",
    "registration-certificate": "Certificate of Registration",
}


def format_money(amount: Decimal) -> str:
    """Format an amount the way the samples print it: half-up to 2 places, ``9,000.00``."""
    return f"{amount.quantize(_CENT, rounding=ROUND_HALF_UP):,.2f}"


@dataclass(frozen=True)
class InvoiceTotals:
    """The amounts printed on a sample invoice (each line rounded half-up to 2 places)."""

    currency: str
    line_amounts: tuple[Decimal, ...]
    net: Decimal
    vat: Decimal
    total: Decimal


# Core PDF fonts only cover Latin-1; map what specialists commonly type, then strip accents.
_REPLACEMENTS = str.maketrans({
    "€": "EUR", "£": "GBP", "–": "-", "—": "-", "‐": "-", "−": "-", "‘": "'", "’": "'",
    "“": '"', "”": '"', "…": "...", "\u00a0": " ", "\u202f": " ", "\u2009": " ",
})  # fmt: skip


def _latin1(text: str) -> str:
    text = text.translate(_REPLACEMENTS)
    try:
        text.encode("latin-1")
        return text
    except UnicodeEncodeError:
        pass
    out = []
    for ch in text:
        try:
            ch.encode("latin-1")
            out.append(ch)
        except UnicodeEncodeError:
            base = unicodedata.normalize("NFKD", ch).encode("latin-1", "ignore").decode()
            out.append(base or "?")
    return "".join(out)


class _SampleDoc(FPDF):
    """A4 document with a running header (e.g. the invoice number) and page numbers."""

    def __init__(self, running_header: str, footer_left: str, created: date) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self._running_header = _latin1(running_header)
        self._footer_left = _latin1(footer_left)
        # Deterministic bytes: the creation date comes from the document, not the clock.
        self.set_creation_date(datetime.combine(created, time(12, 0), tzinfo=UTC))
        self.set_author(self._footer_left)
        self.set_auto_page_break(auto=True, margin=20)
        self.set_margins(18, 18, 18)

    def header(self) -> None:
        self.set_font("Helvetica", "", 8)
        self.cell(0, 5, self._running_header, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(4)

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font("Helvetica", "", 8)
        self.cell(0, 5, f"{self._footer_left} - page {self.page_no()} of {{nb}}", align="C")

    def line_text(self, text: str, *, size: float = 10, style: str = "", h: float = 6) -> None:
        self.set_font("Helvetica", style, size)
        self.multi_cell(0, h, _latin1(text), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def row(self, cells: Sequence[str], widths: Sequence[float], *, style: str = "",
            aligns: Sequence[str] = (), border: Literal[0, 1] | str = 0) -> None:  # fmt: skip
        self.set_font("Helvetica", style, 9)
        for i, (text, width) in enumerate(zip(cells, widths, strict=True)):
            align = aligns[i] if i < len(aligns) else "L"
            self.cell(width, 7, _latin1(text), border=border, align=align)
        self.ln(7)

    def fill_to(self, pages: int, sections: Sequence[tuple[str, Sequence[str]]]) -> None:
        """Add pages until there are ``pages``: one per section, the last section repeated."""
        index = 0
        while self.page_no() < pages and sections:
            heading, lines = sections[min(index, len(sections) - 1)]
            self.add_page()
            self.line_text(heading, size=12, style="B", h=8)
            for text in lines:
                self.line_text(text)
            index += 1

    def write_to(self, path: PathLike) -> Path:
        target = Path(path)
        target.write_bytes(bytes(self.output()))
        return target


def make_invoice_pdf(
    path: PathLike,
    *,
    supplier: str,
    customer: str,
    number: str,
    issue_date: date,
    currency: str,
    lines: Sequence[tuple[str, Decimal, Decimal]],
    vat_percent: Decimal,
    pages: int = 2,
    payment_terms_days: int = 30,
) -> InvoiceTotals:
    """Write a sample invoice PDF to ``path`` and return the amounts printed on it.

    ``lines`` are ``(description, quantity, unit price)``; each line amount is rounded half-up
    to 2 places, VAT is ``vat_percent`` of the net, likewise rounded. The invoice number is on
    every page; ``pages`` is the minimum page count (page 2 on carries payment instructions and
    terms). Amounts are printed as ``9,000.00``. Supplier and customer may span several lines.
    """
    if not lines:
        raise ValueError("an invoice needs at least one line")
    amounts = tuple((q * p).quantize(_CENT, rounding=ROUND_HALF_UP) for _d, q, p in lines)
    net = sum(amounts, Decimal(0))
    vat = (net * vat_percent / 100).quantize(_CENT, rounding=ROUND_HALF_UP)
    totals = InvoiceTotals(currency, amounts, net, vat, net + vat)
    supplier_name = supplier.splitlines()[0]

    doc = _SampleDoc(f"Invoice {number}", supplier_name, issue_date)
    doc.add_page()
    doc.line_text("INVOICE", size=18, style="B", h=10)
    doc.line_text(supplier, style="B")
    doc.ln(3)
    doc.line_text(f"Invoice number: {number}")
    doc.line_text(f"Issue date: {issue_date.isoformat()}")
    due = issue_date + timedelta(days=payment_terms_days)
    doc.line_text(f"Payment due: {due.isoformat()} ({payment_terms_days} days net)")
    doc.line_text(f"Currency: {currency}")
    doc.ln(3)
    doc.line_text("Bill to:", style="B")
    doc.line_text(customer)
    doc.ln(4)
    widths = (84, 22, 34, 34)
    aligns = ("L", "R", "R", "R")
    doc.row(("Description", "Qty", f"Unit price ({currency})", f"Amount ({currency})"),
            widths, style="B", aligns=aligns, border="B")  # fmt: skip
    for (description, qty, price), amount in zip(lines, amounts, strict=True):
        doc.row((description, f"{qty:,}", format_money(price), format_money(amount)),
                widths, aligns=aligns)  # fmt: skip
    doc.ln(2)
    label_w, value_w = 140, 34
    for label, value, style in (
        ("Net amount", net, ""),
        (f"VAT {vat_percent}%", vat, ""),
        (f"Total due ({currency})", totals.total, "B"),
    ):
        doc.row((label, format_money(value)), (label_w, value_w), style=style, aligns=("R", "R"))
    doc.fill_to(pages, [
        ("Payment instructions", (
            (f"Please pay {currency} {format_money(totals.total)} by {due.isoformat()}, "
             f"quoting invoice number {number}."),
            f"Payee: {supplier_name}. Bank transfer only.",
        )),
        ("Terms and conditions", (
            ("Late payments accrue statutory interest. Queries about this invoice must be "
             "raised within 14 days of receipt."),
            "Work is delivered under the contract named on the purchase order.",
        )),
    ])  # fmt: skip
    doc.write_to(path)
    return totals


def _working_days_until(end: date, count: int) -> list[date]:
    days: list[date] = []
    day = end
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day -= timedelta(days=1)
    return sorted(days)


def make_certificate_pdf(
    path: PathLike,
    *,
    kind: str,
    title: str | None = None,
    holder: str,
    number_reference: str | None = None,
    issue_date: date,
    expiry_date: date | None = None,
    body_lines: Sequence[str] = (),
    issuer: str = "Issuing Authority",
    timesheet_days: Sequence[tuple[date, Decimal]] = (),
) -> Path:
    """Write a supporting document of ``kind`` (one of :data:`CERTIFICATE_KINDS`) to ``path``.

    Prints the title (default per kind), the holder, ``Reference: <number_reference>`` when
    given (e.g. the invoice number), ``Date of issue: YYYY-MM-DD``, ``Expiry Date: YYYY-MM-DD``
    when ``expiry_date`` is given (tax and registration certificates normally have one), the
    ``body_lines`` and, for a timesheet, a table of days and hours (``timesheet_days``, default
    five working days of 8 hours up to the issue date) with the total. Returns the path.
    """
    if kind not in CERTIFICATE_KINDS:
        raise ValueError(f"unknown document kind {kind!r}; expected one of "
                         f"{', '.join(CERTIFICATE_KINDS)}")  # fmt: skip
    heading = title or CERTIFICATE_KINDS[kind]
    running = f"{heading} - {number_reference}" if number_reference else heading
    doc = _SampleDoc(running, issuer, issue_date)
    doc.add_page()
    doc.line_text(heading, size=18, style="B", h=10)
    doc.line_text(f"Issued by: {issuer}")
    doc.ln(3)
    doc.line_text(f"Holder: {holder}")
    if number_reference:
        doc.line_text(f"Reference: {number_reference}")
    doc.line_text(f"Date of issue: {issue_date.isoformat()}")
    if expiry_date is not None:
        doc.line_text(f"Expiry Date: {expiry_date.isoformat()}", style="B")
    doc.ln(4)
    for text in body_lines:
        doc.line_text(text)
    if kind == "timesheet":
        days = list(timesheet_days) or [(d, Decimal("8.00")) for d in
                                        _working_days_until(issue_date, 5)]  # fmt: skip
        doc.ln(2)
        widths = (40, 40, 30)
        doc.row(("Date", "Day", "Hours"), widths, style="B", aligns=("L", "L", "R"), border="B")
        for day, hours in days:
            doc.row((day.isoformat(), day.strftime("%A"), f"{hours:.2f}"), widths,
                    aligns=("L", "L", "R"))  # fmt: skip
        total = sum((h for _d, h in days), Decimal(0))
        doc.row(("Total hours", "", f"{total:.2f}"), widths, style="B", aligns=("L", "L", "R"))
    doc.ln(8)
    doc.line_text("Signed: ______________________   for " + issuer)
    return doc.write_to(path)


# --------------------------------------------------------------------------- big files

_TRAILER_KEYS = re.compile(rb"trailer\s*<<(?P<body>.*?)>>\s*startxref\s*(?P<xref>\d+)", re.DOTALL)


def _simple_pdf_bytes(title: str, body_lines: Sequence[str], created: date) -> bytes:
    doc = _SampleDoc(title, "Claimwright sample", created)
    doc.add_page()
    doc.line_text(title, size=16, style="B", h=9)
    for text in body_lines:
        doc.line_text(text)
    return bytes(doc.output())


def make_padded_pdf(
    path: PathLike,
    target_bytes: int,
    *,
    title: str = "Scanned attachment",
    body_lines: Sequence[str] = (
        "This document has one page of text and a large embedded object that is not shown.",
    ),
    created: date = date(2024, 1, 1),
) -> Path:
    """Write a valid PDF of about ``target_bytes`` (within a few hundred bytes; never smaller
    than the one-page document itself) to ``path`` and return the path.

    The document is one page of text from fpdf2, followed by an incremental update that adds
    a stream object of random, incompressible bytes, not referenced from the page. The padding
    is written in 1 MiB chunks, so memory does not grow with ``target_bytes``; pypdf opens the
    result and reads the page text without touching the padding.
    """
    base = _simple_pdf_bytes(title, body_lines, created)
    matches = list(_TRAILER_KEYS.finditer(base))
    match = matches[-1] if matches else None  # the last trailer is the one in force
    if match is None:  # pragma: no cover - fpdf2 always writes a classic trailer
        raise RuntimeError("fpdf2 output has no trailer")
    body = match.group("body")
    size_m = re.search(rb"/Size\s+(\d+)", body)
    root_m = re.search(rb"/Root\s+\d+\s+\d+\s+R", body)
    if size_m is None or root_m is None:  # pragma: no cover
        raise RuntimeError("fpdf2 trailer lacks /Size or /Root")
    obj_num = int(size_m.group(1))
    keep = [root_m.group(0)]
    for key in (rb"/Info\s+\d+\s+\d+\s+R", rb"/ID\s*\[[^\]]*\]"):
        m = re.search(key, body)
        if m:
            keep.append(m.group(0))
    prev = int(match.group("xref"))

    sep = b"" if base.endswith(b"\n") else b"\n"
    obj_offset = len(base) + len(sep)

    def tail_for(length: int, obj_head_len: int) -> bytes:
        xref_offset = obj_offset + obj_head_len + length + len(b"\nendstream\nendobj\n")
        return (
            b"\nendstream\nendobj\n"
            + b"xref\n" + f"{obj_num} 1\n{obj_offset:010d} 00000 n \n".encode()
            + b"trailer\n<< /Size " + str(obj_num + 1).encode() + b" " + b" ".join(keep)
            + b" /Prev " + str(prev).encode() + b" >>\n"
            + b"startxref\n" + str(xref_offset).encode() + b"\n%%EOF\n"
        )

    # Solve for the stream length so the file lands on target_bytes (the header and tail
    # lengths depend on the digits of the length, so iterate a couple of times).
    length = max(target_bytes - len(base) - 200, 0)
    for _ in range(4):
        head = f"{obj_num} 0 obj\n<< /Length {length} >>\nstream\n".encode()
        overhead = len(sep) + len(head) + len(tail_for(length, len(head)) )
        length = max(target_bytes - len(base) - overhead, 0)
    head = f"{obj_num} 0 obj\n<< /Length {length} >>\nstream\n".encode()

    target = Path(path)
    with target.open("wb") as fh:
        fh.write(base + sep + head)
        remaining = length
        chunk = 1024 * 1024
        while remaining > 0:
            n = min(chunk, remaining)
            fh.write(os.urandom(n))
            remaining -= n
        fh.write(tail_for(length, len(head)))
    return target


# --------------------------------------------------------------------------- bad files

_BAD_DATE = date(2024, 1, 1)


def make_encrypted_pdf(
    path: PathLike,
    *,
    user_password: str = "",
    owner_password: str = "owner-secret",
    text: str = "Confidential certificate",
) -> Path:
    """Write a one-page PDF encrypted with RC4 (openable without extra packages). With the
    default empty user password it opens without a prompt but is still encrypted."""
    doc = _SampleDoc(text, "Claimwright sample", _BAD_DATE)
    doc.set_encryption(owner_password=owner_password, user_password=user_password)
    doc.add_page()
    doc.line_text(text)
    return doc.write_to(path)


def make_truncated_pdf(path: PathLike, *, keep_fraction: float = 0.6) -> Path:  # ok: not money
    """Write the first ``keep_fraction`` of a valid two-page PDF, as an interrupted download
    leaves it (no cross-reference table, no ``%%EOF``)."""
    data = _simple_pdf_bytes("Truncated document", ["Line of text"] * 60, _BAD_DATE)
    cut = max(16, int(len(data) * keep_fraction))
    target = Path(path)
    target.write_bytes(data[:cut])
    return target


def make_corrupt_pdf(
    path: PathLike, *, damage: Literal["xref", "objects", "both"] = "both"
) -> Path:
    """Write a PDF with a valid header and ``%%EOF`` but damaged insides: ``"xref"`` overwrites
    the cross-reference table with junk, ``"objects"`` garbles the page tree objects while the
    xref still points at them, ``"both"`` does both."""
    data = bytearray(_simple_pdf_bytes("Corrupt document", ["Some text"], _BAD_DATE))
    if damage in ("objects", "both"):
        # Garble the dictionaries of every object after its header, keeping lengths (and so
        # the xref offsets) intact.
        for m in re.finditer(rb"\d+ 0 obj\s*<<", bytes(data)):
            start = m.end()
            for i in range(start, min(start + 24, len(data))):
                data[i] = 0x3F  # "?"
    if damage in ("xref", "both"):
        end = data.rfind(b"startxref")
        start = data.rfind(b"\nxref", 0, end) + 1
        data[start:end] = b"#" * (end - start)
    target = Path(path)
    target.write_bytes(bytes(data))
    return target


def make_zero_byte_pdf(path: PathLike) -> Path:
    """Write an empty file (named ``.pdf`` by the caller)."""
    target = Path(path)
    target.write_bytes(b"")
    return target


def make_zip_named_pdf(path: PathLike) -> Path:
    """Write a real ZIP archive (holding a real PDF) to ``path``, typically named ``.pdf``."""
    inner = _simple_pdf_bytes("Zipped document", ["Inside a ZIP"], _BAD_DATE)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo("invoice.pdf", date_time=(2024, 1, 1, 0, 0, 0))
        zf.writestr(info, inner)
    target = Path(path)
    target.write_bytes(buf.getvalue())
    return target


def make_exe_named_pdf(path: PathLike) -> Path:
    """Write the start of a Windows executable (MZ header and DOS stub) to ``path``."""
    header = bytearray(128)
    header[0:2] = b"MZ"
    header[0x3C:0x40] = (0x80).to_bytes(4, "little")  # e_lfanew: PE header follows the stub
    stub = b"This program cannot be run in DOS mode.\r\r\n$"
    header[0x4E : 0x4E + len(stub)] = stub
    target = Path(path)
    target.write_bytes(bytes(header) + b"PE\x00\x00" + bytes(252))
    return target


def make_no_pages_pdf(path: PathLike) -> Path:
    """Write a structurally valid PDF whose page tree is empty (``/Count 0``)."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [] /Count 0 >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\n".encode()
    out += f"startxref\n{xref}\n%%EOF\n".encode()
    target = Path(path)
    target.write_bytes(bytes(out))
    return target
