"""The KPI benchmark (tests/benchmarks/bench_payments.py) reports CPU time and load beside
wall time; here only that it does, on a tiny ledger (no speed is asserted anywhere)."""

from __future__ import annotations

from datetime import date

from claims.reports.kpis import sqlalchemy_runner
from claims.store import Store
from tests.benchmarks.bench_payments import time_kpis


def test_time_kpis_gives_wall_cpu_and_load_beside_the_kpis(countback_ledger: Store) -> None:
    wall, kpis, cpu, load = time_kpis(sqlalchemy_runner(countback_ledger.engine),
                                      countback_ledger.engine.dialect.name, repeat=2)
    assert wall > 0 and cpu >= 0 and load >= 0
    assert kpis["as_of"] == date(2026, 10, 31)  # the benchmark's date
    assert kpis["currency"] == "EUR"
