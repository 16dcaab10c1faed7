"""Portal work as user actions: submit claims (never twice), plan a submission, sync statuses."""

from __future__ import annotations

import importlib
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from claims.api.web import check_port
from claims.errors import ConflictError, InputError, PortalUnreachable
from claims.lifecycle import status_sync, submission
from claims.lifecycle.status_sync import SyncResult
from claims.lifecycle.submission import Outcome, SubmitSummary
from claims.workspace import Workspace
from portals.conformance import SCENARIOS, Result, load_portal_under_test, run_all
from portals.errors import PortalError
from portals.registry import UnknownAdapter

__all__ = ["ConformanceResult", "Outcome", "SubmitSummary", "SyncResult", "portal_conformance",
           "sandbox_command", "submission_plan", "submit_claims", "sync_statuses"]

ConformanceResult = Result


def _targets(claim_id: int | None, all_: bool) -> list[int] | None:
    if (claim_id is None) == (not all_):
        raise InputError("give a claim ID or --all", field="ID", rule="one-target")
    return [claim_id] if claim_id is not None else None


def submission_plan(ws: Workspace, claim_id: int | None = None, *, all_: bool = False
                    ) -> list[dict[str, Any]]:
    """What a submit run would do (dry run): each claim with the action it would take."""
    ids = _targets(claim_id, all_)
    candidates = [c for c in ws.store.claims_with_status(list(submission.SUBMITTABLE))
                  if ids is None or c.id in ids]
    return [{"id": c.id, "status": c.status.value, "invoice": c.invoice_number,
             "action": "reconcile first" if c.status.value != "READY" else "submit"}
            for c in candidates]


def submit_claims(ws: Workspace, claim_id: int | None = None, *, all_: bool = False,
                  workers: int = 1,
                  progress: Callable[[Outcome], None] | None = None) -> SubmitSummary:
    """Submit one claim or every READY one through its contract's portal, never twice
    (SUBMITTING / UNKNOWN claims are reconciled on the portal first)."""
    ids = _targets(claim_id, all_)
    if ids:
        status = ws.store.get_claim(ids[0]).status.value
        if status not in submission.SUBMITTABLE:
            raise InputError(f"claim {ids[0]} is {status}; only READY claims are submitted "
                             "(build it first)", field="ID", rule="submittable-status")
    return submission.submit_claims(ws, ids=ids, workers=workers, progress=progress)


def sync_statuses(ws: Workspace, adapter_factory: submission.AdapterFactory | None = None
                  ) -> dict[str, SyncResult]:
    """Read the status of every tracked claim from its portal (one bulk export per portal that
    holds tracked claims; others are not visited) and record the changes; by portal name.

    A portal that fails (no credentials, unknown adapter, unreachable) gets a result with its
    ``error`` and the run goes on to the next one. :class:`PortalUnreachable` only when every
    portal visited failed; SyncLocked when another sync runs.
    """
    factory = adapter_factory or submission.default_adapter_factory
    results: dict[str, SyncResult] = {}
    for portal in status_sync.tracked_portals(ws):
        try:
            adapter = factory(ws, portal)
        except (PortalError, InputError) as err:
            results[portal] = SyncResult(error=str(err))
            continue
        try:
            results[portal] = status_sync.sync_statuses(ws, adapter, portal=portal)
        except PortalError as err:
            results[portal] = SyncResult(error=str(err))
        finally:
            adapter.close()
    failed = [p for p, r in results.items() if r.error is not None]
    if results and len(failed) == len(results):
        raise PortalUnreachable("; ".join(_named(p, results[p].error or "") for p in failed),
                                portal=failed[0], results=results)
    return results


def _named(portal: str, error: str) -> str:
    """``error`` prefixed with its portal's name once (an adapter's message may name it)."""
    return error if error.startswith(f"{portal}:") else f"{portal}: {error}"


def _importable(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


#: What the sandbox portal needs beyond the core install (the ``sandbox`` extra).
SANDBOX_MODULES = ("starlette", "uvicorn", "multipart", "itsdangerous")


def sandbox_command(host: str, port: int, faults: str = "",
                    extra_args: Sequence[str] = ()) -> list[str]:
    """The command line that serves the sandbox portal; a clear error naming the extra to
    install when its web stack is missing."""
    missing = [m for m in SANDBOX_MODULES if not _importable(m)]
    if missing:
        raise ConflictError(
            f"the sandbox portal is an optional part (missing: {', '.join(missing)}); "
            "install it with: pip install 'claimwright[sandbox]'")
    args = [sys.executable, "-m", "portals.sandbox", "serve", "--host", host, "--port",
            str(check_port(port))]
    if faults:
        args += ["--faults", faults]
    return args + list(extra_args)


def portal_conformance(name: str, folder: Path | None = None, *, kills: int = 3,
                       only: Sequence[str] = ()) -> tuple[Path, list[Result]]:
    """Run the conformance kit against adapter ``name`` and its fake portal (registered under
    ``claims.conformance``), in ``folder`` (default: a new temporary one; evidence, sessions and
    logs are kept there). Returns the folder and one result per scenario; a failing scenario
    does not stop the others."""
    unknown = [s for s in only if s not in SCENARIOS]
    if unknown:
        raise InputError(f"unknown scenario {unknown[0]!r} (scenarios: {', '.join(SCENARIOS)})",
                         field="--only", rule="known-scenario")
    if kills < 0:
        raise InputError("must be 0 or more", field="--kills", rule="non-negative")
    try:
        cls = load_portal_under_test(name)
    except UnknownAdapter as err:
        raise InputError(str(err), field="NAME", rule="conformance-registered") from None
    try:
        folder = folder or Path(tempfile.mkdtemp(prefix="conformance-"))
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError(f"cannot use this folder: {err.strerror}", file=str(folder),
                         field="--dir", rule="writable-folder") from None
    with cls.started(folder / "portal") as target:
        return folder, run_all(target, folder, kills=kills, only=list(only) or None)
