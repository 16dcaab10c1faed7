"""claims.lifecycle.documents.pdf: sniffing, hashing and PDF inspection on real generated files."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from claims.samples import pdfs as samples
from claims.lifecycle.documents.pdf import (
    PdfProblemCode,
    hash_file,
    inspect_pdf,
    sniff_media_type,
)
from claims.lifecycle.documents.text import amount_spellings, find_labelled_dates, text_contains

ROOT = Path(__file__).resolve().parents[2]


def _invoice(path: Path, *, pages: int = 2, number: str = "INV-2024-0042") -> samples.InvoiceTotals:
    return samples.make_invoice_pdf(
        path,
        supplier="Acme Engineering Ltd\n1 High Street, Springfield",
        customer="Ministry of Public Works",
        number=number,
        issue_date=date(2024, 5, 1),
        currency="EUR",
        lines=[("Structural survey, phase 1", Decimal(10), Decimal("900.00")),
               ("Site visit", Decimal(2), Decimal("61.725"))],
        vat_percent=Decimal(15),
        pages=pages,
    )


# --------------------------------------------------------------------------- sniffing / hashing


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"%PDF-1.7\n...", "application/pdf"),
        (b"\x00" * 500 + b"%PDF-1.4\n", "application/pdf"),  # junk before the header is allowed
        (b"\x00" * 1100 + b"%PDF-1.4\n", "application/octet-stream"),  # but not past 1024
        (b"PK\x03\x04rest", "application/zip"),
        (b"PK\x05\x06" + bytes(18), "application/zip"),  # empty zip
        (b"MZ\x90\x00", "application/x-msdownload"),
        (b"\x7fELF\x02\x01\x01", "application/x-executable"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"", "application/x-empty"),
        (b"hello, world", "text/plain"),
        (b"\xef\xbb\xbf  <!DOCTYPE html>\n<html><body>Invoice</body></html>", "text/html"),
        (b"<!-- saved page -->\n<HTML lang=en>", "text/html"),
        (b"<?xml version='1.0'?><Invoice/>", "application/xml"),
        (b"caf\xc3", "text/plain"),  # a character cut at the end of the head
        (b"\x01\x02binary", "application/octet-stream"),
        (b"PK\x03\x04" + b"%PDF-1.4", "application/zip"),  # polyglot: offset-0 magic wins
    ],
)
def test_sniff_media_type_by_content_not_extension(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    path = tmp_path / "document.pdf"
    path.write_bytes(content)
    assert sniff_media_type(path) == expected


def test_sniff_generated_files(tmp_path: Path) -> None:
    _invoice(tmp_path / "invoice.pdf")
    assert sniff_media_type(tmp_path / "invoice.pdf") == "application/pdf"
    assert sniff_media_type(samples.make_zip_named_pdf(tmp_path / "z.pdf")) == "application/zip"
    exe = samples.make_exe_named_pdf(tmp_path / "e.pdf")
    assert sniff_media_type(exe) == "application/x-msdownload"


@pytest.mark.parametrize("size", [0, 1, 1024 * 1024, 3 * 1024 * 1024 + 17])
def test_hash_file_matches_hashlib(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    assert hash_file(path) == (hashlib.sha256(data).hexdigest(), size)


# --------------------------------------------------------------------------- bad files

BadMaker = Callable[[Path], object]


@pytest.mark.parametrize(
    ("maker", "code", "fragment"),
    [
        (samples.make_zero_byte_pdf, PdfProblemCode.ZERO_BYTES, "empty (0 bytes)"),
        (samples.make_zip_named_pdf, PdfProblemCode.NOT_A_PDF, "ZIP archive"),
        (samples.make_exe_named_pdf, PdfProblemCode.NOT_A_PDF, "Windows executable"),
        (lambda p: p.write_bytes(b"<!DOCTYPE html>\n<html><body>Invoice</body></html>\n"),
         PdfProblemCode.NOT_A_PDF, "its content is HTML text (text/html)"),
        (samples.make_truncated_pdf, PdfProblemCode.TRUNCATED, "%%EOF"),
        (samples.make_corrupt_pdf, PdfProblemCode.CORRUPT, "cross-reference"),
        (lambda p: samples.make_corrupt_pdf(p, damage="xref"), PdfProblemCode.CORRUPT,
         "cross-reference"),
        (lambda p: samples.make_corrupt_pdf(p, damage="objects"), PdfProblemCode.CORRUPT,
         "cannot be parsed"),
        (samples.make_encrypted_pdf, PdfProblemCode.ENCRYPTED, "encrypted"),
        (lambda p: samples.make_encrypted_pdf(p, user_password="s3cret"),
         PdfProblemCode.ENCRYPTED, "encrypted"),
        (samples.make_no_pages_pdf, PdfProblemCode.NO_PAGES, "no pages"),
    ],
)
def test_every_bad_file_gives_its_problem_and_no_exception(
    tmp_path: Path, maker: BadMaker, code: PdfProblemCode, fragment: str
) -> None:
    path = tmp_path / "supporting-doc.pdf"
    maker(path)
    result = inspect_pdf(path, needles=["INV-2024-0042"])
    assert result.codes == [code], result.problems
    problem = result.problems[0]
    assert problem.message.startswith("supporting-doc.pdf: ")
    assert fragment in problem.message
    assert not result.ok
    assert result.found == {"INV-2024-0042": []}
    assert result.size == path.stat().st_size


def test_encrypted_is_reported_without_reading_text(tmp_path: Path) -> None:
    # An empty user password opens without a prompt, but a portal still sees an encrypted file.
    path = samples.make_encrypted_pdf(tmp_path / "enc.pdf", text="Secret INV-9")
    result = inspect_pdf(path, needles=["INV-9"])
    assert result.encrypted is True
    assert result.found == {"INV-9": []} and result.pages_read == 0
    locked = inspect_pdf(samples.make_encrypted_pdf(tmp_path / "locked.pdf", user_password="x"))
    assert locked.encrypted is True and locked.pages is None


def test_missing_file_is_a_problem_not_an_exception(tmp_path: Path) -> None:
    result = inspect_pdf(tmp_path / "nowhere.pdf")
    assert result.codes == [PdfProblemCode.UNREADABLE]
    assert "nowhere.pdf" in result.problems[0].message


def test_page_with_undecodable_content_is_survived(tmp_path: Path) -> None:
    # Damage page 2's compressed content stream (keeping its length): no exception, page 1
    # still reads, the needle is simply not found on page 2.
    path = tmp_path / "invoice.pdf"
    _invoice(path, pages=2)
    data = bytearray(path.read_bytes())
    starts = [m.end() for m in re.finditer(rb">>\s*stream\r?\n", bytes(data))]
    data[starts[1] : starts[1] + 40] = b"\x00" * 40  # not valid zlib any more
    path.write_bytes(bytes(data))
    result = inspect_pdf(path, needles=["INV-2024-0042"])
    assert result.pages == 2 and result.pages_read == 2
    assert result.found["INV-2024-0042"] == [1]


def test_oversized_reads_are_refused_and_reported_per_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A page whose content stream is larger than the single-read cap is reported, and the
    # other pages are still read. (The real cap is 64 MiB; lowered here to keep the file small.)
    from fpdf import FPDF

    from claims.lifecycle.documents import pdf as documents

    pdf = FPDF()
    pdf.set_compression(False)
    pdf.add_page()
    pdf.set_font("Helvetica", size=3)
    for i in range(200):
        pdf.cell(0, 1.2, f"line {i} of a dense page", new_x="LMARGIN", new_y="NEXT")
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(0, 10, "INV-1 on a small page")
    path = tmp_path / "dense.pdf"
    pdf.output(str(path))
    monkeypatch.setattr(documents, "MAX_SINGLE_READ", 10_000)
    result = inspect_pdf(path, needles=["INV-1", "line 7 of"])
    assert result.pages == 2
    assert result.found == {"INV-1": [2], "line 7 of": []}
    assert [(p.code, p.page) for p in result.problems] == [(PdfProblemCode.CORRUPT, 1)]
    assert "page 1 cannot be read" in result.problems[0].message
    assert "bytes at once" in result.problems[0].message
    monkeypatch.setattr(documents, "MAX_SINGLE_READ", 64 * 1024 * 1024)
    assert inspect_pdf(path, needles=["line 7 of"]).found == {"line 7 of": [1]}


# --------------------------------------------------------------------------- needles


def test_needles_found_on_the_right_pages(tmp_path: Path) -> None:
    path = tmp_path / "invoice.pdf"
    totals = _invoice(path, pages=3)
    spellings = amount_spellings(totals.total)
    net = amount_spellings(totals.net)
    result = inspect_pdf(path, needles=["inv-2024-0042", "Site visit", *spellings, *net,
                                        "INV-2024-004"], dates=False)
    assert result.ok and result.pages == 3
    assert result.found["inv-2024-0042"] == [1, 2, 3]  # running header on every page
    assert result.found["Site visit"] == [1]
    assert result.pages_with_any(spellings) == [1, 2]  # total on the invoice and in the terms
    assert result.pages_with_any(net) == [1]
    assert result.found["INV-2024-004"] == []  # a prefix of the real number is not a match


def test_reading_stops_once_everything_is_found(tmp_path: Path) -> None:
    path = tmp_path / "invoice.pdf"
    _invoice(path, pages=5)
    early = inspect_pdf(path, needles=["INV-2024-0042"], dates=False)
    assert early.pages_read == 1 and early.found["INV-2024-0042"] == [1]
    capped = inspect_pdf(path, needles=["not on any page"], max_text_pages=2)
    assert capped.pages_read == 2 and capped.pages == 5
    full = inspect_pdf(path, needles=["not on any page"])
    assert full.pages_read == 5
    nothing = inspect_pdf(path, dates=False)
    assert nothing.pages_read == 0 and nothing.pages == 5


@pytest.mark.parametrize(
    ("text", "needle", "expected"),
    [
        ("Invoice number: INV-2024-0042", "inv-2024-0042", True),
        ("Invoice INV  2024\n0042", "INV 2024 0042", True),
        ("Invoice INV\u20132024\u20130042", "INV-2024-0042", True),  # en dashes
        ("Total 19,000.00", "9,000.00", False),
        ("Total 9,000.005", "9,000.00", False),
        ("Total EUR9,000.00", "9,000.00", True),
        ("Total 9\u00a0000,00 \u20ac", "9 000,00", True),  # non-breaking space
        ("Total 9\u202f000,00", "9 000,00", True),  # narrow no-break space (French)
        ("INV-71", "INV-7", False),
        ("ref ABC12", "ABC1", False),
        ("anything", "   ", False),
    ],
)
def test_text_matching_rules(text: str, needle: str, expected: bool) -> None:
    assert text_contains(text, needle) is expected


def test_amount_spellings() -> None:
    assert amount_spellings(Decimal(9000)) == [
        "9,000.00", "9000.00", "9 000,00", "9.000,00", "9 000.00", "9000,00", "9'000.00",
    ]
    assert amount_spellings(Decimal("1234567.891"))[:4] == [
        "1,234,567.89", "1234567.89", "1 234 567,89", "1.234.567,89",
    ]
    assert amount_spellings(Decimal("12.345")) == ["12.35", "12,35"]  # half-up
    assert amount_spellings(Decimal(-1500))[0] == "-1,500.00"
    with pytest.raises(TypeError):
        amount_spellings(9000.0)  # type: ignore[arg-type]  # ok: checking floats are refused


# --------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Expiry Date: 2027-03-31", [("expiry", date(2027, 3, 31))]),
        ("Valid until 31/03/2027", [("expiry", date(2027, 3, 31))]),
        ("This certificate expires on 31 March 2027.", [("expiry", date(2027, 3, 31))]),
        ("Expiration date - 31.03.2027", [("expiry", date(2027, 3, 31))]),
        ("Valid from 01/04/2024 to 31/03/2027", [("expiry", date(2027, 3, 31))]),
        ("Date of issue: 1st April 2024", [("issue", date(2024, 4, 1))]),
        ("Issued: April 1, 2024", [("issue", date(2024, 4, 1))]),
        ("Issued on 1 Apr 2024", [("issue", date(2024, 4, 1))]),
        ("ISSUE DATE\n2024-04-01", [("issue", date(2024, 4, 1))]),
        ("Date of issue: 2024-04-01  Expiry Date: 2027-03-31",
         [("issue", date(2024, 4, 1)), ("expiry", date(2027, 3, 31))]),
        ("Expiry Date: 31/02/2027", []),  # impossible date is not invented
        ("Printed 2027-03-31", []),  # unlabelled
        ("Issued by: Tax Authority", []),
    ],
)
def test_labelled_dates(text: str, expected: list[tuple[str, date]]) -> None:
    assert find_labelled_dates(text) == expected


def test_dates_found_with_their_pages(tmp_path: Path) -> None:
    cert = samples.make_certificate_pdf(
        tmp_path / "tax.pdf", kind="tax-certificate", holder="Acme Engineering Ltd",
        issue_date=date(2024, 4, 1), expiry_date=date(2027, 3, 31),
        body_lines=["Renewed registration, valid until 30 June 2028."] + ["Terms."] * 50,
    )
    result = inspect_pdf(cert)
    assert result.ok and result.pages == 2
    assert (("issue", date(2024, 4, 1), 1) in result.dates
            and ("expiry", date(2027, 3, 31), 1) in result.dates)
    assert ("expiry", date(2028, 6, 30), 1) in result.dates
    assert result.dates_labelled("expiry") == [date(2027, 3, 31), date(2028, 6, 30)]
    # both labels seen on page 1 and no needles: page 2 is not read
    assert result.pages_read == 1
    invoice = tmp_path / "invoice.pdf"
    _invoice(invoice)
    assert inspect_pdf(invoice).dates == [("issue", date(2024, 5, 1), 1)]


# --------------------------------------------------------------------------- memory


def _peak_rss_mb(code: str) -> dict[str, Any]:
    # VmHWM is this process's own peak: ru_maxrss would survive fork+exec and report the
    # (large) pytest parent's peak instead
    script = textwrap.dedent(code) + textwrap.dedent("""
        from tests.memory import peak_rss_mb
        out["peak_rss_mb"] = peak_rss_mb()
        print(json.dumps(out, default=str))
    """)
    proc = subprocess.run([sys.executable, "-c", "import json\n" + script], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_huge_pdf_is_generated_and_inspected_in_bounded_memory(tmp_path: Path) -> None:
    big = tmp_path / "big.pdf"
    target = 300 * 1024 * 1024
    made = _peak_rss_mb(f"""
        from claims.samples.pdfs import make_padded_pdf
        make_padded_pdf({str(big)!r}, {target})
        out = {{}}
    """)
    assert big.stat().st_size == target
    assert made["peak_rss_mb"] < 200, made

    inspect = f"""
        from claims.lifecycle.documents.pdf import inspect_pdf
        r = inspect_pdf({str(big)!r}, needles=["one page of text"])
        out = {{"pages": r.pages, "codes": [str(c) for c in r.codes], "found": r.found}}
    """
    ok = _peak_rss_mb(inspect)
    assert ok["pages"] == 1 and ok["codes"] == [] and ok["found"] == {"one page of text": [1]}
    assert ok["peak_rss_mb"] < 200, ok  # reading the file whole would need over 300 MB

    # Damaged big files must not make pypdf rebuild its index by reading the whole file.
    with big.open("r+b") as fh:  # overwrite the xref section at the end, keep %%EOF
        fh.seek(target - 150)
        fh.write(b"#" * 100)
    damaged = _peak_rss_mb(inspect)
    assert damaged["codes"] == ["corrupt"] and damaged["peak_rss_mb"] < 200, damaged
    os.truncate(big, target - 10)  # cut off the %%EOF
    cut = _peak_rss_mb(inspect)
    assert cut["codes"] == ["truncated"] and cut["peak_rss_mb"] < 200, cut
