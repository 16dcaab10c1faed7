"""Payments review: proposed matches with their confidence and reason; accept, change, reject,
undo. And the KPIs page: the same numbers as ``claims kpi``."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from claims import api
from claims.web.charts import trend_charts
from claims.web.common import action, flash, form_amount, form_text, page, render


@page
def review(request: Request, ws: api.Workspace) -> Response:
    """Payments waiting for a decision, each with its proposal."""
    return render(request, "payments.html", queue=api.review_queue(ws))


def _payment(request: Request) -> int:
    return int(request.path_params["payment_id"])


def _payment_field(form: Any) -> int:
    text = form_text(form, "payment_id")
    if not text.isdigit():
        raise api.InputError(f"{text!r} is not a payment id", field="payment_id",
                             rule="whole-number")
    return int(text)


def _done(request: Request, message: str) -> str:
    flash(request, "ok", message)
    return "/payments"


@action
def accept(request: Request, ws: api.Workspace, form: Any) -> str:
    """Apply the proposed match."""
    api.accept_match(ws, _payment(request))
    return _done(request, f"payment {_payment(request)}: proposal accepted")


@action
def reject(request: Request, ws: api.Workspace, form: Any) -> str:
    """Reject the proposal (the payment stays unapplied)."""
    api.reject_match(ws, _payment(request), note=form_text(form, "note", required=False))
    return _done(request, f"payment {_payment(request)}: proposal rejected")


@action
def change(request: Request, ws: api.Workspace, form: Any) -> str:
    """Apply to other invoices: ``INVOICE`` or ``INVOICE=AMOUNT``, comma separated."""
    targets: list[tuple[str, Any]] = []
    for spec in form_text(form, "invoices").split(","):
        number, sep, amount = spec.strip().partition("=")
        if number:
            targets.append((number.strip(),
                            form_amount({"invoices": amount}, "invoices") if sep else None))
    api.change_match(ws, _payment(request), targets,
                     note=form_text(form, "note", required=False))
    return _done(request, f"payment {_payment(request)}: applied to "
                 f"{', '.join(n for n, _ in targets)}")


@action
def undo(request: Request, ws: api.Workspace, form: Any) -> str:
    """Undo every application of a payment (it goes back to review)."""
    payment = _payment_field(form)
    count = api.undo_payment(ws, payment, note=form_text(form, "note", required=False))
    return _done(request, f"payment {payment}: {count} application(s) undone")


@page
def kpis(request: Request, ws: api.Workspace) -> Response:
    """DSO, CEI, ADD, aging and the rest, from :func:`claims.api.compute_kpis`."""
    currency = request.query_params.get("currency") or None
    result = api.compute_kpis(ws, currency=currency)
    buckets = result["aging"]["buckets"]
    largest = max((abs(b["amount"]) for b in buckets), default=0) or 1
    return render(request, "kpis.html", k=result, buckets=buckets, largest=largest,
                  charts=trend_charts(result["trends"]),
                  trends=list(reversed(result["trends"])))


routes = [
    Route("/payments", review),
    Route("/payments/{payment_id:int}/accept", accept, methods=["POST"]),
    Route("/payments/{payment_id:int}/reject", reject, methods=["POST"]),
    Route("/payments/{payment_id:int}/change", change, methods=["POST"]),
    Route("/payments/undo", undo, methods=["POST"]),
    Route("/kpis", kpis),
]
