"""Bundles: a valid BagIt bag, byte-identical for the same inputs, atomic, never overwritten."""

import hashlib
import os
import zipfile
from pathlib import Path

import bagit
import pytest

from claims import api
from claims.errors import BundleError, ValidationFailed
from claims.workspace import init_workspace
from tests.claims.helpers import TODAY, load_samples, sample_claim


def built(ws, folder: Path | None = None):
    files = load_samples(ws, folder)
    claim = sample_claim(ws, files)
    return claim, api.build_claim(ws, claim.id, as_of=TODAY)


def test_the_bundle_is_a_bag_the_independent_bagit_package_validates(workspace) -> None:
    claim, bundle = built(workspace)
    bag = bagit.Bag(str(bundle.directory))
    bag.validate()  # raises BagValidationError on any problem
    assert sorted(bag.payload_files()) == [
        "data/claim.json", "data/documents/01-invoice.pdf",
        "data/documents/02-completion-certificate.pdf", "data/documents/03-tax-certificate.pdf",
        "data/documents/04-registration-certificate.pdf"]
    assert bag.info["Invoice-Number"] == "INV-2026-0101"
    assert workspace.store.get_claim(claim.id).status.value == "READY"


def test_the_zip_holds_the_same_bag_with_fixed_times_and_permissions(workspace) -> None:
    _claim, bundle = built(workspace)
    with zipfile.ZipFile(bundle.zip_path) as zf:
        names = zf.namelist()
        assert names[0].endswith("/bag-info.txt")
        assert names[-1].endswith("04-registration-certificate.pdf")
        for info in zf.infolist():
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            assert (info.external_attr >> 16) & 0o777 == 0o644
        inner = zf.read(f"{bundle.directory.name}/data/documents/01-invoice.pdf")
    assert inner == (bundle.directory / "data/documents/01-invoice.pdf").read_bytes()


def test_the_same_inputs_give_a_byte_identical_zip(tmp_path: Path) -> None:
    digests = []
    for name in ("one", "two"):
        ws = init_workspace(tmp_path / name)
        _claim, bundle = built(ws, tmp_path / "inputs")  # the very same input files
        digests.append(hashlib.sha256(bundle.zip_path.read_bytes()).hexdigest())
        digests.append(bundle.bag_digest)
        ws.close()
    assert digests[0] == digests[2] and digests[1] == digests[3]


def test_rebuilding_is_a_no_op_and_a_different_bundle_is_never_overwritten(workspace) -> None:
    claim, first = built(workspace)
    again = api.build_claim(workspace, claim.id, as_of=TODAY)
    assert again.reused and again.bag_digest == first.bag_digest
    first.zip_path.chmod(0o644)
    first.zip_path.write_bytes(b"someone else's bundle")
    with pytest.raises(BundleError, match="exists and differs.*refusing to overwrite"):
        api.build_claim(workspace, claim.id, as_of=TODAY)
    assert first.zip_path.read_bytes() == b"someone else's bundle"


def test_an_invalid_claim_builds_nothing(workspace) -> None:
    files = load_samples(workspace)
    claim = sample_claim(workspace, files, drop="invoice")
    with pytest.raises(ValidationFailed, match="E-DOC-001"):
        api.build_claim(workspace, claim.id, as_of=TODAY)
    assert not any(workspace.bundles_dir.rglob("*"))


def test_a_document_changed_in_the_store_stops_the_build_and_leaves_nothing(workspace) -> None:
    files = load_samples(workspace)
    claim = sample_claim(workspace, files)
    stored = workspace.root / claim.documents[1].stored_path
    os.chmod(stored, 0o644)
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0xFF
    stored.write_bytes(bytes(data))
    from claims.lifecycle.bundle import build_bundle

    contract = workspace.store.get_contract(claim.contract_number)
    invoice = workspace.store.get_invoice(claim.invoice_number)
    out = workspace.root / "out"
    with pytest.raises(BundleError, match="stored copy changed"):
        build_bundle(claim, contract, invoice, root=workspace.root, out_dir=out,
                     bagging_date=TODAY)
    assert list(out.iterdir()) == []  # no half-made bag, zip or staging folder


