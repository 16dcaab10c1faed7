"""`verify` catches every kind of tampering with a workspace's archive, saying what and where."""

from __future__ import annotations


import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, delete, insert, update

from evidence import Checkpoint, EvidenceArchive, ledger
from evidence.keys import load_private_key, public_pem

from .tampering import (blob_paths, edit_leaf, flip_byte, leaves, refile_checkpoints,
                        rewrite_log, set_row)


def test_one_flipped_byte_in_any_blob_is_caught(archive_with_history: EvidenceArchive) -> None:
    archive = archive_with_history
    for digest, path in blob_paths(archive):
        original = path.read_bytes()
        flip_byte(path)
        report = archive.verify()
        assert not report.ok
        assert [(p.code, digest in p.where) for p in report.problems] == [("blob-altered", True)]
        assert "entry" in report.problems[0].where  # says which entry recorded it
        path.write_bytes(original)
    assert archive.verify().ok


def test_a_flipped_byte_is_caught_when_verifying_just_that_claim(
        archive_with_history: EvidenceArchive) -> None:
    archive = archive_with_history
    receipt = archive.entries("CLM-1")[3].blobs["receipt.pdf"]
    flip_byte(archive.blobs.path(receipt.sha256), at=0)
    assert archive.verify(claim="CLM-1").codes() == {"blob-altered"}
    assert archive.verify(claim="CLM-2").ok


def test_a_replaced_blob_is_caught(archive_with_history: EvidenceArchive) -> None:
    archive = archive_with_history
    digest, path = blob_paths(archive)[0]
    path.chmod(0o644)
    path.write_bytes(b"a different receipt")
    report = archive.verify()
    assert report.codes() == {"blob-altered"}
    assert "size 19" in report.problems[0].message


@pytest.mark.parametrize("attack", ["same size", "two swapped"])
def test_a_blob_replaced_by_one_of_the_same_size_or_swapped_is_caught(
        archive_with_history: EvidenceArchive, attack: str) -> None:
    """The size the entry records still matches: only the hash tells."""
    archive = archive_with_history
    (first, a), (second, b) = blob_paths(archive)[:2]
    for path in (a, b):
        path.chmod(0o644)
    if attack == "same size":
        a.write_bytes(bytes(len(a.read_bytes())))
        altered = {first}
    else:
        data_a, data_b = a.read_bytes(), b.read_bytes()
        a.write_bytes(data_b)
        b.write_bytes(data_a)
        altered = {first, second}
    report = archive.verify()
    assert report.codes() == {"blob-altered"}
    assert {p.where.split()[1] for p in report.problems} == altered


def test_a_removed_blob_is_caught(archive_with_history: EvidenceArchive) -> None:
    archive = archive_with_history
    digest, path = blob_paths(archive)[1]
    path.unlink()
    report = archive.verify()
    assert report.codes() == {"blob-missing"}
    assert digest in report.problems[0].where


def test_an_added_blob_is_caught(archive_with_history: EvidenceArchive) -> None:
    archive = archive_with_history
    digest, _ = archive.blobs.put(b"slipped in later")
    (archive.evidence_dir / "blobs" / "zz").mkdir()
    (archive.evidence_dir / "blobs" / "zz" / "notes.txt").write_text("x")
    report = archive.verify()
    assert report.codes() == {"blob-unreferenced", "blob-unexpected"}
    assert any(digest[2:] in p.where for p in report.problems)


def test_an_altered_entry_is_caught_and_located(archive_with_history: EvidenceArchive,
                                                engine: Engine) -> None:
    leaf = leaves(engine)[4]
    set_row(engine, 4, edit_leaf(leaf, metadata={"reference": "R-78"}), rehash=False)
    report = archive_with_history.verify()
    assert {"entry-altered", "checkpoint-root"} <= report.codes()
    assert any(p.code == "entry-altered" and p.where == "entry 4" for p in report.problems)


