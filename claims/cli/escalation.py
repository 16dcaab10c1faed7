"""``claims escalation …``: legal action and write-off as a control. One person proposes,
another approves or rejects; an approval can be revoked; ``log`` is the decision log.
The person is the workspace's actor (``CLAIMS_ACTOR``, else ``actor`` in claims.toml).

Exit codes: 0 done; 1 refused (one line saying why); 2 usage error.
"""

from __future__ import annotations

import typer

from claims import api
from claims.cli.common import JsonOption, emit_json, parse_date as _date, workspace_from

escalation_app = typer.Typer(no_args_is_help=True, help="Legal action and write-off: propose, "
                                                        "approve, reject, revoke, log.")

AsOfOption = typer.Option(None, "--as-of", help="Act as on this date (YYYY-MM-DD; default today).")
InvoiceArg = typer.Argument(..., help="Invoice number.")


@escalation_app.command("list")
def escalation_list(ctx: typer.Context, as_of: str = AsOfOption,
                    as_json: bool = JsonOption) -> None:
    """Candidates for legal action or write-off by policy, each with its reasons.

    Example: claims escalation list --json
    """
    rows = api.escalation_candidates(workspace_from(ctx), _date(as_of, "--as-of"))
    if as_json:
        emit_json([r.to_json() for r in rows])
        return
    for r in rows:
        if r.action == "unconverted":
            continue
        proposed = (f"  [proposed {r.proposal['action']} by {r.proposal['by']}]"
                    if r.proposal else "")
        typer.echo(f"{r.action:9} {r.customer} {r.invoice} {r.currency} {r.open_amount}: "
                   + "; ".join(r.reasons) + proposed)
    apart = [r for r in rows if r.action == "unconverted"]
    if apart:
        typer.echo("not converted to the base currency (the rules cannot be applied):")
    for r in apart:
        typer.echo(f"  {r.customer} {r.invoice} {r.currency} {r.open_amount}: {r.reasons[0]}")


@escalation_app.command("propose")
def escalation_propose(ctx: typer.Context, invoice: str = InvoiceArg,
                       action: str = typer.Option(..., "--action", help="legal or write-off."),
                       reason: str = typer.Option(..., "--reason", help="Why it is proposed."),
                       as_of: str = AsOfOption, as_json: bool = JsonOption) -> None:
    """Propose legal action or a write-off for one invoice; someone else approves it.

    Example: claims escalation propose INV-3 --action write-off --reason "uneconomic to pursue"
    """
    entry = api.propose_escalation(workspace_from(ctx), invoice, action=action, reason=reason,
                                   as_of=_date(as_of, "--as-of"))
    emit_json(entry) if as_json else typer.echo(
        f"{action} of {invoice} proposed ({entry['currency']} {entry['amount']}) by "
        f"{entry['proposed_by']}; proposal #{entry['id']} awaits another person's approval")


@escalation_app.command("approve")
def escalation_approve(ctx: typer.Context, invoice: str = InvoiceArg,
                       action: str = typer.Option(None, "--action",
                                                  help="Check the proposal is this action."),
                       note: str = typer.Option("", "--note", help="A note on the decision."),
                       override: str = typer.Option(None, "--override-reason",
                                                    help="Approve although the rules do not "
                                                         "propose it (marked as an override)."),
                       as_of: str = AsOfOption, as_json: bool = JsonOption) -> None:
    """Approve the proposal on one invoice (not by its proposer). A write-off is posted
    against the invoice; legal action marks it "at legal" and stops reminders on it.

    Example: claims escalation approve INV-3 --note "agreed in the credit meeting"
    """
    entry = api.approve_escalation(workspace_from(ctx), invoice, note=note,
                                   override_reason=override, action=action,
                                   as_of=_date(as_of, "--as-of"))
    emit_json(entry) if as_json else typer.echo(
        f"{entry['action']} of {invoice} approved ({entry['currency']} {entry['amount']}) by "
        f"{entry['approved_by']}, proposed by {entry['proposed_by']}"
        + (" — OVERRIDE of the rules" if entry["override"] else ""))


@escalation_app.command("reject")
def escalation_reject(ctx: typer.Context, invoice: str = InvoiceArg,
                      reason: str = typer.Option(..., "--reason", help="Why it is rejected."),
                      as_json: bool = JsonOption) -> None:
    """Reject (or withdraw) the open proposal on one invoice.

    Example: claims escalation reject INV-3 --reason "customer agreed a plan"
    """
    entry = api.reject_escalation(workspace_from(ctx), invoice, reason=reason)
    emit_json(entry) if as_json else typer.echo(
        f"{entry['action']} of {invoice} rejected by {entry['decided_by']}")


@escalation_app.command("revoke")
def escalation_revoke(ctx: typer.Context, invoice: str = InvoiceArg,
                      reason: str = typer.Option(..., "--reason", help="Why it is revoked."),
                      as_json: bool = JsonOption) -> None:
    """Revoke an approved escalation: a write-off is undone (the invoice is open again), legal
    action ends and reminders resume.

    Example: claims escalation revoke INV-3 --reason "customer paid in full"
    """
    entry = api.revoke_escalation(workspace_from(ctx), invoice, reason=reason)
    emit_json(entry) if as_json else typer.echo(
        f"{entry['action']} of {invoice} revoked by {entry['decided_by']}")


@escalation_app.command("log")
def escalation_log(ctx: typer.Context,
                   customer: str = typer.Option(None, "--customer", help="Only this customer."),
                   invoice: str = typer.Option(None, "--invoice", help="Only this invoice."),
                   as_json: bool = JsonOption) -> None:
    """The decision log: every proposal, approval, rejection and revocation, oldest first.

    Example: claims escalation log --customer Acme
    """
    rows = api.escalation_log(workspace_from(ctx), customer=customer, invoice=invoice)
    if as_json:
        emit_json(rows)
        return
    if not rows:
        typer.echo("no escalation on record")
    for r in rows:
        typer.echo(f"{r['at']:%Y-%m-%d %H:%M} #{r['escalation']} {r['event']:8} {r['actor']}: "
                   f"{r['action']} {r['customer']} {r['invoice']} {r['currency']} "
                   f"{r['amount']}" + (" OVERRIDE" if r["override"] and r["event"] ==
                                        "approved" else "")
                   + (f" — {r['note']}" if r["note"] else "")
                   + (f" [evidence #{r['evidence']}]" if r["evidence"] is not None else ""))


def register(app: typer.Typer) -> None:
    """Add ``claims escalation`` to the root app."""
    app.add_typer(escalation_app, name="escalation")
