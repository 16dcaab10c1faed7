"""Validation finds everything a portal would reject, all at once, in words a specialist reads."""

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from claims import api
from claims.api import ConflictError, InputError, ValidationFailed
from claims.samples.pdfs import (
    make_padded_pdf,
    make_certificate_pdf, make_corrupt_pdf, make_encrypted_pdf, make_truncated_pdf,
)
from tests.claims.helpers import TODAY, codes, load_samples, sample_claim


def test_the_samples_are_valid_on_the_day(workspace) -> None:
    files = load_samples(workspace)
    claim = sample_claim(workspace, files)
    findings = api.validate_claim(workspace, claim.id, as_of=TODAY)
    assert [f for f in findings if f.is_error] == []
    assert "I-RET-001" in codes(findings)  # 5% retention is announced
    assert workspace.store.get_claim(claim.id).status.value == "VALID"


def test_wrong_vat_is_explained_with_the_expected_figure(workspace) -> None:
    def bad_vat(invoices):
        inv = invoices[0]
        inv["vat"] = str(Decimal(inv["vat"]) + Decimal("100.00"))
        inv["total"] = str(Decimal(inv["net"]) + Decimal(inv["vat"]))

    files = load_samples(workspace, edit_invoices=bad_vat)
    findings = api.validate_claim(workspace, sample_claim(workspace, files).id, as_of=TODAY)
    vat = next(f for f in findings if f.code == "E-VAT-002")
    assert str(vat) == ("E-VAT-002 invoice /invoice/vat: VAT 14,950.00 is not 15% of net "
                        "99,000.00 (expected 14,850.00)")
    assert workspace.store.get_claim(1).status.value == "INVALID"


def test_every_arithmetic_error_is_found_at_once(workspace) -> None:
    def break_all(invoices):
        inv = invoices[0]
        inv["lines"][1]["net"] = "15000.01"   # 12 × 1,250.00 = 15,000.00
        inv["lines"][1]["vat"] = "2250.00"
        inv["lines"][0]["vat_percent"] = "5"
        inv["total"] = "1.00"

    files = load_samples(workspace, edit_invoices=break_all)
    found = codes(api.validate_claim(workspace, sample_claim(workspace, files).id, as_of=TODAY))
    for code in ("E-INV-001", "E-VAT-001", "E-VAT-003", "E-INV-002", "E-INV-003"):
        assert code in found


def test_contract_terms_currency_period_and_claim_type(workspace) -> None:
    def shift(invoices):
        invoices[0]["issue_date"] = "2020-01-01"
        invoices[0]["currency"] = "USD"

    files = load_samples(workspace, edit_invoices=shift)
    found = codes(api.validate_claim(workspace, sample_claim(workspace, files).id, as_of=TODAY))
    assert "E-CUR-001" in found and "E-PER-001" in found


def test_the_ceiling_counts_earlier_claims(workspace) -> None:
    files = load_samples(workspace, edit_contract=lambda c: c.update(ceiling="150000.00"))
    first = sample_claim(workspace, files, 0)
    assert "E-CEIL-001" not in codes(api.validate_claim(workspace, first.id, as_of=TODAY))
    second = sample_claim(workspace, files, 1, replace={})
    ceiling = [f for f in api.validate_claim(workspace, second.id, as_of=TODAY)
               if f.code == "E-CEIL-001"]
    assert ceiling and "over the contract ceiling 150,000.00" in ceiling[0].message
    assert "113,850.00 claimed before" in ceiling[0].message


def test_the_same_invoice_is_never_claimed_twice_on_a_contract(workspace) -> None:
    files = load_samples(workspace)
    sample_claim(workspace, files)
    again = sample_claim(workspace, files)
    dup = [f for f in api.validate_claim(workspace, again.id, as_of=TODAY) if f.code == "E-DUP-001"]
    assert dup and "already claimed on contract C-2026-014 by claim 1" in dup[0].message


