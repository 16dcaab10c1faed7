"""``claims doctor`` against real parts: a real SMTP server (aiosmtpd), a closed port, a real
sandbox-less contract, a contact in a language with no templates, loose file modes; and the
shell completion script and its answers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from claims.api import add_samples
from claims.store.tables import ContactRow, CustomerRow
from claims.workspace import Workspace
from tests.collections.conftest import SmtpServer, free_port, write_config


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """The doctor reads the same store on either engine: SQLite is enough here."""
    return f"sqlite:///{tmp_path / 'claims.db'}"


def _doctor(cli: Any, *args: str) -> tuple[int, dict[str, Any]]:
    result = cli("doctor", "--json", *args)
    assert "Traceback" not in result.output
    return result.exit_code, json.loads(result.stdout)


def _states(report: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["state"] for c in report["checks"]}


def test_a_healthy_workspace_passes_and_the_smtp_server_is_contacted(
        cli: Any, ws: Workspace, smtp_server: SmtpServer) -> None:
    code, report = _doctor(cli)
    assert code == 0, report
    assert report["ok"] is True
    assert _states(report) == {"settings": "ok", "privacy": "ok", "database": "ok",
                               "templates": "ok", "smtp": "ok", "portals": "ok",
                               "browser": _states(report)["browser"]}
    smtp = next(c for c in report["checks"] if c["name"] == "smtp")
    assert f"127.0.0.1:{smtp_server.port} answers" in smtp["message"]
    assert smtp_server.messages == []  # the doctor greets the server; it sends nothing


def test_an_unreachable_mail_server_fails_with_the_fix(cli: Any, ws: Workspace) -> None:
    data = ws.config_path.read_text(encoding="utf-8")
    closed = free_port()
    ws.config_path.write_text(data.replace(f"port = {ws.settings.followup.smtp.port}",
                                           f"port = {closed}"), encoding="utf-8")
    code, report = _doctor(cli)
    assert code == 1 and report["ok"] is False
    smtp = next(c for c in report["checks"] if c["name"] == "smtp")
    assert smtp["state"] == "fail" and f"127.0.0.1:{closed}" in smtp["message"]
    assert "[followup.smtp]" in smtp["fix"]
    _, offline = _doctor(cli, "--offline")
    assert _states(offline)["smtp"] == "ok"  # not contacted offline


def test_a_login_in_clear_text_to_a_remote_server_fails(cli: Any, ws: Workspace) -> None:
    write_config(ws, None, smtp={"host": "mail.example.com", "port": 25, "username": "ar",
                                 "starttls": False, "password": {"env": "NOPE_PW"}})
    code, report = _doctor(cli, "--offline")
    assert code == 1
    smtp = next(c for c in report["checks"] if c["name"] == "smtp")
    assert "clear text" in smtp["message"] and "starttls = true" in smtp["fix"]


def test_a_portal_without_its_secrets_and_a_contact_without_templates(
        cli: Any, ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLAIMS_SANDBOX_PASSWORD", raising=False)
    add_samples(ws)  # the sample contract files on the sandbox portal
    with ws.store.session() as s:
        customer = CustomerRow(name="Acme")
        s.add(customer)
        s.flush()
        s.add(ContactRow(customer_id=customer.id, name="A", email="a@acme.test",
                         language="fr"))
    code, report = _doctor(cli, "--offline")
    assert code == 1
    by_name = {c["name"]: c for c in report["checks"]}
    assert by_name["portal sandbox"]["state"] == "fail"
    assert "CLAIMS_SANDBOX_PASSWORD" in by_name["portal sandbox"]["message"]
    assert by_name["templates"]["state"] == "fail"
    assert "fr" in by_name["templates"]["message"]

    monkeypatch.setenv("CLAIMS_SANDBOX_PASSWORD", "pw")
    monkeypatch.setenv("CLAIMS_SANDBOX_TOTP", "JBSWY3DPEHPK3PXP")
    data = ws.config_path.read_text(encoding="utf-8")
    ws.config_path.write_text(data.replace("http://127.0.0.1:8765",
                                           f"http://127.0.0.1:{free_port()}"), encoding="utf-8")
    _, online = _doctor(cli)
    portal = next(c for c in online["checks"] if c["name"] == "portal sandbox")
    assert portal["state"] == "warn" and "does not answer" in portal["message"]


def test_loose_modes_warn_and_bad_settings_stop_the_checks(cli: Any, ws: Workspace) -> None:
    os.chmod(ws.root, 0o755)
    code, report = _doctor(cli, "--offline")
    privacy = next(c for c in report["checks"] if c["name"] == "privacy")
    assert privacy["state"] == "warn" and str(ws.root) in privacy["message"]
    assert code == 0  # a warning alone does not fail the run
    os.chmod(ws.root, 0o700)
    ws.config_path.write_text(tomli_w.dumps({"folowup": {}}), encoding="utf-8")
    result = cli("doctor", "--offline")
    assert result.exit_code == 1
    assert "folowup" in result.stdout and "fix: edit" in result.stdout
    assert "  database:" not in result.stdout  # nothing after a settings failure


def test_completion_script_and_its_answers(cli: Any) -> None:
    script = cli("completion", "bash", workspace=None)
    assert script.exit_code == 0 and "_CLAIMS_COMPLETE=complete_bash" in script.stdout
    assert cli("completion", "tcsh", workspace=None).exit_code == 2
    env = {**os.environ, "_CLAIMS_COMPLETE": "complete_bash", "COMP_WORDS": "claims claim ",
           "COMP_CWORD": "2"}
    answer = subprocess.run([sys.executable, "-c", "from claims.cli import main; main()"],
                            env=env, capture_output=True, text=True, timeout=60)
    assert {"new", "validate", "build", "submit"} <= set(answer.stdout.split())


def test_a_prompt_payment_agency_without_todays_rate_warns(cli: Any, ws: Workspace) -> None:
    write_config(ws, None, agencies={"DOD": {"rule": "prompt-payment"}})
    _, report = _doctor(cli, "--offline")
    interest = next(c for c in report["checks"] if c["name"] == "interest")
    assert interest["state"] == "warn" and "DOD" in interest["message"]
    assert "[[followup.treasury_rates]]" in interest["fix"]
    today = date.today()
    half = (date(today.year, 1, 1), date(today.year, 6, 30)) if today.month <= 6 else (
        date(today.year, 7, 1), date(today.year, 12, 31))
    write_config(ws, None, treasury_rates=[{"start": half[0], "end": half[1], "percent": "4",
                                            "source": "test: the user's published rate"}])
    _, again = _doctor(cli, "--offline")
    assert _states(again)["interest"] == "ok"


@pytest.mark.parametrize("executable, words", [("/no/such/chromium", "does not exist"),
                                               ("/", "is not an executable file")])
def test_a_bad_browser_is_a_failed_check_not_the_end_of_the_report(
        cli: Any, ws: Workspace, monkeypatch: pytest.MonkeyPatch, executable: str,
        words: str) -> None:
    """CLAIMS_BROWSER_EXECUTABLE naming nothing stopped the doctor with 'portal error: …' and
    no report (no JSON either); a folder was reported 'ok'."""
    monkeypatch.setenv("CLAIMS_BROWSER_EXECUTABLE", executable)
    code, report = _doctor(cli, "--offline")
    assert code == 1 and report["ok"] is False
    browser = next(c for c in report["checks"] if c["name"] == "browser")
    assert browser["state"] == "fail" and words in browser["message"], browser
    assert {"settings", "database", "browser"} <= set(_states(report))
