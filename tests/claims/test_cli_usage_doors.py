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


HUGE = "99999999999999999999999"


def test_an_id_no_database_holds_is_a_usage_error(cli: Any) -> None:
    """An id beyond a signed 64-bit integer said "a number is out of the database's range:
    Python int too large to convert to SQLite INTEGER", naming no argument; now it is a usage
    error naming the argument or option (exit 2), and the largest id is simply not found."""
    init_workspace(cli.root).close()
    for args in (["claim", "show", HUGE], ["claim", "validate", HUGE], ["claim", "build", HUGE],
                 ["claim", "withdraw", HUGE, "--reason", "x"], ["claim", "submit", HUGE],
                 ["promise", "cancel", HUGE, "--reason", "x"], ["plan", "show", HUGE],
                 ["dispute", "resolve", HUGE, "--resolution", "credit-note"],
                 ["payments", "undo", HUGE], ["payments", "reverse", "1", "--payment", HUGE],
                 ["contact", "edit", HUGE, "--language", "en"],
                 ["followup", "resolve", HUGE, "--sent"]):
        result = cli(*args)
        _refused(result, "9223372036854775807", code=2)
        assert "database's range" not in result.output, args
    largest = cli("claim", "show", "9223372036854775807")
    assert largest.exit_code == 1 and "no claim 9223372036854775807" in largest.output


def test_an_output_never_replaces_the_workspaces_own_files(cli: Any) -> None:
    """``forecast --format xlsx --out claims.toml`` wrote a workbook over the settings, and
    every later command died on a UnicodeDecodeError. Now the workspace's own files (settings,
    the SQLite database and its journals, documents, bundles, evidence) are refused as
    ``--out``, and settings that are not UTF-8 text are one clear error."""
    init_workspace(cli.root).close()
    settings = (cli.root / "claims.toml").read_bytes()
    for args, own in ((["forecast", "--format", "xlsx"], "claims.toml"),
                      (["forecast", "--format", "json"], "claims.db"),
                      (["report", "weekly"], "claims.db-wal"),
                      (["report", "monthly", "--format", "xlsx"], "evidence/keys/signing.key"),
                      (["report", "weekly", "--format", "json"], "documents/../claims.toml")):
        result = cli(*args, "--out", str(cli.root / own))
        _refused(result, "the workspace's own", "not-a-workspace-file", code=1)
    assert (cli.root / "claims.toml").read_bytes() == settings
    assert not (cli.root / "claims.db-wal").exists()
    assert cli("report", "weekly", "--out", str(cli.root / "weekly.html")).exit_code == 0
    # only the database has journals: a name that merely starts like a folder's is fine
    assert cli("report", "weekly", "--out", str(cli.root / "bundles-week.html")).exit_code == 0
    (cli.root / "claims.toml").write_bytes(b"PK\x03\x04\x83\x00 a workbook, not TOML")
    result = cli("kpi")
    _refused(result, "claims.toml: is not UTF-8 text", "toml-syntax", code=1)
    assert len(result.output.strip().splitlines()) == 1
