"""Local accounts: `claims user add`, scrypt hashes, sign-in refusals and throttling, and the
person recorded as the actor of what they do (claim history and evidence)."""

from __future__ import annotations

import sqlite3

import pytest

from claims import api
from tests.claims.helpers import load_samples, sample_claim


def test_user_add_reads_the_password_file_and_stores_only_a_scrypt_hash(cli, tmp_path) -> None:
    assert cli("init", str(cli.root)).exit_code == 0
    secret = tmp_path / "pw.txt"
    secret.write_text("a long enough secret\n")
    run = cli("user", "add", "Amira", "--role", "specialist", "--password-file", str(secret))
    assert run.exit_code == 0, run.output
    assert "user amira added (specialist)" in run.output
    listed = cli("user", "list", "--json")
    assert '"name": "amira"' in listed.output and '"role": "specialist"' in listed.output
    with sqlite3.connect(cli.root / "claims.db") as db:
        (stored,) = db.execute("SELECT password_hash FROM users").fetchone()
    assert stored.startswith("scrypt$32768$8$1$") and "a long enough secret" not in stored


@pytest.mark.parametrize(("args", "message"), [
    (["--role", "boss"], "unknown role 'boss'"),
    (["--role", "auditor", "--password-file", "short"], "at least 10 characters"),
    (["--role", "auditor", "--password-file", "missing"], "file not found"),
])
def test_user_add_refuses_bad_input_in_one_line(cli, tmp_path, args, message) -> None:
    assert cli("init", str(cli.root)).exit_code == 0
    (tmp_path / "short").write_text("tiny\n")
    (tmp_path / "ok").write_text("a long enough secret\n")
    args = [str(tmp_path / a) if a in ("short", "missing") else a for a in args]
    if "--password-file" not in args:
        args += ["--password-file", str(tmp_path / "ok")]
    run = cli("user", "add", "someone", *args)
    assert run.exit_code == 1 and message in run.output and "Traceback" not in run.output


def test_a_taken_name_is_refused(workspace) -> None:
    api.add_user(workspace, "amira", role="specialist", password="a long enough secret")
    with pytest.raises(api.ConflictError, match="exists already"):
        api.add_user(workspace, "AMIRA", role="auditor", password="a long enough secret")


def test_sign_in_is_throttled_after_five_failures_even_with_the_right_password(workspace):
    api.add_user(workspace, "amira", role="specialist", password="a long enough secret")
    throttle = api.LoginThrottle(limit=5, window=60)
    assert api.sign_in(workspace, "amira", "a long enough secret", throttle=throttle,
                       client="1.2.3.4").role == "specialist"
    for _ in range(5):
        with pytest.raises(api.InputError, match="wrong name or password"):
            api.sign_in(workspace, "amira", "guess", throttle=throttle, client="1.2.3.4")
    with pytest.raises(api.InputError, match="too many failed sign-ins"):
        api.sign_in(workspace, "amira", "a long enough secret", throttle=throttle,
                    client="5.6.7.8")
    with pytest.raises(api.InputError, match="wrong name or password"):
        api.sign_in(workspace, "nobody", "whatever", throttle=throttle, client="9.9.9.9")


def test_acting_as_records_the_person_in_history_and_evidence(workspace) -> None:
    files = load_samples(workspace)
    claim = sample_claim(workspace, files)
    as_amira = api.acting_as(workspace, "amira")
    api.withdraw_claim(as_amira, claim.id, reason="credit note CN-1")
    assert api.seal_evidence(as_amira) is True
    assert api.get_claim(workspace, claim.id).events[-1].actor == "amira"
    assert api.evidence_log(workspace, str(claim.id))[-1].actor == "amira"
    assert workspace.actor != "amira"  # the shared workspace itself is unchanged


def test_claims_serve_without_the_extra_says_how_to_install_it(tmp_path) -> None:
    import subprocess
    import sys

    from claims.workspace import init_workspace

    init_workspace(tmp_path / "ws").close()
    code = ("import sys, importlib.util; real = importlib.util.find_spec\n"
            "importlib.util.find_spec = lambda m, *a: None if m == 'starlette' else real(m, *a)\n"
            "from claims.cli import main; sys.argv = ['claims', '--workspace', "
            f"{str(tmp_path / 'ws')!r}, 'serve']; main()")
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True)
    assert run.returncode == 1
    assert "pip install 'claimwright[web]'" in run.stderr and "starlette" in run.stderr
    assert "Traceback" not in run.stderr


def test_the_web_extra_is_the_web_stack_and_the_core_install_has_none_of_it() -> None:
    import re
    from importlib.metadata import requires

    web, core = set(), set()
    for req in requires("claimwright") or []:
        name = re.split(r"[\s\[<>=!~;]", req, maxsplit=1)[0].lower()
        if 'extra == "web"' in req:
            web.add(name)
        elif "extra ==" not in req:
            core.add(name)
    assert web == {"starlette", "uvicorn", "python-multipart", "itsdangerous"}
    assert not core & web
