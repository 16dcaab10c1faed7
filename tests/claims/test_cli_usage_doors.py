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


def test_preview_zero_imports_nothing(cli: Any) -> None:
    """``--preview 0`` was taken as no preview at all: the file was imported for real."""
    init_workspace(cli.root).close()
    export = Path(__file__).parents[1] / "fixtures" / "exports" / "qbo-invoice-list.csv"
    args = ["invoice", "import", "csv", str(export), "-m", "quickbooks-invoice-list"]
    _refused(cli(*args, "--preview", "0"), "--preview", code=2)
    assert cli("invoice", "import", "history").stdout.strip() == ""  # nothing was imported
    shown = cli(*args, "--preview", "1")
    assert shown.exit_code == 0 and "row 6: " in shown.stdout and "row 7" not in shown.stdout
    assert cli("invoice", "import", "history").stdout.strip() == ""


def test_an_unknown_format_is_a_usage_error(cli: Any, tmp_path: Path) -> None:
    """The README's exit codes: an unknown ``--format`` is 2, on every command that has one
    (payments import, report and forecast gave 1)."""
    init_workspace(cli.root).close()
    statement = tmp_path / "s.xml"
    statement.write_text("<x/>", encoding="utf-8")
    for args in (["payments", "import", str(statement), "--format", "mt94"],
                 ["report", "weekly", "--format", "pdf", "--out", str(tmp_path / "r.pdf")],
                 ["forecast", "--format", "pdf"],
                 ["worklist", "--format", "xml"]):
        result = cli(*args)
        _refused(result, "--format", code=2)
        assert "unknown format" in result.output or "is not one of" in result.output
    assert not (tmp_path / "r.pdf").exists()
    assert cli("forecast", "--format", "json", "--weeks", "1").exit_code == 0
