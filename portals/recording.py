"""Per-operation evidence, for every adapter: a screenshot at each browser step (secret fields
masked), a redacted request/response record at each API step, and a small JSON manifest of steps
and times, rewritten after every step so a crash still leaves a record.

The mask always covers every password field and every ``autocomplete="one-time-code"`` field,
plus the selectors the adapter adds (``PortalAdapter.secret_selectors``, e.g. a one-time-code
field the portal names ``code``). :func:`redact` blanks secret keys in API bodies.
"""

from __future__ import annotations

import datetime as dt
import json
import os
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
REDACTED = "**********"


def redact(value: Any, keys: Iterable[str] = ()) -> Any:
    """``value`` (JSON-like) with the values of secret keys replaced by ``**********``."""
    secret = SECRET_KEYS | {k.lower() for k in keys}
    if isinstance(value, dict):
        return {
            k: REDACTED if str(k).lower() in secret else redact(v, secret) for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(v, secret) for v in value]
    return value


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
        self._write()

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
        self.data["steps"].append(entry)
        self._write()
        return path

    def note(self, step: str, **details: Any) -> None:
        """Record a step without a screenshot (retries, callbacks, downloads)."""
        self.data["steps"].append(
            {"n": len(self.data["steps"]) + 1, "step": step, "at": _now(), **details}
        )
        self._write()

    def exchange(
        self, step: str, *, request: Any = None, response: Any = None, **details: Any
    ) -> None:
        """Record an API call: the request and response bodies, secrets redacted."""
        self.note(step, request=redact(request), response=redact(response), **details)

    def finish(self, outcome: str, **details: Any) -> None:
        """Record the outcome of the operation (``accepted``, ``error``...)."""
        self.data["outcome"] = {"result": outcome, "at": _now(), **details}
        self._write()

    def _write(self) -> None:
        tmp = self.manifest_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.data, indent=2, default=str), encoding="utf-8")
        os.replace(tmp, self.manifest_path)
