"""claims.samples.pdfs: real, deterministic sample PDFs and the bad files tests rely on."""

from __future__ import annotations

import zipfile
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from pypdf.errors import PdfReadError

from claims.samples import pdfs as samples


def _text(path: Path) -> list[str]:
    with path.open("rb") as fh:
        return [page.extract_text() for page in PdfReader(fh).pages]


INVOICE: dict[str, Any] = {
    "supplier": "Acme Engineering Ltd\n1 High Street",
    "customer": "Ministry of Public Works\nProcurement Unit",
    "number": "INV-2024-0042",
    "issue_date": date(2024, 5, 1),
    "currency": "EUR",
    "lines": [("Structural survey", Decimal(10), Decimal(900)),
              ("Mileage", Decimal(123), Decimal("0.455"))],
    "vat_percent": Decimal(15),
}


def test_invoice_totals_are_rounded_half_up_per_line(tmp_path: Path) -> None:
    totals = samples.make_invoice_pdf(tmp_path / "i.pdf", **INVOICE)
    # 123 x 0.455 = 55.965 -> 55.97 (half-up), not 55.96
    assert totals.line_amounts == (Decimal("9000.00"), Decimal("55.97"))
    assert totals.net == Decimal("9055.97")
    assert totals.vat == Decimal("1358.40")  # 1358.3955 -> 1358.40
    assert totals.total == Decimal("10414.37")
    assert totals.currency == "EUR"


def test_invoice_prints_lines_totals_and_number_on_every_page(tmp_path: Path) -> None:
    path = tmp_path / "invoice.pdf"
    samples.make_invoice_pdf(path, **{**INVOICE, "pages": 3})
    pages = _text(path)
    assert len(pages) == 3
    assert all("INV-2024-0042" in page for page in pages)
    first = pages[0]
    for expected in ("INVOICE", "Acme Engineering Ltd", "Ministry of Public Works",
                     "Issue date: 2024-05-01", "Structural survey", "9,000.00", "55.97",
                     "Net amount 9,055.97", "VAT 15% 1,358.40", "10,414.37", "page 1 of 3"):
        assert expected in first, expected
    assert "Please pay EUR 10,414.37" in pages[1]


def test_invoice_grows_past_requested_pages_when_lines_need_it(tmp_path: Path) -> None:
    lines = [(f"Item {i}", Decimal(1), Decimal(10)) for i in range(80)]
    path = tmp_path / "long.pdf"
    totals = samples.make_invoice_pdf(path, **{**INVOICE, "lines": lines, "pages": 1})
    pages = _text(path)
    assert len(pages) >= 2 and all("INV-2024-0042" in p for p in pages)
    assert totals.net == Decimal("800.00")
    with pytest.raises(ValueError, match="at least one line"):
        samples.make_invoice_pdf(tmp_path / "x.pdf", **{**INVOICE, "lines": []})


def test_non_latin1_text_is_printed_not_crashed(tmp_path: Path) -> None:
    path = tmp_path / "intl.pdf"
    samples.make_invoice_pdf(path, **{**INVOICE, "supplier": "Ægir — Façades € Ωmega Ltd"})
    text = _text(path)[0]
    assert "Ægir - Façades EUR" in text and "mega Ltd" in text


@pytest.mark.parametrize("kind", sorted(samples.CERTIFICATE_KINDS))
def test_certificates_of_every_kind(tmp_path: Path, kind: str) -> None:
    expires = date(2027, 3, 31) if kind in ("tax-certificate", "registration-certificate") else None
    path = samples.make_certificate_pdf(
        tmp_path / f"{kind}.pdf", kind=kind, holder="Acme Engineering Ltd",
        number_reference="INV-2024-0042", issue_date=date(2024, 4, 30), expiry_date=expires,
        body_lines=["Work under contract C-77 completed to specification."],
    )
    text = "\n".join(_text(path))
    assert samples.CERTIFICATE_KINDS[kind] in text
    assert "Holder: Acme Engineering Ltd" in text
    assert "Reference: INV-2024-0042" in text
    assert "Date of issue: 2024-04-30" in text
    assert "contract C-77" in text
    assert ("Expiry Date: 2027-03-31" in text) is (expires is not None)


