"""`claims evidence …` on a real workspace: verify, log, export, verify-export, checkpoint."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from evidence import EvidenceArchive

from .conftest import png


@pytest.fixture
def ws(cli, tmp_path: Path) -> Path:
    from claims.workspace import Workspace

    result = cli("init", str(cli.root), workspace=None)
    assert result.exit_code == 0, result.output
    assert (cli.root / "evidence" / "keys" / "signing.key").exists()  # made by `claims init`
    workspace = Workspace(cli.root)
    archive = EvidenceArchive.open(workspace.evidence_dir, workspace.store.engine)
    archive.record("bundle.built", "12", "alice", {"invoice": "INV-1"},
                   files={"bundle.zip": b"PK bundle"})
    archive.record("portal.screenshot", "12", "worker", {"step": "review"},
                   files={"review.png": png(3, 3, 90)})
    archive.record("status.changed", "12", "sync", {"from": "submitted", "to": "approved"})
    archive.record("status.changed", "13", "sync", {"from": "draft", "to": "submitted"})
    archive.checkpoint()
    workspace.close()
    return cli.root


def test_verify_ok_and_json(cli, ws: Path) -> None:
    result = cli("evidence", "verify")
    assert result.exit_code == 0, result.output
    assert "OK" in result.output and "4 entries" in result.output
    data = json.loads(cli("evidence", "verify", "--claim", "12", "--json").output)
    assert data["ok"] is True and data["checked"]["blobs"] == 2


def test_verify_reports_tampering_and_exits_1(cli, ws: Path) -> None:
    blob = next(p for p in (ws / "evidence" / "blobs").rglob("*")
                if p.is_file() and ".tmp" not in p.parts)
    blob.chmod(0o644)
    blob.write_bytes(b"changed")
    result = cli("evidence", "verify")
    assert result.exit_code == 1
    assert "FAILED" in result.output and "blob-altered" in result.output
    assert blob.parent.name + blob.name in result.output


def test_a_ledger_row_edited_to_text_is_a_problem_in_the_report(cli, ws: Path) -> None:
    """An entry's leaf rewritten as text (as a hand edit with sqlite3's replace() leaves it):
    the auditor gets the whole report, every problem named, not one error line."""
    with sqlite3.connect(ws / "claims.db") as db:
        db.execute("UPDATE evidence_entries SET leaf = CAST(leaf AS TEXT) WHERE idx = 0")
    result = cli("evidence", "verify")
    assert result.exit_code == 1, result.output
    assert "FAILED" in result.output and "error:" not in result.output
    assert "entry-malformed entry 0" in result.output
    data = json.loads(cli("evidence", "verify", "--json").output)
    assert "entry-malformed" in {p["code"] for p in data["problems"]}


def test_log_prints_the_timeline(cli, ws: Path) -> None:
    result = cli("evidence", "log", "--claim", "12")
    assert result.exit_code == 0
    lines = [line for line in result.output.splitlines() if line.startswith("#")]
    assert [line.split()[4] for line in lines] == ["bundle.built", "portal.screenshot",
                                                   "status.changed"]
    assert json.loads(cli("evidence", "log", "--json").output)[3]["claim"] == "13"


def test_export_then_verify_export_without_a_workspace(cli, ws: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "audit-12"
    result = cli("evidence", "export", "--claim", "12", str(out))
    assert result.exit_code == 0, result.output
    assert (out / "data" / "index.html").is_file()
    monkeypatch.delenv("CLAIMS_WORKSPACE", raising=False)
    monkeypatch.chdir(tmp_path)  # not a workspace
    pub = ws / "evidence" / "keys" / "signing.pub"
    result = cli("evidence", "verify-export", str(out), "--trusted-key", str(pub), workspace=None)
    assert result.exit_code == 0, result.output
    assert "OK" in result.output
    # saved checkpoint from this bag: a later export must be consistent with it
    saved = out / "data" / "ledger" / "checkpoint.json"
    later = tmp_path / "audit-12-later"
    assert cli("evidence", "export", "--claim", "12", str(later)).exit_code == 0
    assert cli("evidence", "verify-export", str(later), "--checkpoint", str(saved),
               "--trusted-key", str(pub), workspace=None).exit_code == 0
    unpinned = cli("evidence", "verify-export", str(later), workspace=None)
    assert unpinned.exit_code == 1 and "unpinned" in unpinned.output
    assert cli("evidence", "verify-export", str(later), "--trust-bag-key",
               workspace=None).exit_code == 0
    (out / "tagmanifest-sha256.txt").unlink()
    result = cli("evidence", "verify-export", str(out), "--json", "--trust-bag-key",
                 workspace=None)
    assert result.exit_code == 1
    assert [p["code"] for p in json.loads(result.output)["problems"]] == [
        "bag-tagmanifest-missing"]


def test_export_by_dates_and_usage_errors(cli, ws: Path, tmp_path: Path) -> None:
    out = tmp_path / "range"
    assert cli("evidence", "export", "--from", "2000-01-01", "--to", "2100-01-01",
               str(out)).exit_code == 0
    again = cli("evidence", "export", "--claim", "12", str(out))
    assert again.exit_code == 1 and "never overwrites" in again.output
    assert cli("evidence", "export", str(tmp_path / "x")).exit_code == 2
    bad = cli("evidence", "export", "--from", "yesterday", str(tmp_path / "y"))
    assert bad.exit_code == 1 and "--from" in bad.output


def test_checkpoint_command(cli, ws: Path) -> None:
    cli("evidence", "log")
    data = json.loads(cli("evidence", "checkpoint", "--json").output)
    assert data["tree_size"] == 4 and len(data["signature"]) == 128


def _entries(cli) -> int:
    return len(json.loads(cli("evidence", "log", "--json").output))


@pytest.mark.parametrize("command", [("export", "--claim", "999", "OUT"),
                                     ("verify", "--claim", "999"), ("log", "--claim", "999")])
def test_an_unknown_claim_is_an_error_and_records_nothing(cli, ws: Path, tmp_path: Path,
                                                          command: tuple[str, ...]) -> None:
    before = _entries(cli)
    out = tmp_path / "out999"
    result = cli("evidence", *[str(out) if part == "OUT" else part for part in command])
    assert result.exit_code == 1, result.output
    assert "no claim 999" in result.output and "Traceback" not in result.output
    assert not out.exists() and not list(tmp_path.glob(".out999*"))
    assert _entries(cli) == before  # no evidence.exported entry for a claim that is not there


def test_an_export_named_zip_is_refused_before_anything_is_written(cli, ws: Path,
                                                                  tmp_path: Path) -> None:
    before = _entries(cli)
    out = tmp_path / "out.zip"
    result = cli("evidence", "export", "--claim", "12", str(out))
    assert result.exit_code == 1, result.output
    assert "out.zip" in result.output and "folder" in result.output
    assert not out.exists() and _entries(cli) == before


def test_verify_export_of_a_missing_path_says_not_found(cli, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-bag"
    result = cli("evidence", "verify-export", str(missing), "--trust-bag-key", workspace=None)
    assert result.exit_code == 1, result.output
    assert "not found" in result.output and str(missing) in result.output
    assert "bagit.txt" not in result.output


@pytest.mark.parametrize("option", ["--trusted-key", "--checkpoint"])
def test_verify_with_a_missing_option_file_is_one_line_and_exit_2(cli, ws: Path,
                                                                  option: str) -> None:
    missing = ws / "no-such.pub"
    result = cli("evidence", "verify", option, str(missing))
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert option in lines[0] and str(missing) in lines[0], result.output
