"""Fixtures: a real archive on a real database (SQLite and PostgreSQL), with its keys, and a
little history."""

from __future__ import annotations

import itertools
import struct
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine

from evidence import EvidenceArchive, init_keys


def png(width: int, height: int, shade: int) -> bytes:
    """A real (tiny, grey) PNG image, as a portal screenshot would be."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    rows = b"".join(b"\x00" + bytes([shade]) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0,
                                                               0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


class Clock:
    """A clock that moves one minute per reading, from a fixed start (so dates are testable)."""

    def __init__(self, start: datetime) -> None:
        self._ticks = itertools.count()
        self.start = start

    def __call__(self) -> datetime:
        return self.start + timedelta(minutes=next(self._ticks))


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """The archive's database: each evidence test runs on SQLite and on PostgreSQL (its own
    schema), with the tables the archive makes when used on its own."""
    eng = create_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def evidence_dir(tmp_path: Path) -> Path:
    d = tmp_path / "evidence"
    init_keys(d)
    return d


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 3, 1, 9, 0, tzinfo=UTC))


@pytest.fixture
def archive(evidence_dir: Path, engine: Engine, clock: Clock) -> EvidenceArchive:
    return EvidenceArchive.open(evidence_dir, engine, clock=clock)


def _receipt_pdf(reference: str) -> bytes:
    # a minimal but well-formed one-page PDF, as a portal receipt download would be
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(text=f"Receipt {reference}")
    return bytes(pdf.output())


@pytest.fixture
def history(archive: EvidenceArchive, tmp_path: Path) -> Callable[[], None]:
    """Record a plausible life of two claims and sign checkpoints along the way."""
    def make() -> None:
        bundle = tmp_path / "CLM-1.zip"
        bundle.write_bytes(b"PK\x03\x04 bundle bytes " * 100)
        archive.record("bundle.built", "CLM-1", "alice", {"invoice": "INV-1", "net": "9000.00"},
                       files={"bundle.zip": bundle})
        archive.record("submission.started", "CLM-1", "worker-1", {"portal": "sandbox"})
        archive.record("portal.screenshot", "CLM-1", "worker-1", {"step": "upload"},
                       files={"step-1.png": png(4, 3, 200)})
        archive.checkpoint()
        archive.record("portal.receipt", "CLM-1", "worker-1", {"reference": "R-77"},
                       files={"receipt.pdf": _receipt_pdf("R-77")})
        archive.record("submission.finished", "CLM-1", "worker-1", {"reference": "R-77"})
        archive.record("bundle.built", "CLM-2", "alice", {"invoice": "INV-2"},
                       files={"bundle.zip": b"another bundle"})
        archive.record("status.changed", "CLM-1", "sync", {"from": "submitted", "to": "approved"})
        archive.checkpoint()
        archive.record("payment.matched", "CLM-1", "recon", {"amount": "10350.00",
                                                             "currency": "EUR"})
        archive.record("reminder.sent", "CLM-2", "followup", {"to": "ap@agency.example"},
                       files={"step-1.png": png(4, 3, 200)})
        archive.checkpoint()
    return make


@pytest.fixture
def archive_with_history(archive: EvidenceArchive, history: Callable[[], None]
                         ) -> EvidenceArchive:
    """The archive after :func:`history`, verified clean: what a tampering test starts from."""
    history()
    assert archive.verify().ok
    return archive