def test_a_missing_required_document_is_named(workspace) -> None:
    files = load_samples(workspace)
    claim = sample_claim(workspace, files, drop="completion-certificate")
    missing = [f for f in api.validate_claim(workspace, claim.id, as_of=TODAY)
               if f.code == "E-DOC-001"]
    assert [f.message for f in missing] == ["the required completion-certificate is missing"]


def test_an_expired_certificate_is_caught_from_its_own_text(workspace, tmp_path: Path) -> None:
    files = load_samples(workspace)
    expired = tmp_path / "old-tax.pdf"
    make_certificate_pdf(expired, kind="tax-certificate", title="Tax Certificate", holder="X",
                         number_reference=None, issue_date=TODAY - timedelta(days=400),
                         expiry_date=TODAY - timedelta(days=3))
    claim = sample_claim(workspace, files, replace={"tax-certificate": expired})
    finding = next(f for f in api.validate_claim(workspace, claim.id, as_of=TODAY)
                   if f.code == "E-DOC-006")
    assert finding.file == "old-tax.pdf" and finding.page == 1
    assert f"expired on {TODAY - timedelta(days=3)}" in finding.message


def test_an_expiry_given_on_the_command_line_wins(workspace) -> None:
    files = load_samples(workspace)
    claim = sample_claim(workspace, files, expiry={"tax-certificate": TODAY - timedelta(days=1)})
    assert "E-DOC-006" in codes(api.validate_claim(workspace, claim.id, as_of=TODAY))


def test_a_certificate_that_does_not_mention_the_invoice_is_caught(workspace, tmp_path) -> None:
    files = load_samples(workspace)
    other = tmp_path / "cc.pdf"
    make_certificate_pdf(other, kind="completion-certificate", title="Certificate of Completion",
                         holder="X", number_reference="INV-1999-0001", issue_date=TODAY)
    claim = sample_claim(workspace, files, replace={"completion-certificate": other})
    finding = next(f for f in api.validate_claim(workspace, claim.id, as_of=TODAY)
                   if f.code == "E-DOC-005")
    assert finding.message == "does not mention the invoice number INV-2026-0101"


def test_a_stale_completion_certificate_is_too_old(workspace) -> None:
    files = load_samples(workspace)
    claim = sample_claim(workspace, files)
    late = TODAY + timedelta(days=120)
    found = api.validate_claim(workspace, claim.id, as_of=late)
    assert any(f.code == "E-DOC-008" and "more than 90 days" in f.message for f in found)


def _stored_documents(ws) -> set[Path]:
    return {p for p in ws.documents_dir.rglob("*") if p.is_file()}


@pytest.mark.parametrize("maker, rule", [
    (make_encrypted_pdf, "document-encrypted"),
    (make_truncated_pdf, "document-truncated"),
    (make_corrupt_pdf, "document-"),
])
def test_a_broken_pdf_is_refused_at_the_door(workspace, tmp_path, maker, rule) -> None:
    """A PDF that can never become valid is refused by `claim new`: one error naming the
    user's file and the rule, no claim, nothing stored."""
    files = load_samples(workspace)
    before, claims_before = _stored_documents(workspace), workspace.store.claim_ids()
    bad = tmp_path / "bad.pdf"
    maker(bad)
    with pytest.raises(InputError) as refused:
        sample_claim(workspace, files, replace={"completion-certificate": bad})
    assert str(bad) in str(refused.value) and f"[rule: {rule}" in str(refused.value)
    assert "documents/" not in str(refused.value)  # names the user's file, not the stored copy
    assert _stored_documents(workspace) == before
    assert workspace.store.claim_ids() == claims_before


