"""Several processes and threads appending at once get unique, gapless indexes, and the tree
verifies — on PostgreSQL (advisory lock) and on SQLite (BEGIN IMMEDIATE)."""

from __future__ import annotations

import multiprocessing
import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from evidence import EvidenceArchive, init_keys

PROCESSES, THREADS = 4, 3


def _append_many(url: str, evidence_dir: str, writer: str, per_thread: int) -> list[int]:
    """One worker process: several threads each recording events and signing checkpoints."""
    engine = create_engine(url, pool_size=THREADS + 1)
    archive = EvidenceArchive.open(Path(evidence_dir), engine)

    def thread(t: int) -> list[int]:
        got = []
        for i in range(per_thread):
            entry = archive.record("status.changed", f"CLM-{writer}-{t}", writer, {"n": i},
                                   files={"note.txt": f"{writer}/{t}/{i}".encode()})
            got.append(entry.index)
            if i % 5 == 4:
                archive.checkpoint()
        return got

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(thread, range(THREADS)))
    engine.dispose()
    for got in results:  # each thread's own entries come out in the order it wrote them
        assert got == sorted(got)
    return [i for got in results for i in got]


def _run_writers(url: str, evidence_dir: Path, per_thread: int) -> list[int]:
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(PROCESSES) as pool:
        results = pool.starmap(_append_many, [(url, str(evidence_dir), f"w{p}", per_thread)
                                              for p in range(PROCESSES)])
    return [i for r in results for i in r]


def _check(url: str, evidence_dir: Path, indexes: list[int], per_thread: int) -> None:
    total = PROCESSES * THREADS * per_thread
    assert sorted(indexes) == list(range(total))  # unique and gapless
    engine = create_engine(url)
    archive = EvidenceArchive.open(evidence_dir, engine)
    assert [e.index for e in archive.entries()] == list(range(total))
    archive.checkpoint()
    report = archive.verify()
    assert report.ok, report.summary()
    sizes = [c.tree_size for c in archive.checkpoints()]
    assert sizes == sorted(sizes) and sizes[-1] == total
    assert report.checked["consistency proofs"] == len(sizes) - 1
    engine.dispose()


@pytest.fixture
def pg_url() -> Iterator[str]:
    base = os.environ.get("CLAIMS_TEST_PG_URL")
    if not base:
        pytest.skip("CLAIMS_TEST_PG_URL is not set")
    name = f"evidence_{uuid.uuid4().hex[:12]}"  # a database of our own: other suites share `test`
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.slow
@pytest.mark.postgres
def test_concurrent_appends_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    init_keys(tmp_path / "evidence")
    _check(pg_url, tmp_path / "evidence", _run_writers(pg_url, tmp_path / "evidence", 15), 15)


@pytest.mark.slow
def test_concurrent_appends_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'claims.db'}"
    with create_engine(url).connect() as conn:  # WAL, as a workspace database runs
        conn.exec_driver_sql("PRAGMA journal_mode=WAL")
    init_keys(tmp_path / "evidence")
    # fewer: SQLite writers wait on each other's fsync'd commits, one at a time
    _check(url, tmp_path / "evidence", _run_writers(url, tmp_path / "evidence", 6), 6)
