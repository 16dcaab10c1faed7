"""Shared fixtures: workspaces on real SQLite or real PostgreSQL, and the CLI runner."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

PG_URL = os.environ.get("CLAIMS_TEST_PG_URL")


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    if not PG_URL:
        pytest.skip("CLAIMS_TEST_PG_URL is not set (CI sets it)")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'claims.db'}"
    return request.getfixturevalue("pg_schema_url")


@pytest.fixture
def workspace(tmp_path: Path):
    from claims.workspace import init_workspace

    ws = init_workspace(tmp_path / "ws")
    yield ws
    ws.close()


@pytest.fixture
def cli(tmp_path: Path):
    """Run ``claims`` in a workspace folder: ``cli("claim", "list", "--json")``."""
    from claims.cli import app

    runner = CliRunner()
    root = tmp_path / "ws"

    def run(*args: str, workspace: Path | None = root):
        prefix = ["--workspace", str(workspace)] if workspace else []
        return runner.invoke(app, [*prefix, *args], catch_exceptions=False)

    run.root = root  # type: ignore[attr-defined]
    return run


def heads_before(cfg: Any, revision: str) -> list[str]:
    """The revisions to upgrade to for a database as the release before ``revision`` left it:
    every head that does not contain ``revision``, and the revisions ``revision`` revises (so
    neither it nor anything after it is applied, whatever comes later)."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(cfg)
    before = script.get_revision(revision).down_revision
    targets = set(before if isinstance(before, tuple) else (before,))
    for head in script.get_heads():
        if revision not in {r.revision for r in script.iterate_revisions(head, "base")}:
            targets.add(head)
    return sorted(targets)


def insert_old_invoice(conn: Any) -> None:
    """Customer 1001, invoice J1 (EUR 700.00 issued 2026-01-10, due 2026-02-09) and its schedule
    row 1001, written as the previous release wrote them (no copied columns; explicit ids
    above the sequences' next values, as a restore would leave them): for upgrade tests."""
    from sqlalchemy import text

    conn.execute(text("INSERT INTO customers (id, name, kind, collector, created_at) "
                      "VALUES (1001, 'Ministry', 'agency', '', '2026-01-01 00:00:00+00')"))
    conn.execute(text(
        "INSERT INTO invoices (id, number, customer_id, currency, issue_date, due_date, net,"
        " vat, total, data, source, content_hash, created_at, updated_at) VALUES "
        "(1001, 'J1', 1001, 'EUR', '2026-01-10', '2026-02-09', 7000000000, 0, 7000000000, '{}',"
        " 't', 'x', '2026-01-01 00:00:00+00', '2026-01-01 00:00:00+00')"))
    conn.execute(text("INSERT INTO collection_schedule (id, invoice_id, seq, due_date, "
                      "amount, basis) VALUES (1001, 1001, 0, '2026-02-09', 7000000000, "
                      "'invoice')"))
