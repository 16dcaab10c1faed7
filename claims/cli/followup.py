"""``claims followup …``, ``claims worklist``, ``claims note|promise|plan|dispute …``:
collections follow-up. Each command parses, calls :mod:`claims.api`, and prints.

Exit codes: 0 done; 1 something failed (a reminder not sent, a send stuck in ``sending``, bad
input); 2 usage error.
"""

from __future__ import annotations

from datetime import date

import typer
from rich.table import Table

from claims import api
from claims.api import InputError, Instalment, Terms
from claims.cli.common import (
    JsonOption, console, emit_json, parse_amount as _amount, parse_date as _date, workspace_from,
)

followup_app = typer.Typer(no_args_is_help=True, help="Dunning: reminders, statements, terms.")
note_app = typer.Typer(no_args_is_help=True, help="Interaction log: calls, emails, notes.")
promise_app = typer.Typer(no_args_is_help=True, help="Promises to pay.")
plan_app = typer.Typer(no_args_is_help=True, help="Payment plans for overdue balances.")
dispute_app = typer.Typer(no_args_is_help=True, help="Disputes on invoices and claims.")

AsOfOption = typer.Option(None, "--as-of", help="Act as on this date (YYYY-MM-DD; default today).")




# -- followup -------------------------------------------------------------------------------

@followup_app.command("run")
def run(ctx: typer.Context, as_of: str = AsOfOption,
        dry_run: bool = typer.Option(False, "--dry-run", help="Show, reserve and send nothing."),
        customer: str = typer.Option(None, "--customer", help="Only this customer."),
        as_json: bool = JsonOption) -> None:
    """Send every reminder due today, each exactly once (made for cron).

    Example: claims followup run --json
    """
    ws = workspace_from(ctx)
    result = api.run_followup(ws, _date(as_of, "--as-of"), dry_run=dry_run, customer=customer)
    if as_json:
        emit_json(result.to_json())
    else:
        verb = "would send" if dry_run else "sent"
        typer.echo(f"{verb} {len(result.sent)} message(s), {len(result.tasks)} call task(s); "
                   f"{len(result.failed)} failed, {len(result.stuck)} stuck")
        for f in result.failed:
            typer.echo(f"  failed: {f['customer']} / {f['level']}: {f['error']}", err=True)
        for s in result.stuck:
            typer.echo(f"  stuck: send {s['send_id']} ({s['customer']} / {s['level']}) was "
                       "reserved but not confirmed; check the mailbox, then "
                       f"`claims followup resolve {s['send_id']} --sent|--not-sent`", err=True)
        for s in result.in_flight:
            typer.echo(f"  in flight: send {s['send_id']} ({s['customer']} / {s['level']}) is "
                       f"being sent by another run ({s['run']}); left to it", err=True)
    if result.failed or result.stuck:
        raise typer.Exit(1)


@followup_app.command("preview")
def preview(ctx: typer.Context, as_of: str = AsOfOption,
            customer: str = typer.Option(None, "--customer", help="Only this customer."),
            body: bool = typer.Option(False, "--body", help="Print each message's text."),
            as_json: bool = JsonOption) -> None:
    """Show what `followup run` would send today, message by message.

    Example: claims followup preview --customer "Ministry of Works" --body
    """
    ws = workspace_from(ctx)
    day = _date(as_of, "--as-of") or date.today()
    messages = api.preview_followup(ws, day, customer=customer)
    out = []
    for msg in messages:
        entry = msg.to_json()
        if msg.level.channel == "email" and not msg.problem:
            subject, text, _ = api.render_reminder(ws, msg, day)
            entry |= {"subject": subject, "body": text}
        out.append(entry)
    if as_json:
        emit_json({"as_of": day, "messages": out})
        return
    if not out:
        typer.echo("nothing due")
    for entry in out:
        typer.echo(f"{entry['customer']} / {entry['level']} ({entry['channel']}) → "
                   f"{', '.join(entry['recipients']) or '-'}: "
                   f"{', '.join(i['invoice'] for i in entry['items'])}"
                   + (f"  PROBLEM: {entry['problem']}" if entry["problem"] else ""))
        if body and "body" in entry:
            typer.echo(f"Subject: {entry['subject']}\n\n{entry['body']}")


