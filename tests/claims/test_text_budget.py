"""Text is read from every page, within a time and memory budget that says when it stops."""

import tracemalloc
import zlib
from pathlib import Path

from fpdf import FPDF

from claims import api
from claims.lifecycle.documents.pdf import inspect_pdf
from claims.lifecycle.documents.settings import TextBudget
from tests.claims.helpers import TODAY, codes, load_samples, sample_claim


def long_certificate(path: Path, pages: int, last_line: str) -> Path:
    pdf = FPDF()
    pdf.set_font("helvetica", size=11)
    for number in range(1, pages + 1):
        pdf.add_page()
        pdf.cell(0, 10, f"Certificate of Completion, page {number} of {pages}")
        if number == pages:
            pdf.ln()
            pdf.cell(0, 10, last_line)
    pdf.output(str(path))
    return path


def flate_bomb(path: Path, inflated: int = 120 * 1024 * 1024) -> Path:
    """A one-page PDF whose ~120 KB content stream inflates to ``inflated`` bytes."""
    content = zlib.compress(b"BT /F1 12 Tf 72 720 Td (Hello) Tj ET\n" + b" " * inflated, 9)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(content) + content
        + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = bytearray(b"%PDF-1.7\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    path.write_bytes(bytes(out))
    return path


def test_the_invoice_number_on_page_500_is_found(workspace, tmp_path) -> None:
    files = load_samples(workspace)
    number = files["claims"][0]["invoice"]
    cc = long_certificate(tmp_path / "cc-500.pdf", 500, f"Reference: {number}")
    claim = sample_claim(workspace, files, replace={"completion-certificate": cc})
    found = codes(api.validate_claim(workspace, claim.id, as_of=TODAY))
    assert "E-DOC-005" not in found and "W-DOC-011" not in found


def test_when_the_time_budget_stops_the_reading_the_finding_says_so(workspace,
                                                                    tmp_path) -> None:
    config = workspace.root / "claims.toml"
    config.write_text(config.read_text() + "\n[documents]\ntext_seconds = 0.001\n")
    workspace.reload_settings()
    files = load_samples(workspace)
    number = files["claims"][0]["invoice"]
    cc = long_certificate(tmp_path / "cc-300.pdf", 300, f"Reference: {number}")
    claim = sample_claim(workspace, files, replace={"completion-certificate": cc})
    findings = {f.code: f for f in api.validate_claim(workspace, claim.id, as_of=TODAY)
                if f.file == "cc-300.pdf"}
    assert "0.001-second budget ran out" in findings["W-DOC-011"].message
    assert "in the pages read (text read from pages 1–" in findings["E-DOC-005"].message


def test_a_flate_bomb_page_is_skipped_within_the_stream_budget(tmp_path) -> None:
    bomb = flate_bomb(tmp_path / "bomb.pdf")
    assert bomb.stat().st_size < 200_000
    tracemalloc.start()
    try:
        report = inspect_pdf(bomb, keep_text=True, budget=TextBudget(stream_megabytes=16))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "page 1 skipped" in report.budget_note and "16 MB stream budget" in report.budget_note
    assert peak < 100 * 1024 * 1024, f"peak {peak / 2**20:.0f} MB"


def test_a_broken_pdf_finding_names_the_users_file_not_the_stored_hash(workspace,
                                                                       tmp_path) -> None:
    from claims.lifecycle.validation.rules import Context, check_document
    from claims.core.models import DocumentRule
    from claims.lifecycle.documents.stored import inspect_for_store

    files = load_samples(workspace)
    claim = sample_claim(workspace, files)
    doc = claim.documents[1]
    stored = workspace.root / doc.stored_path
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(stored.read_bytes()[: stored.stat().st_size // 2])
    report = inspect_for_store(broken)
    assert report.problems and report.problems[0].message.startswith("broken.pdf: ")
    # as validation sees a stored copy: the message must not carry its hash name
    stored_like = report.problems[0].message.replace("broken.pdf", Path(doc.stored_path).name)
    report.problems[0] = type(report.problems[0])(report.problems[0].code, stored_like)
    ctx = Context(claim=claim, contract=workspace.store.get_contract(claim.contract_number),
                  invoice=workspace.store.get_invoice(claim.invoice_number),
                  root=workspace.root, as_of=TODAY, earlier=[],
                  inspections={doc.sha256: report})
    findings = check_document(ctx, doc, DocumentRule(type=doc.type))
    pdf = [f for f in findings if f.code.startswith("E-PDF-")]
    assert pdf and all(Path(doc.stored_path).name not in f.message for f in pdf)
    assert all(f.file == doc.filename for f in pdf)
