"""Escalation as a control: legal action and write-off are proposed by one person, checked
against the rules and approved (or rejected) by another, revocable, and every step is in one
decision log and in the evidence archive.

The rules (``[followup.escalation]``) cover every age and amount: an item at least
``writeoff_min_days`` overdue is always proposed for something (a write-off up to
``writeoff_max_amount``, legal action above it); before that, legal action is proposed from
``legal_min_days`` for ``legal_min_amount`` or more, or after ``no_answer_days`` of silence
following the final notice. Disputed, planned and already approved items are not proposed.
With ``[followup] base_currency`` the amounts are compared in it (at the as-of day's rate,
shown in the reason); an item without a rate is listed apart (action ``unconverted``).

An approval checks candidacy again on its day; approving what the rules do not propose needs
an override reason and is marked as an override. An approved write-off is *posted*
(:func:`claims.payments.writeoffs.post_writeoff`); approved legal action keeps the item open
and visible, marked "at legal", and stops reminders on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from claims.collections.due import ensure_due_dates
from claims.collections.dunning.plan import config_of
from claims.collections.receivables import (
    Sql, as_date, as_datetime, bind, items_cte, money, open_items, pause_ctes,
)
from claims.collections.interactions import REACHED
from claims.collections.rates import Rates
from claims.collections.records import ACTIONS, customer_row, invoice_row
from claims.core.money import round_money
from claims.errors import ConflictError, InputError, UnknownName
from claims.payments.writeoffs import post_writeoff, undo_writeoff
from claims.store.tables import CustomerRow, InvoiceRow, utcnow
from claims.store.tables.collections import (
    EscalationDecisionRow as Esc, EscalationEventRow as Event, InteractionRow,
)

if TYPE_CHECKING:  # only a type here: the workspace composes this slice
    from claims.workspace import Workspace

LIVE = ("proposed", "approved")


@dataclass
class Candidate:
    """An invoice that policy says may need legal action or a write-off, with the reasons."""

    customer: str
    invoice: str
    currency: str
    open_amount: Decimal
    due_date: date
    days_overdue: int
    action: str
    reasons: list[str]
    proposal: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"customer": self.customer, "invoice": self.invoice, "currency": self.currency,
                "open": str(self.open_amount), "due_date": self.due_date,
                "days_overdue": self.days_overdue, "action": self.action,
                "reasons": self.reasons, "proposal": self.proposal}


def _candidate_rows(ws: Workspace, as_of: date) -> list[Any]:
    """Open items old enough (or past a final notice) and not disputed, planned or approved,
    with the date of the final notice, the last contact that reached someone (an outcome in
    :data:`~claims.collections.interactions.REACHED`: the one place silence is measured), and
    any open proposal."""
    config = config_of(ws)
    policy = config.followup.escalation
    finals = [lv.name for lv in config.followup.levels if lv.final] or [
        config.followup.levels[-1].name]
    ensure_due_dates(ws.store.engine, config, as_of)
    with ws.store.engine.connect() as conn:
        sql = Sql(conn.dialect.name)
        cte, params = items_cte(sql, config, as_of)
        pauses, pause_params = pause_ctes(as_of, config)
        params |= pause_params
        finals_in = ", ".join(f":final{n}" for n in range(len(finals)))
        params |= {f"final{n}": name for n, name in enumerate(finals)}
        # the silence clock: only an interaction that reached someone is an answer
        reached_in = ", ".join(f":reached{n}" for n in range(len(REACHED)))
        params |= {f"reached{n}": outcome for n, outcome in enumerate(REACHED)}
        params["oldest_cut"] = as_of - timedelta(days=min(policy.legal_min_days,
                                                          policy.writeoff_min_days))
        query = f"""{cte}{pauses},
finals AS (
  SELECT di.invoice_id, MIN(s.as_of) AS final_at FROM dunning_send_items di
  JOIN dunning_sends s ON s.id = di.send_id
  WHERE s.state = 'sent' AND di.level IN ({finals_in}) GROUP BY di.invoice_id),
