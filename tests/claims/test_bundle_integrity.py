"""A built bundle stays what it was built as: bytes re-hashed on reuse, copies not links,
evidence before READY, killed builds recovered, one clock, bundle paths inside the workspace."""

import os
import subprocess
import sys
import time
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from claims import api
from claims.errors import BundleError, EvidenceFailed, InputError
from claims.lifecycle.workflow import today_utc
from tests.claims.helpers import TODAY, codes, load_samples, sample_claim


def built(ws):
    claim = sample_claim(ws, load_samples(ws))
    return claim, api.build_claim(ws, claim.id, as_of=TODAY)


def flip_byte(path: Path) -> None:
    path.chmod(0o600)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def problem_codes(ws) -> set[str]:
    return api.verify_evidence(ws).codes()


def test_a_flipped_byte_in_the_bag_folder_is_found_by_validate_build_and_verify(workspace):
    claim, bundle = built(workspace)
    assert problem_codes(workspace) == set()
    flip_byte(bundle.directory / "data" / "documents" / "02-completion-certificate.pdf")
    findings = api.validate_claim(workspace, claim.id, as_of=TODAY)
    assert "E-BAG-001" in codes(findings)
    assert any("02-completion-certificate.pdf" in f.message for f in findings)
    with pytest.raises(BundleError, match="exists and differs.*02-completion-certificate"):
        api.build_claim(workspace, claim.id, as_of=TODAY)
    assert "claim-bundle-changed" in problem_codes(workspace)


def test_a_flipped_byte_in_the_zip_is_found_too(workspace):
    claim, bundle = built(workspace)
    flip_byte(bundle.zip_path)
    assert "E-BAG-001" in codes(api.validate_claim(workspace, claim.id, as_of=TODAY))
    with pytest.raises(BundleError, match="exists and differs"):
        api.build_claim(workspace, claim.id, as_of=TODAY)
    assert "claim-bundle-changed" in problem_codes(workspace)


def test_bag_payloads_are_copies_so_editing_a_bag_leaves_the_stored_documents_alone(workspace):
    claim, bundle = built(workspace)
    for seq, doc in enumerate(claim.documents, start=1):
        stored = workspace.root / doc.stored_path
        in_bag = next((bundle.directory / "data" / "documents").glob(f"{seq:02d}-*.pdf"))
        assert in_bag.stat().st_nlink == 1 and stored.stat().st_nlink == 1
        assert in_bag.stat().st_ino != stored.stat().st_ino
        assert in_bag.read_bytes() == stored.read_bytes()
    first = next((bundle.directory / "data" / "documents").glob("01-*.pdf"))
    before = (workspace.root / claim.documents[0].stored_path).read_bytes()
    flip_byte(first)
    assert (workspace.root / claim.documents[0].stored_path).read_bytes() == before


def test_evidence_is_written_before_ready_and_a_rebuild_writes_what_is_missing(workspace):
    claim = sample_claim(workspace, load_samples(workspace))
    tmp = workspace.evidence_dir / "blobs" / ".tmp"
    tmp.parent.mkdir(parents=True, exist_ok=True)
    if tmp.is_dir():
        tmp.rmdir()
    tmp.write_text("a file where the archive wants a folder: every blob write fails")
    with pytest.raises(EvidenceFailed, match="evidence not recorded"):
        api.build_claim(workspace, claim.id, as_of=TODAY)
    assert workspace.store.get_claim(claim.id).status.value != "READY"
    tmp.unlink()
    bundle = api.build_claim(workspace, claim.id, as_of=TODAY)
    assert bundle.reused  # the bag made before the failure was intact
    assert workspace.store.get_claim(claim.id).status.value == "READY"
    entries = [e for e in api.evidence_log(workspace, str(claim.id)) if e.kind == "bundle.built"]
    assert [e.metadata["bag_digest"] for e in entries] == [bundle.bag_digest]
    api.build_claim(workspace, claim.id, as_of=TODAY)  # evidence there: not written twice
    assert len([e for e in api.evidence_log(workspace, str(claim.id))
                if e.kind == "bundle.built"]) == 1
    assert problem_codes(workspace) == set()


