"""Options that can never be valid are refused at the door with a clear message and a non-zero
exit, never taken silently (found by an independent tester on 2026-12-02)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from claims.workspace import init_workspace


def _refused(result: Any, *words: str, code: int | None = None) -> None:
    assert result.exit_code != 0, result.output
    if code is not None:
        assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    for word in words:
        assert word in result.output, result.output


def test_options_that_can_never_be_valid(cli: Any, tmp_path: Path) -> None:
    init_workspace(cli.root).close()
    _refused(cli("payments", "reversals", "--status", "bogus"), "unknown status 'bogus'",
             "reversal-status")
    assert cli("payments", "reversals", "--status", "review", "--json").exit_code == 0
    _refused(cli("kpi", "--currency", "ZZZ"), "unknown currency 'ZZZ'", "--currency")
    assert cli("kpi", "--currency", "EUR", "--json").exit_code == 0
    _refused(cli("claim", "submit", "--all", "--workers", "0", "--dry-run"), "--workers",
             code=2)
    export = tmp_path / "export.csv"
    export.write_text("Num,Date\n1,2026-01-01\n", encoding="utf-8")
    _refused(cli("invoice", "import", "csv", str(export), "-m", "quickbooks", "--preview",
                 "-1"), "--preview", code=2)
