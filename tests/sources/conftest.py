"""Fixtures for the invoice sources: the published PEPPOL samples and workspace helpers."""

from __future__ import annotations

from pathlib import Path

import pytest

#: the published samples the tests use, copied into the repository (each folder has a SOURCE.md
#: naming its origin and licence); no test reads anything outside the repository.
SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "samples"
PEPPOL = SAMPLES / "peppol-bis3"


@pytest.fixture(scope="session")
def peppol_dir() -> Path:
    """The OpenPEPPOL examples. Missing samples FAIL the tests (they must not silently skip)."""
    if not PEPPOL.is_dir() or not list(PEPPOL.glob("*.xml")):
        pytest.fail(f"the PEPPOL BIS 3 samples are missing: expected them in {PEPPOL.resolve()}")
    return PEPPOL


@pytest.fixture
def ws(tmp_path: Path, request: pytest.FixtureRequest):
    """A workspace on SQLite (default) — see ``pg_ws`` for PostgreSQL."""
    from claims.workspace import init_workspace

    w = init_workspace(tmp_path / "ws")
    yield w
    w.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_ws(request: pytest.FixtureRequest, tmp_path: Path):
    """A workspace on SQLite and on PostgreSQL (skipped only when CLAIMS_TEST_PG_URL is unset)."""
    from claims.workspace import init_workspace

    url = None if request.param == "sqlite" else request.getfixturevalue("pg_schema_url")
    w = init_workspace(tmp_path / "ws", database_url=url)
    yield w
    w.close()


def build_claim_on(ws, invoice_number: str) -> int:
    """Make a claim whose bundle was built from the invoice (the state that freezes it)."""
    from datetime import date

    from claims.core.models import Contract

    ws.store.put_contract(Contract.model_validate(dict(
        number="C-1", agency="Ministry", currency="EUR", ceiling="1000000",
        period_start=date(2000, 1, 1), period_end=date(2100, 12, 31), vat_percent="25",
        claim_types=("goods-delivery",))), replace=True)
    claim = ws.store.create_claim(contract_number="C-1", invoice_number=invoice_number,
                                  claim_type="goods-delivery", documents=[])
    ws.store.record_event(claim.id, "built", bundle_sha256="0" * 64, bundle_path="b")
    return claim.id
