"""``claims note|promise|plan|dispute …``: what is on record with a client. Each command
parses, calls :mod:`claims.api`, and prints."""

from __future__ import annotations

from datetime import date
from typing import Any

import typer

from claims import api
from claims.api import InputError
from claims.cli.common import (
    MAX_ID, AsOfOption, FormatOption, JsonOption, emit_json, emit_rows, output_format,
    parse_amount as _amount, parse_date as _date, parse_moment, workspace_from,
)

note_app = typer.Typer(no_args_is_help=True, help="Interaction log: calls, emails, notes.")
promise_app = typer.Typer(no_args_is_help=True, help="Promises to pay.")
plan_app = typer.Typer(no_args_is_help=True, help="Payment plans for overdue balances.")
dispute_app = typer.Typer(no_args_is_help=True, help="Disputes on invoices and claims.")


# -- notes ----------------------------------------------------------------------------------

@note_app.command("add")
def note_add(ctx: typer.Context, customer: str = typer.Argument(..., help="Customer name."),
             text: str = typer.Argument(..., help="What was said or done."),
             kind: str = typer.Option("note", "--kind", help="call, email, note, letter, "
                                                             "meeting, sms or visit."),
             direction: str = typer.Option(None, "--direction", help="outbound or inbound."),
             contact: str = typer.Option(None, "--contact",
                                         help="The customer's contact spoken to (name or id)."),
             outcome: str = typer.Option(None, "--outcome", help=(
                 "reached, no_answer, left_message, promised, disputed, refused, "
                 "callback_requested, paid_claimed, wrong_number or bounced; only one that "
                 "reached someone resets the silence clock.")),
             when: str = typer.Option(None, "--at", help="When it happened: YYYY-MM-DD or "
                                      "YYYY-MM-DDTHH:MM (UTC unless an offset is given); "
                                      "backdating allowed, not the future."),
             next_action: str = typer.Option(None, "--next-action",
                                             help="What to do next (a callback)."),
             next_date: str = typer.Option(None, "--next-action-date",
                                           help="When to do it (YYYY-MM-DD)."),
             invoice: str = typer.Option(None, "--invoice", help="About this invoice (the "
                                                                 "customer's own)."),
             as_json: bool = JsonOption) -> None:
    """Log a call, e-mail or note on an account (time and author are recorded).

    Example: claims note add Acme "Nobody picked up" --kind call --direction outbound
    --outcome no_answer --next-action "call again" --next-action-date 2026-07-02
    """
    ws = workspace_from(ctx)
    entry = api.add_note(ws, customer, text, kind=kind, invoice=invoice, direction=direction,
                         contact=contact, outcome=outcome, at=parse_moment(when, "--at"),
                         next_action=next_action,
                         next_action_date=_date(next_date, "--next-action-date"))
    emit_json(entry) if as_json else typer.echo(f"note {entry['id']} added to {customer}")


@note_app.command("list")
def note_list(ctx: typer.Context, customer: str = typer.Argument(..., help="Customer name."),
              as_json: bool = JsonOption) -> None:
    """The interaction log of an account, oldest first.

    Example: claims note list Acme
    """
    rows = api.list_notes(workspace_from(ctx), customer)
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        detail = " ".join(x for x in (r["direction"], r["contact"] and f"with {r['contact']}",
                                      r["outcome"]) if x)
        typer.echo(f"{r['at']:%Y-%m-%d %H:%M} {r['author']} [{r['kind']}"
                   + (f" {detail}" if detail else "") + f"] {r['summary']}"
                   + (f" → next: {r['next_action']} by {r['next_action_date']}"
                      if r["next_action_date"] else ""))


# -- promises -------------------------------------------------------------------------------

@promise_app.command("add")
def promise_add(ctx: typer.Context, customer: str = typer.Argument(..., help="Customer name."),
                amount: str = typer.Option(..., "--amount", help="Promised amount."),
                currency: str = typer.Option(..., "--currency", help="ISO currency code."),
                by_date: str = typer.Option(..., "--date", help="Promised payment date."),
                who: str = typer.Option(..., "--by", help="Who promised."),
                channel: str = typer.Option("call", "--channel", help="call, email, letter, "
                                                                      "meeting, portal, other."),
                as_of: str = AsOfOption, as_json: bool = JsonOption) -> None:
    """Record a promise to pay; it pauses reminders to the customer until its date. The date
    may not be past (before --as-of) nor the amount above what the customer has open in that
    currency.

    Example: claims promise add Acme --amount 1500 --currency USD --date 2026-03-31 --by "J. Doe"
    """
    ws = workspace_from(ctx)
    day = _date(by_date, "--date")
    assert day is not None  # required option
    entry = api.add_promise(ws, customer, amount=_amount(amount, "--amount"),
                            currency=currency.upper(), promised_date=day, promised_by=who,
                            channel=channel, as_of=_date(as_of, "--as-of"))
    emit_json(entry) if as_json else typer.echo(f"promise {entry['id']} recorded")


