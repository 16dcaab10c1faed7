"""Upgrade safety: a workspace whose evidence tables were made by the archive itself, before the
Alembic revision ``evidence_0001`` (checkpoints without ``origin``/``key_hash``, no cosignatures
table, v1 leaves, a checkpoint signed over canonical JSON), opens, migrates, signs and verifies;
the migrated schema is exactly the one the archive declares. On SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import tomli_w
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (BigInteger, Column, Engine, Integer, LargeBinary, MetaData, String, Table,
                        inspect, insert, select)

from claims.store.engine import alembic_config, make_engine
from claims.workspace import Workspace, init_workspace
from evidence import LedgerError, init_keys, ledger, merkle
from evidence.canonical import canonical_json
from evidence.keys import key_id, load_private_key
from evidence.model import Checkpoint

# The evidence tables exactly as the archive created them before evidence_0001.
OLD = MetaData()
Table("evidence_entries", OLD,
      Column("idx", BigInteger, primary_key=True, autoincrement=False),
      Column("leaf", LargeBinary, nullable=False),
      Column("leaf_hash", LargeBinary(32), nullable=False),
      Column("kind", String(100), nullable=False),
      Column("claim", String(200), nullable=True, index=True),
      Column("recorded_at", String(32), nullable=False, index=True))
Table("evidence_checkpoints", OLD,
      Column("id", Integer, primary_key=True, autoincrement=True),
      Column("tree_size", BigInteger, nullable=False),
      Column("root_hash", LargeBinary(32), nullable=False),
      Column("time", String(32), nullable=False),
      Column("key_id", String(64), nullable=False),
      Column("signature", LargeBinary(64), nullable=False))
Table("evidence_state", OLD,
      Column("id", Integer, primary_key=True, autoincrement=False),
      Column("size", BigInteger, nullable=False),
      Column("compact", LargeBinary, nullable=False))
Table("evidence_nodes", OLD,
      Column("height", Integer, primary_key=True, autoincrement=False),
      Column("idx", BigInteger, primary_key=True, autoincrement=False),
      Column("hash", LargeBinary(32), nullable=False))

EVIDENCE_REVISION = "evidence_0001"


def _migrate_without_evidence(engine: Engine) -> None:
    """The database as the previous release left it: every head but the evidence branch."""
    cfg = alembic_config()
    heads = ScriptDirectory.from_config(cfg).get_heads()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        for head in sorted(heads):
            if head != EVIDENCE_REVISION:
                command.upgrade(cfg, head)


def _old_history(engine: Engine, evidence_dir: Path) -> list[bytes]:
    """Three v1 events of CLM-1 (the last an export, sealed by the checkpoint) and a legacy
    (JSON-signed) checkpoint over them, written the way the previous release wrote them (no
    checkpoint file yet); returns the leaf hashes."""
    t = {name: OLD.tables[name] for name in OLD.tables}
    key = load_private_key(evidence_dir)
    hashes: list[bytes] = []
    compact: list[bytes] = []
    with engine.begin() as conn:
        OLD.create_all(conn)
        for i, kind in enumerate(("bundle.built", "submission.started", "evidence.exported")):
            when = f"2026-01-0{i + 1}T09:00:00.000000Z"
            leaf = canonical_json({"v": 1, "index": i, "kind": kind, "claim": "CLM-1",
                                   "time": when, "actor": "alice", "metadata": {"n": i},
                                   "blobs": {}})
            lh = merkle.leaf_hash(leaf)
            hashes.append(lh)
            conn.execute(insert(t["evidence_entries"]).values(
                idx=i, leaf=leaf, leaf_hash=lh, kind=kind, claim="CLM-1", recorded_at=when))
            compact, _ = merkle.compact_append_nodes(compact, i, lh)
        conn.execute(insert(t["evidence_state"]).values(id=1, size=3,
                                                        compact=b"".join(compact)))
        legacy = Checkpoint(3, merkle.compact_root(compact), "2026-01-03T10:00:00.000000Z",
                            key_id(key.public_key()))
        legacy = Checkpoint(legacy.tree_size, legacy.root_hash, legacy.time, legacy.key_id,
                            key.sign(legacy.body()))
        conn.execute(insert(t["evidence_checkpoints"]).values(
            tree_size=3, root_hash=legacy.root_hash, time=legacy.time, key_id=legacy.key_id,
            signature=legacy.signature))
    return hashes


def _old_workspace(root: Path, url: str) -> Path:
    root.mkdir()
    (root / "claims.toml").write_bytes(tomli_w.dumps({"database": {"url": url}}).encode())
    init_keys(root / "evidence")
    engine = make_engine(url)
    try:
        _migrate_without_evidence(engine)
        _old_history(engine, root / "evidence")
    finally:
        engine.dispose()
    return root


def test_a_workspace_made_by_the_previous_release_migrates_and_signs(
        tmp_path: Path, database_url: str) -> None:
    root = _old_workspace(tmp_path / "old", database_url)
    ws = Workspace(root)
    try:
        engine = ws.store.engine
        columns = {c["name"] for c in inspect(engine).get_columns("evidence_checkpoints")}
        assert {"origin", "key_hash"} <= columns
        assert "evidence_cosignatures" in inspect(engine).get_table_names()
        with engine.connect() as conn:
            assert EVIDENCE_REVISION in MigrationContext.configure(conn).get_current_heads()

        # the legacy checkpoint predates the checkpoint file: its absence is no problem
        assert ws.evidence.verify().ok, ws.evidence.verify().summary()
        cp = ws.evidence.checkpoint()  # nothing new: the legacy checkpoint is the latest
        assert (cp.tree_size, cp.origin) == (3, None)
        entry = ws.record_evidence(kind="status.changed", claim="CLM-1",
                                   metadata={"to": "approved"})
        assert entry.version == 2
        assert entry.prev_claim_leaf == ws.evidence.entry(2).leaf_hash.hex()  # chains onto v1
        cp = ws.evidence.checkpoint()
        assert cp.tree_size == 4 and cp.origin is not None and len(cp.key_hash) == 4
        assert cp.signature_valid(ws.evidence.public_key())

        report = ws.evidence.verify()
        assert report.ok, report.summary()
        assert report.checked["checkpoints"] == 2  # the legacy one and the new signed note
        claim_report = ws.evidence.verify("CLM-1")
        assert claim_report.ok and claim_report.checked["inclusion proofs"] == 4
    finally:
        ws.close()


def test_migrating_twice_changes_nothing_and_the_rows_survive(
        tmp_path: Path, database_url: str) -> None:
    root = _old_workspace(tmp_path / "old", database_url)
    for _ in range(2):
        ws = Workspace(root)
        try:
            assert ws.evidence.size() == 3
            assert [cp.tree_size for cp in ws.evidence.checkpoints()] == [3]
        finally:
            ws.close()


def _table_of(diff: Any) -> str:
    """The table an autogenerate difference is about: a Table, a Column / Index / Constraint
    of one, or ('modify_…' | 'add_column', schema, table, …)."""
    first = diff[0] if isinstance(diff, list) else diff
    for part in first[1:]:
        table = getattr(part, "table", None)
        if table is not None and getattr(table, "name", None):
            return str(table.name)
        if hasattr(part, "columns") and hasattr(part, "name"):
            return str(part.name)
    return first[2] if len(first) > 2 and isinstance(first[2], str) else ""


def test_the_migration_makes_exactly_the_tables_the_archive_declares(
        tmp_path: Path, database_url: str) -> None:
    ws = init_workspace(tmp_path / "new", database_url=database_url)
    try:
        with ws.store.engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn), ledger.metadata)
            state = conn.execute(select(ledger.state_table)).all()
        ours = [d for d in diffs if _table_of(d).startswith("evidence_")]
        assert ours == []
        assert [(r.id, r.size) for r in state] == [(1, 0)]
    finally:
        ws.close()


def test_a_workspace_archive_does_not_create_its_own_tables(tmp_path: Path) -> None:
    """Stamped as migrated but without the tables: the archive must not make them itself."""
    url = f"sqlite:///{tmp_path / 'bare.db'}"
    root = tmp_path / "bare"
    root.mkdir()
    (root / "claims.toml").write_bytes(tomli_w.dumps({"database": {"url": url}}).encode())
    init_keys(root / "evidence")
    engine = make_engine(url)
    _migrate_without_evidence(engine)
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.stamp(cfg, EVIDENCE_REVISION)
    engine.dispose()
    ws = Workspace(root)
    try:
        with pytest.raises(LedgerError):
            ws.evidence.size()
        assert "evidence_entries" not in inspect(ws.store.engine).get_table_names()
    finally:
        ws.close()
