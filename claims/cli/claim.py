"""``claims claim …``: make, validate, build, list and show claims."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.progress import Progress

from claims import api
from claims.api import Claim, ClaimsError, Finding, InputError
from claims.cli.common import (
    MAX_ID, FormatOption, JsonOption, console, deprecated_spelling, emit_json, emit_rows,
    err_console,
    output_format, parse_date, workspace_from,
)

app = typer.Typer(no_args_is_help=True,
                  help="Claims: new, validate, build, submit, correct, withdraw, list, show.")

AsOf = typer.Option(None, "--as-of", help="Check as if submitting on this date (YYYY-MM-DD).")


def _pairs(values: list[str], flag: str) -> list[tuple[str, str]]:
    pairs = []
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key or not rest:
            raise InputError(f"{value!r} is not TYPE=VALUE", field=flag, rule="type=value")
        pairs.append((key.strip(), rest.strip()))
    return pairs


def _dates(values: list[str], flag: str) -> dict[str, date]:
    out = {}
    for key, text in _pairs(values, flag):
        out[key] = parse_date(text, f"{flag} {key}")
    return out


def claim_summary(claim: Claim) -> dict[str, Any]:
    return {"id": claim.id, "contract": claim.contract_number, "invoice": claim.invoice_number,
            "type": claim.claim_type, "status": claim.status.value,
            "portal_reference": claim.portal_reference, "bundle": claim.bundle_path}


@app.command("new")
def new(ctx: typer.Context,
        invoice: str = typer.Argument(None, metavar="INVOICE", help="Invoice number.",
                                      show_default=False),
        contract: str = typer.Option(..., "--contract", help="Contract number."),
        invoice_option: str = typer.Option(None, "--invoice", hidden=True,
                                           help="Deprecated: the invoice as an argument."),
        doc: list[str] = typer.Option([], "--doc", help="TYPE=FILE, once per document."),
        claim_type: str = typer.Option(None, "--type", help="Claim type (if several allowed)."),
        period: str = typer.Option(None, "--period", help="Service month, YYYY-MM."),
        milestone: str = typer.Option(None, "--milestone", help="Milestone name."),
        expiry: list[str] = typer.Option([], "--expiry", help="TYPE=YYYY-MM-DD expiry date."),
        issued: list[str] = typer.Option([], "--issued", help="TYPE=YYYY-MM-DD issue date."),
        as_json: bool = JsonOption) -> None:
    """Make a claim from a stored contract and invoice and its documents.

    Example: claims claim new INV-001 --contract C-123
    --doc invoice=inv.pdf --doc completion-certificate=cc.pdf
    """
    invoice = deprecated_spelling(invoice, invoice_option, old_flag="--invoice",
                                  new="the invoice as an argument: claims claim new INVOICE …",
                                  hint="INVOICE")
    claim = api.new_claim(workspace_from(ctx), contract, invoice, _pairs(doc, "--doc"),
                          claim_type=claim_type, period=period, milestone=milestone,
                          expiry=_dates(expiry, "--expiry"), issued=_dates(issued, "--issued"))
    if as_json:
        emit_json(claim_summary(claim) | {"documents": [d.model_dump(mode="json")
                                                        for d in claim.documents]})
    else:
        typer.echo(f"claim {claim.id}: {claim.claim_type} on {claim.contract_number} for "
                   f"{claim.invoice_number}, {len(claim.documents)} document(s), DRAFT")


@app.command("correct")
def correct(ctx: typer.Context,
            claim_id: int = typer.Argument(..., max=MAX_ID, metavar="ID", help="A RETURNED claim."),
            doc: list[str] = typer.Option([], "--doc", help="TYPE=FILE to replace, repeatable."),
            expiry: list[str] = typer.Option([], "--expiry", help="TYPE=YYYY-MM-DD expiry."),
            issued: list[str] = typer.Option([], "--issued", help="TYPE=YYYY-MM-DD issue date."),
            as_json: bool = JsonOption) -> None:
    """Correct a claim the agency returned: replace documents, then validate, build and
    submit it again (it is resubmitted under its portal reference).

    Example: claims claim correct 2 --doc completion-certificate=signed-cc.pdf
    """
    claim = api.correct_claim(workspace_from(ctx), claim_id, _pairs(doc, "--doc"),
                              expiry=_dates(expiry, "--expiry"),
                              issued=_dates(issued, "--issued"))
    if as_json:
        emit_json(claim_summary(claim))
    else:
        typer.echo(f"claim {claim.id}: corrected, DRAFT again (portal reference "
                   f"{claim.portal_reference}); validate, build and submit it")


def _batch(ids: list[int], work: Callable[[int], Any], *, label: str, quiet: bool,
           fail_fast: bool) -> tuple[dict[int, Any], dict[int, ClaimsError]]:
    """Run ``work`` per claim: keep going past failures (unless fail_fast), show progress."""
    done: dict[int, Any] = {}
    failed: dict[int, ClaimsError] = {}
    show = not quiet and err_console.is_terminal and len(ids) > 1
    with Progress(console=err_console, disable=not show, transient=True) as progress:
        task = progress.add_task(label, total=len(ids))
        for claim_id in ids:
            try:
                done[claim_id] = work(claim_id)
            except ClaimsError as err:
                failed[claim_id] = err
                if fail_fast:
                    break
            finally:
                progress.advance(task)
    return done, failed


def _batch_build(ws: api.Workspace, ids: list[int], out: Path | None, when: Any, *,
                 quiet: bool, fail_fast: bool) -> tuple[dict[int, Any], dict[int, ClaimsError]]:
    """``api.build_claims`` with the progress bar :func:`_batch` shows."""
    show = not quiet and err_console.is_terminal and len(ids) > 1
    with Progress(console=err_console, disable=not show, transient=True) as progress:
        task = progress.add_task("building", total=len(ids))
        done, failed = api.build_claims(ws, ids, out_dir=out, as_of=when, fail_fast=fail_fast,
                                        on_each=lambda _: progress.advance(task))
    return dict(done), dict(failed)


def _one_target(claim_id: int | None, all_: bool) -> None:
    """A claim ID or --all, exactly one: else a usage error (exit 2)."""
    if (claim_id is None) == (not all_):
        raise typer.BadParameter("give a claim ID or --all" if claim_id is None else
                                 "give a claim ID or --all, not both", param_hint="ID / --all")


def _print_findings(claim_id: int, findings: list[Finding]) -> None:
    errors = sum(f.is_error for f in findings)
    warnings = sum(f.severity == "warning" for f in findings)
    verdict = "[red]INVALID[/]" if errors else "[green]VALID[/]"
    console.print(f"claim {claim_id}: {verdict} ({errors} error(s), {warnings} warning(s))",
                  highlight=False)
    colour = {"error": "red", "warning": "yellow", "info": "dim"}
    for f in findings:
        console.print(f"  [{colour[f.severity]}]{escape(str(f))}[/]", highlight=False,
                      soft_wrap=True)


@app.command("validate")
def validate(ctx: typer.Context,
             claim_id: int = typer.Argument(None, max=MAX_ID, metavar="ID", help="Claim id."),
             all_: bool = typer.Option(False, "--all", help="Every claim."),
             as_of: str = AsOf,
             fail_fast: bool = typer.Option(False, "--fail-fast",
                                            help="Stop at the first failure."),
             as_json: bool = JsonOption) -> None:
    """Show every finding; exit 1 when any claim has an error finding.

    Example: claims claim validate --all --json
    """
    _one_target(claim_id, all_)
    ws = workspace_from(ctx)
    when = parse_date(as_of, "--as-of")
    done, failed = _batch(api.target_claims(ws, claim_id, all_),
                          lambda i: api.validate_claim(ws, i, as_of=when), label="validating",
                          quiet=as_json, fail_fast=fail_fast)
    invalid = [i for i, fs in done.items() if any(f.is_error for f in fs)]
    if as_json:
        emit_json({"ok": not invalid and not failed,
                   "claims": [{"id": i, "valid": i not in invalid,
                               "errors": sum(f.is_error for f in fs),
                               "findings": [f.to_json() for f in fs]} for i, fs in done.items()],
                   "failed": {str(i): str(e) for i, e in failed.items()}})
    else:
        for i, fs in done.items():
            _print_findings(i, fs)
        for i, e in failed.items():
            err_console.print(f"claim {i}: error: {escape(str(e))}", highlight=False)
        if len(done) + len(failed) > 1:
            typer.echo(f"{len(done) - len(invalid)} valid, {len(invalid)} invalid, "
                       f"{len(failed)} failed")
    if invalid or failed:
        raise typer.Exit(1)


@app.command("build")
def build(ctx: typer.Context,
          claim_id: int = typer.Argument(None, max=MAX_ID, metavar="ID", help="Claim id."),
          all_: bool = typer.Option(False, "--all", help="Every claim not yet submitted."),
          out: Path = typer.Option(None, "--out", help="Folder for bundles (default: bundles/)."),
          as_of: str = AsOf,
          dry_run: bool = typer.Option(False, "--dry-run", help="Validate only; build nothing."),
          fail_fast: bool = typer.Option(False, "--fail-fast", help="Stop at the first failure."),
          as_json: bool = JsonOption) -> None:
    """Build the bag folder and its .zip for valid claims; print both paths per claim.

    Example: claims claim build --all --out /tmp/bundles
    """
    _one_target(claim_id, all_)
    ws = workspace_from(ctx)
    when = parse_date(as_of, "--as-of")
    ids = api.target_claims(ws, claim_id, all_, unfrozen=True)

    if dry_run:
        done, failed = _batch(ids, lambda i: api.check_buildable(ws, i, as_of=when),
                              label="building", quiet=as_json, fail_fast=fail_fast)
    else:  # built in groups, one flush each (api.build_claims)
        done, failed = _batch_build(ws, ids, out, when, quiet=as_json, fail_fast=fail_fast)
    if as_json:
        emit_json({"ok": not failed, "dry_run": dry_run,
                   "built": [{"id": i, "directory": b.directory if b else None,
                              "zip": b.zip_path if b else None,
                              "bag_digest": b.bag_digest if b else None,
                              "reused": b.reused if b else False} for i, b in done.items()],
                   "failed": {str(i): str(e) for i, e in failed.items()}})
    else:
        for i, b in done.items():
            typer.echo(f"claim {i}: would build" if b is None else
                       f"claim {i}: bag {b.directory}, zip {b.zip_path}"
                       f"{' (unchanged)' if b.reused else ''}")
        for i, e in failed.items():
            err_console.print(f"claim {i}: error: {escape(str(e))}", highlight=False,
                              soft_wrap=True)
        if len(ids) > 1:
            typer.echo(f"{len(done)} built, {len(failed)} failed")
    if failed:
        raise typer.Exit(1)


@app.command("withdraw")
def withdraw(ctx: typer.Context, claim_id: int = typer.Argument(..., max=MAX_ID, metavar="ID"),
             reason: str = typer.Option(..., "--reason", help="Why (kept in history and "
                                                             "evidence)."),
             as_json: bool = JsonOption) -> None:
    """Withdraw a claim the portal never had; it no longer counts toward the contract's
    ceiling or as a duplicate, and stays in history and evidence.

    Example: claims claim withdraw 7 --reason "invoice cancelled by credit note CN-12"
    """
    claim = api.withdraw_claim(workspace_from(ctx), claim_id, reason=reason)
    if as_json:
        emit_json(claim_summary(claim))
    else:
        typer.echo(f"claim {claim.id}: WITHDRAWN ({reason})")


@app.command("list")
def list_(ctx: typer.Context,
          status: str = typer.Option(None, "--status", help="Only claims with this status."),
          fmt: str = FormatOption, as_json: bool = JsonOption) -> None:
    """List claims.

    Example: claims claim list --status READY --format csv
    """
    claims = api.list_claims(workspace_from(ctx), status)
    rows = [{"id": c.id, "contract": c.contract_number, "invoice": c.invoice_number,
             "type": c.claim_type, "status": c.status.value,
             "reference": c.portal_reference or ""} for c in claims]
    emit_rows(output_format(fmt, as_json), [claim_summary(c) for c in claims], rows,
              empty="no claims",
              columns=["id", "contract", "invoice", "type", "status", "reference"])


@app.command("show")
def show(ctx: typer.Context, claim_id: int = typer.Argument(..., max=MAX_ID, metavar="ID"),
         as_json: bool = JsonOption) -> None:
    """Show one claim with its documents and history.

    Example: claims claim show 1 --json
    """
    claim = api.get_claim(workspace_from(ctx), claim_id)
    if as_json:
        emit_json(claim.model_dump(mode="json"))
        return
    typer.echo(f"claim {claim.id}  {claim.status.value}  {claim.claim_type}")
    typer.echo(f"  contract {claim.contract_number}, invoice {claim.invoice_number}")
    if claim.period_start:
        typer.echo(f"  period {claim.period_start} – {claim.period_end}")
    if claim.milestone:
        typer.echo(f"  milestone {claim.milestone}")
    if claim.portal_reference:
        typer.echo(f"  portal reference {claim.portal_reference}")
    if claim.bundle_path:
        typer.echo(f"  bundle {claim.bundle_path} (bag digest {claim.bundle_sha256})")
    typer.echo("  documents:")
    for d in claim.documents:
        typer.echo(f"    {d.type:<26} {d.filename} ({d.size:,} bytes, {d.pages or '?'} page(s))")
    typer.echo("  history:")
    for e in claim.events:
        status = e.status.value if e.status else ""
        typer.echo(f"    {e.at:%Y-%m-%d %H:%M:%S}  {e.kind:<14} {status}"
                   f"  {e.actor}")
