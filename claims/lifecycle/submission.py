"""Submitting claims through a portal — never twice.

A claim moves READY → SUBMITTING → SUBMITTED (with the portal's reference), or
REJECTED_BY_PORTAL (with the portal's messages), or NEEDS_ATTENTION::

    lease the claim ─► status SUBMITTING or UNKNOWN? ─► reconcile: find_claim on the portal
                                                         ├─ found ─► SUBMITTED (reference)
                                                         ├─ not found, intent younger than
                                                         │  [lease] settle_seconds ─► UNKNOWN
                                                         │  (waits for a later run's lookup)
                                                         └─ not found, older ─► submit again
    submit: adapter retries its steps before the final click; right before it clicks, our
    ``on_final_submit`` persists the intent (status SUBMITTING, attempt count) — fenced: only
    if this worker still holds the lease at the version it took (see claims.lifecycle.leases),
    else LeaseLost is raised and the adapter does not click. After that, any failure — a
    timeout, a 5xx, a lost response, a crash of this very process — leaves the claim
    SUBMITTING/UNKNOWN, and only a portal lookup decides what happens next.

The lease is renewed by a heartbeat while the worker works on the claim. What is left: the
few statements between the fenced write's commit and the adapter sending the click. A worker
paused (SIGSTOP, a frozen VM) for longer than the lease exactly there, or a click request held
in flight longer than the settle time, can still meet a taken-over claim; ``settle_seconds``
covers the second, nothing here covers the first (docs/deployment.md).

Once filed, the claim's last write (``submission.finished`` evidence, SUBMITTED, the lease given
back) runs in the worker's background writer (:mod:`claims.lifecycle.writer`) while the next
claim's files go to the portal; the next intent waits for it, and the claim's outcome is
reported only once it is written. A kill before it leaves the claim SUBMITTING: reconciled.

A rejected password is never retried (real portals lock the account): the run stops.
Every step is recorded as a claim event and, with its screenshots and receipt, as evidence.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from claims.core.models import Claim, ClaimStatus

from claims.errors import (
    ConflictError, EvidenceFailed, InputError, LeaseLost,
)
from claims.lifecycle.leases import Heartbeat, Lease, holder, release, take_lease, worker_id
from claims.lifecycle.outcomes import Outcome, SubmitSummary, failure_message
from claims.lifecycle.writer import Writer
from portals.base import PackageFile, PortalAdapter, Receipt, SubmissionPackage, check_package
from portals.errors import (
    AlreadySubmitted, AuthenticationFailed, BrowserNotFound, NotSupported, OutcomeUnknown,
    PortalError, PortalRejected, PortalTimeout, PortalUnavailable,
)
from claims.lifecycle.adapters import adapter_settings, default_adapter_factory  # noqa: F401

if TYPE_CHECKING:  # only types here: the workspace composes this slice
    from sqlalchemy import Connection

    from claims.workspace import Workspace

log = structlog.get_logger("claims.lifecycle.submission")

#: Statuses a submit run picks up: ready ones, and those whose last outcome is not known.
SUBMITTABLE = (ClaimStatus.READY.value, ClaimStatus.SUBMITTING.value, ClaimStatus.UNKNOWN.value)


AdapterFactory = Callable[["Workspace", str], PortalAdapter]


def package_for(ws: Workspace, claim: Claim) -> SubmissionPackage:
    """The portal package of a built claim: form fields from claim.json, files from the bag."""
    if not claim.bundle_path:
        raise ConflictError(f"claim {claim.id} has no bundle; run `claims claim build "
                            f"{claim.id}` first")
    bag = Path(claim.bundle_path).with_suffix("")
    data = json.loads((bag / "data" / "claim.json").read_text(encoding="utf-8"))
    inv = data["invoice"]
    start = data.get("period", {}).get("start") or inv["issue_date"]
    end = data.get("period", {}).get("end") or inv["issue_date"]
    files = [PackageFile(document_type=d["type"], path=bag / "data" / d["file"],
                         filename=Path(d["file"]).name, sha256=d["sha256"])
             for d in data["documents"]]
    return SubmissionPackage(claim_key=f"claim-{claim.id}", contract_number=claim.contract_number,
                             invoice_number=claim.invoice_number,
                             invoice_date=inv["issue_date"], period_start=start, period_end=end,
                             currency=data["contract"]["currency"], net=inv["net"],
                             vat=inv["vat"], total=inv["total"], files=files)


def _evidence_dir(ws: Workspace, claim_id: int) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = ws.evidence_dir / "portal" / f"claim-{claim_id:06d}" / stamp
    path.mkdir(parents=True, exist_ok=True)
    return path


def _record_evidence(ws: Workspace, claim_id: int, kind: str, metadata: dict[str, Any],
                     files: dict[str, Path] | None = None,
                     within: Callable[[Connection], Any] | None = None) -> None:
    """Record in the evidence archive; ``within(conn)``: a claim write committed with it."""
    ws.record_evidence(kind=kind, claim=str(claim_id), metadata=metadata,
                       files=files or {}, within=within)


@dataclass
class _Job:
    """One leased claim being worked on by one worker."""

    ws: Workspace
    adapter: PortalAdapter
    claim: Claim
    lease: Lease | None = None
    beat: Heartbeat | None = None
    #: takes the claim's last write (``submission.finished``) to run in the background
    defer: Callable[[Callable[[], None]], None] | None = None
    #: waits for the writes deferred before (called before the intent)
    settle: Callable[[], None] | None = None

    @property
    def id(self) -> int:
        return self.claim.id

    def check(self) -> None:
        """Raise LeaseLost when the heartbeat found the lease gone: stop work on the claim."""
        if self.beat is not None:
            self.beat.check()

    def event(self, kind: str, status: ClaimStatus | None = None, *, fenced: bool = False,
              **detail: Any) -> None:
        """Record an event; ``fenced``: only while this worker holds the lease (else LeaseLost),
        for what is decided before the click, so a stale worker cannot undo its successor."""
        fence = self.lease.fence() if fenced and self.lease is not None else None
        self.ws.store.record_event(self.id, kind, status=status, actor=self.ws.actor,
                                   detail=detail, fence=fence)


def submit_one(ws: Workspace, adapter: PortalAdapter, claim_id: int, *,
               lease: Lease | None = None, beat: Heartbeat | None = None,
               claim: Claim | None = None, writer: Writer | None = None,
               defer: Callable[[Callable[[], None]], None] | None = None) -> Outcome:
    """Submit (or reconcile) one leased claim. Raises AuthenticationFailed to stop a run.

    With ``lease`` the SUBMITTING intent is fenced on it, and ``beat`` (its heartbeat) is
    checked between steps: a lost lease ends the work on the claim (LeaseLost) before any click.
    ``claim``: the claim as read after the lease was taken (read here when not given), so one
    job reads it once; every write that matters is still fenced on the lease. ``defer``: takes
    the claim's last write once filed, instead of running it here (see
    :mod:`claims.lifecycle.writer`); the intent first waits for ``writer``'s earlier writes.
    """
    if claim is None or claim.id != claim_id:
        claim = ws.store.get_claim(claim_id)
    if claim.status.value in (ClaimStatus.SUBMITTING.value, ClaimStatus.UNKNOWN.value) and \
            not claim.events:  # read without its history (get_claim_brief): reconciling needs it
        claim = ws.store.get_claim(claim_id)
    job = _Job(ws, adapter, claim, lease, beat, defer, writer.settle if writer else None)
    if job.claim.status.value in (ClaimStatus.SUBMITTING.value, ClaimStatus.UNKNOWN.value):
        settled = _reconcile(job)
        if settled is not None:
            return settled
    elif job.claim.status.value != ClaimStatus.READY.value:
        raise ConflictError(f"claim {claim_id} is {job.claim.status.value}, not READY")
    job.check()
    package = package_for(ws, job.claim)
    problems = check_package(package, adapter.limits)
    if problems:
        job.event("submission.refused", ClaimStatus.NEEDS_ATTENTION, fenced=True,
                  problems=problems)
        return Outcome(claim_id, ClaimStatus.NEEDS_ATTENTION.value, message="; ".join(problems))
    return _file(job, package)


def _last_intent(claim: Claim) -> datetime | None:
    intents = [e.at for e in claim.events if e.kind == "submission.intent"]
    return max(intents) if intents else None


def _reconcile(job: _Job) -> Outcome | None:
    """Look a SUBMITTING/UNKNOWN claim up on the portal; None means: file it (again)."""
    claim = job.claim
    # a claim with a portal reference that is to be submitted again was returned and corrected
    resubmission = claim.portal_reference is not None
    found = job.adapter.find_claim(claim.contract_number, claim.invoice_number)
    if found is not None and not (resubmission and found.status == "returned"):
        job.ws.store.record_event(job.id, "submission.reconciled", status=ClaimStatus.SUBMITTED,
                                  actor=job.ws.actor,
                                  detail={"reference": found.reference,
                                          "portal_status": found.status},
                                  portal_reference=found.reference)
        _record_evidence(job.ws, job.id, "submission.reconciled",
                         {"reference": found.reference, "found": True})
        return Outcome(job.id, ClaimStatus.SUBMITTED.value, found.reference,
                       "found on the portal", reconciled=True)
    _record_evidence(job.ws, job.id, "submission.reconciled", {"found": False})
    intent = _last_intent(claim)
    settle = timedelta(seconds=job.ws.settings.lease.settle_seconds)
    if intent is not None and datetime.now(UTC) < intent + settle:
        # the earlier attempt may still show up: the portal's list can lag behind its filing
        retry_after = (intent + settle).isoformat(timespec="seconds")
        why = (f"not on the portal yet, but the last attempt (intent at "
               f"{intent.isoformat(timespec='seconds')}) is younger than the settle time "
               f"({settle.total_seconds():g} s); looked up again by a run after {retry_after}")
        job.event("submission.waiting", ClaimStatus.UNKNOWN, fenced=True, reason=why,
                  intent_at=intent.isoformat(), retry_after=retry_after)
        return Outcome(job.id, ClaimStatus.UNKNOWN.value, message=why)
    log.info("submission.not_found_resubmitting", claim=job.id)
    return None


@dataclass
class _Intent:
    """The ``on_final_submit`` hook: the intent is durable before the click, and written only
    while this worker holds the lease (else LeaseLost, and the adapter does not click).

    The claim's SUBMITTING (with its attempt count) is written inside the transaction of its
    ``submission.started`` evidence: one commit right before the final request, not two. An
    attempt stopped before it (a portal error, a lost lease) records ``submission.started``
    on its own, marked ``final_request_sent: false`` (:meth:`unsent`)."""

    job: _Job
    attempts: int
    resubmission: bool
    started: dict[str, Any]
    written: bool = False

    def __call__(self) -> None:
        job = self.job
        if job.settle is not None:   # the worker's last claim's write, done before this one's
            job.settle()
        job.check()
        began = time.monotonic()
        fence = job.lease.fence() if job.lease is not None else None

        def submitting(conn: Connection) -> None:
            job.ws.store.record_event(job.id, "submission.intent", status=ClaimStatus.SUBMITTING,
                                      actor=job.ws.actor, fence=fence, conn=conn,
                                      detail={"attempt": self.attempts,
                                              "resubmission": self.resubmission},
                                      attempts=self.attempts)

        _record_evidence(job.ws, job.id, "submission.started", self.started, within=submitting)
        self.written = True
        if job.lease is None:
            return
        took = time.monotonic() - began
        job.lease.deadline = max(job.lease.deadline, began + job.lease.ttl.total_seconds())
        if took > job.lease.ttl.total_seconds() / 3:
            # paused or stalled around the write: the lease may have lapsed since; do not click
            # (the intent stays: the claim is reconciled by a lookup, never filed blind)
            raise LeaseLost(job.id, job.lease.owner, f"the fenced write took {took:.1f} s")

    def unsent(self) -> None:
        """The attempt's ``submission.started`` when it stopped before its intent."""
        if not self.written:
            _record_evidence(self.job.ws, self.job.id, "submission.started",
                             self.started | {"final_request_sent": False})