last_contact AS (
  SELECT customer_id, MAX(at) AS last_at FROM collection_interactions
  WHERE outcome IN ({reached_in}) AND kind NOT IN ('dunning', 'task')
    AND author <> 'followup' GROUP BY customer_id)
SELECT o.invoice_id, o.number, o.currency, o.due_date, o.open_amount, c.name AS customer,
       f.final_at, lc.last_at, px.id AS proposal_id, px.action AS proposal_action,
       px.proposed_by
FROM (SELECT invoice_id, MIN(number) AS number, MIN(currency) AS currency,
             MIN(due_date) AS due_date, SUM(open_amount) AS open_amount,
             MIN(customer_id) AS customer_id
      FROM open_items GROUP BY invoice_id) o
JOIN customers c ON c.id = o.customer_id
LEFT JOIN finals f ON f.invoice_id = o.invoice_id
LEFT JOIN last_contact lc ON lc.customer_id = o.customer_id
LEFT JOIN collection_escalations px ON px.invoice_id = o.invoice_id AND px.status = 'proposed'
WHERE (o.due_date <= :oldest_cut OR f.final_at IS NOT NULL)
  AND o.invoice_id NOT IN (SELECT invoice_id FROM disputed)
  AND o.invoice_id NOT IN (SELECT invoice_id FROM planned)
  AND NOT EXISTS (SELECT 1 FROM collection_escalations x
                  WHERE x.invoice_id = o.invoice_id AND x.status = 'approved')
ORDER BY c.name, o.number"""
        return list(conn.execute(bind(query, params)))


def escalation_candidates(ws: Workspace, as_of: date | None = None) -> list[Candidate]:
    """Invoices the rules propose for legal action or write-off on ``as_of``, with reasons.
    Nothing is decided here: see :func:`propose` and :func:`approve`."""
    as_of = as_of or date.today()
    config = config_of(ws)
    policy = config.followup.escalation
    rates = Rates.load(ws.store, config.followup.base_currency)
    out = []
    for r in _candidate_rows(ws, as_of):
        due = as_date(r.due_date)
        days = (as_of - due).days
        open_amount = money(r.open_amount, r.currency)
        amount, shown = open_amount, f"{open_amount}"
        if rates.base:  # the thresholds are in the base currency
            converted = rates.convert(open_amount, r.currency, as_of)
            if converted.amount is None:
                out.append(Candidate(r.customer, r.number, r.currency, open_amount, due, days,
                                     "unconverted", [converted.reason or "no rate"]))
                continue
            amount = converted.amount
            if r.currency != rates.base:
                shown = (f"{r.currency} {open_amount} = {rates.base} {amount} at "
                         f"{converted.rate} ({converted.rate_date})")
        reasons: list[str] = []
        action = ""
        if days >= policy.writeoff_min_days and amount <= policy.writeoff_max_amount:
            action = "write-off"
            reasons += [f"{days} days overdue (policy: {policy.writeoff_min_days})",
                        f"open {shown} ≤ {policy.writeoff_max_amount}"]
        else:
            if days >= policy.legal_min_days and amount >= policy.legal_min_amount:
                reasons += [f"{days} days overdue (policy: {policy.legal_min_days})",
                            f"open {shown} ≥ {policy.legal_min_amount}"]
            elif days >= policy.writeoff_min_days:  # no age or amount falls between the rules
                reasons += [f"{days} days overdue (policy: {policy.writeoff_min_days})",
                            f"open {shown} > {policy.writeoff_max_amount}: too large to "
                            "write off"]
            if r.final_at is not None:
                # the run's as-of day, so a catch-up run counts from the day it acted for
                final_on = as_date(r.final_at)
                silent = r.last_at is None or as_datetime(r.last_at).date() < final_on
                waited = (as_of - final_on).days
                if silent and waited >= policy.no_answer_days:
                    reasons.append(f"no answer {waited} days after the final notice "
                                   f"(policy: {policy.no_answer_days})")
            if reasons:
                action = "legal"
        if action:
            proposal = None if r.proposal_id is None else {
                "id": r.proposal_id, "action": r.proposal_action, "by": r.proposed_by}
            out.append(Candidate(r.customer, r.number, r.currency, amount, due, days, action,
                                 reasons, proposal))
    return out


# -- the control -------------------------------------------------------------------------------

def _same_person(a: str, b: str) -> bool:
    return a.strip().casefold() == b.strip().casefold()


def _open_balance(ws: Workspace, invoice: InvoiceRow, as_of: date
                  ) -> tuple[Decimal, int, date | None]:
    """The open balance of ``invoice`` known on ``as_of``, its days overdue (of its oldest
    open item; 0 or less: not overdue) and that item's due date (None: nothing open), read
    from the one due-date rule's schedule (:func:`ensure_due_dates`)."""
    config = config_of(ws)
    ensure_due_dates(ws.store.engine, config, as_of)
    with ws.store.engine.connect() as conn:
        items = [i for i in open_items(conn, config, customer_id=invoice.customer_id,
                                       as_of=as_of) if i.invoice_id == invoice.id]
    amount = sum((i.open_amount for i in items), Decimal(0))
    due = min((i.due_date for i in items), default=None)
    return amount, (as_of - due).days if due is not None else 0, due


