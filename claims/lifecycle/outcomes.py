"""What a submit run says of each claim (:class:`Outcome`) and of the run (``SubmitSummary``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from claims.core.models import ClaimStatus
from claims.errors import ClaimsError, PortalUnreachable
from portals.errors import PortalError


@dataclass
class Outcome:
    claim_id: int
    status: str
    reference: str | None = None
    message: str = ""
    reconciled: bool = False
    unreachable: bool = False   # failed because its portal could not be reached (try later)

    @property
    def ok(self) -> bool:
        return self.status == ClaimStatus.SUBMITTED.value


@dataclass
class SubmitSummary:
    outcomes: list[Outcome] = field(default_factory=list)
    stopped: str | None = None   # why the run stopped early (e.g. credentials refused)

    @property
    def ok(self) -> bool:
        return self.stopped is None and all(o.ok for o in self.outcomes)

    @property
    def exit_code(self) -> int:
        """0 all submitted; 3 (:class:`PortalUnreachable`'s, as ``status sync``) when the run
        did nothing because the portal could not be reached for any claim it tried; else 1."""
        if self.ok:
            return 0
        failed = [o for o in self.outcomes if not o.ok]
        if self.stopped is None and failed and len(failed) == len(self.outcomes) and all(
                o.unreachable for o in failed):
            return PortalUnreachable.exit_code
        return 1

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "stopped": self.stopped, "exit_code": self.exit_code,
                "claims": [o.__dict__ | {"ok": o.ok} for o in self.outcomes]}


def failure_message(err: Exception) -> str:
    """What a person reads of one claim's failure: an expected error's own message (a bad
    setting names its file and field), never its class name; an unexpected one (a bug) keeps
    its type, the one clue to it."""
    if isinstance(err, (ClaimsError, PortalError)):
        return str(err)
    return f"{type(err).__name__}: {err}"
