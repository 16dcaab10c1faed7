"""Start the real sandbox portal for tests (claims' tests may import this too).

    from portals.sandbox.testing import running_sandbox, seed_supplier, make_pdf

    with running_sandbox(tmp_path) as server:          # a subprocess on a free port
        supplier = seed_supplier(server)               # account + contract with TOTP
        server.backoffice.set_faults("http500=upload*1")

Pytest fixtures built on it live in ``tests/portals/conftest.py`` (``sandbox_server`` per
module, ``supplier`` per test with a fresh contract).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyotp
from fpdf import FPDF
from pypdf import PdfWriter

from portals.base import PortalCredentials
from portals.browser import launch_options
from portals.totp import TotpSpec, fresh_code
from portals.sandbox.cli import BackofficeClient, new_backoffice_token


@dataclass
class SandboxServer:
    """A running sandbox portal: its URL, back office, database and process."""

    url: str
    token: str
    db_path: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    totp_period: int = 30
    backoffice: BackofficeClient = field(init=False)

    def __post_init__(self) -> None:
        self.backoffice = BackofficeClient(self.url, self.token)


@dataclass(frozen=True)
class Supplier:
    """A seeded supplier account with one contract."""

    username: str
    password: str
    totp_secret: str
    contract_number: str
    document_types: tuple[str, ...]
    totp_period: int = 30

    @property
    def credentials(self) -> PortalCredentials:
        return PortalCredentials.model_validate(
            {
                "username": self.username,
                "password": self.password,
                "totp_secret": self.totp_secret,
                "totp": {"period": self.totp_period},
            }
        )

    def totp_now(self) -> str:
        """This window's code (the portal takes it once: see :meth:`totp_fresh`)."""
        return pyotp.TOTP(self.totp_secret, interval=self.totp_period).now()

    def totp_fresh(self) -> str:
        """A code not handed out before in this process (may wait for the next window)."""
        return fresh_code(self.totp_secret, TotpSpec(period=self.totp_period))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(
    url: str, process: subprocess.Popen[bytes], timeout: float = 60.0
) -> None:  # ok: seconds
    """Poll ``/health`` until it answers; fail early if the process died. 60 s: on a loaded
    shared machine the server's imports alone have taken over 20 s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sandbox portal exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=1) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            # not listening yet: block on the socket's own timeout rather than sleeping
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=0.1),
            ):
                pass
    raise TimeoutError(f"sandbox portal at {url} did not answer within {timeout}s")


@contextlib.contextmanager
def running_sandbox(
    workdir: Path,
    *,
    faults: str = "",
    idle_timeout: float = 900.0,  # ok: seconds
    totp_period: int = 30,
) -> Iterator[SandboxServer]:
    """Run ``python -m portals.sandbox serve`` on a free port in ``workdir``; stop it after."""
    workdir.mkdir(mode=0o700, parents=True, exist_ok=True)  # the portal's data: its owner's
    port = free_port()
    token = new_backoffice_token()
    db_path = workdir / "portal.db"
    log_path = workdir / "portal.log"
    cmd = [
        sys.executable,
        "-m",
        "portals.sandbox",
        "serve",
        "--port",
        str(port),
        "--db",
        str(db_path),
        "--idle-timeout",
        str(idle_timeout),
        "--faults",
        faults,
        "--totp-period",
        str(totp_period),
    ]
    env = dict(os.environ, SANDBOX_BACKOFFICE_TOKEN=token)
    with open(os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as log:
        process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, process)
        yield SandboxServer(
            url=url, token=token, db_path=db_path, process=process, log_path=log_path,
            totp_period=totp_period,
        )  # fmt: skip
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def seed_supplier(
    server: SandboxServer,
    *,
    username: str | None = None,
    contract_number: str | None = None,
    document_types: tuple[str, ...] = ("invoice", "timesheet"),
    currency: str = "EUR",
) -> Supplier:
    """A fresh supplier account (password + TOTP) with one contract, via the back office."""
    suffix = secrets.token_hex(3)
    supplier = Supplier(
        username=username or f"supplier-{suffix}",
        password=f"pw-{secrets.token_urlsafe(12)}",
        totp_secret=pyotp.random_base32(),
        contract_number=contract_number or f"C-2026-{suffix.upper()}",
        document_types=document_types,
        totp_period=server.totp_period,
    )
    server.backoffice.add_account(supplier.username, supplier.password, supplier.totp_secret)
    server.backoffice.add_contract(
        supplier.contract_number,
        supplier.username,
        title="Consulting services",
        currency=currency,
        document_types=list(document_types),
    )
    return supplier


def make_pdf(
    path: Path, text: str = "Supporting document", *, pages: int = 1, password: str | None = None
) -> Path:
    """Write a real PDF with ``text`` on each page (encrypted when ``password`` is given)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if pages == 0:
        with open(path, "wb") as fh:
            PdfWriter().write(fh)
        return path
    pdf = FPDF()
    for n in range(pages):
        pdf.add_page()
        pdf.set_font("Helvetica", size=12)
        pdf.cell(0, 10, f"{text} - page {n + 1}")
    if password is not None:
        pdf.set_encryption(owner_password=password, user_password=password)
    pdf.output(str(path))
    return path


@contextlib.contextmanager
def browser_server(workdir: Path) -> Iterator[str]:
    """A Playwright browser server (``playwright launch-server``) on this machine's Chromium;
    yields its ``ws://`` endpoint for ``BrowserOptions(ws_endpoint=...)``."""
    options = launch_options()
    config = {"headless": True, "port": 0, "args": options.get("args", [])}
    if "executable_path" in options:
        config["executablePath"] = options["executable_path"]
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "browser-server.json"
    config_path.write_text(json.dumps(config), encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "playwright", "launch-server", "--browser", "chromium",
         "--config", str(config_path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline().decode().strip()  # blocks until the server prints it
        if not line.startswith("ws://"):
            raise RuntimeError(f"browser server did not start: {line!r}")
        yield line
    finally:
        stop_group(process)


@contextlib.contextmanager
def run_server(workdir: Path) -> Iterator[str]:
    """A Playwright browser server as a team would run it for many workers (``playwright
    run-server``, from the playwright package's bundled driver) on a free local port; yields its
    ``ws://`` endpoint for ``CLAIMS_BROWSER_WS_ENDPOINT``. Started with ``--unsafe`` so that a
    client may name this machine's Chromium (:func:`portals.browser.server_launch_headers`)."""
    workdir.mkdir(mode=0o700, parents=True, exist_ok=True)  # the portal's data: its owner's
    port = free_port()
    log_path = workdir / "run-server.log"
    with open(os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "playwright", "run-server", "--host", "127.0.0.1",
             "--port", str(port), "--unsafe"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    endpoint = f"ws://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 30
        while "Listening on" not in log_path.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"playwright run-server did not start: {log_path.read_text()}")
            with contextlib.suppress(OSError):  # block on a connect, not a sleep
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        yield endpoint
    finally:
        stop_group(process)


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """Stop a browser server started in its own session: the ``python -m playwright`` wrapper,
    the driver's node process and its Chromium (terminating the wrapper alone left them)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=10)
            break
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(ProcessLookupError):  # the driver may outlive the wrapper
        os.killpg(process.pid, signal.SIGKILL)