def _live(s: Session, invoice_id: int, status: str | None = None) -> Esc | None:
    query = select(Esc).where(Esc.invoice_id == invoice_id)
    query = query.where(Esc.status == status) if status else query.where(Esc.status.in_(LIVE))
    return s.scalar(query.order_by(Esc.id.desc()))


def _log(s: Session, esc: Esc, kind: str, actor: str, note: str, *, override: bool = False,
         invoice: str, currency: str) -> Event:
    event = Event(escalation_id=esc.id, at=utcnow(), kind=kind, actor=actor, note=note,
                  override=override)
    s.add(event)
    s.add(InteractionRow(customer_id=esc.customer_id, at=event.at, author=actor, kind="note",
                         invoice_id=esc.invoice_id,
                         summary=f"{esc.action} of {invoice} ({currency} {esc.amount}) {kind}"
                                 + (" (override)" if override else "")
                                 + (f": {note}" if note else "")))
    s.flush()
    return event


def _evidence(ws: Workspace, event_id: int, kind: str, data: dict[str, Any]) -> int:
    """Record the step in the evidence archive (after its transaction committed: the archive
    writes through its own connection) and note the ledger index on the log line."""
    entry = ws.record_evidence(kind=f"escalation.{kind}", claim=None,
                               metadata={k: (v if isinstance(v, (str, int, bool)) or v is None
                                             else str(v)) for k, v in data.items()})
    with ws.store.session() as s:
        row = s.get(Event, event_id)
        if row is not None:
            row.evidence_index = entry.index
    return entry.index


def _result(esc: Esc, invoice: InvoiceRow, customer: str, event: Event) -> dict[str, Any]:
    return {"id": esc.id, "invoice": invoice.number, "customer": customer,
            "action": esc.action, "currency": invoice.currency, "amount": esc.amount,
            "status": esc.status, "reason": esc.reason, "proposed_by": esc.proposed_by,
            "approved_by": esc.approved_by, "override": event.override,
            "override_reason": esc.override_reason, "decided_by": event.actor,
            "note": event.note}


def _reason(text: str, field: str) -> str:
    if not text or not text.strip():
        raise InputError(f"{field.lstrip('-')} is missing", field=field, rule="non-empty")
    return text.strip()