def _overwrite(path: Path, data: bytes) -> None:
    os.chmod(path, 0o644)
    path.write_bytes(data)


@pytest.mark.parametrize("change", ["one byte", "not a pdf"])
def test_validate_reports_a_stored_copy_changed_without_changing_its_size(
        workspace, monkeypatch: pytest.MonkeyPatch, change: str) -> None:
    from claims.lifecycle.documents import stored as stored_module

    files = load_samples(workspace)
    claim = sample_claim(workspace, files)
    assert not [f for f in api.validate_claim(workspace, claim.id, as_of=TODAY) if f.is_error]
    doc = claim.documents[1]
    path = workspace.root / doc.stored_path
    data = bytearray(path.read_bytes())
    if change == "one byte":
        data[len(data) // 2] ^= 0xFF
    else:
        data[:8] = b"XPDF-1.3"
    _overwrite(path, bytes(data))
    hashed: list[Path] = []
    real = stored_module.hash_file
    monkeypatch.setattr(stored_module, "hash_file", lambda p: hashed.append(Path(p)) or real(p))
    findings = api.validate_claim(workspace, claim.id, as_of=TODAY)
    changed = [f for f in findings if f.code == "E-DOC-009"]
    assert [f.file for f in changed] == [doc.filename]
    assert "stored copy changed (sha256" in changed[0].message and doc.sha256 in changed[0].message
    assert workspace.store.get_claim(claim.id).status.value == "INVALID"
    assert len(hashed) == len(set(hashed)) == len({d.stored_path for d in claim.documents})
    with pytest.raises(ValidationFailed, match="E-DOC-009"):
        api.build_claim(workspace, claim.id, as_of=TODAY)


def test_a_build_reads_each_stored_copy_once_and_its_digest_is_of_the_bytes_copied(
        workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    """Validation inside ``build`` does not hash the stored copies (the build hashes the bytes
    it copies); a copy changed without changing its size is still refused, as E-DOC-009, and
    leaves no bag, zip or staging folder behind."""
    from claims.lifecycle.documents import stored as stored_module

    files = load_samples(workspace)
    claim = sample_claim(workspace, files)
    hashed: list[Path] = []
    real = stored_module.hash_file
    monkeypatch.setattr(stored_module, "hash_file", lambda p: hashed.append(Path(p)) or real(p))
    doc = claim.documents[2]
    path = workspace.root / doc.stored_path
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    _overwrite(path, bytes(data))
    with pytest.raises(ValidationFailed, match="E-DOC-009") as caught:
        api.build_claim(workspace, claim.id, as_of=TODAY)
    changed = [f for f in caught.value.findings if f.code == "E-DOC-009"]
    assert [f.file for f in changed] == [doc.filename] and doc.sha256 in changed[0].message
    assert hashed == []  # validation did not read it; the build's copy did
    assert not any(p.is_file() for p in workspace.bundles_dir.rglob("*"))
    assert workspace.store.get_claim(claim.id).status.value == "DRAFT"
    data[len(data) // 2] ^= 0xFF
    _overwrite(path, bytes(data))
    bundle = api.build_claim(workspace, claim.id, as_of=TODAY)
    assert hashed == [] and not bundle.reused
    bagit.Bag(str(bundle.directory)).validate()


def test_a_reused_bundle_still_refuses_a_stored_copy_changed_since(workspace) -> None:
    """An intact bundle is reused without copying anything, so the stored copies are hashed
    then: one changed (same size) fails the build as E-DOC-009."""
    claim, bundle = built(workspace)
    doc = claim.documents[0]
    path = workspace.root / doc.stored_path
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    _overwrite(path, bytes(data))
    with pytest.raises(ValidationFailed, match="E-DOC-009") as caught:
        api.build_claim(workspace, claim.id, as_of=TODAY)
    assert [f.file for f in caught.value.findings if f.is_error] == [doc.filename]
    assert bagit.Bag(str(bundle.directory)).is_valid()  # the bundle itself was not touched
