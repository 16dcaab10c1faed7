"""Recording, blobs, keys and the secret guard; the happy path of verification."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import (Column, Connection, Engine, Integer, MetaData, Table, func, insert,
                        select)

from evidence import (EvidenceArchive, KeysExist, KeysMissing, MetadataError, ProofError,
                      SecretInMetadata, SigningKeyError, init_keys, ledger, merkle)
from evidence.blobs import hash_file
from evidence.canonical import canonical_json
from evidence.verifier_core import entry_count, entry_span


def test_record_returns_the_entry_with_its_index_and_leaf_hash(archive: EvidenceArchive) -> None:
    e0 = archive.record("bundle.built", "CLM-1", "alice", {"net": Decimal("9000.00")},
                        files={"bundle.zip": b"bytes"})
    e1 = archive.record("status.changed", "CLM-1", "sync", {"to": "approved"})
    assert (e0.index, e1.index) == (0, 1)
    assert e0.leaf_hash == merkle.leaf_hash(e0.leaf)
    assert e0.metadata == {"net": "9000.00"}  # Decimal recorded as its exact text
    assert e0.blobs["bundle.zip"].size == 5
    assert e0.blobs["bundle.zip"].media_type == "application/zip"
    assert archive.entry(0) == e0
    assert [e.index for e in archive.entries("CLM-1")] == [0, 1]


def test_a_write_within_the_record_commits_with_its_entry_or_not_at_all(
        archive: EvidenceArchive, engine: Engine) -> None:
    side = Table("side_writes", MetaData(), Column("n", Integer))
    side.metadata.create_all(engine)
    archive.record("status.changed", "CLM-1", "sync", {"to": "a"},
                   within=lambda conn: conn.execute(insert(side).values(n=1)))

    def refused(conn: Connection) -> None:
        conn.execute(insert(side).values(n=2))
        raise LookupError("the caller's write found no row")

    with pytest.raises(LookupError, match="found no row"):
        archive.record("status.changed", "CLM-1", "sync", {"to": "b"},
                       files={"x.txt": b"staged"}, within=refused)
    with engine.connect() as conn:
        assert list(conn.execute(select(side.c.n))) == [(1,)]
    assert [e.metadata["to"] for e in archive.entries("CLM-1")] == ["a"]
    assert archive.size() == 1
    # the refused record's blob is journalled, never unexplained: verify still passes
    assert archive.verify().ok


def test_leaves_are_canonical_json(archive: EvidenceArchive) -> None:
    e = archive.record("status.changed", "CLM-9", "sync", {"b": 1, "a": {"z": [1, 2], "é": "ü"}})
    assert e.leaf == canonical_json(__import__("json").loads(e.leaf))
    assert b" " not in e.leaf and "é".encode() in e.leaf


def test_blobs_are_content_addressed_read_only_and_stored_once(archive: EvidenceArchive,
                                                               tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 * (1 << 20) + 17))  # more than one 1 MiB chunk
    a = archive.record("bundle.built", "CLM-1", "alice", {}, files={"a.bin": big})
    b = archive.record("bundle.built", "CLM-2", "alice", {}, files={"b.bin": big.read_bytes()})
    digest = a.blobs["a.bin"].sha256
    assert b.blobs["b.bin"].sha256 == digest
    path = archive.blobs.path(digest)
    assert path == archive.evidence_dir / "blobs" / digest[:2] / digest[2:]
    assert hash_file(path) == (digest, big.stat().st_size)
    assert stat.S_IMODE(path.stat().st_mode) == 0o400  # read-only, and private to the owner
    assert [d for d, _ in archive.blobs.files()] == [digest]
    assert not any((archive.evidence_dir / "blobs" / ".tmp").iterdir())


def test_an_unreadable_file_is_refused_and_nothing_is_recorded(archive: EvidenceArchive,
                                                               tmp_path: Path) -> None:
    from evidence import BlobError

    with pytest.raises(BlobError, match="missing.pdf"):
        archive.record("portal.receipt", "CLM-1", "w", {},
                       files={"r.pdf": tmp_path / "missing.pdf"})
    assert archive.size() == 0


@pytest.mark.parametrize("metadata", [
    {"password": "hunter2"}, {"portal": {"Session-Cookie": "abc"}}, {"totp_seed": "JBSW"},
    {"api_token": "x"}, {"steps": [{"clientSecret": "s"}]},
])
def test_secret_looking_metadata_is_refused_before_anything_is_written(
        archive: EvidenceArchive, metadata: dict) -> None:
    with pytest.raises(SecretInMetadata) as info:
        archive.record("submission.started", "CLM-1", "w", metadata, files={"x.png": b"img"})
    assert info.value.path.startswith("/")
    assert "secret" in str(info.value)
    assert archive.size() == 0
    assert list(archive.blobs.files()) == []


def test_secret_looking_file_names_are_refused(archive: EvidenceArchive) -> None:
    with pytest.raises(SecretInMetadata, match="cookies.json"):
        archive.record("submission.started", "CLM-1", "w", {}, files={"cookies.json": b"{}"})


@pytest.mark.parametrize(("kind", "claim", "actor", "metadata", "where"), [
    ("Bundle Built", "CLM-1", "a", {}, "kind"),
    ("bundle.built", "", "a", {}, "claim"),
    ("bundle.built", "CLM-1", "", {}, "actor"),
    ("bundle.built", "CLM-1", "a", {"amount": 10.5}, "/amount"),
    ("bundle.built", "CLM-1", "a", {"when": object()}, "/when"),
    ("bundle.built", "CLM-1", "a", {1: "x"}, "<root>"),
])
def test_bad_events_are_refused_with_where(archive: EvidenceArchive, kind: str, claim: str,
                                           actor: str, metadata: dict, where: str) -> None:
    with pytest.raises(MetadataError) as info:
        archive.record(kind, claim, actor, metadata)
    assert where in str(info.value)
    assert archive.size() == 0


def test_keys_are_made_once_with_a_private_mode(tmp_path: Path) -> None:
    pub = init_keys(tmp_path / "ev")
    key = tmp_path / "ev" / "keys" / "signing.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert pub.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    with pytest.raises(KeysExist):
        init_keys(tmp_path / "ev")


def test_checkpoint_needs_a_private_key_kept_private(tmp_path: Path, engine: Engine) -> None:
    archive = EvidenceArchive.open(tmp_path / "nokeys", engine)
    archive.record("bundle.built", "CLM-1", "a", {})
    with pytest.raises(KeysMissing):
        archive.checkpoint()
    init_keys(tmp_path / "nokeys")
    (tmp_path / "nokeys" / "keys" / "signing.key").chmod(0o644)
    with pytest.raises(SigningKeyError, match="readable by other users"):
        archive.checkpoint()


def test_checkpoints_are_signed_and_match_the_tree(archive: EvidenceArchive) -> None:
    for i in range(5):
        archive.record("status.changed", f"CLM-{i}", "sync", {"to": "approved"})
    cp = archive.checkpoint()
    assert cp.tree_size == 5
    assert cp.signature_valid(archive.public_key())
    assert cp.root_hash == archive.tree().root()
    assert archive.checkpoint() == cp  # nothing new: no new checkpoint
    archive.record("status.changed", "CLM-9", "sync", {"to": "paid"})
    cp2 = archive.checkpoint()
    assert merkle.verify_consistency(5, 6, cp.root_hash, cp2.root_hash,
                                     archive.consistency_proof(5))
    entry = archive.entry(3)
    assert merkle.verify_inclusion(entry.leaf_hash, 3, 6, archive.inclusion_proof(3),
                                   cp2.root_hash)
    assert archive.checkpoints() == [cp, cp2]


def test_verify_passes_on_an_untouched_archive(archive: EvidenceArchive,
                                               history: Callable[[], None]) -> None:
    history()
    report = archive.verify()
    assert report.ok, report.summary()
    assert report.checked["entries"] == 9
    assert report.checked["checkpoints"] == 3
    assert report.checked["blobs"] == 4  # the same screenshot twice is one blob
    assert report.warnings == []
    assert archive.verify(claim="CLM-2").checked["blobs"] == 2


def test_entries_after_the_last_checkpoint_are_a_warning(archive: EvidenceArchive,
                                                         history: Callable[[], None]) -> None:
    history()
    archive.record("status.changed", "CLM-2", "sync", {"to": "rejected"})
    report = archive.verify()
    assert report.ok
    assert [w.code for w in report.warnings] == ["not-checkpointed"]
    assert report.warnings[0].where == "entry 9"
    archive.record("status.changed", "CLM-2", "sync", {"to": "appealed"})
    assert archive.verify().warnings[0].where == "entries 9..10"


def test_entry_ranges_read_right_for_none_one_and_many() -> None:
    """Findings said "entries 0..0" of one entry."""
    assert entry_span(3, 3) == "no entries"
    assert entry_span(0, 1) == "entry 0"
    assert entry_span(4, 10) == "entries 4..9"
    assert entry_span(2, 3, verb=True) == "entry 2 was"
    assert entry_span(0, 10, verb=True) == "entries 0..9 were"
    assert [entry_count(n) for n in (0, 1, 5)] == ["0 entries", "1 entry", "5 entries"]


def test_a_one_entry_log_reads_one_entry(archive: EvidenceArchive) -> None:
    archive.record("bundle.built", "CLM-1", "alice", {"invoice": "INV-1"})
    archive.checkpoint()
    archive.record("status.changed", "CLM-1", "sync", {"to": "submitted"})
    report = archive.verify()
    assert "checkpoint: 1 entry, root" in report.summary()
    assert "warning not-checkpointed entry 1: " in report.summary()


def test_schema_uses_its_own_prefixed_tables(engine: Engine, archive: EvidenceArchive) -> None:
    from sqlalchemy import inspect

    assert set(inspect(engine).get_table_names()) == {
        "evidence_entries", "evidence_checkpoints", "evidence_state", "evidence_nodes",
        "evidence_cosignatures"}
    ledger.create_schema(engine)  # idempotent
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ledger.state_table)).scalar() == 1


def test_the_log_reads_as_a_timeline(archive: EvidenceArchive, history: Callable[[], None]) -> None:
    from evidence import format_log

    history()
    lines = format_log(archive.entries("CLM-2"))
    assert len(lines) == 2
    assert "#5" in lines[0] and "bundle.built" in lines[0] and "bundle.zip (14 B)" in lines[0]
    assert "reminder.sent" in lines[1] and 'to="ap@agency.example"' in lines[1]


def test_create_schema_inside_a_migration_transaction(tmp_path: Path) -> None:
    from sqlalchemy import create_engine, inspect

    engine = create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    with engine.begin() as conn:  # as Alembic's op.get_bind() hands it over
        ledger.create_schema(conn)
        ledger.create_schema(conn)
    assert "evidence_state" in inspect(engine).get_table_names()
    with engine.connect() as conn:
        assert ledger.read_state(conn) == (0, [])
    engine.dispose()


def test_verifying_a_claim_with_no_evidence_warns(archive: EvidenceArchive,
                                                  history: Callable[[], None]) -> None:
    history()
    report = archive.verify(claim="CLM-404")
    assert report.ok
    assert [w.code for w in report.warnings] == ["claim-unknown"]
    assert archive.verify(claim="CLM-1").checked["claim entries"] == 7


def test_proofs_come_from_the_node_cache_and_match_the_full_tree(
        archive: EvidenceArchive, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ledger, "NODE_MIN_HEIGHT", 2)  # cache subtrees of 4 leaves and up
    for i in range(37):
        archive.record("status.changed", f"CLM-{i % 4}", "sync", {"n": i})
    with engine.connect() as conn:
        heights = [r.height for r in conn.execute(select(ledger.nodes_table))]
    assert sorted(set(heights)) == [2, 3, 4, 5]
    assert len(heights) == 37 // 4 + 37 // 8 + 37 // 16 + 37 // 32
    tree = archive.tree()
    for size in (1, 4, 5, 16, 17, 31, 32, 37):
        assert archive.root(size) == tree.root(size)
        for index in range(size):
            assert archive.inclusion_proof(index, size) == tree.inclusion_proof(index, size)
        for old in range(size + 1):
            assert archive.consistency_proof(old, size) == tree.consistency_proof(old, size)
    archive.checkpoint()
    report = archive.verify()
    assert report.ok and report.checked["cached nodes"] == len(heights)
    with pytest.raises(ProofError):
        archive.inclusion_proof(0, 38)


def test_a_tampered_node_cache_is_reported(archive: EvidenceArchive, engine: Engine,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy import update

    monkeypatch.setattr(ledger, "NODE_MIN_HEIGHT", 2)
    for i in range(9):
        archive.record("status.changed", "CLM-1", "sync", {"n": i})
    archive.checkpoint()
    with engine.begin() as conn:
        conn.execute(update(ledger.nodes_table).where(ledger.nodes_table.c.height == 3)
                     .values(hash=b"\x00" * 32))
    report = archive.verify()
    assert report.codes() == {"node-altered"}
    assert report.problems[0].where == "evidence_nodes height 3 index 0"
    # a proof served from the bad node does not verify against the signed root
    cp = archive.latest_checkpoint()
    assert cp is not None
    proof = archive.inclusion_proof(8, 9)
    assert not merkle.verify_inclusion(archive.entry(8).leaf_hash, 8, 9, proof, cp.root_hash)
