"""Collections: today's worklist with the parts of each score, a customer's page (receivables,
aging, promises, plans, disputes, interaction log) and its forms (note, promise, plan, dispute)."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from claims import api
from claims.web.common import action, flash, form_amount, form_date, form_text, page, render


#: Accounts per worklist page (the ranking is over all of them; a page shows a slice).
PER_PAGE = 50


def _page_number(text: str | None) -> int:
    if text is None or text.strip() == "":
        return 1
    if not text.strip().isdigit() or int(text) < 1 or len(text.strip()) > 6:
        raise api.InputError(f"{text!r} is not a page number", field="page", rule="whole-number")
    return int(text)


@page
def worklist(request: Request, ws: api.Workspace) -> Response:
    """Accounts ranked by what to do first (the same list as ``claims worklist``),
    :data:`PER_PAGE` at a time (``?page=N``)."""
    number = _page_number(request.query_params.get("page"))
    found = api.worklist_page(ws, number, per_page=PER_PAGE)
    return render(request, "worklist.html", accounts=found.accounts, start=found.start,
                  page=found.page, pages=found.pages, total=found.total, as_of=date.today())


def _customer(request: Request) -> str:
    return str(request.path_params["name"])


@page
def customer(request: Request, ws: api.Workspace) -> Response:
    """One customer: open receivables with their days overdue (aging), promises, disputes
    and the interaction log."""
    name = _customer(request)
    today = date.today()
    items = api.receivables(ws, today, customer=name)
    disputes = [d for d in api.list_disputes(ws, status=None) if d.get("customer") == name]
    return render(request, "customer.html", name=name, items=items,
                  promises=api.promise_states(ws, today, customer=name), disputes=disputes,
                  notes=api.list_notes(ws, name), today=today,
                  resolutions=api.dispute_resolutions(), kinds=api.INTERACTION_KINDS,
                  directions=api.DIRECTIONS, outcomes=api.OUTCOMES)


def _back(request: Request, message: str) -> str:
    flash(request, "ok", message)
    return f"/customers/{quote(_customer(request), safe='')}"


@action
def add_note(request: Request, ws: api.Workspace, form: Any) -> str:
    """Log a call, e-mail or note, with the fields ``claims note add`` takes (direction,
    contact, outcome, when it happened, the next action and its date), read the same way."""
    def optional(name: str) -> str | None:
        return form_text(form, name, required=False) or None

    entry = api.add_note(ws, _customer(request), form_text(form, "text"),
                         kind=optional("kind") or "note", invoice=optional("invoice"),
                         direction=optional("direction"), contact=optional("contact"),
                         outcome=optional("outcome"), at=api.parse_moment(optional("at"), "at"),
                         next_action=optional("next_action"),
                         next_action_date=api.parse_date(optional("next_action_date"),
                                                         "next_action_date"))
    return _back(request, f"note {entry['id']} added")


@action
def add_promise(request: Request, ws: api.Workspace, form: Any) -> str:
    """Record a promise to pay."""
    entry = api.add_promise(ws, _customer(request), amount=form_amount(form, "amount"),
                            currency=form_text(form, "currency").upper(),
                            promised_date=form_date(form, "date"),
                            promised_by=form_text(form, "by"),
                            channel=form_text(form, "channel", required=False) or "call")
    return _back(request, f"promise {entry['id']} recorded")


@action
def add_plan(request: Request, ws: api.Workspace, form: Any) -> str:
    """Agree a payment plan: invoices (comma separated) and instalments (DATE=AMOUNT lines)."""
    invoices = [i.strip() for i in form_text(form, "invoices").split(",") if i.strip()]
    parts = []
    for line in form_text(form, "instalments").splitlines():
        if not line.strip():
            continue
        day, sep, amount = line.partition("=")
        if not sep:
            raise api.InputError(f"{line.strip()!r} is not DATE=AMOUNT", field="instalments",
                                 rule="date=amount")
        parts.append((form_date({"instalments": day}, "instalments"),
                      form_amount({"instalments": amount}, "instalments")))
    entry = api.add_plan(ws, _customer(request), invoices=invoices, instalments=parts,
                         note=form_text(form, "note", required=False))
    return _back(request, f"plan {entry['id']} agreed")


@action
def open_dispute(request: Request, ws: api.Workspace, form: Any) -> str:
    """Open a dispute on one of the customer's invoices."""
    entry = api.open_dispute(ws, invoice=form_text(form, "invoice"), claim_id=None,
                             reason=form_text(form, "reason"), team=form_text(form, "team"),
                             due_date=form_date(form, "due", required=False),
                             note=form_text(form, "note", required=False))
    return _back(request, f"dispute {entry['id']} opened on {entry['invoice']}")


@action
def resolve_dispute(request: Request, ws: api.Workspace, form: Any) -> str:
    """Close one of the customer's open disputes with its resolution (reminders resume)."""
    entry = api.resolve_dispute(ws, int(request.path_params["dispute_id"]),
                                resolution=form_text(form, "resolution"),
                                note=form_text(form, "note", required=False))
    return _back(request, f"dispute {entry['id']} resolved: {entry['resolution']}")


routes = [
    Route("/worklist", worklist),
    Route("/customers/{name:str}", customer),
    Route("/customers/{name:str}/notes", add_note, methods=["POST"]),
    Route("/customers/{name:str}/promises", add_promise, methods=["POST"]),
    Route("/customers/{name:str}/plans", add_plan, methods=["POST"]),
    Route("/customers/{name:str}/disputes", open_dispute, methods=["POST"]),
    Route("/customers/{name:str}/disputes/{dispute_id:int}/resolve", resolve_dispute,
          methods=["POST"]),
]
