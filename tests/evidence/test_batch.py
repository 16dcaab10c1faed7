"""A record's blobs go in as one batch: one flush for all of them, the ledger entry committed
only after it, nothing left behind when the record fails."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

import evidence.batch as batch_module
from evidence import EvidenceArchive, MetadataError, Staged


@pytest.fixture
def flushes(monkeypatch: pytest.MonkeyPatch) -> list[list[Path]]:
    """Every flush the archive asks for (and still performs), with the files it names."""
    calls: list[list[Path]] = []
    real = batch_module.flush_files

    def counting(paths):
        paths = list(paths)
        calls.append(paths)
        real(paths)

    monkeypatch.setattr(batch_module, "flush_files", counting)
    return calls


def test_one_flush_for_every_blob_of_a_record(archive: EvidenceArchive, tmp_path: Path,
                                              flushes: list[list[Path]]) -> None:
    files: dict[str, Path | bytes] = {f"page-{i}.txt": f"page {i}".encode() for i in range(6)}
    big = tmp_path / "receipt.pdf"
    big.write_bytes(b"%PDF-1.7\n" + bytes(3 * 1024 * 1024))
    files["receipt.pdf"] = big
    entry = archive.record("portal.receipt", "CLM-1", "ops", {"n": 1}, files)
    assert len(flushes) == 1 and len(flushes[0]) == 7  # seven new blobs, one flush
    assert entry.blobs["receipt.pdf"].sha256 == hashlib.sha256(big.read_bytes()).hexdigest()
    assert archive.blobs.read(entry.blobs["page-3.txt"].sha256) == b"page 3"
    assert not list((archive.blobs_dir / ".tmp").iterdir())
    assert archive.blobs.pending() == set()
    assert archive.verify().ok


def test_stored_blobs_are_not_written_or_flushed_again(archive: EvidenceArchive,
                                                       flushes: list[list[Path]]) -> None:
    archive.record("portal.receipt", "CLM-1", "ops", {}, {"a.txt": b"same bytes"})
    flushes.clear()
    with archive.blob_batch() as batch:
        digest = hashlib.sha256(b"same bytes").hexdigest()
        with batch.sink(digest, 10) as sink:
            assert sink is None  # stored already: nothing to stream
        entry = archive.record("portal.receipt", "CLM-2", "ops", {},
                               {"a.txt": Staged(digest, 10)}, batch=batch)
    assert flushes == [] and entry.blobs["a.txt"].sha256 == digest
    assert archive.verify().ok


def test_no_entry_and_no_blob_when_the_flush_fails(archive: EvidenceArchive,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    def full_disk(paths):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(batch_module, "flush_files", full_disk)
    files = {f"f{i}.txt": f"bytes {i}".encode() for i in range(3)}
    with pytest.raises(OSError, match="No space left"):
        archive.record("portal.receipt", "CLM-1", "ops", {}, files)
    assert archive.size() == 0
    assert [d for d, _ in archive.blobs.files()] == []  # nothing linked, staging removed
    assert not list((archive.blobs_dir / ".tmp").iterdir())


def test_a_streamed_blob_checked_by_its_writer(archive: EvidenceArchive) -> None:
    data = b"payload streamed while a bundle is built"
    digest = hashlib.sha256(data).hexdigest()
    with archive.blob_batch() as batch:
        with pytest.raises(ValueError), batch.sink(digest, len(data)) as sink:
            assert sink is not None
            sink.write(data[:5])
            raise ValueError("the writer found the bytes changed")  # dropped, never linked
        assert not batch.stored(digest)
        with batch.sink(digest, len(data)) as sink:
            sink.write(data)
        entry = archive.record("bundle.built", "CLM-1", "ops", {},
                               {"doc.pdf": Staged(digest, len(data))}, batch=batch)
    assert archive.blobs.read(entry.blobs["doc.pdf"].sha256) == data
    assert archive.verify().ok


def test_a_staged_blob_the_batch_does_not_hold_is_refused(archive: EvidenceArchive) -> None:
    with archive.blob_batch() as batch, pytest.raises(MetadataError, match="not in the batch"):
        archive.record("bundle.built", "CLM-1", "ops", {}, {"doc.pdf": Staged("a" * 64, 3)},
                       batch=batch)
    assert archive.size() == 0


def test_several_records_share_one_flush(archive: EvidenceArchive, tmp_path: Path,
                                         flushes: list[list[Path]]) -> None:
    zip_file = tmp_path / "bundle.zip"
    zip_file.write_bytes(b"PK a zip made durable with the blobs")
    with archive.blob_batch() as one, archive.blob_batch() as two:
        a, b = one.add(b"first record"), two.add(b"second record")
        batch_module.flush_batches([one, two], also=[zip_file])
        assert len(flushes) == 1 and len(flushes[0]) == 3 and zip_file in flushes[0]
        archive.record("bundle.built", "CLM-1", "ops", {}, {"x.txt": a}, batch=one)
        archive.record("bundle.built", "CLM-2", "ops", {}, {"x.txt": b}, batch=two)
    assert len(flushes) == 1   # committing flushed batches flushes nothing more
    assert archive.verify().ok


def test_a_blob_added_after_the_shared_flush_is_flushed_by_its_commit(
        archive: EvidenceArchive, flushes: list[list[Path]]) -> None:
    with archive.blob_batch() as batch:
        first = batch.add(b"staged before the flush")
        batch_module.flush_batches([batch])
        late = batch.add(b"staged after it")
        archive.record("bundle.built", "CLM-1", "ops", {}, {"a.txt": first, "b.txt": late},
                       batch=batch)
    assert len(flushes) == 2 and len(flushes[1]) == 2   # the commit flushed again, both
    assert archive.verify().ok


def test_a_failed_shared_flush_marks_nothing_flushed(archive: EvidenceArchive,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    def full_disk(paths):
        raise OSError(28, "No space left on device")

    with archive.blob_batch() as batch:
        batch.add(b"not yet durable")
        monkeypatch.setattr(batch_module, "flush_files", full_disk)
        with pytest.raises(OSError, match="No space left"):
            batch_module.flush_batches([batch])
        assert batch.due()   # still due: a commit would flush it (and fail the same way)


def test_record_many_appends_in_one_transaction_with_one_flush_and_one_journal(
        archive: EvidenceArchive, flushes: list[list[Path]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Several records at once: one flush for every blob, one journal (removed once
    committed), the events in order, a claim's second event chained to its first."""
    from evidence import Record

    journals: list[Path] = []
    real_journal = archive.blobs.journal
    monkeypatch.setattr(archive.blobs, "journal",
                        lambda: journals.append(real_journal()) or journals[-1])
    records = [Record("bundle.built", claim, "ops", {"n": i}, {f"f{i}.txt": f"{i}".encode()})
               for i, claim in enumerate(["CLM-1", "CLM-2", "CLM-1"])]
    entries = archive.record_many(records)
    assert [(e.claim, e.metadata["n"]) for e in entries] == [("CLM-1", 0), ("CLM-2", 1),
                                                             ("CLM-1", 2)]
    assert [e.index for e in entries] == [0, 1, 2]
    assert entries[2].prev_claim_leaf == entries[0].leaf_hash.hex()
    assert len(flushes) == 1 and len(flushes[0]) == 3
    assert len(journals) == 1 and not journals[0].exists()
    assert archive.verify().ok


def test_record_many_writes_nothing_when_one_record_is_refused(archive: EvidenceArchive,
                                                              tmp_path: Path) -> None:
    from evidence import Record

    records = [Record("bundle.built", "CLM-1", "ops", {"n": 1}, {"a.txt": b"a"}),
               Record("Bad Kind", "CLM-2", "ops", {"n": 2}, {"b.txt": b"b"})]
    with pytest.raises(MetadataError, match="kind"):
        archive.record_many(records)
    assert archive.size() == 0
    assert [d for d, _ in archive.blobs.files()] == []
