"""What documents state, read carefully: the invoice's own contract, the earliest expiry, and
numeric dates read in a declared order or refused as ambiguous, never guessed."""

from datetime import date, timedelta
from pathlib import Path

import pytest

from claims import api
from claims.lifecycle.documents.text import find_ambiguous_dates, find_labelled_dates
from claims.samples.pdfs import make_certificate_pdf
from tests.claims.helpers import TODAY, codes, load_samples, sample_claim


def test_an_invoice_that_names_another_contract_is_an_error(workspace) -> None:
    def other_contract(invoices):
        invoices[0]["contract_number"] = "C-9999"

    claim = sample_claim(workspace, load_samples(workspace, edit_invoices=other_contract))
    finding = next(f for f in api.validate_claim(workspace, claim.id, as_of=TODAY)
                   if f.code == "E-CON-003")
    assert "states contract C-9999" in finding.message and "C-2026-014" in finding.message
    assert finding.pointer == "/invoice/contract_number"


def test_an_invoice_naming_its_own_contract_or_none_is_fine(workspace) -> None:
    def mixed(invoices):
        invoices[0]["contract_number"] = "c-2026-014 "
        invoices[1].pop("contract_number", None)

    files = load_samples(workspace, edit_invoices=mixed)
    for index in (0, 1):
        claim = sample_claim(workspace, files, index=index)
        assert "E-CON-003" not in codes(api.validate_claim(workspace, claim.id, as_of=TODAY))


@pytest.mark.parametrize(("text", "order", "expected"), [
    ("Expiry Date: 31/03/2027", None, [("expiry", date(2027, 3, 31))]),
    ("Expiry Date: 03/31/2027", None, [("expiry", date(2027, 3, 31))]),
    ("Expiry Date: 05/05/2027", None, [("expiry", date(2027, 5, 5))]),
    ("Expiry Date: 01/12/2027", None, []),
    ("Expiry Date: 01/12/2027", "DMY", [("expiry", date(2027, 12, 1))]),
    ("Expiry Date: 01/12/2027", "MDY", [("expiry", date(2027, 1, 12))]),
    ("Expiry Date: 31/03/2027", "MDY", []),  # no 31st month: not a date in that order
    ("Expiry Date: 2027-12-01", None, [("expiry", date(2027, 12, 1))]),
])
def test_numeric_dates_follow_the_declared_order_or_are_not_guessed(text, order, expected):
    assert find_labelled_dates(text, order) == expected


def test_an_ambiguous_date_is_listed_as_written():
    assert find_ambiguous_dates("Date of issue: 02/03/2026 Expiry: 01/12/2027") == [
        ("issue", "02/03/2026"), ("expiry", "01/12/2027")]
    assert find_ambiguous_dates("Expiry: 01/12/2027", "DMY") == []


def certificate(path: Path, *lines: str) -> Path:
    return make_certificate_pdf(path, kind="tax-certificate", title="Tax Certificate",
                                holder="X", number_reference=None,
                                issue_date=TODAY - timedelta(days=30), body_lines=lines)


def test_a_certificate_counts_until_its_earliest_stated_expiry(workspace, tmp_path) -> None:
    soon = TODAY - timedelta(days=2)
    later = TODAY + timedelta(days=300)
    two = certificate(tmp_path / "two-expiries.pdf", f"Expiry Date: {soon.isoformat()}",
                      f"Valid until: {later.isoformat()}")
    claim = sample_claim(workspace, load_samples(workspace), replace={"tax-certificate": two})
    finding = next(f for f in api.validate_claim(workspace, claim.id, as_of=TODAY)
                   if f.code == "E-DOC-006")
    assert f"expired on {soon}" in finding.message


def test_an_ambiguous_expiry_is_an_error_until_an_order_or_a_date_is_given(workspace,
                                                                           tmp_path) -> None:
    unclear = certificate(tmp_path / "unclear.pdf", "Expiry Date: 01/12/2027")
    files = load_samples(workspace)
    claim = sample_claim(workspace, files, replace={"tax-certificate": unclear})
    finding = next(f for f in api.validate_claim(workspace, claim.id, as_of=TODAY)
                   if f.code == "E-DOC-010")
    assert "01/12/2027 is ambiguous" in finding.message and finding.file == "unclear.pdf"
    assert "--expiry" in finding.message and "date_order" in finding.message
    api.withdraw_claim(workspace, claim.id, reason="replaced")
    given = sample_claim(workspace, files, replace={"tax-certificate": unclear},
                         expiry={"tax-certificate": date(2027, 12, 1)})
    assert "E-DOC-010" not in codes(api.validate_claim(workspace, given.id, as_of=TODAY))


def test_a_declared_date_order_reads_the_numeric_date(workspace, tmp_path) -> None:
    unclear = certificate(tmp_path / "unclear.pdf", "Expiry Date: 12/01/2026")
    files = load_samples(workspace, edit_contract=lambda c: c.update(date_order="MDY"))
    claim = sample_claim(workspace, files, replace={"tax-certificate": unclear})
    findings = api.validate_claim(workspace, claim.id, as_of=TODAY)
    assert "E-DOC-010" not in codes(findings)
    # MDY: 12/01/2026 is 1 December 2026, within 14 days of the submission date
    warning = next(f for f in findings if f.code == "W-DOC-006")
    assert "2026-12-01" in warning.message