def _file(job: _Job, package: SubmissionPackage) -> Outcome:
    """Run the adapter's wizard and final click; map what happens to the claim's status."""
    ws, claim = job.ws, job.claim
    evidence = _evidence_dir(ws, job.id)
    # the lease read the count when it was taken (one query fewer per claim)
    attempts = (job.lease.attempts if job.lease is not None
                else ws.store.get_claim_attempts(job.id)) + 1
    on_final_submit = _Intent(job, attempts, claim.portal_reference is not None, {
        "attempt": attempts, "invoice": claim.invoice_number,
        "contract": claim.contract_number, "files": len(package.files),
        "resubmission_of": claim.portal_reference})
    try:
        if claim.portal_reference is not None:
            receipt = job.adapter.resubmit(claim.portal_reference, package, evidence,
                                           on_final_submit)
        else:
            receipt = job.adapter.submit(package, evidence, on_final_submit)
    except (PortalError, LeaseLost) as err:
        on_final_submit.unsent()
        if isinstance(err, AuthenticationFailed) or not isinstance(err, PortalError):
            raise
        return _portal_error(job, err, evidence)
    files = _screens(evidence)
    if receipt.receipt_pdf:
        files["receipt.pdf"] = Path(receipt.receipt_pdf)
    if job.defer is not None:
        job.defer(lambda: _finished(job, receipt, files))
    else:
        _finished(job, receipt, files)
    return Outcome(job.id, ClaimStatus.SUBMITTED.value, receipt.reference,
                   receipt.portal_message)