def propose(ws: Workspace, invoice: str, *, action: str, reason: str,
            as_of: date | None = None) -> dict[str, Any]:
    """Propose legal action or a write-off of ``invoice`` for its open balance on ``as_of``
    (the workspace's actor proposes); another person approves or rejects it."""
    if action not in ACTIONS:
        raise UnknownName("action", action, ACTIONS, field="--action")
    reason = _reason(reason, "--reason")
    as_of = as_of or date.today()
    actor = ws.actor
    with ws.store.session() as s:
        inv = invoice_row(s, invoice)
        if inv.customer_id is None:
            raise InputError(f"invoice {inv.number} has no customer", field="invoice",
                             rule="has-customer")
        live = _live(s, inv.id)
        if live is not None:
            raise ConflictError(f"invoice {inv.number}: {live.action} is {live.status} already "
                                f"(#{live.id}); reject or revoke it first")
        amount, days, due = _open_balance(ws, inv, as_of)
        if amount <= 0:
            raise InputError(f"invoice {inv.number} has no open balance on {as_of}",
                             field="invoice", rule="open-balance")
        if days <= 0:  # overdue from the day after its due date, as everywhere
            raise InputError(f"invoice {inv.number} is not overdue on {as_of}: it falls due "
                             f"on {due}; only an overdue invoice is escalated", rule="overdue")
        esc = Esc(customer_id=inv.customer_id, invoice_id=inv.id, action=action, amount=amount,
                  reason=reason, status="proposed", proposed_by=actor, proposed_at=utcnow())
        s.add(esc)
        s.flush()
        event = _log(s, esc, "proposed", actor, reason, invoice=inv.number,
                     currency=inv.currency)
        name = s.get(CustomerRow, inv.customer_id).name  # type: ignore[union-attr]
        out = _result(esc, inv, name, event)
    out["evidence"] = _evidence(ws, event.id, "proposed", {
        "escalation": esc.id, "invoice": inv.number, "customer": name, "action": action,
        "amount": amount, "currency": inv.currency, "reason": reason, "as_of": as_of.isoformat()})
    return out


def _candidacy(ws: Workspace, inv: InvoiceRow, action: str, as_of: date) -> str | None:
    """``None`` if the rules propose ``action`` for ``inv`` on ``as_of``, else why not."""
    for c in escalation_candidates(ws, as_of):
        if c.invoice == inv.number:
            if c.action == action:
                return None
            if c.action == "unconverted":
                return c.reasons[0]
            return f"the rules propose {c.action}, not {action} ({'; '.join(c.reasons)})"
    amount, days, _ = _open_balance(ws, inv, as_of)
    return (f"the rules propose nothing for it on {as_of} ({days} days overdue, open "
            f"{inv.currency} {amount}; disputed, planned and younger items are never proposed)")


def approve(ws: Workspace, invoice: str, *, note: str = "", override_reason: str | None = None,
            action: str | None = None, as_of: date | None = None) -> dict[str, Any]:
    """Approve the open proposal on ``invoice`` (the actor approves; not its proposer).

    Candidacy is checked on ``as_of``: what the rules do not propose is approved only with an
    ``override_reason``, and marked as an override. A write-off is posted for the open balance
    on ``as_of``; legal action marks the item "at legal" and stops reminders on it.
    """
    as_of = as_of or date.today()
    actor = ws.actor
    override = override_reason.strip() if override_reason else None
    with ws.store.session() as s:
        inv = invoice_row(s, invoice)
        esc = _live(s, inv.id, "proposed")
        if esc is None:
            raise ConflictError(f"invoice {inv.number} has no open proposal; "
                                "`claims escalation propose` it first")
        if action is not None and action != esc.action:
            raise ConflictError(f"the proposal on {inv.number} is {esc.action}, not {action}")
        if _same_person(actor, esc.proposed_by):
            raise ConflictError(f"{actor} proposed {esc.action} of {inv.number}; the approver "
                                "must be someone else (set CLAIMS_ACTOR)")
        why_not = _candidacy(ws, inv, esc.action, as_of)
        if why_not is not None and not override:
            raise ConflictError(f"invoice {inv.number} is no {esc.action} candidate: {why_not}; "
                                "approve with --override-reason to override the rules")
        amount, _, _ = _open_balance(ws, inv, as_of)
        if amount <= 0:
            raise ConflictError(f"invoice {inv.number} has no open balance on {as_of}")
        esc.amount, esc.status = amount, "approved"
        esc.approved_by, esc.approved_at = actor, utcnow()
        esc.override_reason = override if why_not is not None else None
        if esc.action == "write-off":
            esc.application_id = post_writeoff(
                s, key=f"escalation:{esc.id}", invoice_id=inv.id, customer_id=esc.customer_id,
                number=inv.number, currency=inv.currency, amount=amount, on=as_of,
                reason=esc.reason, actor=actor)
        event = _log(s, esc, "approved", actor, note or (esc.override_reason or ""),
                     override=esc.override_reason is not None, invoice=inv.number,
                     currency=inv.currency)
        name = s.get(CustomerRow, esc.customer_id).name  # type: ignore[union-attr]
        out = _result(esc, inv, name, event)
    out["evidence"] = _evidence(ws, event.id, "approved", {
        "escalation": esc.id, "invoice": inv.number, "customer": name, "action": esc.action,
        "amount": amount, "currency": inv.currency, "proposed_by": esc.proposed_by,
        "note": note, "override": esc.override_reason is not None,
        "override_reason": esc.override_reason, "as_of": as_of.isoformat(),
        "writeoff_application": esc.application_id})
    return out


