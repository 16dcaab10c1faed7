"""Finding (and if need be installing) a Chromium for Playwright.

Order of preference, as the architecture asks:

1. an explicit path (``CLAIMS_CHROMIUM`` or the workspace setting ``browser.executable``);
2. Playwright's own Chromium, where ``playwright install`` has put one;
3. the system's (``/usr/bin/chromium``, ``chromium-browser``, ``google-chrome``);
4. when we are root on Debian/Ubuntu: ``apt-get install chromium``, then 3 again.

``python -m portals.browser ensure`` runs that chain and prints the path it settled on.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from portals.errors import BrowserNotFound

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright

#: Flags that keep a system Chromium quiet, headless and network-silent in a sandbox.
CHROMIUM_ARGS: tuple[str, ...] = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)

_SYSTEM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


@functools.lru_cache(maxsize=1)
def playwright_chromium() -> Path | None:
    """Playwright's own Chromium if it is installed, else None (asked once per process: it
    starts a Playwright driver, which cannot happen while another one runs in this thread)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - playwright is a core dependency
        return None
    try:
        with sync_playwright() as pw:
            path = Path(pw.chromium.executable_path)
    except Exception:  # noqa: BLE001 - any failure simply means "not installed"
        return None
    return path if path.exists() else None


def system_chromium() -> Path | None:
    """The system's Chromium (or Chrome) on PATH, else None."""
    for name in _SYSTEM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


def find_chromium(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The Chromium to launch: None means "let Playwright use its own"."""
    explicit = explicit or os.environ.get("CLAIMS_CHROMIUM")
    if explicit:
        path = Path(explicit)
        if not path.exists():
            raise BrowserNotFound(f"browser.executable {path} does not exist")
        if not path.is_file() or not os.access(path, os.X_OK):
            raise BrowserNotFound(f"browser.executable {path} is not an executable file")
        return path
    if playwright_chromium() is not None:
        return None
    system = system_chromium()
    if system is not None:
        return system
    raise BrowserNotFound(
        "no Chromium found: run `playwright install chromium`, or install your system's "
        "chromium package, or set CLAIMS_CHROMIUM to its path"
    )


def ensure_chromium() -> str:
    """Make sure some Chromium is available; install Debian's when root. Returns a description."""
    if os.environ.get("CLAIMS_CHROMIUM"):
        return str(find_chromium())
    own = playwright_chromium()
    if own is not None:
        return f"playwright's own: {own}"
    system = system_chromium()
    if system is not None:
        return f"system: {system}"
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=True, env=env)
        system = system_chromium()
        if system is not None:
            return f"system (installed now): {system}"
    raise BrowserNotFound(
        "no Chromium: not root, so it cannot be installed here; run `playwright install "
        "chromium` or install the chromium package"
    )


def launch_options(executable: str | None = None, headless: bool = True) -> dict[str, object]:
    """Keyword arguments for ``playwright.chromium.launch`` on this machine."""
    path = find_chromium(executable)
    options: dict[str, object] = {"headless": headless}
    if path is not None:
        options["executable_path"] = str(path)
        options["args"] = list(CHROMIUM_ARGS)
    return options


def server_launch_headers(executable: str | None, headless: bool) -> dict[str, str]:
    """What a ``playwright run-server`` browser server is asked to launch: headless or not,
    and, when ``executable`` (or ``CLAIMS_CHROMIUM``) names one, that Chromium with
    :data:`CHROMIUM_ARGS` (a path on the server's machine; the server takes it only when
    started with ``--unsafe``). Without one the server uses its own bundled Chromium. A
    ``launch-options`` query in the endpoint URL overrides this header (Playwright's rule)."""
    options: dict[str, object] = {"headless": headless}
    path = executable or os.environ.get("CLAIMS_CHROMIUM")
    if path:
        options.update(executablePath=str(path), args=list(CHROMIUM_ARGS))
    return {"x-playwright-launch-options": json.dumps(options)}


@dataclass
class _ThreadBrowsers:
    playwright: Playwright | None = None
    #: (executable, headless, ws_endpoint) -> [browser, users]
    browsers: dict[tuple[str | None, bool, str | None], list[object]] = field(default_factory=dict)


_local = threading.local()


def _thread_browsers() -> _ThreadBrowsers:
    if not hasattr(_local, "state"):
        _local.state = _ThreadBrowsers()
    return _local.state  # type: ignore[no-any-return]


def acquire_browser(
    executable: str | None = None,
    headless: bool = True,
    ws_endpoint: str | None = None,
    timeout_ms: float = 30_000,  # ok: milliseconds
) -> Browser:
    """A Chromium shared by every caller in this thread (Playwright's sync API allows only one
    driver per thread), launched here or connected to a browser server at ``ws_endpoint``.

    Without ``ws_endpoint``, ``CLAIMS_BROWSER_WS_ENDPOINT`` names the browser server, if set
    (``playwright run-server`` or ``launch-server``; what a run-server launches:
    :func:`server_launch_headers`); else Chromium is launched: an explicit ``executable``
    (``""`` means none), Playwright's bundled one, then the system's (:func:`find_chromium`).
    Each caller gets its own context from it; give it back with :func:`release_browser`.
    """
    executable = executable or None
    ws_endpoint = ws_endpoint or os.environ.get("CLAIMS_BROWSER_WS_ENDPOINT") or None
    state = _thread_browsers()
    key = (executable, headless, ws_endpoint)
    entry = state.browsers.get(key)
    if entry is not None and entry[0].is_connected():  # type: ignore[attr-defined]
        entry[1] = int(entry[1]) + 1  # type: ignore[call-overload]
        return entry[0]  # type: ignore[return-value]
    options = None if ws_endpoint else launch_options(executable, headless)
    if state.playwright is None:
        from playwright.sync_api import sync_playwright

        state.playwright = sync_playwright().start()
    try:
        if ws_endpoint:
            browser = state.playwright.chromium.connect(
                ws_endpoint, timeout=timeout_ms, headers=server_launch_headers(executable, headless)
            )
        else:
            browser = state.playwright.chromium.launch(**options)  # type: ignore[arg-type]
    except Exception:
        if not state.browsers:
            state.playwright.stop()
            state.playwright = None
        raise
    state.browsers[key] = [browser, 1]
    return browser


def release_browser(browser: Browser) -> None:
    """Give back a browser from :func:`acquire_browser`; the last user closes it (and the
    thread's Playwright driver when no browser is left)."""
    state = _thread_browsers()
    for key, entry in list(state.browsers.items()):
        if entry[0] is browser:
            entry[1] = int(entry[1]) - 1  # type: ignore[call-overload]
            if int(entry[1]) <= 0:  # type: ignore[call-overload]
                del state.browsers[key]
                with contextlib.suppress(Exception):  # already disconnected: nothing to close
                    browser.close()
            break
    if not state.browsers and state.playwright is not None:
        state.playwright.stop()
        state.playwright = None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] != ["ensure"]:
        print("usage: python -m portals.browser ensure", file=sys.stderr)
        return 2
    try:
        print(f"chromium: {ensure_chromium()}")
    except (BrowserNotFound, subprocess.CalledProcessError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
