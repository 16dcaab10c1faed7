"""`claims claim submit` when the run cannot get going: a bad setting, a portal that never
answers. No browser: the settings fail first, and the blackholed portal is a fake adapter."""

from __future__ import annotations

import signal
import socket
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import tomli_w

from claims.lifecycle import submission
from claims.workspace import find_workspace
from portals.errors import PortalTimeout
from portals.base import PortalLimits
from tests.portals.test_kit import LIMITS, Fake



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


class Blackholed(Fake):
    """A portal whose address takes the connection and never answers: every try times out."""

    @property
    def limits(self) -> PortalLimits:
        """Room for the sample claim's documents."""
        return LIMITS.model_copy(update={"max_files": 10, "max_file_bytes": 10**8})

    def sign_in(self) -> None:
        self.calls.append("sign_in")
        raise PortalTimeout("/login did not load in time", portal=self.name, step="login")


def test_a_portal_that_never_answers_exits_3_as_an_unreachable_one(cli, ready,
                                                                  tmp_path) -> None:
    """README exit 3: the portal could not be reached — refused or never answering alike;
    nothing was sent, the claim stays READY for the next run."""
    ws = find_workspace(ready)
    try:
        summary = submission.submit_claims(
            ws, ids=[1], adapter_factory=lambda _ws, _p: Blackholed(tmp_path))
        assert summary.exit_code == 3 and summary.to_json()["exit_code"] == 3
        [outcome] = summary.outcomes
        assert (outcome.status, outcome.unreachable) == ("READY", True)
        assert "did not load in time" in outcome.message
    finally:
        ws.close()


@pytest.fixture
def blackhole() -> Iterator[str]:
    """An address that takes connections and never answers (a firewall's blackhole)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    taken: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                taken.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in taken:
        conn.close()
    server.close()


def _hung(_signum: int, _frame: object) -> None:
    raise TimeoutError("claim submit hung on a portal that never answers")


@pytest.mark.browser
def test_a_blackholed_portal_in_real_chromium_ends_with_exit_3_not_a_hang(
        cli, ready, blackhole, monkeypatch) -> None:
    """After a navigation timed out, the page is left (about:blank): the error's evidence
    (a locator count, the page title, which wait without a timeout) would wait forever."""
    config = ready / "claims.toml"
    data = tomllib.loads(config.read_text())
    data["portals"]["sandbox"] |= {"url": blackhole, "timeout_seconds": 1}
    config.write_text(tomli_w.dumps(data))
    monkeypatch.setenv("CLAIMS_SANDBOX_TOTP", "JBSWY3DPEHPK3PXP")
    previous = signal.signal(signal.SIGALRM, _hung)
    signal.alarm(120)
    try:
        result = cli("claim", "submit", "1")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert result.exit_code == 3, result.output
    assert "did not load in time" in result.stdout and "Traceback" not in result.output
