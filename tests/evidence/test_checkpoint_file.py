"""The checkpoint file kept outside the database (``keys/checkpoints.jsonl``) is a witness of the
checkpoints signed: removed, emptied or cut while the database still holds the checkpoints (or
the ledger an export signed as it was recorded), ``verify`` fails and says which."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, func, select, update

from evidence import EvidenceArchive, ledger, merkle
from evidence.canonical import canonical_json
from evidence.keys import init_keys
from evidence.sealing import append_checkpoint_file, checkpoint_file, read_checkpoint_file


def _roll_back_last_entry(engine: Engine) -> None:
    """The tester's rollback: the last entry, its checkpoint and the state row, all consistent."""
    e, c, s = ledger.entries_table, ledger.checkpoints_table, ledger.state_table
    with engine.begin() as conn:
        last = conn.execute(select(func.max(e.c.idx))).scalar_one()
        hashes = [bytes(h) for (h,) in conn.execute(select(e.c.leaf_hash).order_by(e.c.idx))]
        compact: list[bytes] = []
        for i, lh in enumerate(hashes[:last]):
            compact, _ = merkle.compact_append_nodes(compact, i, lh)
        conn.execute(delete(e).where(e.c.idx == last))
        conn.execute(delete(ledger.nodes_table))
        newest = conn.execute(select(func.max(c.c.id))).scalar_one()
        conn.execute(delete(c).where(c.c.id == newest))
        conn.execute(update(s).values(size=last, compact=b"".join(compact)))


def test_a_fresh_archive_that_never_signed_a_checkpoint_verifies(
        archive: EvidenceArchive) -> None:
    archive.record("bundle.built", "CLM-1", "alice", {"invoice": "INV-1"})
    assert not checkpoint_file(archive.evidence_dir).exists()
    report = archive.verify()
    assert report.ok, report.problems
    assert archive.verify("CLM-1").ok


def test_a_deleted_checkpoint_file_is_caught(archive_with_history: EvidenceArchive) -> None:
    path = checkpoint_file(archive_with_history.evidence_dir)
    path.unlink()
    report = archive_with_history.verify()
    assert report.codes() == {"checkpoint-file-missing"}
    assert str(path) in report.problems[0].where
    assert "3 signed checkpoint(s)" in report.problems[0].message
    claim = archive_with_history.verify("CLM-1")
    assert claim.codes() == {"checkpoint-file-missing"}


@pytest.mark.parametrize("keep", [0, 1])
def test_an_emptied_or_cut_checkpoint_file_is_caught(archive_with_history: EvidenceArchive,
                                                     keep: int) -> None:
    path = checkpoint_file(archive_with_history.evidence_dir)
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:keep]))
    report = archive_with_history.verify()
    assert report.codes() == {"checkpoint-file-truncated"}
    assert f"holds {keep} checkpoint(s) but {3 - keep} more were signed" in \
        report.problems[0].message


def test_a_rollback_with_the_checkpoint_file_deleted_is_caught(
        archive_with_history: EvidenceArchive, engine: Engine) -> None:
    archive = archive_with_history
    _roll_back_last_entry(engine)
    report = archive.verify()
    assert {"checkpoint-deleted", "checkpoint-size"} == report.codes()  # the file kept: it tells
    checkpoint_file(archive.evidence_dir).unlink()
    report = archive.verify()
    assert report.codes() == {"checkpoint-file-missing"}  # the database still holds 2 of 3


def test_an_export_left_without_any_checkpoint_is_caught(archive: EvidenceArchive,
                                                         tmp_path) -> None:
    """Every checkpoint deleted from the database and the file: the export's entry in the
    ledger was signed into a checkpoint as it was recorded, so one is missing."""
    archive.record("bundle.built", "CLM-1", "alice", {"invoice": "INV-1"})
    archive.export(tmp_path / "bag", claim="CLM-1")
    with archive.engine.begin() as conn:
        conn.execute(delete(ledger.cosignatures_table))
        conn.execute(delete(ledger.checkpoints_table))
    checkpoint_file(archive.evidence_dir).unlink()
    report = archive.verify()
    assert report.codes() == {"checkpoint-missing"}
    assert {p.where for p in report.problems} == {
        "evidence_checkpoints", str(checkpoint_file(archive.evidence_dir))}
    assert "entry 1 (an export)" in report.problems[0].message