def _finished(job: _Job, receipt: Receipt, files: dict[str, Path]) -> None:
    """Filed: the claim SUBMITTED with its reference and the lease given back, committed in the
    transaction of its ``submission.finished`` evidence (one transaction per claim, not two;
    its files are made durable before). Should the evidence fail, the claim still says
    SUBMITTED (written alone), and the failure is raised."""
    ws = job.ws

    def submitted(conn: Connection | None) -> None:
        ws.store.record_event(job.id, "submission.finished", status=ClaimStatus.SUBMITTED,
                              actor=ws.actor, detail={"reference": receipt.reference,
                                                      "submitted_at": receipt.submitted_at,
                                                      "message": receipt.portal_message},
                              portal_reference=receipt.reference, conn=conn,
                              release=job.lease.owner if job.lease is not None else None)

    try:
        _record_evidence(ws, job.id, "submission.finished",
                         {"reference": receipt.reference,
                          "submitted_at": receipt.submitted_at.isoformat(),
                          "portal_message": receipt.portal_message}, files, within=submitted)
    except EvidenceFailed:
        if ws.store.get_claim_brief(job.id).status is not ClaimStatus.SUBMITTED:
            submitted(None)  # rolled back with the evidence: written alone
        raise
    if job.lease is not None:
        job.lease.released = True


