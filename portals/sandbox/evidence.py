"""Per-operation evidence: a screenshot at each step (credential fields masked) and a small
JSON manifest of steps and times, rewritten after every step so a crash still leaves a record.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page

from portals.errors import PortalError

#: Fields whose content must never appear in a screenshot.
SECRET_FIELDS = (
    "input[type=password], input[autocomplete=one-time-code], input[autocomplete=current-password]"
)


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
            secrets = page.locator(SECRET_FIELDS)
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

    def finish(self, outcome: str, **details: Any) -> None:
        self.data["outcome"] = {"result": outcome, "at": _now(), **details}
        self._write()

    def _write(self) -> None:
        tmp = self.manifest_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.data, indent=2, default=str), encoding="utf-8")
        os.replace(tmp, self.manifest_path)