def test_timesheet_has_a_table_of_days_and_hours(tmp_path: Path) -> None:
    default = samples.make_certificate_pdf(
        tmp_path / "ts.pdf", kind="timesheet", holder="J. Smith", number_reference=None,
        issue_date=date(2024, 4, 30),
    )
    text = _text(default)[0]
    # five working days up to Tuesday 30 April, weekend skipped
    assert "2024-04-24 Wednesday 8.00" in text and "2024-04-29 Monday 8.00" in text
    assert "2024-04-27" not in text and "Total hours 40.00" in text
    custom = samples.make_certificate_pdf(
        tmp_path / "ts2.pdf", kind="timesheet", holder="J. Smith", issue_date=date(2024, 4, 30),
        timesheet_days=[(date(2024, 4, 1), Decimal("7.5")), (date(2024, 4, 2), Decimal(4))],
    )
    assert "Total hours 11.50" in _text(custom)[0]


def test_unknown_kind_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown document kind 'invoice'"):
        samples.make_certificate_pdf(tmp_path / "x.pdf", kind="invoice", holder="A",
                                     issue_date=date(2024, 1, 1))
    assert not (tmp_path / "x.pdf").exists()


def test_same_inputs_give_identical_bytes(tmp_path: Path) -> None:
    a = tmp_path / "a.pdf"
    b = tmp_path / "b.pdf"
    c = tmp_path / "c.pdf"
    samples.make_invoice_pdf(a, **INVOICE)
    samples.make_invoice_pdf(b, **INVOICE)
    samples.make_invoice_pdf(c, **{**INVOICE, "number": "INV-2024-0043"})
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    cert: dict[str, Any] = {"kind": "tax-certificate", "holder": "Acme",
                            "issue_date": date(2024, 4, 1), "expiry_date": date(2027, 3, 31)}
    samples.make_certificate_pdf(a, **cert)
    samples.make_certificate_pdf(b, **cert)
    assert a.read_bytes() == b.read_bytes()


@pytest.mark.parametrize("target", [1_000_000, 5 * 1024 * 1024 + 3])
def test_padded_pdf_has_the_size_asked_and_its_text(tmp_path: Path, target: int) -> None:
    path = samples.make_padded_pdf(tmp_path / "big.pdf", target, body_lines=["Needle NX-42"])
    assert path.stat().st_size == target
    with path.open("rb") as fh:
        reader = PdfReader(fh, strict=True)  # a correct xref, even for a strict reader
        assert len(reader.pages) == 1
        assert "Needle NX-42" in reader.pages[0].extract_text()
        # the padding is a real, incompressible stream object of the right length
        padding = reader.get_object(max(reader.xref[0]))  # the last object is the padding
        assert len(padding.get_data()) > target - 5000  # type: ignore[union-attr]


def test_padded_pdf_smaller_than_its_page_is_still_valid(tmp_path: Path) -> None:
    path = samples.make_padded_pdf(tmp_path / "tiny.pdf", 10)
    assert _text(path) and "Scanned attachment" in _text(path)[0]


def test_bad_files_are_what_they_claim(tmp_path: Path) -> None:
    enc = samples.make_encrypted_pdf(tmp_path / "enc.pdf", user_password="pw")
    with enc.open("rb") as fh:
        assert PdfReader(fh).is_encrypted
    trunc = samples.make_truncated_pdf(tmp_path / "trunc.pdf").read_bytes()
    assert trunc.startswith(b"%PDF-") and b"%%EOF" not in trunc and b"xref" not in trunc
    for damage in ("xref", "objects", "both"):
        corrupt = samples.make_corrupt_pdf(tmp_path / f"corrupt-{damage}.pdf", damage=damage)
        assert corrupt.read_bytes().rstrip().endswith(b"%%EOF")
        with corrupt.open("rb") as fh, pytest.raises(PdfReadError):
            PdfReader(fh, strict=True).pages[0].extract_text()
    assert samples.make_zero_byte_pdf(tmp_path / "zero.pdf").stat().st_size == 0
    zipped = samples.make_zip_named_pdf(tmp_path / "zip.pdf")
    with zipfile.ZipFile(zipped) as zf:
        assert zf.namelist() == ["invoice.pdf"] and zf.read("invoice.pdf").startswith(b"%PDF-")
    assert samples.make_exe_named_pdf(tmp_path / "exe.pdf").read_bytes()[:2] == b"MZ"
    with samples.make_no_pages_pdf(tmp_path / "none.pdf").open("rb") as fh:
        assert len(PdfReader(fh, strict=True).pages) == 0