def _portal_error(job: _Job, err: PortalError, evidence: Path) -> Outcome:
    """What a portal error (other than refused credentials) means for the claim."""
    ws, claim_id = job.ws, job.id
    if isinstance(err, NotSupported):   # nothing was sent: a person must do it on the portal
        job.event("submission.not_supported", ClaimStatus.NEEDS_ATTENTION, fenced=True,
                  error=str(err), capability=err.capability)
        return Outcome(claim_id, ClaimStatus.NEEDS_ATTENTION.value, message=str(err))
    if isinstance(err, AlreadySubmitted):
        found = job.adapter.find_claim(job.claim.contract_number, job.claim.invoice_number)
        reference = found.reference if found else getattr(err, "reference", None)
        if reference:
            ws.store.record_event(claim_id, "submission.reconciled",
                                  status=ClaimStatus.SUBMITTED, actor=ws.actor,
                                  detail={"reference": reference, "portal_said": str(err)},
                                  portal_reference=reference)
            return Outcome(claim_id, ClaimStatus.SUBMITTED.value, reference,
                           "the portal already had it", reconciled=True)
        job.event("submission.unknown", ClaimStatus.UNKNOWN, portal_said=str(err))
        return Outcome(claim_id, ClaimStatus.UNKNOWN.value, message=str(err))
    if isinstance(err, PortalRejected):
        messages = list(getattr(err, "messages", []) or [str(err)])
        job.event("submission.rejected", ClaimStatus.REJECTED_BY_PORTAL, messages=messages)
        _record_evidence(ws, claim_id, "submission.rejected", {"messages": messages},
                         _screens(evidence))
        return Outcome(claim_id, ClaimStatus.REJECTED_BY_PORTAL.value, message="; ".join(messages))
    if isinstance(err, OutcomeUnknown):
        job.event("submission.unknown", ClaimStatus.UNKNOWN, error=str(err))
        _record_evidence(ws, claim_id, "submission.outcome_unknown", {"error": str(err)},
                         _screens(evidence))
        return Outcome(claim_id, ClaimStatus.UNKNOWN.value, message=str(err))
    current = ws.store.get_claim(claim_id).status
    if current is ClaimStatus.SUBMITTING:   # failed after the intent: we cannot know
        job.event("submission.unknown", ClaimStatus.UNKNOWN, error=str(err))
        return Outcome(claim_id, ClaimStatus.UNKNOWN.value, message=str(err))
    job.event("submission.failed", error=str(err), step=getattr(err, "step", None))
    return Outcome(claim_id, current.value, message=str(err), unreachable=_unreachable(err))