def test_an_altered_entry_with_its_hash_recomputed_is_caught_by_the_signed_roots(
        archive_with_history: EvidenceArchive, engine: Engine) -> None:
    leaf = leaves(engine)[4]
    set_row(engine, 4, edit_leaf(leaf, metadata={"reference": "R-78"}), rehash=True)
    report = archive_with_history.verify()
    assert "entry-altered" not in report.codes()
    assert {"checkpoint-root", "state-root"} <= report.codes()
    # checkpoints at 3 entries still match; the change is located between 3 and the next (7)
    roots = [p for p in report.problems if p.code == "checkpoint-root"]
    assert len(roots) == 2
    assert "entries 3..6" in roots[0].message


def test_a_removed_entry_is_caught(archive_with_history: EvidenceArchive, engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(delete(ledger.entries_table).where(ledger.entries_table.c.idx == 2))
    report = archive_with_history.verify()
    assert {"entry-missing", "checkpoint-root", "state-size"} <= report.codes()
    assert [p.where for p in report.problems if p.code == "entry-missing"] == ["entry 2"]


def test_removing_the_last_entries_is_caught(archive_with_history: EvidenceArchive,
                                             engine: Engine) -> None:
    # a careful attacker also rewinds the state row; the signed checkpoint still counts 9
    rewrite_log(engine, leaves(engine)[:7], key=None, keep_checkpoints=True)
    report = archive_with_history.verify()
    assert report.codes() == {"checkpoint-size"}
    assert "signs 9 entries but the ledger holds 7" in report.problems[0].message


def test_reordered_entries_are_caught(archive_with_history: EvidenceArchive,
                                      engine: Engine) -> None:
    all_leaves = leaves(engine)
    set_row(engine, 5, all_leaves[6], rehash=True)
    set_row(engine, 6, all_leaves[5], rehash=True)
    report = archive_with_history.verify()
    assert {"entry-moved", "checkpoint-root"} <= report.codes()
    assert {p.where for p in report.problems if p.code == "entry-moved"} == {"entry 5", "entry 6"}


def test_an_inserted_entry_is_caught(archive_with_history: EvidenceArchive,
                                     engine: Engine) -> None:
    all_leaves = leaves(engine)
    forged = edit_leaf(all_leaves[4], kind="status.changed", metadata={"to": "withdrawn"})
    # a careful forger renumbers every later leaf so each one's index matches its position
    renumbered = [edit_leaf(leaf, index=i) for i, leaf in
                  enumerate([*all_leaves[:5], forged, *all_leaves[5:]])]
    rewrite_log(engine, renumbered, key=None, keep_checkpoints=True)
    report = archive_with_history.verify()
    assert report.codes() == {"checkpoint-root", "checkpoint-inconsistent"}
    assert [p.where.split(" (")[0] for p in report.problems if p.code == "checkpoint-root"] == [
        "checkpoint #2", "checkpoint #3"]


def test_an_entry_slipped_in_without_renumbering_is_caught(
        archive_with_history: EvidenceArchive, engine: Engine) -> None:
    all_leaves = leaves(engine)
    rewrite_log(engine, [*all_leaves[:5], all_leaves[4], *all_leaves[5:]], key=None,
                keep_checkpoints=True)
    report = archive_with_history.verify()
    assert {"entry-moved", "checkpoint-root"} <= report.codes()


def test_a_log_rewritten_and_resigned_with_another_key_is_caught(
        archive_with_history: EvidenceArchive, engine: Engine) -> None:
    all_leaves = leaves(engine)
    all_leaves[1] = edit_leaf(all_leaves[1], actor="mallory")
    rewrite_log(engine, all_leaves, key=Ed25519PrivateKey.generate())
    report = archive_with_history.verify()
    # the checkpoints kept outside the database show the rest: deleted, and inconsistent
    assert report.codes() == {"checkpoint-signature", "checkpoint-deleted",
                              "checkpoint-inconsistent"}
    assert any("signed with another key" in p.message for p in report.problems)


def test_a_replaced_public_key_is_caught_when_the_auditor_pins_theirs(
        archive_with_history: EvidenceArchive, engine: Engine) -> None:
    archive = archive_with_history
    trusted = archive.public_key_pem()
    mallory = Ed25519PrivateKey.generate()
    all_leaves = leaves(engine)
    all_leaves[1] = edit_leaf(all_leaves[1], actor="mallory")
    forged = rewrite_log(engine, all_leaves, key=mallory)
    (archive.evidence_dir / "keys" / "signing.pub").write_bytes(public_pem(mallory.public_key()))
    refile_checkpoints(archive.evidence_dir, [forged])  # the whole machine is theirs
    assert archive.verify().ok  # self-consistent: only a pinned key tells it apart...
    report = archive.verify(trusted_key=trusted)
    assert report.codes() == {"key-replaced", "checkpoint-signature"}


def test_a_rewrite_inconsistent_with_an_earlier_checkpoint_is_caught(
        archive_with_history: EvidenceArchive, engine: Engine) -> None:
    archive = archive_with_history
    saved = archive.checkpoints()[0]  # e.g. from an earlier export the auditor kept
    all_leaves = leaves(engine)
    all_leaves[1] = edit_leaf(all_leaves[1], metadata={"portal": "elsewhere"})
    # an insider with the real key: left in place, the old checkpoints betray the rewrite
    rewrite_log(engine, all_leaves, key=load_private_key(archive.evidence_dir),
                keep_checkpoints=True)
    report = archive.verify()
    assert "checkpoint-root" in report.codes()
    # with the old checkpoints deleted, the checkpoint file kept outside the database tells
    resigned = rewrite_log(engine, all_leaves, key=load_private_key(archive.evidence_dir))
    report = archive.verify()
    assert {"checkpoint-deleted", "checkpoint-inconsistent"} == report.codes()
    assert all("checkpoints.jsonl" in p.where for p in report.problems
               if p.code == "checkpoint-deleted")
    # and when the key holder rewrites that file too, the log is self-consistent again...
    refile_checkpoints(archive.evidence_dir, [resigned])
    assert archive.verify().ok
    # ...but not consistent with the checkpoint the auditor saved
    report = archive.verify(trusted_checkpoints=[saved])
    assert report.codes() == {"checkpoint-inconsistent"}
    assert "size 3" in report.problems[0].where


def test_a_truncated_and_regrown_log_breaks_checkpoint_order(
        archive_with_history: EvidenceArchive, engine: Engine) -> None:
    archive = archive_with_history
    rewrite_log(engine, leaves(engine)[:2], key=load_private_key(archive.evidence_dir),
                keep_checkpoints=True)
    report = archive.verify()
    assert {"checkpoint-order", "checkpoint-size"} <= report.codes()


@pytest.mark.parametrize("column,value", [
    ("root_hash", b"\x00" * 32), ("tree_size", 8), ("time", "2030-01-01T00:00:00.000000Z")])
def test_an_edited_checkpoint_is_caught(archive_with_history: EvidenceArchive, engine: Engine,
                                        column: str, value: object) -> None:
    t = ledger.checkpoints_table
    with engine.begin() as conn:
        conn.execute(update(t).where(t.c.id == 2).values(**{column: value}))
    report = archive_with_history.verify()
    assert "checkpoint-signature" in report.codes()
    assert all(p.where.startswith("checkpoint #2") for p in report.problems
               if p.code == "checkpoint-signature")


def test_a_forged_checkpoint_is_caught(archive_with_history: EvidenceArchive,
                                       engine: Engine) -> None:
    archive = archive_with_history
    real = archive.latest_checkpoint()
    assert real is not None
    forged = Checkpoint(real.tree_size, real.root_hash, "2030-01-01T00:00:00.000000Z",
                        real.key_id, bytes(64))
    with engine.begin() as conn:
        conn.execute(insert(ledger.checkpoints_table).values(
            tree_size=forged.tree_size, root_hash=forged.root_hash, time=forged.time,
            key_id=forged.key_id, signature=forged.signature))
    report = archive.verify()
    assert report.codes() == {"checkpoint-signature"}
    assert report.problems[0].where.startswith("checkpoint #4")
