"""An auditor's attacks on the live archive (the database rows and the files beside them) that
once hung or crashed ``claims evidence verify``: each must be a problem in the report, found
quickly, with no traceback."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, func, insert, select, update

from evidence import EvidenceArchive, EvidenceError, WitnessEndpoint, ledger, note

from .tampering import blob_paths

FIFOS = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")


def _verify_without_waiting(archive: EvidenceArchive, fifo: Path) -> set[str]:
    """Verify, opening the other end of ``fifo`` after a while should the verifier wait on it
    (so that the test fails on the time taken rather than hanging)."""
    def unblock() -> None:
        if fifo.exists():
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    timer = threading.Timer(20, unblock)
    timer.start()
    started = time.monotonic()
    try:
        report = archive.verify()
    finally:
        timer.cancel()
    assert time.monotonic() - started < 15, "the verifier waited on a FIFO"
    assert not report.ok
    return {p.code for p in report.problems}


def _replace_by_fifo(path: Path) -> Path:
    path.chmod(0o644)
    path.unlink()
    os.mkfifo(path)
    return path


@FIFOS
def test_a_fifo_in_place_of_a_blob_is_refused_without_waiting(
        archive_with_history: EvidenceArchive) -> None:
    _, blob = blob_paths(archive_with_history)[0]
    codes = _verify_without_waiting(archive_with_history, _replace_by_fifo(blob))
    assert "blob-altered" in codes
    stray = [p for p in archive_with_history.verify().problems if p.code == "blob-unexpected"]
    assert stray and "FIFO" in stray[0].message  # not only 'not named by a SHA-256 digest'



@FIFOS
def test_a_fifo_in_place_of_the_public_key_is_refused_without_waiting(
        archive_with_history: EvidenceArchive) -> None:
    fifo = _replace_by_fifo(archive_with_history.public_key_file)
    assert "key-missing" in _verify_without_waiting(archive_with_history, fifo)


@FIFOS
def test_a_fifo_in_place_of_the_checkpoint_file_is_refused_without_waiting(
        archive_with_history: EvidenceArchive) -> None:
    fifo = _replace_by_fifo(archive_with_history.evidence_dir / "keys" / "checkpoints.jsonl")
    assert "checkpoint-file" in _verify_without_waiting(archive_with_history, fifo)


def test_a_blob_replaced_by_a_symbolic_link_is_refused(archive_with_history: EvidenceArchive,
                                                       tmp_path: Path) -> None:
    """Even to the same bytes: the store holds its own read-only files, not pointers to
    somewhere that may change later."""
    _, blob = blob_paths(archive_with_history)[0]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_bytes(blob.read_bytes())
    blob.chmod(0o644)
    blob.unlink()
    blob.symlink_to(elsewhere)
    problems = [p for p in archive_with_history.verify().problems if p.code == "blob-altered"]
    assert problems and "symbolic link" in problems[0].message


def test_a_leaf_nested_100000_deep_is_a_problem_not_a_crash(
        archive_with_history: EvidenceArchive, engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(update(ledger.entries_table).where(ledger.entries_table.c.idx == 1)
                     .values(leaf=b"[" * 100_000))
    report = archive_with_history.verify()
    assert any(p.code == "entry-unreadable" and "nested too deeply" in p.message
               for p in report.problems), report.problems
    with pytest.raises(EvidenceError, match="nested too deeply"):  # reading the log: one line
        archive_with_history.entries()


def test_a_checkpoint_line_nested_100000_deep_is_a_problem_not_a_crash(
        archive_with_history: EvidenceArchive) -> None:
    path = archive_with_history.evidence_dir / "keys" / "checkpoints.jsonl"
    path.chmod(0o644)
    with path.open("a") as f:
        f.write("[" * 100_000 + "\n")
    problems = [p for p in archive_with_history.verify().problems if p.code == "checkpoint-file"]
    assert problems and "nested too deeply" in problems[0].message


@pytest.mark.parametrize("line,checkpoint", [
    ("garbage", "latest"),
    ("\u2014 w.example " + "A" * 100 + "\n", "latest"),  # not 76 bytes: not a cosignature/v1
    ("\u2014 other.example " + "A" * 102 + "==\n", "latest"),  # another witness's name
    ("\u2014 w.example " + "A" * 102 + "==\n", "none")])
def test_a_forged_cosignature_row_is_reported(archive_with_history: EvidenceArchive,
                                              engine: Engine, line: str,
                                              checkpoint: str) -> None:
    """A cosignature row that is not one of its witness's cosignature lines for a stored
    checkpoint: the log verified OK, and every export carried it in its note and failed."""
    c, t = ledger.cosignatures_table, ledger.checkpoints_table
    with engine.begin() as conn:
        latest = conn.execute(select(func.max(t.c.id))).scalar()
        conn.execute(insert(c).values(checkpoint_id=latest if checkpoint == "latest" else 999,
                                      witness="w.example", line=line))
    for claim in (None, "CLM-1"):
        problems = [p for p in archive_with_history.verify(claim).problems
                    if p.code == "cosignature-invalid"]
        assert problems and "evidence_cosignatures #" in problems[0].where, claim
        assert ("not stored" in problems[0].message) == (checkpoint == "none")


def test_a_deleted_state_row_is_one_line_naming_it(cli, tmp_path: Path) -> None:
    """It said 'evidence ledger read failed: No row was found when one was required'."""
    assert cli("init", str(cli.root), workspace=None).exit_code == 0
    with sqlite3.connect(cli.root / "claims.db") as db:
        db.execute("DELETE FROM evidence_state")
    result = cli("evidence", "verify")
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1, result.output
    assert "evidence_state" in lines[0] and "state-missing" in lines[0], result.output


def test_a_negative_entry_index_is_named(archive_with_history: EvidenceArchive,
                                         engine: Engine) -> None:
    """It read 'entries 0..-6: -5 entries missing from the ledger'."""
    t = ledger.entries_table
    with engine.begin() as conn:
        conn.execute(update(t).where(t.c.idx == 0).values(idx=-5))
    problems = archive_with_history.verify().problems
    assert any(p.code == "entry-index" and p.where == "entry -5" for p in problems), problems
    assert not any("-" in p.message.split(" entr")[0] for p in problems
                   if p.code == "entry-missing"), problems
    assert any(p.code == "entry-missing" and p.where == "entry 0" for p in problems)


def _cosign_latest(archive: EvidenceArchive, engine: Engine, name: str) -> str:
    """A valid cosignature of the latest checkpoint by a witness key made here, stored as the
    log stores one; returns the witness's vkey."""
    key = Ed25519PrivateKey.generate()
    cp = archive.latest_checkpoint()
    assert cp is not None
    line = note.cosign(cp.body().decode(), name, key, 1_770_000_000)
    c, t = ledger.cosignatures_table, ledger.checkpoints_table
    with engine.begin() as conn:
        latest = conn.execute(select(func.max(t.c.id))).scalar()
        conn.execute(insert(c).values(checkpoint_id=latest, witness=name, line=line))
    return note.vkey(name, note.COSIGNATURE_ED25519, key.public_key())