@pytest.mark.parametrize("content, rule, said", [
    (b"PK\x03\x04" + b"\0" * 100, "document-not-a-pdf", "application/zip"),
    (b"MZ\x90\0" + b"\0" * 100, "document-not-a-pdf", "application/x-msdownload"),
    (b"<!doctype html><html><body>hi</body></html>", "document-not-a-pdf", "is not a PDF"),
    (b"", "document-zero-bytes", "empty"),
    (b"%PDF-1.7\n", "document-", ""),  # a header and nothing else
])
def test_a_pdf_name_does_not_make_a_pdf(workspace, tmp_path, content, rule, said) -> None:
    files = load_samples(workspace)
    before = _stored_documents(workspace)
    fake = tmp_path / "certificate.pdf"
    fake.write_bytes(content)
    with pytest.raises(InputError) as refused:
        sample_claim(workspace, files, replace={"completion-certificate": fake})
    assert f"[rule: {rule}" in str(refused.value) and said in str(refused.value)
    assert str(fake) in str(refused.value)
    assert _stored_documents(workspace) == before


def test_an_oversized_document_is_refused_at_the_door(workspace, tmp_path) -> None:
    files = load_samples(workspace)
    big = tmp_path / "big-tax.pdf"
    make_padded_pdf(big, 6 * 1024 * 1024)
    with pytest.raises(InputError) as refused:
        sample_claim(workspace, files, replace={"tax-certificate": big})
    assert "is over the 5,242,880 a tax-certificate may have" in str(refused.value)
    assert "[rule: document-max-bytes]" in str(refused.value)


def test_a_monthly_claim_needs_its_period(workspace) -> None:
    files = load_samples(workspace, edit_contract=lambda c: c.update(
        claim_types=["services-monthly"]))
    c = files["claims"][0]
    claim = api.new_claim(workspace, c["contract"], c["invoice"], c["documents"][:1])
    assert "E-PER-002" in codes(api.validate_claim(workspace, claim.id, as_of=TODAY))
    with_period = api.new_claim(workspace, c["contract"], c["invoice"], c["documents"][:1],
                                period=f"{TODAY.year + 1}-01")
    assert "E-PER-004" in codes(api.validate_claim(workspace, with_period.id, as_of=TODAY))


def test_a_claim_type_not_on_the_contract_is_an_error(workspace) -> None:
    files = load_samples(workspace)
    c = files["claims"][0]
    claim = api.new_claim(workspace, c["contract"], c["invoice"], c["documents"],
                          claim_type="goods-delivery")
    assert "E-CON-002" in codes(api.validate_claim(workspace, claim.id, as_of=TODAY))


def test_today_is_the_default_submission_date(workspace) -> None:
    files = load_samples(workspace, today=date.today())
    claim = sample_claim(workspace, files)
    assert not [f for f in api.validate_claim(workspace, claim.id) if f.is_error]


def test_a_later_duplicate_never_invalidates_the_earlier_claim(workspace) -> None:
    files = load_samples(workspace)
    original = sample_claim(workspace, files)
    api.build_claim(workspace, original.id, as_of=TODAY)
    again = sample_claim(workspace, files)
    assert "E-DUP-001" in codes(api.validate_claim(workspace, again.id, as_of=TODAY))
    assert "E-DUP-001" not in codes(api.validate_claim(workspace, original.id, as_of=TODAY))
    assert api.get_claim(workspace, original.id).status.value == "READY"


def test_withdrawn_claims_count_for_nothing(workspace) -> None:
    """An abandoned claim, withdrawn, no longer blocks the invoice or eats the ceiling; it
    stays in history and in evidence."""
    files = load_samples(workspace, edit_contract=lambda c: c.update(ceiling="150000.00"))
    abandoned = sample_claim(workspace, files, 1)
    wanted = sample_claim(workspace, files, 0)
    assert "E-CEIL-001" in codes(api.validate_claim(workspace, wanted.id, as_of=TODAY))
    gone = api.withdraw_claim(workspace, abandoned.id, reason="raised in error")
    assert gone.status.value == "WITHDRAWN"
    assert gone.events[-1].kind == "withdrawn"
    assert gone.events[-1].detail == {"reason": "raised in error", "from": "DRAFT"}
    assert "E-CEIL-001" not in codes(api.validate_claim(workspace, wanted.id, as_of=TODAY))
    again = sample_claim(workspace, files, 1)  # the withdrawn claim's invoice, claimed anew
    assert "E-DUP-001" not in codes(api.validate_claim(workspace, again.id, as_of=TODAY))
    kinds = [e.kind for e in workspace.evidence.entries(str(abandoned.id))]
    assert kinds == ["claim.withdrawn"]
    with pytest.raises(ConflictError, match="cannot be rebuilt"):
        api.build_claim(workspace, abandoned.id, as_of=TODAY)
    assert api.validate_claim(workspace, abandoned.id, as_of=TODAY) is not None
    assert api.get_claim(workspace, abandoned.id).status.value == "WITHDRAWN"