@promise_app.command("list")
def promise_list(ctx: typer.Context, as_of: str = AsOfOption,
                 customer: str = typer.Option(None, "--customer", help="Only this customer."),
                 as_json: bool = JsonOption) -> None:
    """Promises with their state today: open, kept, broken or cancelled.

    Example: claims promise list --customer Acme
    """
    ws = workspace_from(ctx)
    day = _date(as_of, "--as-of") or date.today()
    rows = api.promise_states(ws, day, customer=customer)
    if as_json:
        emit_json([r.to_json() for r in rows])
        return
    for r in rows:
        typer.echo(f"#{r.id} {r.customer}: {r.currency} {r.amount} by {r.promised_date} "
                   f"({r.promised_by}) paid since {r.paid_since}: {r.state}")


# -- plans ----------------------------------------------------------------------------------

@plan_app.command("add")
def plan_add(ctx: typer.Context, customer: str = typer.Argument(..., help="Customer name."),
             invoice: list[str] = typer.Option(..., "--invoice", help="Invoice in the plan."),
             instalment: list[str] = typer.Option(..., "--instalment", help="DATE=AMOUNT."),
             note: str = typer.Option("", "--note", help="What was agreed."),
             as_of: str = AsOfOption, as_json: bool = JsonOption) -> None:
    """Agree a payment plan for the open balance of some invoices (no instalment in the past;
    an invoice in one live plan at most).

    Example: claims plan add Acme --invoice INV-1 --instalment 2026-04-01=500
    --instalment 2026-05-01=500
    """
    ws = workspace_from(ctx)
    entry = api.add_plan(ws, customer, invoices=invoice, instalments=_instalments(instalment),
                         note=note, as_of=_date(as_of, "--as-of"))
    emit_json(entry) if as_json else typer.echo(f"plan {entry['id']} agreed: "
                                                f"{entry['currency']} {entry['total']}")


def _instalments(specs: list[str]) -> list[tuple[date, Any]]:
    parts = []
    for spec in specs:
        day, sep, amount = spec.partition("=")
        if not sep:
            raise InputError(f"{spec!r} is not DATE=AMOUNT", field="--instalment",
                             rule="date=amount")
        parsed = _date(day.strip(), "--instalment")
        assert parsed is not None
        parts.append((parsed, _amount(amount.strip(), "--instalment")))
    return parts


@plan_app.command("show")
def plan_show(ctx: typer.Context, plan_id: int = typer.Argument(..., max=MAX_ID, help="Plan id."),
              as_of: str = AsOfOption, as_json: bool = JsonOption) -> None:
    """A plan's adherence: paid so far and each instalment's state.

    Example: claims plan show 3
    """
    ws = workspace_from(ctx)
    status = api.plan_status(ws, plan_id, _date(as_of, "--as-of"))
    if as_json:
        emit_json(status)
        return
    typer.echo(f"plan {plan_id} ({status['customer']}): {status['standing']}, paid "
               f"{status['currency']} {status['paid']} of {status['total']}")
    for i in status["instalments"]:
        typer.echo(f"  #{i['seq']} {i['due_date']} {i['amount']}: {i['state']}")


# -- disputes -------------------------------------------------------------------------------

@dispute_app.command("open")
def dispute_open(ctx: typer.Context,
                 invoice: str = typer.Option(None, "--invoice", help="Disputed invoice."),
                 claim: int = typer.Option(None, "--claim", max=MAX_ID,
                                             help="Disputed claim (id)."),
                 reason: str = typer.Option(..., "--reason", help="Reason code."),
                 team: str = typer.Option(..., "--team", help="Operations, Sales or Finance."),
                 due: str = typer.Option(None, "--due", help="Resolve by (YYYY-MM-DD)."),
                 note: str = typer.Option("", "--note", help="What the client said."),
                 as_json: bool = JsonOption) -> None:
    """Open a dispute; reminders on the item pause until it is resolved.

    Example: claims dispute open --invoice INV-7 --reason pricing --team Sales --due 2026-04-15
    """
    ws = workspace_from(ctx)
    entry = api.open_dispute(ws, invoice=invoice, claim_id=claim, reason=reason,
                             team=team, due_date=_date(due, "--due"), note=note)
    emit_json(entry) if as_json else typer.echo(f"dispute {entry['id']} opened on "
                                                f"{entry['invoice']}")


@dispute_app.command("resolve")
def dispute_resolve(ctx: typer.Context,
                    dispute_id: int = typer.Argument(..., max=MAX_ID, help="Dispute id."),
                    resolution: str = typer.Option(..., "--resolution",
                                                   help="credit-note, resubmitted or rejected."),
                    note: str = typer.Option("", "--note", help="How it was settled."),
                    as_json: bool = JsonOption) -> None:
    """Resolve a dispute; reminders on the item resume.

    Example: claims dispute resolve 4 --resolution rejected --note "price per contract"
    """
    ws = workspace_from(ctx)
    entry = api.resolve_dispute(ws, dispute_id, resolution=resolution, note=note)
    emit_json(entry) if as_json else typer.echo(f"dispute {dispute_id} resolved: {resolution}")


