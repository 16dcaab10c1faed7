"""``claims contact add|list|edit|remove`` and ``claims account show``: the people at a
customer, and one account on one page. Each command parses, calls :mod:`claims.api`, and
prints."""

from __future__ import annotations

from typing import Any

import typer

from claims import api
from claims.cli.common import (
    MAX_ID, AsOfOption, FormatOption, JsonOption, deprecated_spelling, emit_json, emit_rows,
    output_format, parse_date as _date, workspace_from,
)

contact_app = typer.Typer(no_args_is_help=True, help="A customer's contacts.")
account_app = typer.Typer(no_args_is_help=True, help="One account on one page.")

LANGUAGE_HELP = "A language with reminder templates (built in: en, ar; or your templates_dir)."


@contact_app.command("add")
def contact_add(ctx: typer.Context, customer: str = typer.Argument(..., help="Customer name."),
                name: str = typer.Option(..., "--name", help="Contact's name."),
                email: str = typer.Option(None, "--email", help="E-mail address."),
                phone: str = typer.Option(None, "--phone", help="Phone number."),
                language: str = typer.Option(None, "--language", help=LANGUAGE_HELP),
                role: str = typer.Option("finance", "--role",
                                         help="finance (gets reminders) or other."),
                as_json: bool = JsonOption) -> None:
    """Add a contact to a customer or agency.

    Example: claims contact add "Ministry of Works" --name "A. Saleh" --email a@mow.gov
    --language ar
    """
    cid = api.add_contact(workspace_from(ctx), customer, name=name, email=email, phone=phone,
                          role=role, language=language)
    emit_json({"id": cid}) if as_json else typer.echo(f"contact {cid} added to {customer}")


@contact_app.command("list")
def contact_list(ctx: typer.Context,
                 positional: str = typer.Argument(None, hidden=True, metavar="CUSTOMER",
                                                  help="Deprecated: use --customer."),
                 customer: str = typer.Option(None, "--customer", help="Only this customer."),
                 fmt: str = FormatOption, as_json: bool = JsonOption) -> None:
    """Contacts, by customer.

    Example: claims contact list --customer Acme --format csv
    """
    customer = deprecated_spelling(customer, positional, new="--customer",
                                   old_flag="the customer as an argument", hint="--customer",
                                   required=False)
    rows = api.list_contacts(workspace_from(ctx), customer)
    emit_rows(output_format(fmt, as_json), rows, rows, empty="no contacts",
              columns=["id", "customer", "name", "email", "phone", "role", "language"])


@contact_app.command("edit")
def contact_edit(ctx: typer.Context,
                 contact_id: int = typer.Argument(..., max=MAX_ID, help="Contact id."),
                 name: str = typer.Option(None, "--name", help="New name."),
                 email: str = typer.Option(None, "--email", help="New e-mail address."),
                 phone: str = typer.Option(None, "--phone", help="New phone number."),
                 language: str = typer.Option(None, "--language", help=LANGUAGE_HELP),
                 role: str = typer.Option(None, "--role", help="finance or other."),
                 as_json: bool = JsonOption) -> None:
    """Change a contact (only the options given).

    Example: claims contact edit 7 --language ar
    """
    entry = api.edit_contact(workspace_from(ctx), contact_id, name=name, email=email,
                             phone=phone, language=language, role=role)
    emit_json(entry) if as_json else typer.echo(
        f"contact {contact_id}: {entry['name']} <{entry['email'] or '-'}> "
        f"{entry['role']}, {entry['language']}")


@contact_app.command("remove")
def contact_remove(ctx: typer.Context,
                   contact_id: int = typer.Argument(..., max=MAX_ID, help="Contact id."),
                   as_json: bool = JsonOption) -> None:
    """Remove a contact (logged interactions keep the name).

    Example: claims contact remove 7
    """
    entry = api.remove_contact(workspace_from(ctx), contact_id)
    emit_json(entry) if as_json else typer.echo(
        f"contact {contact_id} ({entry['name']}) removed from {entry['customer']}")


@account_app.command("show")
def account_show(ctx: typer.Context, customer: str = typer.Argument(..., help="Customer name."),
                 as_of: str = AsOfOption, as_json: bool = JsonOption) -> None:
    """Everything on one account: contacts, open items with aging, claims and their portal
    status, promises, plans, disputes, escalation decisions, interactions and reminders, and
    one timeline of them.

    Example: claims account show "Ministry of Works" --json
    """
    view = api.show_account(workspace_from(ctx), customer, _date(as_of, "--as-of"))
    if as_json:
        emit_json(view)
        return
    _print_account(view)


def _section(title: str, lines: list[str]) -> None:
    typer.echo(f"\n{title} ({len(lines)})")
    for line in lines:
        typer.echo(f"  {line}")


def _print_account(v: dict[str, Any]) -> None:
    typer.echo(f"{v['customer']}" + (f" — collector {v['collector']}" if v["collector"] else "")
               + f" — as of {v['as_of']}")
    _section("contacts", [f"#{c['id']} {c['name']} <{c['email'] or '-'}> {c['phone'] or ''} "
                          f"{c['role']}, {c['language']}" for c in v["contacts"]])
    _section("open items", [
        f"{i['invoice']}{'/' + str(i['instalment']) if i.get('instalment') else ''} "
        f"due {i['due_date']} {i['currency']} {i['open']} [{i['aging']}]"
        + (f" claim {i['claim']} {i['claim_status']}" if i.get("claim") else "")
        for i in v["open_items"]])
    _section("claims", [f"claim {c['id']} {c['invoice']}: {c['status']}"
                        + (f" (portal {c['portal_reference']})" if c["portal_reference"] else "")
                        for c in v["claims"]])
    _section("promises", [f"#{p['id']} {p['currency']} {p['amount']} by {p['promised_date']} "
                          f"({p['by']}): {p['state']}" for p in v["promises"]])
    _section("plans", [f"#{p['id']} {p['currency']} {p['total']} paid {p['paid']}: "
                       f"{p['standing']} ({', '.join(p['invoices'])})" for p in v["plans"]])
    _section("disputes", [f"#{d['id']} {d['invoice']} {d['reason']} {d['team']}: {d['status']}"
                          for d in v["disputes"]])
    _section("callbacks due", [f"{c['due']} {c['next_action']}" for c in v["callbacks_due"]])
    _section("timeline", [f"{t['at']:%Y-%m-%d %H:%M} {t['what']}: {t['text']}"
                          if hasattr(t["at"], "hour") else f"{t['at']}       {t['what']}: "
                          f"{t['text']}" for t in v["timeline"]])


def register(app: typer.Typer) -> None:
    """Add ``claims contact`` and ``claims account`` to the root app."""
    app.add_typer(contact_app, name="contact")
    app.add_typer(account_app, name="account")
