"""The ``claims`` command. Each sub-command parses, calls :mod:`claims.api`, and prints."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.completion import completion_init, get_completion_script

from claims import api
from claims.cli import (
    accounts, claim, contract, escalation, evidence, followup, forecast, invoice, payments, portal,
    rates, records, reports, web,
)
from claims.cli.common import (
    ClaimsGroup, JsonOption, configure_logging, emit_json, workspace_from,
)

app = typer.Typer(cls=ClaimsGroup, no_args_is_help=True, add_completion=False,
                  help="Claimwright: invoices to accepted government claims, collected and proven.")
app.add_typer(contract.app, name="contract")
app.add_typer(invoice.app, name="invoice")
app.add_typer(claim.app, name="claim")
claim.app.command("submit")(portal.submit)
app.add_typer(portal.status_app, name="status")
app.add_typer(portal.portal_app, name="portal")
app.add_typer(evidence.app, name="evidence")
app.add_typer(payments.app, name="payments")
app.add_typer(forecast.app, name="forecast")
app.command("kpi")(reports.kpi)
app.command("report")(reports.report)
app.add_typer(web.user_app, name="user")
app.command("serve")(web.serve)
followup.register(app)  # collections follow-up: followup, worklist, note, promise, plan, …
records.register(app)  # what is on record with a client: note, promise, plan, dispute
accounts.register(app)  # contact add/list/edit/remove, account show
escalation.register(app)  # legal action and write-off: propose, approve, reject, revoke, log
rates.register(app)  # exchange rates to the base currency


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"claims {api.version()}")
        raise typer.Exit()


@app.callback()
def root(ctx: typer.Context,
         workspace: Path = typer.Option(None, "--workspace", "-w", envvar="CLAIMS_WORKSPACE",
                                        help="Workspace folder (default: the current folder)."),
         verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress events."),
         _version: bool = typer.Option(False, "--version", is_eager=True,
                                       callback=_print_version,
                                       help="Print the version and exit.")
         ) -> None:
    ctx.obj = {"workspace_dir": workspace}
    configure_logging(verbose)


@app.command("init")
def init(directory: Path = typer.Argument(..., help="Folder to make the workspace in."),
         with_samples: bool = typer.Option(False, "--with-samples",
                                           help="Add a sample contract, invoices and PDFs."),
         database_url: str = typer.Option(None, "--database-url",
                                          help="SQLAlchemy URL (default: SQLite in the folder)."),
         as_json: bool = JsonOption) -> None:
    """Create a workspace.

    Example: claims init --with-samples ws
    """
    ws, samples = api.init_workspace(directory, database_url=database_url,
                                     with_samples=with_samples)
    if as_json:
        emit_json({"workspace": str(ws.root), "samples": samples})
    else:
        typer.echo(f"workspace ready: {ws.root}")
        if samples:
            typer.echo(f"samples: {samples['contract']} and invoices in {samples['folder']}")
            typer.echo(f"try: cd {ws.root} && claims claim validate --all")


#: shells ``claims completion`` writes a script for (Typer's completion classes)
SHELLS = ("bash", "zsh", "fish", "powershell", "pwsh")


@app.command("completion")
def completion(shell: str = typer.Argument(..., help="bash, zsh, fish or powershell.")) -> None:
    """Print the shell completion script; nothing is installed or edited.

    Example: eval "$(claims completion bash)"   (or add that line to ~/.bashrc)
    """
    if shell not in SHELLS:
        raise typer.BadParameter(f"{shell!r} is not one of {', '.join(SHELLS)}",
                                 param_hint="SHELL")
    typer.echo(get_completion_script(prog_name="claims", complete_var="_CLAIMS_COMPLETE",
                                     shell=shell))


@app.command("doctor")
def doctor(ctx: typer.Context,
           offline: bool = typer.Option(False, "--offline",
                                        help="Do not contact the mail server or the portals."),
           as_json: bool = JsonOption) -> None:
    """Check the workspace, settings, database, templates, SMTP, portals and browser, and say
    what to fix. Exit 1 when a check fails (warnings alone exit 0).

    Example: claims doctor --offline
    """
    checks = api.doctor(workspace_from(ctx), network=not offline)
    failed = any(c.state == "fail" for c in checks)
    if as_json:
        emit_json({"ok": not failed, "checks": [c.as_json() for c in checks]})
    else:
        for c in checks:
            typer.echo(f"{c.state:<4}  {c.name}: {c.message}")
            if c.fix:
                typer.echo(f"      fix: {c.fix}")
    if failed:
        raise typer.Exit(1)


def main() -> None:
    completion_init()  # `_CLAIMS_COMPLETE=complete_bash claims …` answers the shell
    app(prog_name="claims")