@followup_app.command("resolve")
def resolve(ctx: typer.Context, send_id: int = typer.Argument(..., help="The stuck send's id."),
            sent: bool = typer.Option(None, "--sent/--not-sent",
                                      help="Did the message reach the mailbox?"),
            as_json: bool = JsonOption) -> None:
    """Settle a send a crash left in 'sending': --sent records it; --not-sent makes it due.

    Example: claims followup resolve 42 --not-sent
    """
    if sent is None:
        raise InputError("say --sent or --not-sent", field="resolve", rule="one-of")
    result = api.resolve_stuck_send(workspace_from(ctx), send_id, was_sent=sent)
    emit_json(result) if as_json else typer.echo(f"send {send_id}: {result['resolution']}")


@followup_app.command("history")
def history(ctx: typer.Context,
            customer: str = typer.Option(None, "--customer", help="Only this customer."),
            as_json: bool = JsonOption) -> None:
    """Every reminder and call task on record.

    Example: claims followup history --customer Acme
    """
    rows = api.sent_history(workspace_from(ctx), customer)
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        typer.echo(f"#{r['send_id']} {r['as_of']} {r['customer']} / {r['level']} "
                   f"[{r['channel']}, {r['state']}] {r['recipients']} {r['eml'] or ''}")


@followup_app.command("receivables")
def receivables(ctx: typer.Context, as_of: str = AsOfOption,
                customer: str = typer.Option(None, "--customer", help="Only this customer."),
                as_json: bool = JsonOption) -> None:
    """Open items with due date, balance, expected payment date and statutory interest.

    Example: claims followup receivables --customer Acme --json
    """
    rows = api.receivables(workspace_from(ctx), _date(as_of, "--as-of"),
                                    customer=customer)
    if as_json:
        emit_json(rows)
        return
    table = Table("customer", "item", "due", "days", "open", "interest", "expected")
    for r in rows:
        label = r["invoice"] + (f"/{r['instalment']}" if r["instalment"] else "")
        table.add_row(r["customer"], label, str(r["due_date"]), str(r["days_overdue"]),
                      f"{r['currency']} {r['open']}",
                      "unknown (no sourced rate)" if r.get("interest_missing") else r["interest"],
                      str(r["expected_payment_date"] or ""))
    console.print(table)


@followup_app.command("terms")
def terms(ctx: typer.Context, invoice: str = typer.Argument(..., help="Invoice number."),
          net: int = typer.Option(None, "--net", help="Net N days after the invoice date."),
          eom: int = typer.Option(None, "--eom", help="End of month + N days."),
          instalment: list[str] = typer.Option([], "--instalment",
                                               help="DAYS=PERCENT% or DAYS=AMOUNT, repeated."),
          as_json: bool = JsonOption) -> None:
    """Give an invoice payment terms: net N, end of month + N, or instalments.

    Example: claims followup terms INV-7 --instalment 30=50% --instalment 60=50%
    """
    chosen = [x for x in (net is not None, eom is not None, bool(instalment)) if x]
    if len(chosen) != 1:
        raise InputError("give exactly one of --net, --eom or --instalment", field="terms",
                         rule="one-of")
    if net is not None:
        t = Terms(kind="net", days=net)
    elif eom is not None:
        t = Terms(kind="eom", days=eom)
    else:
        parts = []
        for spec in instalment:
            days, sep, share = spec.partition("=")
            if not sep or not days.strip().isdigit():
                raise InputError(f"{spec!r} is not DAYS=PERCENT% or DAYS=AMOUNT",
                                 field="--instalment", rule="days=share")
            if share.endswith("%"):
                parts.append(Instalment(days=int(days), percent=_amount(share[:-1],
                                                                         "--instalment")))
            else:
                parts.append(Instalment(days=int(days), amount=_amount(share, "--instalment")))
        t = Terms(kind="instalments", instalments=tuple(parts))
    rows = api.set_invoice_terms(workspace_from(ctx), invoice, t)
    if as_json:
        emit_json({"invoice": invoice, "schedule": rows})
    else:
        for r in rows:
            typer.echo(f"{invoice} #{r['seq']}: {r['amount']} due {r['due_date']}")