def test_verify_reports_a_ready_claim_without_bundle_evidence(workspace):
    files = load_samples(workspace)
    claim = sample_claim(workspace, files)
    bundle = api.build_claim(workspace, claim.id, as_of=TODAY)
    other = sample_claim(workspace, files, index=1)
    # a READY claim as an older version left it: status written, evidence never recorded
    workspace.store.record_event(other.id, "bundle.built", status=api.ClaimStatus.READY,
                                 bundle_path=str(bundle.zip_path),
                                 bundle_sha256=bundle.bag_digest)
    report = api.verify_evidence(workspace)
    assert "claim-bundle-evidence-missing" in report.codes()
    assert any(p.where == f"claim {other.id}" for p in report.problems)
    assert api.verify_evidence(workspace, str(claim.id)).ok


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_staging_folders_of_killed_builds_are_cleaned_by_the_next_run(workspace):
    claim = sample_claim(workspace, load_samples(workspace))
    out = workspace.root / "out"
    out.mkdir()
    killed = out / f".claim-000009-INV-X.{dead_pid()}.k1ll3d"
    (killed / "claim-000009-INV-X" / "data").mkdir(parents=True)
    unnamed_old = out / ".claim-000008-INV-Y.oldstyle"
    unnamed_old.mkdir()
    os.utime(unnamed_old, (time.time() - 3600, time.time() - 3600))
    alive = out / f".claim-000007-INV-Z.{os.getppid()}.running"
    alive.mkdir()
    api.build_claim(workspace, claim.id, out_dir=out, as_of=TODAY)
    hidden = sorted(p.name for p in out.iterdir() if p.name.startswith("."))
    assert hidden == [alive.name]  # a live process's staging is left alone


def test_a_kill_between_the_two_renames_is_recovered(workspace):
    claim, bundle = built(workspace)
    zip_bytes = bundle.zip_path.read_bytes()
    bundle.zip_path.unlink()  # the folder was moved in, the zip never was
    again = api.build_claim(workspace, claim.id, as_of=TODAY)
    assert not again.reused and again.zip_path.read_bytes() == zip_bytes
    import shutil

    shutil.rmtree(bundle.directory)  # and the other way round
    again = api.build_claim(workspace, claim.id, as_of=TODAY)
    assert again.directory.is_dir() and again.bag_digest == bundle.bag_digest
    assert problem_codes(workspace) == set()


def test_out_naming_an_existing_file_is_one_clear_error(workspace, tmp_path):
    claim = sample_claim(workspace, load_samples(workspace))
    target = tmp_path / "a-file"
    target.write_text("x")
    with pytest.raises(InputError, match="a-file is a file, not a folder"):
        api.build_claim(workspace, claim.id, out_dir=target, as_of=TODAY)


def test_the_cli_says_the_out_file_error_in_one_line(cli, tmp_path):
    assert cli("init", "--with-samples", str(cli.root), workspace=None).exit_code == 0
    target = tmp_path / "exists.zip"
    target.write_text("x")
    result = cli("claim", "build", "1", "--out", str(target))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "not a folder" in result.output


def test_bagging_date_and_the_default_as_of_are_both_the_utc_day(workspace, monkeypatch):
    monkeypatch.setenv("TZ", "Etc/GMT-14")  # a machine 14 hours ahead of UTC
    time.tzset()
    try:
        assert today_utc() == datetime.now(UTC).date()
        claim, bundle = built(workspace)
        info = (bundle.directory / "bag-info.txt").read_text()
        created = workspace.store.get_claim(claim.id).created_at
        utc_day = (created if created.tzinfo is None else created.astimezone(UTC)).date()
        assert f"Bagging-Date: {utc_day.isoformat()}" in info
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


@pytest.mark.parametrize("number", ["../../escape", "a/b", ".hidden", "C..1", "x" * 65])
def test_a_contract_number_that_would_leave_its_folder_is_refused(workspace, number):
    with pytest.raises(InputError, match="number"):
        load_samples(workspace, edit_contract=lambda data: data.update(number=number))


@pytest.mark.parametrize("number", ["../../escape", "a/b", ".."])
def test_the_bundle_folder_is_confined_in_code_too(workspace, number):
    from claims.lifecycle.workflow import bundles_folder

    with pytest.raises(InputError, match="cannot name a folder"):
        bundles_folder(workspace, number)
    assert bundles_folder(workspace, "C-2026.014").parent == workspace.bundles_dir.resolve()


def test_zip_entries_of_a_built_bag_verify_with_their_crc(workspace):
    _claim, bundle = built(workspace)
    with zipfile.ZipFile(bundle.zip_path) as zf:
        assert zf.testzip() is None