def _close(ws: Workspace, invoice: str, *, status: str, kind: str, reason: str
           ) -> dict[str, Any]:
    """Reject a proposal (``status`` proposed) or revoke an approval (approved)."""
    reason = _reason(reason, "--reason")
    actor = ws.actor
    with ws.store.session() as s:
        inv = invoice_row(s, invoice)
        esc = _live(s, inv.id, status)
        if esc is None:
            what = "open proposal" if status == "proposed" else "approved escalation"
            verb = "reject" if status == "proposed" else "revoke"
            raise ConflictError(f"invoice {inv.number} has no {what} to {verb}")
        esc.status = kind
        if esc.application_id is not None:
            undo_writeoff(s, esc.application_id, actor=actor, note=reason)
        event = _log(s, esc, kind, actor, reason, invoice=inv.number, currency=inv.currency)
        name = s.get(CustomerRow, esc.customer_id).name  # type: ignore[union-attr]
        out = _result(esc, inv, name, event)
    out["evidence"] = _evidence(ws, event.id, kind, {
        "escalation": esc.id, "invoice": inv.number, "customer": name, "action": esc.action,
        "amount": esc.amount, "currency": inv.currency, "reason": reason})
    return out


def reject(ws: Workspace, invoice: str, *, reason: str) -> dict[str, Any]:
    """Reject (or, by its proposer, withdraw) the open proposal on ``invoice``."""
    return _close(ws, invoice, status="proposed", kind="rejected", reason=reason)


def revoke(ws: Workspace, invoice: str, *, reason: str) -> dict[str, Any]:
    """Revoke the approved escalation of ``invoice``: a posted write-off is undone (the
    invoice is open again); legal action ends and reminders resume."""
    return _close(ws, invoice, status="approved", kind="revoked", reason=reason)


def decision_log(ws: Workspace, *, customer: str | None = None, invoice: str | None = None
                 ) -> list[dict[str, Any]]:
    """Every proposal and decision, oldest first (of one customer or invoice)."""
    with ws.store.session() as s:
        query = (select(Event, Esc, InvoiceRow.number, InvoiceRow.currency, CustomerRow.name)
                 .join(Esc, Esc.id == Event.escalation_id)
                 .join(InvoiceRow, InvoiceRow.id == Esc.invoice_id)
                 .join(CustomerRow, CustomerRow.id == Esc.customer_id)
                 .order_by(Event.at, Event.id))
        if customer:
            query = query.where(Esc.customer_id == customer_row(s, customer).id)
        if invoice:
            query = query.where(Esc.invoice_id == invoice_row(s, invoice).id)
        return [{"at": e.at, "escalation": x.id, "event": e.kind, "actor": e.actor,
                 "customer": name, "invoice": number, "action": x.action,
                 "currency": currency, "amount": str(round_money(x.amount, currency)),
                 "status": x.status, "note": e.note, "override": e.override,
                 "evidence": e.evidence_index}
                for e, x, number, currency, name in s.execute(query)]


__all__ = ["Candidate", "approve", "decision_log", "escalation_candidates", "propose", "reject",
           "revoke"]