@followup_app.command("contact")
def contact(ctx: typer.Context, customer: str = typer.Argument(..., help="Customer name."),
            name: str = typer.Option(..., "--name", help="Contact's name."),
            email: str = typer.Option(None, "--email", help="E-mail address."),
            phone: str = typer.Option(None, "--phone", help="Phone number."),
            language: str = typer.Option("en", "--language", help="en or ar."),
            role: str = typer.Option("finance", "--role", help="finance (gets reminders) or "
                                                               "other."),
            as_json: bool = JsonOption) -> None:
    """Add a (finance) contact to a customer or agency.

    Example: claims followup contact "Ministry of Works" --name "A. Saleh"
    --email a@mow.gov --language ar
    """
    cid = api.add_contact(workspace_from(ctx), customer, name=name, email=email,
                              phone=phone, role=role, language=language)
    emit_json({"id": cid}) if as_json else typer.echo(f"contact {cid} added to {customer}")


@followup_app.command("collector")
def collector(ctx: typer.Context, customer: str = typer.Argument(..., help="Customer name."),
              person: str = typer.Argument(..., help="The responsible collector.")) -> None:
    """Make a collector responsible for a customer.

    Example: claims followup collector Acme maria
    """
    api.set_collector(workspace_from(ctx), customer, person)
    typer.echo(f"{customer}: collector {person}")


# -- worklist -------------------------------------------------------------------------------

def worklist(ctx: typer.Context, as_of: str = AsOfOption,
             limit: int = typer.Option(None, "--limit", help="Show the top N accounts."),
             as_json: bool = JsonOption) -> None:
    """Accounts to work on today, highest score first, with the parts of each score.

    Example: claims worklist --limit 20
    """
    day = _date(as_of, "--as-of") or date.today()
    accounts = api.worklist(workspace_from(ctx), day, limit=limit)
    if as_json:
        emit_json({"as_of": day, "accounts": [a.to_json() for a in accounts]})
        return
    if not accounts:
        typer.echo("nothing to work on")
    labels = {"amount_overdue": "amount", "days_overdue": "days", "broken_promises": "broken",
              "disputes": "disputes", "stuck_claims": "stuck", "defaulted_plans": "plans"}
    for n, a in enumerate(accounts, start=1):
        parts = " + ".join(f"{labels[k]} {v}" for k, v in a.parts.items() if v)
        overdue = ", ".join(f"{c} {v:,}" for c, v in sorted(a.overdue.items())) or "nothing"
        interest = ", ".join(f"{c} {v:,}" for c, v in sorted(a.interest.items()))
        typer.echo(f"{n:>3}. {a.customer}  score {a.score} = {parts}")
        if a.base_currency:
            overdue = (f"{a.base_currency} {a.overdue_base:,} ({overdue})"
                       if a.overdue_base is not None else overdue)
        typer.echo(f"     overdue {overdue} (oldest {a.days_overdue} days)"
                   + (f"; interest owed {interest}" if interest else "")
                   + (f"; interest unknown for {', '.join(sorted(a.interest_unknown))} "
                      "(no sourced Treasury rate)" if a.interest_unknown else "")
                   + (f"; collector {a.collector}" if a.collector else ""))
        for currency, why in sorted(a.unconverted.items()):
            typer.echo(f"     NOT CONVERTED {currency} {a.overdue[currency]:,}: {why}")
        if a.at_legal:
            typer.echo(f"     AT LEGAL: {', '.join(a.at_legal)}")


