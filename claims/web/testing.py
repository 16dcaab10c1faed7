"""Start the real web workspace for tests, screenshots and benchmarks::

    with running_web(workspace_root) as url:      # python -P -m claims.web on a free port
        ...

The server is a subprocess, as ``claims serve`` runs it, so tests drive what users get.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[bytes],
                  timeout: float = 30.0) -> None:  # ok: seconds
    """Poll ``/health`` until it answers; fail early (with the log) if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the web workspace exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=1) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)  # ok: not listening yet
    raise TimeoutError(f"the web workspace at {url} did not answer within {timeout}s")


@contextlib.contextmanager
def running_web(root: Path, *, log_path: Path | None = None) -> Iterator[str]:
    """Serve the workspace at ``root`` in a subprocess on a free port; yield its URL."""
    port = free_port()
    log_path = log_path or root / "web-server.log"
    cmd = [sys.executable, "-P", "-m", "claims.web", "--workspace", str(root), "--port",
           str(port)]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                   env=dict(os.environ))
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
