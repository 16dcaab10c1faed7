"""``claims followup …`` and ``claims worklist``: collections follow-up (the records of a
client, ``note|promise|plan|dispute``, are in :mod:`claims.cli.records`). Each command parses,
calls :mod:`claims.api`, and prints.

Exit codes: 0 done; 1 something failed (a reminder not sent, a send stuck in ``sending``, bad
input); 2 usage error.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import typer
from pydantic import ValidationError
from rich.table import Table

from claims import api
from claims.api import InputError, Instalment, Terms
from claims.cli.common import (
    MAX_ID, AsOfOption, FormatOption, JsonOption, console, emit_json, emit_rows, output_format,
    parse_amount as _amount, parse_date as _date, workspace_from,
)

followup_app = typer.Typer(no_args_is_help=True, help="Dunning: reminders, statements, terms.")



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
def resolve(ctx: typer.Context,
            send_id: int = typer.Argument(..., max=MAX_ID, help="The stuck send's id."),
            sent: bool = typer.Option(None, "--sent/--not-sent",
                                      help="Did the message reach the mailbox?"),
            as_json: bool = JsonOption) -> None:
    """Settle a send a crash left in 'sending': --sent records it; --not-sent makes it due.

    Example: claims followup resolve 42 --not-sent
    """
    if sent is None:
        raise typer.BadParameter("say --sent or --not-sent", param_hint="--sent/--not-sent")
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


def _terms(net: int | None, eom: int | None, instalment: list[str]) -> Terms:
    """The terms the options describe; a value the terms model refuses (a negative day
    count, a share over 100 %) is one clear line naming the option, not a traceback."""
    option = "--net" if net is not None else "--eom" if eom is not None else "--instalment"
    try:
        if net is not None:
            return Terms(kind="net", days=net)
        if eom is not None:
            return Terms(kind="eom", days=eom)
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
        return Terms(kind="instalments", instalments=tuple(parts))
    except ValidationError as err:
        first = err.errors()[0]
        message = str(first["msg"]).removeprefix("Value error, ")
        if first["loc"]:  # a field's own bound (days ≥ 0): name the value given
            message = f"{first['input']!r}: {message}"
        raise InputError(message, field=option, rule="payment-terms") from None


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
        raise typer.BadParameter("give exactly one of --net, --eom or --instalment",
                                 param_hint="--net / --eom / --instalment")
    t = _terms(net, eom, instalment)
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
            language: str = typer.Option(None, "--language", help=(
                "A language with reminder templates (built in: en, ar; or your "
                "templates_dir).")),
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
             limit: int = typer.Option(None, "--limit", min=1,
                                       help="Show the top N accounts (N ≥ 1)."),
             fmt: str = FormatOption, as_json: bool = JsonOption) -> None:
    """Accounts to work on today, highest score first, with the parts of each score, and the
    callbacks due (next actions logged with `claims note add`, due on or before today).

    Example: claims worklist --limit 20
    """
    ws = workspace_from(ctx)
    day = _date(as_of, "--as-of") or date.today()
    chosen = output_format(fmt, as_json)
    accounts = api.worklist(ws, day, limit=limit)
    callbacks = api.callbacks_due(ws, day)
    if chosen == "json":
        emit_json({"as_of": day, "accounts": [a.to_json() for a in accounts],
                   "callbacks_due": callbacks})
        return
    if chosen == "csv":
        emit_rows("csv", None, [_worklist_row(n, a) for n, a in enumerate(accounts, start=1)],
                  columns=api.WORKLIST_CSV_COLUMNS)
        return
    _print_worklist(accounts)
    if callbacks:
        typer.echo(f"\ncallbacks due ({len(callbacks)}):")
    for c in callbacks:
        late = f", {c['days_late']} days late" if c["days_late"] else ""
        typer.echo(f"  {c['due']}{late}  {c['customer']}: {c['next_action']}"
                   + (f" (with {c['contact']})" if c["contact"] else "")
                   + (f" [{c['invoice']}]" if c["invoice"] else "")
                   + f"  — note {c['interaction']} by {c['author']}")


def _worklist_row(rank: int, a: Any) -> dict[str, Any]:
    """One account as a flat CSV row."""
    return {"rank": rank, "customer": a.customer, "score": a.score,
            **{f"part_{k}": v for k, v in a.parts.items()},
            "base_currency": a.base_currency or "", "overdue_base": a.overdue_base,
            "overdue": "; ".join(f"{c} {v}" for c, v in sorted(a.overdue.items())),
            "unconverted": "; ".join(f"{c}: {w}" for c, w in sorted(a.unconverted.items())),
            "days_overdue": a.days_overdue, "collector": a.collector,
            "at_legal": " ".join(a.at_legal)}


def _print_worklist(accounts: list[Any]) -> None:
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


def register(app: typer.Typer) -> None:
    """Add the follow-up commands to the root ``claims`` app."""
    app.add_typer(followup_app, name="followup")
    app.command("worklist")(worklist)