# -- notes ----------------------------------------------------------------------------------

@note_app.command("add")
def note_add(ctx: typer.Context, customer: str = typer.Argument(..., help="Customer name."),
             text: str = typer.Argument(..., help="What was said or done."),
             kind: str = typer.Option("note", "--kind", help="call, email, note, letter, "
                                                             "meeting."),
             invoice: str = typer.Option(None, "--invoice", help="About this invoice."),
             as_json: bool = JsonOption) -> None:
    """Log a call, e-mail or note on an account (time and author are recorded).

    Example: claims note add Acme "Called AP, invoice approved for the next run" --kind call
    """
    ws = workspace_from(ctx)
    entry = api.add_note(ws, customer, text, kind=kind,
                             invoice=invoice)
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
        typer.echo(f"{r['at']:%Y-%m-%d %H:%M} {r['author']} [{r['kind']}] {r['summary']}")


# -- promises -------------------------------------------------------------------------------

@promise_app.command("add")
def promise_add(ctx: typer.Context, customer: str = typer.Argument(..., help="Customer name."),
                amount: str = typer.Option(..., "--amount", help="Promised amount."),
                currency: str = typer.Option(..., "--currency", help="ISO currency code."),
                by_date: str = typer.Option(..., "--date", help="Promised payment date."),
                who: str = typer.Option(..., "--by", help="Who promised."),
                channel: str = typer.Option("call", "--channel", help="call, email, letter, "
                                                                      "meeting, portal, other."),
                as_json: bool = JsonOption) -> None:
    """Record a promise to pay; it pauses reminders to the customer until its date.

    Example: claims promise add Acme --amount 1500 --currency USD --date 2026-03-31 --by "J. Doe"
    """
    ws = workspace_from(ctx)
    day = _date(by_date, "--date")
    assert day is not None  # required option
    entry = api.add_promise(ws, customer, amount=_amount(amount, "--amount"),
                            currency=currency.upper(), promised_date=day, promised_by=who,
                            channel=channel)
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
             as_json: bool = JsonOption) -> None:
    """Agree a payment plan for the open balance of some invoices.

    Example: claims plan add Acme --invoice INV-1 --instalment 2026-04-01=500
    --instalment 2026-05-01=500
    """
    parts = []
    for spec in instalment:
        day, sep, amount = spec.partition("=")
        if not sep:
            raise InputError(f"{spec!r} is not DATE=AMOUNT", field="--instalment",
                             rule="date=amount")
        parsed = _date(day.strip(), "--instalment")
        assert parsed is not None
        parts.append((parsed, _amount(amount.strip(), "--instalment")))
    ws = workspace_from(ctx)
    entry = api.add_plan(ws, customer, invoices=invoice, instalments=parts, note=note)
    emit_json(entry) if as_json else typer.echo(f"plan {entry['id']} agreed: "
                                                f"{entry['currency']} {entry['total']}")


@plan_app.command("show")
def plan_show(ctx: typer.Context, plan_id: int = typer.Argument(..., help="Plan id."),
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
                 claim: int = typer.Option(None, "--claim", help="Disputed claim (id)."),
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
def dispute_resolve(ctx: typer.Context, dispute_id: int = typer.Argument(..., help="Dispute id."),
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


def register(app: typer.Typer) -> None:
    """Add the follow-up commands to the root ``claims`` app."""
    app.add_typer(followup_app, name="followup")
    app.command("worklist")(worklist)
    app.add_typer(note_app, name="note")
    app.add_typer(promise_app, name="promise")
    app.add_typer(plan_app, name="plan")
    app.add_typer(dispute_app, name="dispute")
