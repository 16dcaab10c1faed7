"""One account on one page (``claims account show CUSTOMER``): contacts, open items with
aging, claims and their portal status, promises, plans, disputes, escalation decisions,
interactions and reminders, and all of them on one timeline, oldest first.

Each part comes from the function that owns it (the receivables ledger, promise states, plan
standing, the decision log, the send history), so the account view never disagrees with the
command that shows the part alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from claims.collections import records
from claims.collections.commitments import list_plans
from claims.collections.contacts import list_contacts
from claims.collections.dunning import config_of, sent_history
from claims.collections.escalation import decision_log
from claims.collections.interactions import callbacks_due
from claims.collections.worklist import receivables
from claims.store.tables import ClaimRow, InvoiceRow

if TYPE_CHECKING:  # only a type here: the workspace composes this slice
    from claims.workspace import Workspace


def aging_label(days_overdue: int, edges: Sequence[int], labels: Sequence[str]) -> str:
    """The aging bucket of an item ``days_overdue`` late (edges and labels of ``[reports]``,
    due basis: ``current`` when not yet due)."""
    if days_overdue <= 0:
        return labels[0]
    for k, edge in enumerate(edges):
        if days_overdue <= edge:
            return labels[k + 1]
    return labels[-1]


def _claims(ws: Workspace, customer_id: int) -> list[dict[str, Any]]:
    with ws.store.session() as s:
        rows = s.execute(select(ClaimRow, InvoiceRow.number)
                         .join(InvoiceRow, InvoiceRow.id == ClaimRow.invoice_id)
                         .where(InvoiceRow.customer_id == customer_id).order_by(ClaimRow.id))
        return [{"id": c.id, "invoice": number, "status": c.status,
                 "portal_reference": c.portal_reference, "created_at": c.created_at,
                 "updated_at": c.updated_at} for c, number in rows]


def _moment(value: Any) -> datetime:
    """A date or datetime as an aware datetime, so the timeline sorts one way."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.combine(value, time(0), tzinfo=UTC)


def _timeline(view: dict[str, Any]) -> list[dict[str, Any]]:
    """Every dated event of the account, oldest first."""
    events: list[tuple[Any, str, str]] = []
    for n in view["interactions"]:
        outcome = f" ({n['outcome']})" if n["outcome"] else ""
        nxt = (f"; next: {n['next_action']} by {n['next_action_date']}"
               if n["next_action_date"] else "")
        events.append((n["at"], n["kind"], f"{n['author']}{outcome}: {n['summary']}{nxt}"))
    for r in view["reminders"]:
        events.append((r["as_of"], "reminder",  # the day the run acted for
                       f"{r['level']} ({r['channel']}, {r['state']}) to {r['recipients']}"))
    for d in view["decisions"]:
        events.append((d["at"], "escalation", f"{d['event']} {d['action']} {d['invoice']} "
                       f"{d['currency']} {d['amount']} by {d['actor']}"
                       + (" (override)" if d["override"] else "")
                       + (f": {d['note']}" if d["note"] else "")))
    for c in view["claims"]:
        events.append((c["created_at"], "claim", f"claim {c['id']} for {c['invoice']} made"))
        events.append((c["updated_at"], "claim", f"claim {c['id']} now {c['status']}"
                       + (f" (portal {c['portal_reference']})" if c["portal_reference"] else "")))
    for p in view["promises"]:
        events.append((p["promised_date"], "promise due", f"promise #{p['id']} "
                       f"{p['currency']} {p['amount']}: {p['state']}"))
    for d in view["disputes"]:
        events.append((d["opened_at"], "dispute", f"dispute #{d['id']} on {d['invoice']} "
                       f"({d['reason']}, {d['team']}): {d['status']}"))
    ordered = sorted(events, key=lambda e: _moment(e[0]))
    return [{"at": at, "what": what, "text": text} for at, what, text in ordered]


def account_view(ws: Workspace, customer: str, as_of: date, *, aging_edges: Sequence[int],
                 aging_labels: Sequence[str]) -> dict[str, Any]:
    """The whole account of ``customer`` on ``as_of`` (see the module's docstring)."""
    config = config_of(ws)
    with ws.store.session() as s:
        cust = records.customer_row(s, customer)
        cid, name, collector = cust.id, cust.name, cust.collector or ""
    items = receivables(ws, as_of, customer=name)
    for item in items:
        item["aging"] = aging_label(item["days_overdue"] if item["due_date"] < as_of else 0,
                                    aging_edges, aging_labels)
    promises = [p.to_json() for p in records.promise_states(
        ws.store, as_of, customer=name, grace_days=config.followup.promise_grace_days)]
    disputes = [d for d in records.list_disputes(ws.store, status=None, as_of=as_of)
                if d["customer"] == name]
    view = {"customer": name, "collector": collector, "as_of": as_of,
            "contacts": list_contacts(ws.store, name), "open_items": items,
            "claims": _claims(ws, cid), "promises": promises,
            "plans": list_plans(ws.store, as_of, customer=name, include_cancelled=True,
                                grace_days=config.followup.plan_grace_days),
            "disputes": disputes, "decisions": decision_log(ws, customer=name),
            "interactions": records.list_notes(ws.store, name),
            "reminders": sent_history(ws, name),
            "callbacks_due": callbacks_due(ws.store, as_of, customer_id=cid)}
    _known_by(view, as_of)
    view["timeline"] = _timeline(view)
    return view


def _known_by(view: dict[str, Any], as_of: date) -> None:
    """Leave out of ``view`` what happened after ``as_of`` (every ``--as-of`` is the world as
    known on that date): claims made, notes, reminders and decisions later than its end."""
    end = _moment(as_of + timedelta(days=1))
    view["claims"] = [c for c in view["claims"] if _moment(c["created_at"]) < end]
    view["interactions"] = [n for n in view["interactions"] if _moment(n["at"]) < end]
    view["reminders"] = [r for r in view["reminders"] if r["as_of"] <= as_of]
    view["decisions"] = [d for d in view["decisions"] if _moment(d["at"]) < end]