def _unreachable(err: PortalError) -> bool:
    """The portal could not be reached at all (no connection: refused, no route, DNS; or no
    answer in time, a blackholed address: :class:`PortalTimeout`, raised before the final
    click only), as opposed to one that answered (a 5xx, its maintenance page) or no browser
    here. The one decision behind ``claim submit``'s exit 3."""
    if isinstance(err, PortalTimeout):
        return True
    return (isinstance(err, PortalUnavailable) and not isinstance(err, BrowserNotFound)
            and err.step != "browser" and err.status is None and not err.maintenance)


def _screens(folder: Path) -> dict[str, Path]:
    """The adapter's step files under neutral names: a step called e.g. "totp" (its code field
    masked in the picture) must not make the archive's secret guard refuse the record."""
    try:
        with os.scandir(folder) as entries:  # one listing, no stat per file (glob + is_file);
            # hidden files skipped, as glob("*") did
            files = sorted(Path(e.path) for e in entries
                           if e.is_file() and not e.name.startswith("."))
    except FileNotFoundError:
        return {}
    return {f"step-{i:02d}{p.suffix}": p for i, p in enumerate(files, start=1)}


@dataclass
class _Run:
    """What the workers of one ``submit_claims`` call share."""

    ws: Workspace
    ids: list[int] | None
    factory: AdapterFactory
    progress: Callable[[Outcome], None] | None
    ttl: timedelta
    summary: SubmitSummary = field(default_factory=SubmitSummary)
    handled: set[int] = field(default_factory=set)  # each claim once per run
    #: contract number -> its portal, read once per run (not once per claim)
    portals: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def report(self, outcome: Outcome) -> None:
        with self.lock:
            self.summary.outcomes.append(outcome)
        (log.info if outcome.ok else log.warning)(
            "claim.submission", claim=outcome.claim_id, status=outcome.status,
            reference=outcome.reference, reconciled=outcome.reconciled,
            unreachable=outcome.unreachable, message=outcome.message)
        if self.progress:
            self.progress(outcome)


