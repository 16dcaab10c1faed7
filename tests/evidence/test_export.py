"""Exports: a self-contained BagIt bag that an auditor verifies offline, and every way to tamper
with one."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import bagit
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine

from evidence import (Checkpoint, EvidenceArchive, ExportError, ExportExists, key_id,
                      verify_export)
from evidence import export as export_module
from evidence.errors import LogRewritten
from evidence.canonical import canonical_json
from evidence.keys import load_private_key, public_pem

from .conftest import Clock
from .tampering import edit_leaf, flip_byte, leaves, recompute_manifests, rewrite_log


def entry_lines(bag: Path) -> list[dict]:
    return [json.loads(line) for line in
            (bag / "data/ledger/entries.jsonl").read_text().splitlines()]


def write_entry_lines(bag: Path, items: list[dict]) -> None:
    (bag / "data/ledger/entries.jsonl").write_bytes(
        b"".join(canonical_json(i) + b"\n" for i in items))


@pytest.fixture
def bag(archive: EvidenceArchive, history: Callable[[], None], tmp_path: Path) -> Path:
    history()
    out = archive.export(tmp_path / "audit-CLM-1", claim="CLM-1", actor="auditor-request")
    assert verify_export(out, trust_bag_key=True).ok
    return out


def test_export_is_a_valid_bagit_bag_with_the_claims_events_and_files(
        bag: Path, archive: EvidenceArchive) -> None:
    bagit.Bag(str(bag)).validate()  # the independent validator
    items = entry_lines(bag)
    kinds = [json.loads(i["leaf"])["kind"] for i in items]
    assert kinds == ["bundle.built", "submission.started", "portal.screenshot", "portal.receipt",
                     "submission.finished", "status.changed", "payment.matched",
                     "evidence.exported"]
    assert {json.loads(i["leaf"])["claim"] for i in items} == {"CLM-1"}
    blobs = {p.name for p in (bag / "data/blobs").iterdir()}
    expected = {ref.sha256 for e in archive.entries("CLM-1") for ref in e.blobs.values()}
    assert blobs == expected and len(blobs) == 3
    cp = Checkpoint.from_json(json.loads((bag / "data/ledger/checkpoint.json").read_text()))
    assert cp.tree_size == archive.size() == 10  # the export event is in the log and the bag
    assert len(json.loads((bag / "data/ledger/checkpoints.json").read_text())["checkpoints"]) == 3


def test_export_carries_no_secrets(bag: Path, archive: EvidenceArchive) -> None:
    private = (archive.evidence_dir / "keys" / "signing.key").read_bytes()
    for path in bag.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert b"PRIVATE KEY" not in content
            assert private not in content
    assert sorted(p.name for p in (bag / "data/keys").iterdir()) == ["signing.pub"]


def test_export_verifies_without_the_workspace_or_database(bag: Path, archive: EvidenceArchive,
                                                           engine: Engine, tmp_path: Path) -> None:
    key_id = archive.public_key()
    engine.dispose()
    shutil.rmtree(archive.evidence_dir)
    (tmp_path / "claims.db").unlink(missing_ok=True)  # on PostgreSQL the engine is gone
    moved = shutil.move(bag, tmp_path / "elsewhere")
    report = verify_export(Path(moved), trusted_key=key_id)
    assert report.ok, report.summary()
    assert report.checked["entries"] == 8
    assert report.checked["blobs"] == 3


def test_index_html_is_an_offline_timeline_per_claim(bag: Path) -> None:
    html = (bag / "data/index.html").read_text()
    assert "<h2>CLM-1</h2>" in html
    assert html.count('<img src="blobs/') == 1  # the screenshot, shown inline
    assert 'download="receipt.pdf"' in html
    assert "Status changed" in html and "approved" in html
    assert "http://" not in html and "https://" not in html  # nothing fetched from the network


def test_index_html_escapes_recorded_text(archive: EvidenceArchive, tmp_path: Path) -> None:
    archive.record("status.changed", "CLM-<b>", "sync", {"note": "<script>alert(1)</script>"})
    out = archive.export(tmp_path / "bag", claim="CLM-<b>")
    html = (out / "data/index.html").read_text()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert verify_export(out, trust_bag_key=True).ok


def test_export_by_date_range(evidence_dir: Path, engine: Engine, tmp_path: Path) -> None:
    day_clock = Clock(datetime(2026, 4, 1, 12, 0, tzinfo=UTC))
    day_clock._ticks = iter(range(0, 10_000, 60 * 24))  # one day per reading
    archive = EvidenceArchive.open(evidence_dir, engine, clock=day_clock)
    for i in range(5):  # 1 April .. 5 April
        archive.record("status.changed", f"CLM-{i}", "sync", {"to": "approved"})
    out = archive.export(tmp_path / "april", since=date(2026, 4, 2), until=date(2026, 4, 3))
    claims = [json.loads(i["leaf"])["claim"] for i in entry_lines(out)]
    assert claims == ["CLM-1", "CLM-2"]
    assert verify_export(out, trust_bag_key=True).ok
    bagit.Bag(str(out)).validate()


def test_export_never_overwrites_and_leaves_nothing_half_written(bag: Path,
                                                                 archive: EvidenceArchive,
                                                                 tmp_path: Path) -> None:
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(ExportExists):
        archive.export(bag, claim="CLM-1")
    with pytest.raises(ExportError, match="after it ends"):
        archive.export(tmp_path / "x", since=date(2026, 5, 2), until=date(2026, 5, 1))
    with pytest.raises(ExportError, match="not a folder"):
        archive.export(tmp_path / "no" / "such" / "dir", claim="CLM-1")
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_folder_it_cannot_write_is_refused_before_the_export_is_logged(
        bag: Path, archive: EvidenceArchive, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """/proc takes no new folders (even as root): a clean error, and the log gains no
    ``evidence.exported`` for an export that never happened. A write failing midway (a full
    disk) is a clean error too, with no partial folder left behind."""
    logged = len(archive.entries())
    with pytest.raises(ExportError, match="cannot write into /proc"):
        archive.export(Path("/proc/claimwright-export"), claim="CLM-1")
    assert len(archive.entries()) == logged

    def disk_full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(export_module, "_copy_blobs", disk_full)
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(ExportError, match="could not write the export .*No space left"):
        archive.export(tmp_path / "full", claim="CLM-1")
    assert sorted(p.name for p in tmp_path.iterdir()) == before


# --- tampering -----------------------------------------------------------------------------


def test_one_flipped_byte_in_any_bag_file_is_caught(bag: Path) -> None:
    files = sorted(p for p in bag.rglob("*") if p.is_file())
    assert len(files) == 15  # 4 tag files, verify.py, 7 ledger/index files, 3 blobs
    for path in files:
        original = path.read_bytes()
        flip_byte(path)
        report = verify_export(bag, trust_bag_key=True)
        rel = path.relative_to(bag).as_posix()
        assert not report.ok, rel
        # the report names the damaged file (or, for the tag manifest, the entry it no longer fits)
        assert any(rel in str(p) for p in report.problems), (rel, report.summary())
        path.write_bytes(original)
    assert verify_export(bag, trust_bag_key=True).ok


def test_a_deleted_tag_manifest_is_caught(bag: Path) -> None:
    (bag / "tagmanifest-sha256.txt").unlink()
    bagit.Bag(str(bag)).validate()  # BagIt alone is content without one...
    assert verify_export(bag, trust_bag_key=True).codes() == {"bag-tagmanifest-missing"}


def test_a_replaced_blob_with_recomputed_manifests_is_caught(bag: Path) -> None:
    blob = sorted((bag / "data/blobs").iterdir())[0]
    blob.write_bytes(b"a nicer receipt")
    recompute_manifests(bag)
    bagit.Bag(str(bag)).validate()  # the manifests agree...
    report = verify_export(bag, trust_bag_key=True)  # ...the log does not
    assert report.codes() == {"blob-altered"}
    assert blob.name in report.problems[0].where


def test_a_removed_blob_is_caught(bag: Path) -> None:
    blob = sorted((bag / "data/blobs").iterdir())[1]
    blob.unlink()
    recompute_manifests(bag)
    assert verify_export(bag, trust_bag_key=True).codes() == {"blob-missing"}


def test_an_added_file_is_caught(bag: Path) -> None:
    (bag / "data/blobs" / ("ab" * 32)).write_bytes(b"extra")
    (bag / "data/ledger/notes.txt").write_text("x")
    recompute_manifests(bag)
    assert verify_export(bag, trust_bag_key=True).codes() == {"blob-unreferenced",
                                                              "bag-file-unexpected"}


def test_an_altered_entry_with_recomputed_manifests_is_caught(bag: Path) -> None:
    items = entry_lines(bag)
    leaf = edit_leaf(items[3]["leaf"].encode(), metadata={"reference": "R-78"})
    items[3]["leaf"] = leaf.decode()
    items[3]["leaf_hash"] = hashlib.sha256(b"\x00" + leaf).hexdigest()
    write_entry_lines(bag, items)
    recompute_manifests(bag)
    report = verify_export(bag, trust_bag_key=True)
    # the claim's next event still names the original: the chain breaks too
    assert {"entry-proof", "entry-removed", "entry-added", "entry-chain"} == report.codes()
    assert any(p.code == "entry-proof" and p.where.startswith("entry 3 ")
               for p in report.problems)


def test_a_removed_entry_is_caught(bag: Path) -> None:
    items = entry_lines(bag)
    write_entry_lines(bag, items[:2] + items[3:])
    recompute_manifests(bag)
    report = verify_export(bag, trust_bag_key=True)
    # the screenshot's blob is now unreferenced too, and the next event names the missing one
    assert report.codes() == {"entry-removed", "blob-unreferenced", "entry-chain"}
    assert [p.where for p in report.problems if p.code == "entry-removed"] == ["entry 2"]


def test_reordered_entries_are_caught(bag: Path) -> None:
    items = entry_lines(bag)
    items[1], items[2] = items[2], items[1]
    write_entry_lines(bag, items)
    recompute_manifests(bag)
    assert verify_export(bag, trust_bag_key=True).codes() == {"entry-order"}


def test_an_inserted_entry_with_a_valid_proof_is_caught(archive: EvidenceArchive,
                                                        history: Callable[[], None],
                                                        tmp_path: Path) -> None:
    history()
    whole = archive.export(tmp_path / "whole")
    one = archive.export(tmp_path / "one", claim="CLM-1")
    # an entry of another claim, with a real proof, slipped into the claim's bag
    other = [i for i in entry_lines(whole) if '"claim":"CLM-2"' in i["leaf"]][0]
    other["inclusion_proof"] = [p.hex() for p in archive.inclusion_proof(
        other["index"], json.loads((one / "data/ledger/checkpoint.json").read_text())
        ["tree_size"])]
    items = sorted([*entry_lines(one), other], key=lambda i: i["index"])
    write_entry_lines(one, items)
    for blob in (whole / "data/blobs").iterdir():
        if blob.name in other["leaf"]:
            shutil.copy(blob, one / "data/blobs" / blob.name)
    recompute_manifests(one)
    assert verify_export(one, trust_bag_key=True).codes() == {"entry-added"}


def test_an_edited_or_forged_checkpoint_is_caught(bag: Path) -> None:
    path = bag / "data/ledger/checkpoint.json"
    cp = json.loads(path.read_text())
    lines = cp["note"].split("\n")
    lines[1] = str(cp["tree_size"] + 1)  # the signed size line, and the JSON beside it
    cp["note"], cp["tree_size"] = "\n".join(lines), cp["tree_size"] + 1
    path.write_bytes(canonical_json(cp) + b"\n")
    recompute_manifests(bag)
    report = verify_export(bag, trust_bag_key=True)
    assert {"checkpoint-signature", "export-checkpoint", "entry-proof"} <= report.codes()
    json_only = json.loads(path.read_text())
    json_only["tree_size"] -= 1  # the JSON no longer says what the signed note says
    path.write_bytes(canonical_json(json_only) + b"\n")
    recompute_manifests(bag)
    assert verify_export(bag, trust_bag_key=True).codes() == {"checkpoint-unreadable"}


def test_an_edited_export_statement_is_caught(bag: Path) -> None:
    path = bag / "data/ledger/export.json"
    statement = json.loads(path.read_text())
    statement["entries"] = statement["entries"][:-1]
    path.write_bytes(canonical_json(statement))
    recompute_manifests(bag)
    assert {"export-signature", "entry-added"} <= verify_export(bag, trust_bag_key=True).codes()


def test_a_bag_re_signed_with_another_key_is_caught_by_the_pinned_key(
        archive: EvidenceArchive, history: Callable[[], None], engine: Engine,
        tmp_path: Path) -> None:
    history()
    trusted = archive.public_key_pem()
    trusted_id = key_id(archive.public_key())
    # The whole workspace is taken over: log rewritten, re-signed, keys swapped, then exported.
    mallory = Ed25519PrivateKey.generate()
    all_leaves = leaves(engine)
    all_leaves[4] = edit_leaf(all_leaves[4], metadata={"reference": "R-FAKE"})
    rewrite_log(engine, all_leaves, key=mallory)
    keys = archive.evidence_dir / "keys"
    (keys / "signing.key").write_bytes(mallory.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    (keys / "signing.pub").write_bytes(public_pem(mallory.public_key()))
    (keys / "checkpoints.jsonl").unlink()  # the machine is theirs: the checkpoint file too
    out = archive.export(tmp_path / "forged", claim="CLM-1")
    assert verify_export(out).codes() == {"unpinned"}  # the safe default: nothing pinned
    unpinned = verify_export(out, trust_bag_key=True)
    assert unpinned.ok  # self-consistent: only the key id it reports tells it apart...
    assert unpinned.key_id == key_id(mallory.public_key()) != trusted_id
    pinned = verify_export(out, trusted_key=trusted)
    assert {"key-replaced", "checkpoint-signature", "export-signature"} <= pinned.codes()


def test_a_bag_signed_with_another_key_but_the_old_public_key_is_caught(bag: Path) -> None:
    mallory = Ed25519PrivateKey.generate()
    path = bag / "data/ledger/checkpoint.json"
    cp = Checkpoint.from_json(json.loads(path.read_text()))
    path.write_bytes(canonical_json(Checkpoint(cp.tree_size, cp.root_hash, cp.time, cp.key_id)
                                    .signed(mallory).to_json()))
    recompute_manifests(bag)
    assert "checkpoint-signature" in verify_export(bag, trust_bag_key=True).codes()


def test_a_rewritten_log_inconsistent_with_earlier_checkpoints_is_caught(
        archive: EvidenceArchive, history: Callable[[], None], engine: Engine,
        tmp_path: Path) -> None:
    history()
    first = archive.export(tmp_path / "first", claim="CLM-1")
    saved = Checkpoint.from_json(json.loads((first / "data/ledger/checkpoint.json").read_text()))
    # an insider with the real key rewrites entry 1 and re-signs; the old checkpoints stay
    all_leaves = leaves(engine)
    all_leaves[1] = edit_leaf(all_leaves[1], metadata={"portal": "elsewhere"})
    key = load_private_key(archive.evidence_dir)
    rewrite_log(engine, all_leaves, key=key, keep_checkpoints=True)
    with pytest.raises(LogRewritten, match="entries 0..9 were changed"):
        archive.export(tmp_path / "second", claim="CLM-1")  # never signed: stops with a report
    # the old checkpoints and the checkpoint file deleted too: the bag is self-consistent...
    rewrite_log(engine, all_leaves, key=key)
    (archive.evidence_dir / "keys" / "checkpoints.jsonl").unlink()
    third = archive.export(tmp_path / "third", claim="CLM-1")
    assert verify_export(third, trust_bag_key=True).ok
    # ...but not with the checkpoint the auditor saved
    report = verify_export(third, trusted_checkpoints=[saved], trust_bag_key=True)
    assert report.codes() == {"checkpoint-inconsistent"}
    assert "saved earlier" in report.problems[0].message


def test_an_untouched_bag_is_consistent_with_a_checkpoint_saved_earlier(
        bag: Path, archive: EvidenceArchive, tmp_path: Path) -> None:
    saved = Checkpoint.from_json(json.loads((bag / "data/ledger/checkpoint.json").read_text()))
    archive.record("payment.matched", "CLM-1", "recon", {"amount": "1.00", "currency": "EUR"})
    later = archive.export(tmp_path / "later", claim="CLM-1")
    assert verify_export(later, trusted_checkpoints=[saved], trust_bag_key=True).ok


def test_verify_export_of_something_that_is_not_a_bag(tmp_path: Path) -> None:
    assert verify_export(tmp_path / "nothing", trust_bag_key=True).codes() == {"bag-missing"}
    (tmp_path / "empty").mkdir()  # a folder without bagit.txt: nothing in it is walked
    report = verify_export(tmp_path / "empty", trust_bag_key=True)
    assert not report.ok
    assert report.codes() == {"bag-missing"}
    assert "no bagit.txt" in report.problems[0].message


def test_a_bag_without_its_public_key_is_caught_and_still_checked_with_a_trusted_key(
        bag: Path, archive: EvidenceArchive) -> None:
    (bag / "data/keys/signing.pub").unlink()
    recompute_manifests(bag)
    assert verify_export(bag, trust_bag_key=True).codes() == {"bag-key"}
    report = verify_export(bag, trusted_key=archive.public_key_pem())
    assert report.codes() == {"bag-key"}
    assert report.checked["entries"] == 8  # everything else was checked, and held
