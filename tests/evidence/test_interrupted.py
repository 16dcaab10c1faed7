"""A record cut short (a killed process between storing its blobs and appending its entry) leaves
blobs no entry refers to: ``verify`` tells them apart from files added behind its back."""

from __future__ import annotations

from collections.abc import Callable

from evidence import EvidenceArchive


def test_blobs_of_an_interrupted_record_are_a_warning_not_a_failure(
        archive: EvidenceArchive, history: Callable[[], None]) -> None:
    history()
    # what a process killed after BlobStore.put and before ledger.append leaves behind
    journal = archive.blobs.journal()
    digest, _ = archive.blobs.put(b"screenshot of a step never recorded", journal)
    report = archive.verify()
    assert report.ok, report.problems
    assert [(w.code, digest[2:] in w.where) for w in report.warnings] == [
        ("blob-interrupted", True)]
    # a file added by hand is still a failure
    archive.blobs.put(b"slipped in later")
    assert archive.verify().codes() == {"blob-unreferenced"}


def test_a_committed_record_leaves_no_journal(archive: EvidenceArchive) -> None:
    archive.record("claim.submitted", "CLM-9", "ops", {"n": 1}, {"receipt.pdf": b"%PDF-1.7"})
    assert archive.blobs.pending() == set()
    assert not any((archive.blobs_dir / ".pending").iterdir())
    assert archive.verify().ok
