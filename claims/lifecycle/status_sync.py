"""Scheduled status sync: what the portal says about every submitted claim, recorded as events.

``claims status sync`` is made for cron. It takes a lock so two runs never overlap (a file lock
on SQLite; a PostgreSQL advisory lock for a team database), reads every claim's status in one
bulk export, records each change as an event with its time, fetches payment advice for paid
claims, and sets the expected payment date of approved claims (approval + the contract's
payment days).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import text

from claims.errors import SyncLocked
from claims.core.models import ClaimStatus
from portals.base import PortalAdapter, PortalStatus, StatusReport

if TYPE_CHECKING:  # only a type here: the workspace composes this slice
    from claims.workspace import Workspace

log = structlog.get_logger("claims.lifecycle.status_sync")

#: The adapters' fixed status vocabulary (each adapter maps its portal's words to it), mapped
#: to our claim statuses.
PORTAL_STATUS: dict[str, ClaimStatus] = {
    PortalStatus.SUBMITTED: ClaimStatus.SUBMITTED, PortalStatus.UNDER_REVIEW:
    ClaimStatus.UNDER_REVIEW, PortalStatus.RETURNED: ClaimStatus.RETURNED,
    PortalStatus.APPROVED: ClaimStatus.APPROVED,
    PortalStatus.PAYMENT_ORDERED: ClaimStatus.PAYMENT_ORDERED, PortalStatus.PAID: ClaimStatus.PAID,
    PortalStatus.REJECTED: ClaimStatus.REJECTED,
}

#: Statuses whose claims the portal knows (and so a sync looks at).
TRACKED = {ClaimStatus.SUBMITTED, ClaimStatus.UNDER_REVIEW, ClaimStatus.RETURNED,
           ClaimStatus.APPROVED, ClaimStatus.PAYMENT_ORDERED}

_PG_LOCK_KEY = 0x434C4D53  # "CLMS"


@dataclass
class SyncResult:
    seen: int = 0
    changed: list[dict[str, Any]] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    unknown_on_portal: list[int] = field(default_factory=list)
    error: str | None = None  # the portal could not be synced at all (unreachable, no login)

    @property
    def ok(self) -> bool:
        return not self.failed and self.error is None

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "error": self.error, "seen": self.seen, "changed": self.changed,
                "failed": {str(k): v for k, v in self.failed.items()},
                "not_on_portal": self.unknown_on_portal}


@contextmanager
def sync_lock(ws: Workspace) -> Iterator[None]:
    """Hold the status-sync lock or raise :class:`SyncLocked` at once (never wait)."""
    engine = ws.store.engine
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            if not conn.execute(text("SELECT pg_try_advisory_lock(:k)"),
                                {"k": _PG_LOCK_KEY}).scalar():
                raise SyncLocked("another status sync is running (PostgreSQL advisory lock)")
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK_KEY})
                conn.commit()
        return
    path = ws.root / ".status-sync.lock"
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SyncLocked(f"another status sync is running (lock {path})") from None
        yield
    finally:
        os.close(fd)


def tracked_portals(ws: Workspace) -> list[str]:
    """The portals that hold at least one claim a sync looks at, sorted."""
    store = ws.store
    contracts = {c.contract_number for c in store.claims_with_status([s.value for s in TRACKED])}
    return sorted({store.get_contract(number).portal for number in contracts})


def apply_reports(ws: Workspace, reports: list[StatusReport], *,
                  today: date | None = None, portal: str | None = None) -> SyncResult:
    """Record what changed between our claims (those on ``portal``, when given) and the
    portal's reports."""
    store = ws.store
    by_key = {(r.contract_number, r.invoice_number): r for r in reports}
    by_ref = {r.reference: r for r in reports}
    result = SyncResult(seen=len(reports))
    on_portal: dict[str, bool] = {}
    for claim in store.claims_with_status([s.value for s in TRACKED]):
        if portal is not None:
            if claim.contract_number not in on_portal:
                on_portal[claim.contract_number] = (
                    store.get_contract(claim.contract_number).portal == portal)
            if not on_portal[claim.contract_number]:
                continue
        report = by_ref.get(claim.portal_reference or "") or by_key.get(
            (claim.contract_number, claim.invoice_number))
        if report is None:
            result.unknown_on_portal.append(claim.id)
            continue
        try:
            status = PORTAL_STATUS[report.status]
        except KeyError:
            result.failed[claim.id] = f"unknown portal status {report.status!r}"
            continue
        if status is claim.status:
            continue
        detail: dict[str, Any] = {"from": claim.status.value,
                                  "portal_status": report.portal_status or str(report.status),
                                  "portal_time": report.status_at, "comments": report.comments}
        if status is ClaimStatus.APPROVED:
            contract = store.get_contract(claim.contract_number)
            approved = (report.status_at.date() if report.status_at else today or date.today())
            detail["expected_payment_date"] = approved + timedelta(
                days=contract.payment_terms.days)
        if report.paid_amount is not None:
            detail |= {"paid_amount": report.paid_amount, "paid_date": report.paid_date,
                       "payment_reference": report.payment_reference}
        store.record_event(claim.id, "status.changed", status=status, actor=ws.actor,
                           detail=detail, portal_reference=report.reference)
        ws.record_evidence(kind="status.changed", claim=str(claim.id),
                              metadata={k: str(v) if v is not None else None
                                        for k, v in detail.items() if k != "comments"}
                              | {"comments": report.comments})
        result.changed.append({"claim": claim.id, "from": claim.status.value,
                               "to": status.value, "reference": report.reference})
    return result


def sync_statuses(ws: Workspace, adapter: PortalAdapter, *,
                  portal: str | None = None) -> SyncResult:
    """One locked sync run: bulk-fetch statuses, record changes (of the claims on ``portal``,
    when given), fetch payment advice."""
    with sync_lock(ws):
        reports = adapter.fetch_statuses()
        result = apply_reports(ws, reports, portal=portal)
        for change in result.changed:
            if change["to"] == ClaimStatus.PAID.value:
                _payment_advice(ws, adapter, change)
    log.info("status.synced", seen=result.seen, changed=len(result.changed),
             failed=len(result.failed))
    return result


def _payment_advice(ws: Workspace, adapter: PortalAdapter, change: dict[str, Any]) -> None:
    """Download the portal's documents for a paid claim into the evidence archive."""
    dest = ws.evidence_dir / "portal" / f"claim-{change['claim']:06d}" / "payment-advice"
    dest.mkdir(parents=True, exist_ok=True)
    try:
        files = adapter.download_documents(change["reference"], dest)
    except Exception as err:  # noqa: BLE001 - advice is a bonus; the status change stands
        log.warning("status.payment_advice_failed", claim=change["claim"], error=str(err))
        return
    ws.record_evidence(kind="payment.advice", claim=str(change["claim"]),
                          metadata={"reference": change["reference"]},
                          files={p.name: p for p in files})