def test_only_a_claim_the_portal_never_had_is_withdrawn(workspace) -> None:
    files = load_samples(workspace)
    claim = sample_claim(workspace, files)
    with pytest.raises(InputError, match="needs a reason"):
        api.withdraw_claim(workspace, claim.id, reason="  ")
    workspace.store.record_event(claim.id, "submission.finished",
                                 status=api.ClaimStatus.SUBMITTED, portal_reference="CLM-1")
    with pytest.raises(ConflictError, match="is SUBMITTED; only a claim the portal never had"):
        api.withdraw_claim(workspace, claim.id, reason="too late")
    with pytest.raises(api.NotFound):
        api.withdraw_claim(workspace, 999, reason="no such claim")


def test_a_claim_leased_by_a_live_worker_is_not_withdrawn(workspace) -> None:
    from claims.lifecycle.leases import take_next

    files = load_samples(workspace)
    claim = sample_claim(workspace, files)
    api.build_claim(workspace, claim.id, as_of=TODAY)
    assert take_next(workspace.store.engine, "host:1:w", ["READY"]) == claim.id
    with pytest.raises(ConflictError, match="being submitted by host:1:w"):
        api.withdraw_claim(workspace, claim.id, reason="changed our mind")
    assert api.get_claim(workspace, claim.id).status.value == "READY"


def test_the_built_bundles_payload_pdfs_are_evidence(workspace) -> None:
    """bundle.built keeps the submitted documents themselves, byte for byte, not only hashes."""
    files = load_samples(workspace)
    claim = sample_claim(workspace, files)
    bundle = api.build_claim(workspace, claim.id, as_of=TODAY)
    [built] = [e for e in workspace.evidence.entries(str(claim.id)) if e.kind == "bundle.built"]
    payload = [bundle.directory / "data" / "claim.json",
               *sorted((bundle.directory / "data" / "documents").iterdir())]
    pdfs = [p for p in payload if p.suffix == ".pdf"]
    assert pdfs and {p.name for p in payload} <= set(built.blobs)
    for path in payload:
        assert workspace.evidence.blobs.read(built.blobs[path.name].sha256) == path.read_bytes()


def test_the_sample_kit_has_one_claim_that_fails_on_an_expired_certificate(workspace) -> None:
    """`claims init --with-samples`: claims 1 and 2 are valid, claim 3 fails with one error,
    E-DOC-006 on its tax certificate (expired ten days before the day the samples were made)."""
    added = api.add_samples(workspace, today=TODAY)
    assert added["claims"] == [1, 2, 3]
    for claim_id in (1, 2):
        assert not [f for f in api.validate_claim(workspace, claim_id, as_of=TODAY)
                    if f.is_error]
    errors = [f for f in api.validate_claim(workspace, 3, as_of=TODAY) if f.is_error]
    assert [(f.code, f.file) for f in errors] == [("E-DOC-006", "tax-certificate-expired.pdf")]
    assert errors[0].message == "expired on 2026-11-13, before the submission date 2026-11-23"
    assert api.get_claim(workspace, 3).status.value == "INVALID"
    with pytest.raises(ValidationFailed):
        api.build_claim(workspace, 3, as_of=TODAY)