def test_a_checkpoint_not_filed_before_a_crash_is_filed_by_the_next_one(
        archive_with_history: EvidenceArchive) -> None:
    """The window between a checkpoint's commit and its line in the file (only the newest is
    missing: nothing is hidden): a warning, and the next checkpoint files it. Two missing is
    the file cut: an error, not repaired."""
    archive = archive_with_history
    path = checkpoint_file(archive.evidence_dir)
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-1]))
    report = archive.verify()
    assert report.ok and {w.code for w in report.warnings} == {"checkpoint-unfiled"}
    archive.checkpoint()
    assert len(read_checkpoint_file(path)) == 3
    report = archive.verify()
    assert report.ok and not report.warnings
    path.write_text("".join(lines[:1]))
    archive.checkpoint()
    assert archive.verify().codes() == {"checkpoint-file-truncated"}


def test_a_fleet_sharing_one_key_checks_each_folder_file_only_for_deletions(
        engine: Engine, tmp_path: Path) -> None:
    """Folders sharing the key and the ledger each file only the checkpoints they signed: the
    database holds the others', which is no sign of a cut file."""
    init_keys(tmp_path / "shared")
    key = tmp_path / "shared" / "keys" / "signing.key"
    for i in range(2):  # each working folder has its own keys/ (made by `claims init`)
        (tmp_path / f"machine-{i}" / "evidence" / "keys").mkdir(parents=True)
    folders = [EvidenceArchive.open(tmp_path / f"machine-{i}" / "evidence", engine, key_file=key)
               for i in range(2)]
    for i, archive in enumerate(folders):
        archive.record("bundle.built", f"CLM-{i}", "worker", {"invoice": f"INV-{i}"})
        archive.checkpoint()
    for archive in folders:
        report = archive.verify()
        assert report.ok, report.problems
        assert len(read_checkpoint_file(checkpoint_file(archive.evidence_dir))) == 1
    with engine.begin() as conn:  # a checkpoint a folder filed, deleted from the database
        conn.execute(delete(ledger.checkpoints_table).where(
            ledger.checkpoints_table.c.tree_size == 1))
    assert folders[0].verify().codes() >= {"checkpoint-deleted"}


def test_a_checkpoint_filed_twice_counts_once(archive_with_history: EvidenceArchive) -> None:
    """The next seal files a checkpoint whose own process is still about to file it: the line
    is written twice, and read once (no false "deleted")."""
    archive = archive_with_history
    path = checkpoint_file(archive.evidence_dir)
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines + lines[-1:]))
    assert len(read_checkpoint_file(path)) == 3
    archive.record("status.changed", "CLM-1", "sync", {"to": "paid"})
    archive.checkpoint()  # not refused as CheckpointsDeleted
    assert archive.verify().ok


def _edit_lines(path: Path, attack: str) -> int:
    """The auditor's edit of the checkpoint file (three lines, by increasing size); returns the
    line the verifier must name."""
    lines = path.read_bytes().splitlines(keepends=True)
    if attack == "reordered":
        lines[0], lines[1] = lines[1], lines[0]
        bad = 2
    elif attack == "last moved first":
        lines = lines[-1:] + lines[:-1]
        bad = 2
    elif attack == "CRLF":
        lines = [line[:-1] + b"\r\n" for line in lines]
        bad = 1
    elif attack == "trailing space":
        lines[1] = lines[1][:-1] + b" \n"
        bad = 2
    elif attack == "blank line":
        lines.insert(2, b"\n")
        bad = 3
    elif attack == "reformatted":
        lines[2] = json.dumps(json.loads(lines[2]), indent=None).encode() + b"\n"
        bad = 3
    else:  # "no newline at the end"
        lines[-1] = lines[-1][:-1]
        bad = 3
    path.chmod(0o644)
    path.write_bytes(b"".join(lines))
    return bad