def _adapter_for(run: _Run, adapters: dict[str, PortalAdapter], claim: Claim) -> PortalAdapter:
    """This worker's adapter for the claim's portal: one per (worker, portal), made on first use."""
    portal = run.portals.get(claim.contract_number)
    if portal is None:
        portal = run.ws.store.get_contract(claim.contract_number).portal
        with run.lock:
            run.portals[claim.contract_number] = portal
    if portal not in adapters:
        adapters[portal] = run.factory(run.ws, portal)
    return adapters[portal]


def _work_on(run: _Run, adapters: dict[str, PortalAdapter], lease: Lease, beat: Heartbeat,
             writer: Writer) -> tuple[Outcome, Callable[[], None] | None]:
    """Submit one leased claim under the worker's heartbeat; give the lease back, unless the
    claim was filed: then its last write (which gives it back) is returned, to run later."""
    claim_id, store = lease.claim_id, run.ws.store
    later: list[Callable[[], None]] = []
    beat.watch(lease)
    try:
        # read once, in the lease's own transaction, without documents and history
        claim = lease.claim or store.get_claim_brief(claim_id)
        return submit_one(run.ws, _adapter_for(run, adapters, claim), claim_id, lease=lease,
                          beat=beat, claim=claim, writer=writer,
                          defer=later.append), (later[0] if later else None)
    except AuthenticationFailed:
        raise
    except LeaseLost as err:
        # raised only before the final click (a heartbeat's finding, a fenced write, the
        # intent's own check), wherever the worker was when it noticed
        now = store.get_claim(claim_id)
        return Outcome(claim_id, now.status.value, now.portal_reference,
                       f"{err}; nothing was clicked"), None
    except Exception as err:  # noqa: BLE001 - one claim's failure must not stop the batch
        return _failed(run, claim_id, err), None
    finally:
        beat.watch(None)
        if not lease.released and not later:
            release(store.engine, claim_id, lease.owner)


def _failed(run: _Run, claim_id: int, err: Exception) -> Outcome:
    """The outcome of a claim whose work failed: its status now, and what went wrong."""
    now = run.ws.store.get_claim(claim_id)
    return Outcome(claim_id, now.status.value, now.portal_reference,
                   message=failure_message(err))


def _finish_task(run: _Run, outcome: Outcome, finish: Callable[[], None],
                 lease: Lease) -> Callable[[], None]:
    """The background task of a filed claim: its last write, the lease given back, and then,
    only then, its outcome reported (with the failure, should the write fail)."""
    def task() -> None:
        done = outcome
        try:
            finish()
        except Exception as err:  # noqa: BLE001 - as _work_on: the claim's failure is its outcome
            try:
                done = _failed(run, lease.claim_id, err)
            except Exception:  # noqa: BLE001 - the database is away: say what is known
                done = Outcome(lease.claim_id, ClaimStatus.SUBMITTED.value, outcome.reference,
                               message=failure_message(err))
        finally:
            if not lease.released:
                release(run.ws.store.engine, lease.claim_id, lease.owner)
        run.report(done)
    return task