def test_a_cosignature_of_a_witness_not_in_claims_toml_does_not_count(
        archive_with_history: EvidenceArchive, engine: Engine) -> None:
    """A valid cosignature by a witness the workspace does not name was accepted (counted)
    by the live check: only the configured witnesses count; another is a warning."""
    vkey = _cosign_latest(archive_with_history, engine, "stranger.example/w")
    for claim in (None, "CLM-1"):
        report = archive_with_history.verify(claim)
        assert report.ok and "witness cosignatures" not in report.checked, report.checked
        unknown = [w for w in report.warnings if w.code == "cosignature-unknown"]
        assert len(unknown) == 1 and "stranger.example/w" in unknown[0].where
        assert "not configured in claims.toml" in unknown[0].message
    latest = archive_with_history.latest_checkpoint()
    assert latest is not None and archive_with_history.witnessed_by(latest) == []
    configured = EvidenceArchive.open(archive_with_history.evidence_dir, engine,
                                      witnesses=[WitnessEndpoint("http://127.0.0.1:1", vkey)])
    report = configured.verify()
    assert report.ok and report.checked["witness cosignatures"] == 1 and not report.warnings
    assert configured.witnessed_by(latest) == ["stranger.example/w"]
    c = ledger.cosignatures_table  # stored twice (two processes cosigning at once): counted once
    with engine.begin() as conn:
        row = conn.execute(select(c.c.checkpoint_id, c.c.witness, c.c.line)).one()
        conn.execute(insert(c).values(checkpoint_id=row.checkpoint_id, witness=row.witness,
                                      line=row.line))
    assert configured.verify().checked["witness cosignatures"] == 1
