"""`claims claim submit` when the run cannot get going: a bad setting, a portal that never
answers. No browser: the settings fail first, and the blackholed portal is a fake adapter."""

from __future__ import annotations

from pathlib import Path

import pytest



@pytest.fixture
def ready(cli, monkeypatch) -> Path:
    """A sample workspace whose claim 1 is READY (validated and built)."""
    assert cli("init", "--with-samples", str(cli.root), workspace=None).exit_code == 0
    assert cli("claim", "validate", "1").exit_code == 0
    assert cli("claim", "build", "1").exit_code == 0
    monkeypatch.setenv("CLAIMS_SANDBOX_PASSWORD", "x")
    monkeypatch.delenv("CLAIMS_SANDBOX_TOTP", raising=False)
    return cli.root


def test_a_settings_error_is_its_message_never_its_class_name(cli, ready) -> None:
    result = cli("claim", "submit", "1")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "claim 1: READY — portals.sandbox.totp_secret: environment variable " \
           "CLAIMS_SANDBOX_TOTP is not set" in result.stdout
    assert "InputError" not in result.output
    out = cli("claim", "submit", "1", "--json")
    assert "InputError" not in out.stdout and "CLAIMS_SANDBOX_TOTP" in out.stdout
