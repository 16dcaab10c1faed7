"""``claims claim submit``, ``claims status sync``, ``claims portal sandbox`` and ``claims portal
conformance``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.progress import Progress

from claims import api
from claims.api import ClaimsError
from claims.cli.common import (
    MAX_ID, JsonOption, emit_json, err_console, run_server, workspace_from,
)

status_app = typer.Typer(no_args_is_help=True, help="Portal status of submitted claims.")
portal_app = typer.Typer(no_args_is_help=True, help="Portals: run the sandbox portal.")

def submit(ctx: typer.Context,
           claim_id: int = typer.Argument(None, max=MAX_ID, metavar="ID", help="Claim id."),
           all_: bool = typer.Option(False, "--all", help="Every READY claim (and reconcile "
                                                          "SUBMITTING/UNKNOWN ones)."),
           workers: int = typer.Option(1, "--workers", min=1, help="Parallel browser workers."),
           dry_run: bool = typer.Option(False, "--dry-run",
                                        help="Show what would be submitted; touch nothing."),
           as_json: bool = JsonOption) -> None:
    """Submit claims through their contract's portal in headless Chromium, never twice.

    Exit codes: 0 every claim submitted; 3 the portal could not be reached (refused, or no
    answer in time) for any claim tried (nothing was sent: try again later); 1 anything else
    that was not submitted.
    Example: claims claim submit --all --workers 2 --json
    """
    ws = workspace_from(ctx)
    if dry_run:
        plan = api.submission_plan(ws, claim_id, all_=all_)
        if as_json:
            emit_json({"dry_run": True, "claims": plan})
        else:
            for p in plan:
                typer.echo(f"claim {p['id']}: would {p['action']} ({p['invoice']})")
            typer.echo(f"{len(plan)} claim(s) would be submitted")
        return
    show = not as_json and err_console.is_terminal
    with Progress(console=err_console, disable=not show, transient=True) as progress:
        task = progress.add_task("submitting", total=None)
        summary = api.submit_claims(ws, claim_id, all_=all_, workers=workers,
                                    progress=lambda o: progress.advance(task))
    if as_json:
        emit_json(summary.to_json())
    else:
        for o in summary.outcomes:
            ref = f" {o.reference}" if o.reference else ""
            note = " (found on the portal)" if o.reconciled else ""
            typer.echo(f"claim {o.claim_id}: {o.status}{ref}{note}"
                       + (f" — {o.message}" if o.message and not o.ok else ""))
        ok = sum(o.ok for o in summary.outcomes)
        typer.echo(f"{ok} submitted, {len(summary.outcomes) - ok} not")
        if summary.stopped:
            err_console.print(f"stopped: {escape(summary.stopped)}", highlight=False)
    if not summary.ok:
        raise typer.Exit(summary.exit_code)


@status_app.command("sync")
def sync(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """Read every tracked claim's status from its portal (one bulk export per portal holding
    tracked claims) and record changes; a failing portal is reported and the run goes on.

    Exit codes: 0 every portal synced; 1 a portal failed or some claims could not be mapped
    (the other portals' changes are recorded); 3 every portal visited failed; 4 another sync
    runs.
    Example (cron): */30 * * * * claims --workspace /srv/ws status sync --json >> sync.log
    """
    try:
        results = api.sync_statuses(workspace_from(ctx))
    except ClaimsError as err:  # JSON for the cron log too, then the one line on stderr
        failed = getattr(err, "results", {})  # every portal failed: each one's error
        if as_json:
            emit_json({"ok": False, "error": str(err), "exit_code": err.exit_code,
                       "portals": {p: r.to_json() for p, r in failed.items()}})
        else:
            _print_sync(failed)
        raise
    if as_json:
        emit_json({"ok": all(r.ok for r in results.values()),
                   "portals": {p: r.to_json() for p, r in results.items()}})
    else:
        if not results:
            typer.echo("no tracked claims: no portal visited")
        _print_sync(results)
    if not all(r.ok for r in results.values()):
        raise typer.Exit(1)


def _print_sync(results: dict) -> None:
    for portal, r in results.items():
        if r.error is not None:
            typer.echo(f"{portal}: FAILED: {r.error}")
            continue
        typer.echo(f"{portal}: {r.seen} on the portal, {len(r.changed)} changed, "
                   f"{len(r.failed)} failed")
        for c in r.changed:
            typer.echo(f"  claim {c['claim']}: {c['from']} -> {c['to']} ({c['reference']})")


@portal_app.command("sandbox", context_settings={"allow_extra_args": True,
                                                 "ignore_unknown_options": True})
def sandbox(ctx: typer.Context,
            host: str = typer.Option("127.0.0.1", "--host"),
            port: int = typer.Option(8765, "--port"),
            faults: str = typer.Option("", "--faults", help="e.g. 'latency=0.5;http500=upload'")
            ) -> None:
    """Run the sandbox portal (a real web app that behaves like a government e-claims portal).

    Example: claims portal sandbox --port 8765 --faults "lost_response=final_submit"
    """
    raise typer.Exit(run_server(api.sandbox_command(host, port, faults, ctx.args)))


@portal_app.command("conformance")
def conformance(name: str = typer.Argument(..., metavar="NAME",
                                           help="The adapter (and its fake portal) to test."),
                kills: int = typer.Option(3, "--kills", help="kill -9 runs (more: a longer run)."),
                only: list[str] = typer.Option([], "--only", help="Run just this scenario "
                                                                  "(repeatable)."),
                folder: Path = typer.Option(None, "--dir", help="Keep evidence, sessions and "
                                                                "logs here (default: a new "
                                                                "temporary folder)."),
                as_json: bool = JsonOption) -> None:
    """Run the conformance kit against an adapter and its own fake portal (registered under the
    `claims.conformance` entry points): happy path, lost response, kill -9, duplicate refused,
    wrong password, session expiry, maintenance, 5xx before the final click, single-use codes
    with several workers. A scenario the portal declares not applicable is shown as N/A with
    the reason. Exit 0 when every applicable scenario passed, 1 otherwise.

    Example: claims portal conformance sandbox --kills 10 --json
    """
    where, results = api.portal_conformance(name, folder, kills=kills, only=only)
    failed = any(r.failed for r in results)
    if as_json:
        emit_json({"ok": not failed, "folder": str(where),
                   "scenarios": [{"scenario": r.scenario, "ok": r.ok, "applicable": r.applicable,
                                  "detail": r.detail, "seconds": round(r.seconds, 1)}
                                 for r in results]})
    else:
        for r in results:
            word = "PASS" if r.ok else "FAIL" if r.applicable else "N/A "
            typer.echo(f"{word} {r.scenario:<22} {r.seconds:6.1f} s  {r.detail}")
        na = sum(not r.applicable for r in results)
        typer.echo(f"{sum(r.ok for r in results)} of {len(results) - na} passed"
                   + (f", {na} not applicable" if na else "") + f"; kept in {where}")
    if failed:
        raise typer.Exit(1)
