"""Fault injection for the sandbox portal, from a small spec string.

Spec: items separated by ``;``, each ``kind=target[,target...]`` (or a bare ``maintenance``).
A target may end in ``*N`` to fire only N times, then clear itself.

=================  ==============================================  =========================
kind               target                                          effect
=================  ==============================================  =========================
``latency``        seconds, optionally ``@step,step``              every (or those) page(s) wait
``http500``        step                                            HTTP 500 before any work
``lost_response``  ``final_submit``                                claim stored, then a 502
``expire_session`` step                                            session ends at that step
``fail_upload``    document type                                   that upload fails with 503
``maintenance``    (none)                                          every page: 503 maintenance
``no_duplicate``   (none)                                          no duplicate-invoice check
=================  ==============================================  =========================

Steps: ``login``, ``totp``, ``contract``, ``invoice``, ``upload``, ``review``, ``final_submit``,
``list``, ``export``, ``claim``, ``receipt``, ``resubmit``; the JSON API's ``api_token``,
``api_upload``, ``api_submit`` (``lost_response`` too), ``api_search``, ``api_consult``.

Example: ``latency=0.5;http500=upload*1;lost_response=final_submit;fail_upload=timesheet``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

KINDS = ("latency", "http500", "lost_response", "expire_session", "fail_upload", "maintenance",
         "no_duplicate")
STEPS = (
    "login", "totp", "contract", "invoice", "upload", "review", "final_submit",
    "list", "export", "claim", "receipt", "resubmit",
    # the JSON API (portals.sandbox.web.api): token, file upload, deposit, search, consultation
    "api_token", "api_upload", "api_submit", "api_search", "api_consult",
)  # fmt: skip


class FaultSpecError(ValueError):
    """The fault spec does not parse; ``item`` is the offending part."""

    def __init__(self, item: str, reason: str):
        self.item = item
        super().__init__(f"fault spec item {item!r}: {reason}")


@dataclass
class Faults:
    """The live fault set; ``fire`` consumes counted faults."""

    spec: str = ""
    latency: float = 0.0  # ok: seconds of injected delay, not money
    latency_steps: frozenset[str] | None = None
    maintenance: bool = False
    #: off (``no_duplicate``): the portal files the same invoice twice, as many real ones do
    duplicate_check: bool = True
    #: kind -> target -> remaining count (None: unlimited)
    rules: dict[str, dict[str, int | None]] = field(default_factory=dict)

    @classmethod
    def parse(cls, spec: str | None) -> Faults:
        """Parse a spec; FaultSpecError names the bad item."""
        faults = cls(spec=spec or "")
        for raw in (spec or "").split(";"):
            item = raw.strip()
            if not item:
                continue
            kind, _, value = item.partition("=")
            kind = kind.strip()
            if kind not in KINDS:
                raise FaultSpecError(item, f"unknown kind {kind!r} (known: {', '.join(KINDS)})")
            if kind in ("maintenance", "no_duplicate"):
                on = value.strip().lower() not in ("0", "off", "false")
                if kind == "maintenance":
                    faults.maintenance = on
                else:
                    faults.duplicate_check = not on
                continue
            if not value.strip():
                raise FaultSpecError(item, "needs a value")
            if kind == "latency":
                seconds, _, steps = value.partition("@")
                try:
                    faults.latency = float(seconds)  # ok: seconds
                except ValueError as err:
                    raise FaultSpecError(item, "latency must be seconds") from err
                if steps:
                    faults.latency_steps = frozenset(s.strip() for s in steps.split(","))
                continue
            targets = faults.rules.setdefault(kind, {})
            for target in value.split(","):
                name, _, count = target.strip().partition("*")
                if kind != "fail_upload" and name not in STEPS:
                    raise FaultSpecError(item, f"unknown step {name!r} (steps: {', '.join(STEPS)})")
                try:
                    targets[name] = int(count) if count else None
                except ValueError as err:
                    raise FaultSpecError(item, "count after * must be an integer") from err
        return faults

    def delay_for(self, step: str) -> float:
        """Seconds to wait before serving ``step``."""
        if self.latency and (self.latency_steps is None or step in self.latency_steps):
            return self.latency
        return 0.0

    def fire(self, kind: str, target: str) -> bool:
        """True when fault ``kind`` applies to ``target`` now (consuming one count)."""
        targets = self.rules.get(kind, {})
        if target not in targets:
            return False
        remaining = targets[target]
        if remaining is not None:
            if remaining <= 1:
                del targets[target]
            else:
                targets[target] = remaining - 1
        return True

    def describe(self) -> dict[str, object]:
        return {
            "spec": self.spec,
            "latency": self.latency,
            "latency_steps": sorted(self.latency_steps) if self.latency_steps else None,
            "maintenance": self.maintenance,
            "duplicate_check": self.duplicate_check,
            "rules": self.rules,
        }