@pytest.mark.parametrize("attack,code", [
    ("reordered", "checkpoint-file-order"), ("last moved first", "checkpoint-file-order"),
    ("CRLF", "checkpoint-file-form"), ("trailing space", "checkpoint-file-form"),
    ("blank line", "checkpoint-file-form"), ("reformatted", "checkpoint-file-form"),
    ("no newline at the end", "checkpoint-file-form")])
def test_a_checkpoint_file_out_of_order_or_not_as_written_is_caught(
        archive_with_history: EvidenceArchive, attack: str, code: str) -> None:
    """Every line still a validly signed checkpoint of this log, so nothing else objects: the
    file's own rules (one canonical line each, sizes increasing) must."""
    archive = archive_with_history
    path = checkpoint_file(archive.evidence_dir)
    line = _edit_lines(path, attack)
    for claim in (None, "CLM-1"):
        report = archive.verify(claim)
        assert report.codes() == {code}, (claim, report.problems)
        first = report.problems[0]
        assert first.where == f"{path} line {line}", report.problems
        assert "\n" not in str(first)
    words = {"checkpoint-file-order": "tree size", "CRLF": "CRLF", "trailing space": "canonical",
             "blank line": "empty line", "reformatted": "canonical",
             "no newline at the end": "cut short"}
    assert (words[attack] if attack in words else words[code]) in report.problems[0].message


def test_appends_keep_the_file_in_order(archive_with_history: EvidenceArchive) -> None:
    """The process that signed a checkpoint files it after the next seal already did (with a
    later one after it): it is not written again, out of order."""
    archive = archive_with_history
    path = checkpoint_file(archive.evidence_dir)
    before = path.read_bytes()
    older = read_checkpoint_file(path)[1]
    append_checkpoint_file(path, older)
    append_checkpoint_file(path, read_checkpoint_file(path)[-1])
    assert path.read_bytes() == before
    assert archive.verify().ok


@pytest.mark.parametrize("field", ["signature", "origin"])
def test_a_checkpoint_line_whose_fields_differ_from_its_note_is_caught(
        archive_with_history: EvidenceArchive, field: str) -> None:
    """The note is what is signed; a `signature` or `origin` beside it that says otherwise was
    read without a word (only size, root, time and key id were compared)."""
    path = checkpoint_file(archive_with_history.evidence_dir)
    lines = path.read_bytes().splitlines(keepends=True)
    data = json.loads(lines[1])
    data[field] = "0" * len(data[field])
    path.chmod(0o644)
    path.write_bytes(lines[0] + canonical_json(data) + b"\n" + lines[2])
    report = archive_with_history.verify()
    assert "checkpoint-file" in report.codes(), report.problems
    bad = [p for p in report.problems if p.code == "checkpoint-file"]
    assert bad[0].where == f"{path} line 2" and "differ from the signed note" in bad[0].message


def test_signing_goes_on_over_a_file_out_of_form_and_verify_keeps_saying_so(
        archive_with_history: EvidenceArchive) -> None:
    archive = archive_with_history
    path = checkpoint_file(archive.evidence_dir)
    _edit_lines(path, "CRLF")
    archive.record("status.changed", "CLM-1", "sync", {"to": "paid"})
    archive.checkpoint()
    assert path.read_bytes().endswith(b"}\n") and len(read_checkpoint_file(path)) == 4
    report = archive.verify()
    assert report.codes() == {"checkpoint-file-form"}
    assert [p.where for p in report.problems] == [f"{path} line {n}" for n in (1, 2, 3)]