def _worker(run: _Run) -> None:
    """Lease claims one at a time until none is left (or the run stops). A filed claim's last
    write runs in the worker's :class:`Writer` once the next lease is taken (so the two never
    wait on each other's lock), while the next claim's files go to the portal."""
    owner = worker_id()
    adapters: dict[str, PortalAdapter] = {}
    writer, held = Writer(), None
    # one heartbeat thread renews each of this worker's leases in turn (not a thread per claim)
    try:
        with Heartbeat(run.ws.store.engine, ttl=run.ttl) as beat:
            while run.summary.stopped is None:
                with run.lock:
                    exclude = set(run.handled)
                try:
                    lease = take_lease(run.ws.store.engine, owner, SUBMITTABLE, only=run.ids,
                                       exclude=exclude, ttl=run.ttl, read=True)
                finally:
                    if held is not None:
                        writer.start(held)
                        held = None
                if lease is None:
                    return
                with run.lock:
                    run.handled.add(lease.claim_id)
                try:
                    outcome, finish = _work_on(run, adapters, lease, beat, writer)
                except AuthenticationFailed as err:
                    run.summary.stopped = f"the portal refused the credentials: {err}"
                    return
                if finish is not None:
                    held = _finish_task(run, outcome, finish, lease)
                    continue
                run.report(outcome)
                if not outcome.ok and outcome.status == ClaimStatus.READY.value:
                    # a failure before the final click: leave it READY for the next run,
                    # but do not take it again in this one
                    return
    finally:
        if held is not None:
            writer.start(held)
        writer.close()
        for adapter in adapters.values():
            adapter.close()


def _not_done(run: _Run) -> None:
    """Report the claims asked for that this run did not do, and why (held, or run stopped)."""
    store = run.ws.store
    reported = {o.claim_id for o in run.summary.outcomes}
    if run.ids is not None:  # only the ones not reported are read again
        wanted = [store.get_claim(i) for i in run.ids if i not in reported]
    elif run.summary.stopped is not None:
        wanted = store.claims_with_status(list(SUBMITTABLE))
    else:
        return
    for claim in wanted:
        if claim.id in reported:
            continue
        held = holder(store.engine, claim.id)
        if run.summary.stopped is not None:
            message = f"not done: the run stopped ({run.summary.stopped})"
        elif held is not None:
            message = (f"held by another worker ({held[0]}) until "
                       f"{held[1].isoformat(timespec='seconds')}; not submitted by this run")
        else:
            message = f"not done: it is {claim.status.value}"
        run.summary.outcomes.append(Outcome(claim.id, claim.status.value,
                                            claim.portal_reference, message))


def submit_claims(ws: Workspace, *, ids: list[int] | None = None, workers: int = 1,
                  adapter_factory: AdapterFactory | None = None,
                  progress: Callable[[Outcome], None] | None = None) -> SubmitSummary:
    """Submit READY claims (and reconcile SUBMITTING/UNKNOWN ones) with ``workers`` workers.

    Each worker has its own adapter per portal (browser) and leases claims one at a time, so no
    two workers — in this process or any other on the same database — take the same claim.
    Claims asked for by id that another worker holds, and every claim a stopped run did not
    do, are reported with why (so the summary is not ok).
    """
    if workers < 1:
        raise InputError("must be 1 or more", field="--workers", rule="positive")
    run = _Run(ws, ids, adapter_factory or default_adapter_factory, progress, lease_ttl(ws))
    if workers == 1:
        _worker(run)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for future in [pool.submit(_worker, run) for _ in range(workers)]:
                future.result()
    _not_done(run)
    run.summary.outcomes.sort(key=lambda o: o.claim_id)
    done = run.summary.outcomes
    (log.info if run.summary.ok else log.warning)(
        "submission.run", workers=workers, claims=len(done),
        submitted=sum(o.ok for o in done), not_submitted=[o.claim_id for o in done if not o.ok],
        stopped=run.summary.stopped)
    return run.summary


def lease_ttl(ws: Workspace) -> timedelta:
    """How long a worker holds a claim (``[lease] seconds`` or ``CLAIMS_LEASE_SECONDS``, default
    600). The heartbeat renews it every third of that while the worker lives; after it a
    crashed (or paused) worker's claim is taken up and reconciled."""
    return timedelta(seconds=ws.settings.lease.seconds)
