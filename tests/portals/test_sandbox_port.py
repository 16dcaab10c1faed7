"""`claims portal sandbox` refuses a port that is not one before anything is made, and the
sandbox's database is its owner's alone (0600), like the rest of the private workspace."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from portals.sandbox.db import make_engine
from portals.sandbox.testing import running_sandbox


@pytest.mark.parametrize("port", ["-1", "0", "65536", "99999"])
def test_a_port_out_of_range_is_refused_at_the_door(tmp_path: Path, port: str) -> None:
    run = subprocess.run([sys.executable, "-m", "claims", "portal", "sandbox", "--port", port],
                         cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert run.returncode == 1, run.stderr
    assert f"--port: {port} is not a TCP port (1-65535)" in run.stderr
    assert "Traceback" not in run.stderr + run.stdout
    assert list(tmp_path.iterdir()) == []  # no sandbox-portal.db


def test_the_sandbox_itself_refuses_a_bad_port_before_making_its_database(
        tmp_path: Path) -> None:
    db = tmp_path / "portal.db"
    run = subprocess.run([sys.executable, "-m", "portals.sandbox", "serve", "--port", "-1",
                          "--db", str(db)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "is not a TCP port" in run.stderr
    assert "Traceback" not in run.stderr and not db.exists()


def test_the_sandbox_database_is_made_private(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        engine = make_engine(tmp_path / "sandbox-portal.db")
        engine.dispose()
    finally:
        os.umask(old)
    for path in tmp_path.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def _answers(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_stopping_the_command_stops_the_sandbox(tmp_path: Path) -> None:
    """`kill` (SIGTERM) of `claims portal sandbox` left the portal it started running,
    orphaned, on its port; now the signal is passed on and both end."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "claims", "portal", "sandbox", "--port",
                             str(port)], cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not _answers(port):
            assert proc.poll() is None and time.monotonic() < deadline, "sandbox never served"
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        deadline = time.monotonic() + 15
        while _answers(port) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _answers(port), "the sandbox still serves after its command was stopped"
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_running_sandbox_keeps_its_folder_and_log_private(tmp_path: Path) -> None:
    """``make demo`` runs the sandbox in the workspace's ``.sandbox-portal``: the folder was
    0755 and the log 0644 under the usual umask; now the owner's only."""
    old = os.umask(0o022)
    try:
        with running_sandbox(tmp_path / "portal") as server:
            assert server.log_path.stat().st_size > 0
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "portal").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "portal" / "portal.log").stat().st_mode) == 0o600
