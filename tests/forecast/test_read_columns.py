"""The forecast loader's column reads (issue #17): on SQLite each column comes as one JSON array
(``json_group_array``), the values the driver's rows give, in their order; what JSON cannot carry
exactly (a REAL in an integer column, a BLOB) is read as rows."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import create_engine, text

from claims.forecast.queries import _fetch, _json_columns, _read

ODD_TEXTS = ['a "quoted" \\ back', "tab\tnew\nline\x01", "ünïcödé €", "", ",", "null", "1e5",
             "[1]", None]


def _engine(rows: list[tuple[Any, ...]]):
    engine = create_engine("sqlite://")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, n BIGINT, s VARCHAR(20), "
                          "at DATETIME, d DATE)"))
        for row in rows:
            conn.execute(text("INSERT INTO t VALUES (:id, :n, :s, :at, :d)"),
                         dict(zip(("id", "n", "s", "at", "d"), row, strict=True)))
    return engine


def _days(cols: list[list[Any]], days: tuple[int, ...]) -> list[list[Any]]:
    """The columns with each day as :meth:`_Conv.day` reads it (a text's first 10 characters;
    an integer as its text, as :func:`~claims.collections.receivables.as_date` reads it)."""
    return [[v if v is None else str(v)[:10] for v in c] if k in days else c
            for k, c in enumerate(cols)]


@pytest.mark.parametrize("extra", [
    [], [(90, 12.5, "x", "2026-01-01", "2026-01-01")],          # a REAL in an integer column
    [(91, 7, b"\x00blob", "2026-01-01", "2026-01-01")],          # a BLOB
])
def test_columns_are_the_rows(extra: list[tuple[Any, ...]]) -> None:
    rows = [(k + 1, (-1) ** k * 10 ** (k + 2), s, f"2026-0{k % 9 + 1}-0{k % 7 + 1} 12:00:00.000000",
             f"2025-12-{k + 10}") for k, s in enumerate(ODD_TEXTS)]
    rows += [(50, 2**63 - 1, None, None, None), (51, None, "last", "2026-03-01T08:00:00+02:00",
                                                 20260101)]
    engine = _engine(rows + extra)
    exprs, rest = ("id", "n", "s", "at", "d", "COALESCE(d, at)"), "FROM t ORDER BY n, id DESC"
    with engine.connect() as conn:
        got = [list(c) for c in _read(conn, exprs, rest, ints=(0, 1), days=(3, 5))]
        rows = _fetch(conn, f"SELECT {', '.join(exprs)} {rest}")
        as_json = _json_columns(conn, exprs, rest, (0, 1), (3, 5))
    expected = [list(c) for c in zip(*rows, strict=True)]
    assert (as_json is None) == bool(extra)  # JSON unless it cannot carry a value exactly
    assert _days(got, (3, 5)) == _days(expected, (3, 5))
    assert [list(map(type, c)) for c in got[:3]] == [list(map(type, c)) for c in expected[:3]]


def test_no_rows_give_empty_columns() -> None:
    with _engine([]).connect() as conn:
        assert [list(c) for c in _read(conn, ("id", "s"), "FROM t", ints=(0,))] == [[], []]
