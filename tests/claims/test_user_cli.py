"""``claims user add / disable / password / list`` through the real CLI: only an admin (the
actor, CLAIMS_ACTOR) may disable or set a password, never their own account disabled, and
each change is in the evidence log without the password."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from claims.api import LoginThrottle, find_workspace, sign_in


def test_admin_disables_and_resets(cli: Any, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli("init", str(tmp_path / "ws"), workspace=None).exit_code == 0
    pw = tmp_path / "pw.txt"
    pw.write_text("correct horse battery\n", encoding="utf-8")
    for name, role in (("ada", "admin"), ("bob", "specialist"), ("cy", "auditor")):
        assert cli("user", "add", name, "--role", role, "--password-file", str(pw)).exit_code == 0

    monkeypatch.setenv("CLAIMS_ACTOR", "bob")  # not an admin
    refused = cli("user", "disable", "cy")
    assert refused.exit_code == 1 and "only an admin" in refused.output
    assert "Traceback" not in refused.output

    monkeypatch.setenv("CLAIMS_ACTOR", "ada")
    own = cli("user", "disable", "ada")
    assert own.exit_code == 1 and "Traceback" not in own.output
    assert cli("user", "disable", "cy").exit_code == 0
    names = [u["name"] for u in json.loads(cli("user", "list", "--json").stdout)]
    assert names == ["ada", "bob"]

    new = tmp_path / "new.txt"
    new.write_text("a much better passphrase\n", encoding="utf-8")
    changed = cli("user", "password", "bob", "--password-file", str(new), "--json")
    assert changed.exit_code == 0, changed.output
    ws = find_workspace(tmp_path / "ws")
    assert sign_in(ws, "bob", "a much better passphrase", throttle=LoginThrottle(),
                   client="t").name == "bob"
    log = cli("evidence", "log", "--json")
    text = log.stdout
    assert "account.disabled" in text and "account.password_changed" in text
    assert "better passphrase" not in text
    missing = cli("user", "password", "bob", "--password-file", str(tmp_path / "nope"))
    assert missing.exit_code == 1 and "nope" in missing.output
    ws.close()


def test_password_file_that_is_not_a_file(cli: Any, tmp_path: Path) -> None:
    """A FIFO as --password-file waited forever for a writer (the command hung); a folder said
    only 'Is a directory'. Each is one line naming the file and the option, exit 1, no user."""
    assert cli("init", str(tmp_path / "ws"), workspace=None).exit_code == 0
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for path, words in ((fifo, "not a regular file"), (tmp_path, "is a folder"),
                        (tmp_path / "none.txt", "file not found")):
        for args in (["user", "add", "eve", "--role", "auditor"], ["user", "password", "eve"]):
            result = cli(*args, "--password-file", str(path))
            assert result.exit_code == 1, result.output
            assert words in result.output and "--password-file" in result.output
            assert "Traceback" not in result.output
    assert json.loads(cli("user", "list", "--json").stdout) == []
