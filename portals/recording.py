"""Per-operation evidence, for every adapter: screenshots of chosen browser steps (secret fields
masked), a redacted request/response record at each API step, and a small JSON manifest of steps
and times, written after every step so a crash still leaves a record.

The manifest is one JSON document at every moment: each step is written in place over the
manifest's closing lines (the new step, then the closing lines again, in one ``pwrite``), so the
file only grows and a killed process leaves it complete up to its last step. It is not renamed
over at each step (on ext4 a rename over an existing file forces its data out, several ms a
step) and, as before, not fsynced here: it becomes durable when the caller records it in the
evidence archive (one flush per record, docs/evidence-format.md).

The mask always covers every password field and every ``autocomplete="one-time-code"`` field,
plus the selectors the adapter adds (``PortalAdapter.secret_selectors``, e.g. a one-time-code
field the portal names ``code``). :func:`redact` blanks secret keys in API bodies.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import textwrap
from pathlib import Path
from typing import Any

from collections.abc import Iterable
from typing import TYPE_CHECKING

from playwright.sync_api import Error as PlaywrightError

from portals.errors import PortalError

if TYPE_CHECKING:
    from playwright.sync_api import Page

#: Fields whose content must never appear in a screenshot, whatever the adapter.
SECRET_FIELDS: tuple[str, ...] = (
    "input[type=password]",
    "input[autocomplete=one-time-code]",
    "input[autocomplete=current-password]",
)

#: Keys (lower case, any depth) whose values :func:`redact` replaces in recorded API bodies.
SECRET_KEYS = frozenset(
    {
        "password",
        "client_secret",
        "secret",
        "access_token",
        "refresh_token",
        "token",
        "authorization",
        "code",
        "otp",
        "totp",
        "api_key",
    }
)
#: a key holding one of these anywhere in its name is secret too (``id_token``,
#: ``X-Auth-Token``, ``Set-Cookie``, ``apiSecret``, ``session_password``, ``x-api-key``, ...)
SECRET_PARTS = ("password", "passwd", "secret", "token", "authorization", "cookie", "api_key",
                "api-key", "apikey", "private_key", "assertion", "session")
REDACTED = "**********"


def redact(value: Any, keys: Iterable[str] = ()) -> Any:
    """``value`` (JSON-like) with the values of secret keys replaced by ``**********``."""
    secret = SECRET_KEYS | {k.lower() for k in keys}
    if isinstance(value, dict):
        return {
            k: REDACTED if _is_secret(str(k).lower(), secret) else redact(v, secret)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(v, secret) for v in value]
    return value


def _is_secret(key: str, secret: frozenset[str] | set[str]) -> bool:
    return key in secret or any(part in key for part in SECRET_PARTS)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


class EvidenceRecorder:
    """Screenshots and ``manifest.json`` in one write-once directory."""

    def __init__(
        self,
        directory: Path,
        *,
        adapter: str,
        operation: str,
        base_url: str,
        claim_key: str | None = None,
        sent: dict[str, Any] | None = None,
        mask: Iterable[str] = (),
    ):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.manifest_path = self.dir / "manifest.json"
        if self.manifest_path.exists():
            raise PortalError(
                f"evidence directory {self.dir} is already used; refusing to "
                "overwrite its evidence",
                portal=adapter,
                step=operation,
            )
        self.screenshots: list[Path] = []
        #: the CSS selector of every field masked in screenshots (ours and the adapter's)
        self.mask_selector = ", ".join(dict.fromkeys([*SECRET_FIELDS, *mask]))
        self.data: dict[str, Any] = {
            "adapter": adapter,
            "operation": operation,
            "base_url": base_url,
            "claim_key": claim_key,
            "started_at": _now(),
            "sent": sent,  # what the forms were filled with: fields, file names and hashes
            "steps": [],
            "outcome": None,
        }
        # the manifest's text up to its steps; where the closing lines start (bytes)
        head = json.dumps({k: v for k, v in self.data.items() if k not in ("steps", "outcome")},
                          indent=2, default=str)
        self._end = self._create((head[:-2] + ',\n  "steps": [').encode("utf-8"))

    def snap(self, page: Page, step: str, **details: Any) -> Path | None:
        """Screenshot the page (secrets masked) and record the step; never raises."""
        n = len(self.data["steps"]) + 1
        path = self.dir / f"{n:02d}-{step}.png"
        entry: dict[str, Any] = {"n": n, "step": step, "at": _now(), "url": page.url, **details}
        try:
            # mask whenever a secret field is on the page (sign-in, one-time code); masking
            # costs about as much as the screenshot itself, so pages without one skip it
            secrets = page.locator(self.mask_selector)
            mask = [secrets] if secrets.count() else []
            page.screenshot(path=str(path), full_page=True, mask=mask)
            entry["screenshot"] = path.name
            self.screenshots.append(path)
        except PlaywrightError as err:  # a failed screenshot must not hide the real outcome
            entry["screenshot_error"] = err.message.splitlines()[0]
            path = None  # type: ignore[assignment]
        self._append(entry)
        return path

    def mark(self, page: Page, step: str, **details: Any) -> None:
        """Record a browser step without a screenshot: its url, the page's title and the time;
        never raises. For form-filling steps, where a full-page screenshot is not worth its
        cost; sign-in, the page before the final click, the receipt and errors are snapped."""
        entry: dict[str, Any] = {"url": page.url}
        try:
            entry["title"] = page.title()
        except PlaywrightError as err:
            entry["title_error"] = err.message.splitlines()[0]
        self.note(step, **entry, **details)

    def last_is_screenshot(self) -> bool:
        """Whether the last step recorded is a screenshot (taken, or tried and failed)."""
        steps = self.data["steps"]
        return bool(steps) and ("screenshot" in steps[-1] or "screenshot_error" in steps[-1])

    def note(self, step: str, **details: Any) -> None:
        """Record a step without a screenshot (retries, callbacks, downloads)."""
        self._append({"n": len(self.data["steps"]) + 1, "step": step, "at": _now(), **details})

    def exchange(
        self, step: str, *, request: Any = None, response: Any = None, **details: Any
    ) -> None:
        """Record an API call: the request and response bodies, secrets redacted."""
        self.note(step, request=redact(request), response=redact(response), **details)

    def finish(self, outcome: str, **details: Any) -> None:
        """Record the outcome of the operation (``accepted``, ``error``...)."""
        self.data["outcome"] = {"result": outcome, "at": _now(), **details}
        self._put(b"")

    # -- the manifest, written in place ------------------------------------------------------
    def _create(self, head: bytes) -> int:
        """Write the new manifest (refused if one appeared meanwhile); returns ``len(head)``."""
        try:
            fd = os.open(self.manifest_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            raise PortalError(
                f"evidence directory {self.dir} is already used; refusing to "
                "overwrite its evidence",
                portal=self.data["adapter"],
                step=self.data["operation"],
            ) from None
        try:
            os.write(fd, head + self._closing())
        finally:
            os.close(fd)
        self._size = len(head) + len(self._closing())
        return len(head)

    def _append(self, entry: dict[str, Any]) -> None:
        """Add a step: the steps so far stay as written, the closing lines follow the new one."""
        self.data["steps"].append(entry)
        text = textwrap.indent(json.dumps(entry, indent=2, default=str), "    ")
        self._put((",\n" if len(self.data["steps"]) > 1 else "\n").encode() + text.encode())

    def _put(self, step: bytes) -> None:
        """One ``pwrite`` at the end of the steps: ``step`` (may be empty), then the closing
        lines (with the outcome, once known). The file only grows, but for an outcome replaced
        by a shorter one."""
        data = step + self._closing()
        fd = os.open(self.manifest_path, os.O_WRONLY)
        try:
            os.pwrite(fd, data, self._end)
            if self._end + len(data) < self._size:  # a second, shorter outcome: cut the rest
                os.ftruncate(fd, self._end + len(data))
        finally:
            os.close(fd)
        self._end += len(step)
        self._size = self._end + len(data) - len(step)

    def _closing(self) -> bytes:
        """The manifest's lines after its steps: the list's end, the outcome (null until known)."""
        outcome = json.dumps(self.data["outcome"], indent=2, default=str).replace("\n", "\n  ")
        return f'\n  ],\n  "outcome": {outcome}\n}}'.encode()