@dispute_app.command("list")
def dispute_list(ctx: typer.Context,
                 all_: bool = typer.Option(False, "--all", help="Resolved ones too."),
                 as_json: bool = JsonOption) -> None:
    """Open disputes (or all).

    Example: claims dispute list
    """
    rows = api.list_disputes(workspace_from(ctx), status=None if all_ else "open")
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        typer.echo(f"#{r['id']} {r['customer']} {r['invoice']} {r['reason']} {r['team']} "
                   f"due {r['due_date'] or '-'} [{r['status']}]")


# -- changing promises and plans ------------------------------------------------------------

@promise_app.command("cancel")
def promise_cancel(ctx: typer.Context,
                   promise_id: int = typer.Argument(..., max=MAX_ID, help="Promise id."),
                   reason: str = typer.Option(..., "--reason", help="Why it is cancelled."),
                   as_json: bool = JsonOption) -> None:
    """Cancel a promise: it no longer pauses reminders nor counts as broken.

    Example: claims promise cancel 4 --reason "recorded on the wrong account"
    """
    entry = api.cancel_promise(workspace_from(ctx), promise_id, reason=reason)
    emit_json(entry) if as_json else typer.echo(f"promise {promise_id} cancelled")


@promise_app.command("edit")
def promise_edit(ctx: typer.Context,
                 promise_id: int = typer.Argument(..., max=MAX_ID, help="Promise id."),
                 amount: str = typer.Option(None, "--amount", help="New amount."),
                 by_date: str = typer.Option(None, "--date", help="New promised date."),
                 as_of: str = AsOfOption, as_json: bool = JsonOption) -> None:
    """Change a promise's amount or date (checked as a new promise).

    Example: claims promise edit 4 --date 2026-07-15
    """
    entry = api.edit_promise(workspace_from(ctx), promise_id,
                             amount=None if amount is None else _amount(amount, "--amount"),
                             promised_date=_date(by_date, "--date"),
                             as_of=_date(as_of, "--as-of"))
    emit_json(entry) if as_json else typer.echo(
        f"promise {promise_id}: {entry['currency']} {entry['amount']} by "
        f"{entry['promised_date']}")


@plan_app.command("list")
def plan_list(ctx: typer.Context, as_of: str = AsOfOption,
              customer: str = typer.Option(None, "--customer", help="Only this customer."),
              all_: bool = typer.Option(False, "--all", help="Cancelled plans too."),
              fmt: str = FormatOption, as_json: bool = JsonOption) -> None:
    """Payment plans with their standing, paid so far and the next instalment.

    Example: claims plan list --customer Acme --format csv
    """
    rows = api.list_plans(workspace_from(ctx), _date(as_of, "--as-of"), customer=customer,
                          include_cancelled=all_)
    table = [{"id": r["id"], "customer": r["customer"], "standing": r["standing"],
              "currency": r["currency"], "total": r["total"], "paid": r["paid"],
              "next_due": r["next_due"], "next_amount": r["next_amount"],
              "invoices": " ".join(r["invoices"])} for r in rows]
    emit_rows(output_format(fmt, as_json), rows, table, empty="no payment plans")


@plan_app.command("cancel")
def plan_cancel(ctx: typer.Context, plan_id: int = typer.Argument(..., max=MAX_ID, help="Plan id."),
                reason: str = typer.Option(..., "--reason", help="Why it is cancelled."),
                as_json: bool = JsonOption) -> None:
    """Cancel a payment plan: its invoices are reminded again.

    Example: claims plan cancel 3 --reason "customer went into administration"
    """
    entry = api.cancel_plan(workspace_from(ctx), plan_id, reason=reason)
    emit_json(entry) if as_json else typer.echo(f"plan {plan_id} cancelled")


@plan_app.command("edit")
def plan_edit(ctx: typer.Context, plan_id: int = typer.Argument(..., max=MAX_ID, help="Plan id."),
              instalment: list[str] = typer.Option(..., "--instalment", help="DATE=AMOUNT."),
              note: str = typer.Option("", "--note", help="What was agreed."),
              as_of: str = AsOfOption, as_json: bool = JsonOption) -> None:
    """Agree new instalments: the plan is replaced by a new one over what is open now.

    Example: claims plan edit 3 --instalment 2026-08-01=500 --instalment 2026-09-01=500
    """
    entry = api.edit_plan(workspace_from(ctx), plan_id, instalments=_instalments(instalment),
                          note=note, as_of=_date(as_of, "--as-of"))
    emit_json(entry) if as_json else typer.echo(
        f"plan {plan_id} replaced by plan {entry['id']}: {entry['currency']} {entry['total']}")


def register(app: typer.Typer) -> None:
    """Add the record commands to the root ``claims`` app."""
    app.add_typer(note_app, name="note")
    app.add_typer(promise_app, name="promise")
    app.add_typer(plan_app, name="plan")
    app.add_typer(dispute_app, name="dispute")

