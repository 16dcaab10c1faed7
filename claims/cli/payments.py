"""``claims payments …``: import bank statements, review uncertain matches, undo, reconcile."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import typer

from claims import api
from claims.cli.common import (
    MAX_ID, JsonOption, emit_json, known_format, parse_amount, parse_date, workspace_from,
)

app = typer.Typer(no_args_is_help=True,
                  help="Cash application: statements in, payments matched, reviewed, undone.")
review_app = typer.Typer(help="The review queue: accept, change or reject proposed matches.")
mapping_app = typer.Typer(no_args_is_help=True, help="Saved CSV column mappings per bank.")
app.add_typer(review_app, name="review")
app.add_typer(mapping_app, name="mapping")


@app.command("import")
def import_(ctx: typer.Context,
            file: Path = typer.Argument(..., help="camt.053 XML, MT940 or CSV statement"),
            fmt: str = typer.Option(None, "--format", help=f"{' | '.join(api.statement_formats())} "
                                    "(default: guessed from the content)"),
            bank: str = typer.Option(None, "--bank", help="the saved CSV mapping to use"),
            dry_run: bool = typer.Option(False, "--dry-run", help="match, but keep nothing"),
            as_json: bool = JsonOption) -> None:
    """Import a bank statement: new credits are matched, applied when certain, else queued.
    Importing the same statement again adds nothing.

    Example: claims payments import statement-2026-11-20.xml --format camt053
    """
    known_format(fmt, api.statement_formats())
    summary = api.import_statement(workspace_from(ctx), file, fmt=fmt, bank=bank,
                                   dry_run=dry_run)
    if as_json:
        emit_json({**summary.to_json(), "dry_run": dry_run})
        return
    if summary.duplicate:
        typer.echo(f"{file}: imported before; nothing added")
        return
    typer.echo(f"{file} ({summary.format}): {summary.lines} credit line(s), {summary.added} new, "
               f"{summary.already_known} already known, {summary.debits_skipped} debit(s) "
               f"skipped; applied {summary.applied}, to review {summary.review}, unmatched "
               f"{summary.unmatched}{' (dry run: nothing kept)' if dry_run else ''}")
    for skip in summary.not_booked:
        stmt = f"{skip['statement']} ({skip['id']})" if skip["id"] else skip["statement"]
        sums = "; ".join(f"{side} " + ", ".join(f"{c} {a}" for c, a in skip[side].items())
                         for side in ("credits", "debits") if skip.get(side))
        typer.echo(f"  not imported: {skip['entries']} {skip['status']} "
                   f"entr{'y' if skip['entries'] == 1 else 'ies'} of {stmt} ({skip['reason']})"
                   + (f": {sums}" if sums else ""))
    if summary.reversed or summary.reversals_review or summary.reversals_unmatched:
        typer.echo(f"  reversals: {summary.reversed} reopened their invoices, "
                   f"{summary.reversals_review} to review, {summary.reversals_unmatched} "
                   "matching no payment (claims payments reversals)")
    for m in summary.matches:
        typer.echo(f"  #{m['payment_id']} {m['currency']} {m['amount']}: {m['status']} "
                   f"[{m['confidence']}] {m['reason']}")


@review_app.callback(invoke_without_command=True)
def review(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """List the payments waiting for a decision (with the proposed match and its reason).

    Example: claims payments review
    """
    if ctx.invoked_subcommand:
        return
    queue = api.review_queue(workspace_from(ctx))
    if as_json:
        emit_json(queue)
        return
    if not queue:
        typer.echo("nothing to review")
    for item in queue:
        proposal = ", ".join(f"{a['invoice'] or 'on account'} {a['amount']} ({a['kind']})"
                             for a in item["proposal"]) or "no proposal"
        typer.echo(f"#{item['payment_id']} {item['value_date']} {item['currency']} "
                   f"{item['amount']} from {item['payer_name'] or '?'} "
                   f"[{item['confidence']}] {item['reason']} → {proposal}")


@review_app.command("accept")
def accept(ctx: typer.Context, payment_id: int = typer.Argument(..., max=MAX_ID),
           as_json: bool = JsonOption) -> None:
    """Apply the proposed match. Example: claims payments review accept 12"""
    api.accept_match(workspace_from(ctx), payment_id)
    _done(as_json, payment_id, "accepted")


def _parse_invoice(spec: str) -> tuple[str, Decimal | None]:
    number, _, amount = spec.partition("=")
    if not amount:
        return number.strip(), None
    return number.strip(), parse_amount(amount.strip(), f"--invoice {spec}")


@review_app.command("change")
def change(ctx: typer.Context, payment_id: int = typer.Argument(..., max=MAX_ID),
           invoice: list[str] = typer.Option(..., "--invoice",
                                             help="INVOICE or INVOICE=AMOUNT, repeatable"),
           note: str = typer.Option("", "--note", help="why (recorded)"),
           as_json: bool = JsonOption) -> None:
    """Apply the payment to other invoices; what is left goes on account.

    Example: claims payments review change 12 --invoice INV-7=400.00 --invoice INV-9
    """
    allocations = api.change_match(workspace_from(ctx), payment_id,
                                   [_parse_invoice(i) for i in invoice], note=note)
    _done(as_json, payment_id, "changed", [a.to_json() for a in allocations])


@review_app.command("reject")
def reject(ctx: typer.Context, payment_id: int = typer.Argument(..., max=MAX_ID),
           note: str = typer.Option("", "--note", help="why (recorded)"),
           as_json: bool = JsonOption) -> None:
    """Reject the proposal: the payment stays unapplied.

    Example: claims payments review reject 12 --note "not ours"
    """
    api.reject_match(workspace_from(ctx), payment_id, note=note)
    _done(as_json, payment_id, "rejected")


@app.command("undo")
def undo(ctx: typer.Context, payment_id: int = typer.Argument(..., max=MAX_ID),
         note: str = typer.Option("", "--note", help="why (recorded)"),
         as_json: bool = JsonOption) -> None:
    """Undo every application of a payment; it goes back to review.

    Example: claims payments undo 12 --note "wrong customer"
    """
    count = api.undo_payment(workspace_from(ctx), payment_id, note=note)
    _done(as_json, payment_id, "undone", undone=count)


@app.command("history")
def history(ctx: typer.Context, payment_id: int = typer.Argument(..., max=MAX_ID),
            as_json: bool = JsonOption) -> None:
    """Every recorded step of a payment. Example: claims payments history 12"""
    events = api.payment_history(workspace_from(ctx), payment_id)
    if as_json:
        emit_json(events)
        return
    for e in events:
        typer.echo(f"{e['at']:%Y-%m-%d %H:%M} {e['kind']} by {e['actor'] or '?'}: "
                   f"{json.dumps(e['detail'], default=str)}")


def _done(as_json: bool, payment_id: int, status: str,
          allocations: list[dict[str, object]] | None = None, **extra: object) -> None:
    if as_json:
        emit_json({"payment_id": payment_id, "status": status,
                   **({"allocations": allocations} if allocations is not None else {}), **extra})
    else:
        typer.echo(f"payment {payment_id}: {status}")


@app.command("reversals")
def reversals_cmd(ctx: typer.Context,
                  status: str = typer.Option(None, "--status",
                                             help="reversed | review | unmatched (default: all)"),
                  as_json: bool = JsonOption) -> None:
    """Credits the bank returned, and the payment each one reopened (or its candidates).

    Example: claims payments reversals --status review
    """
    rows = api.payment_reversals(workspace_from(ctx), status=status)
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        what = (f"payment #{r['payment_id']}" if r["payment_id"] else
                "candidates " + (", ".join(f"#{c}" for c in r["candidates"]) or "none"))
        typer.echo(f"reversal {r['reversal_id']} {r['value_date']} {r['currency']} "
                   f"{r['amount']:,.2f} {r['payer_name'] or ''}: {r['status']}, {what}")


@app.command("reverse")
def reverse_cmd(ctx: typer.Context, reversal_id: int = typer.Argument(..., max=MAX_ID),
                payment: int = typer.Option(..., "--payment", max=MAX_ID,
                                            help="the payment it returned"),
                as_json: bool = JsonOption) -> None:
    """Name the payment a reversal in review returned: its invoices open again.

    Example: claims payments reverse 3 --payment 12
    """
    count = api.resolve_reversal(workspace_from(ctx), reversal_id, payment)
    _done(as_json, payment, "reversed", undone=count, reversal_id=reversal_id)


@app.command("reconcile")
def reconcile_cmd(ctx: typer.Context,
                  customer: str = typer.Option(None, "--customer", help="only this customer"),
                  as_of: str = typer.Option(None, "--as-of",
                                            help="YYYY-MM-DD (default: today)"),
                  as_json: bool = JsonOption) -> None:
    """Per customer: invoiced, claimed, paid, open, and every unexplained difference, as of a
    date: invoices issued and payments received (value date) by then, as kpi and followup
    receivables count them.

    Example: claims payments reconcile --customer "Ministry of Works" --as-of 2026-11-30
    """
    rows = api.reconciliation(workspace_from(ctx), customer=customer,
                              as_of=parse_date(as_of, "--as-of"))
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        # amounts come at their currency's minor units (ISO 4217: JPY 0), shown as kpi does
        typer.echo(f"{r['customer'] or '(unidentified payer)'} {r['currency']}: invoiced "
                   f"{r['invoiced']:,}, claimed {r['claimed']:,}, paid {r['paid']:,}, "
                   f"written off {r['written_off']:,}, open {r['open']:,}, unapplied "
                   f"{r['unapplied']:,}")
        for d in r["differences"]:
            what = d.get("invoice") or f"payment #{d.get('payment_id')}"
            typer.echo(f"  {d['kind']}: {what} {d['amount']:,}")


@mapping_app.command("set")
def mapping_set(ctx: typer.Context, bank: str = typer.Argument(..., help="a name for the bank"),
                file: Path = typer.Argument(..., help="mapping JSON: columns, date_format, …"),
                as_json: bool = JsonOption) -> None:
    """Save a bank's CSV column mapping.

    Example: claims payments mapping set sparkasse sparkasse.json
    """
    data = api.read_mapping_file(file)
    mapping = api.save_bank_mapping(workspace_from(ctx), bank, data, file=str(file))
    if as_json:
        emit_json({"bank": bank, "mapping": mapping.model_dump()})
    else:
        typer.echo(f"saved the CSV mapping of {bank}")


@mapping_app.command("show")
def mapping_show(ctx: typer.Context, bank: str = typer.Argument(...)) -> None:
    """Print a bank's saved CSV mapping as JSON. Example: claims payments mapping show sparkasse"""
    emit_json(api.bank_mapping(workspace_from(ctx), bank).model_dump())
