"""The back office (JSON, header ``X-Backoffice-Token``): accounts, contracts, claims moved
through their statuses, comments, payments, and bulk seeding for load tests.
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from portals.sandbox import db
from portals.sandbox.rules import LIMITS
from portals.sandbox.web.core import Handler, Portal, portal_of

TRANSITIONS: dict[str, set[str]] = {
    "submitted": {"under_review", "rejected"},
    "under_review": {"returned", "approved", "rejected"},
    "returned": {"rejected"},
    "approved": {"payment_ordered", "rejected"},
    "payment_ordered": set(),
    "paid": set(),
    "rejected": set(),
}


PAYABLE = {"approved", "payment_ordered"}


class BackofficeError(Exception):
    """A refused back-office request: answered as JSON ``{"error": ...}`` with ``status``."""

    def __init__(self, status: int, message: str):
        """A refusal with HTTP ``status`` and ``message``."""
        super().__init__(message)
        self.status = status


def backoffice(fn: Callable[[Request, Portal, dict[str, Any]], Any]) -> Handler:
    """Wrap a back-office call: check the token, parse the JSON body, answer JSON (errors too)."""

    async def handler(request: Request) -> Response:
        """Answer one back-office request."""
        portal = portal_of(request)
        given = request.headers.get("x-backoffice-token", "")
        if not hmac.compare_digest(given, portal.config.backoffice_token):
            return JSONResponse({"error": "missing or wrong X-Backoffice-Token"}, status_code=401)
        body: dict[str, Any] = {}
        if request.method in ("POST", "PUT"):
            try:
                body = await request.json()
            except ValueError:
                return JSONResponse({"error": "body must be JSON"}, status_code=400)
        try:
            result = fn(request, portal, body)
        except BackofficeError as err:
            return JSONResponse({"error": str(err)}, status_code=err.status)
        except (KeyError, TypeError, ValueError, InvalidOperation) as err:
            return JSONResponse({"error": f"bad request: {err!r}"}, status_code=400)
        return JSONResponse(result)

    return handler


def bo_add_account(request: Request, portal: Portal, body: dict[str, Any]) -> dict[str, Any]:
    """Create or reset a supplier account (password, optional TOTP secret, unlocked)."""
    with portal.Session() as s, s.begin():
        account = s.scalar(select(db.Account).where(db.Account.username == body["username"]))
        if account is None:
            account = db.Account(username=body["username"])
            s.add(account)
        account.password_hash = db.hash_password(body["password"])
        account.totp_secret = body.get("totp_secret") or None
        account.failed_logins, account.locked = 0, False
    return {"username": body["username"]}


def bo_unlock(request: Request, portal: Portal, body: dict[str, Any]) -> dict[str, Any]:
    """Unlock an account locked after failed sign-ins."""
    with portal.Session() as s, s.begin():
        account = s.scalar(
            select(db.Account).where(db.Account.username == request.path_params["username"])
        )
        if account is None:
            raise BackofficeError(404, "no such account")
        account.failed_logins, account.locked = 0, False
    return {"username": request.path_params["username"], "locked": False}


def bo_account(request: Request, portal: Portal, body: dict[str, Any]) -> dict[str, Any]:
    """An account's lock state and failed sign-in count."""
    with portal.Session() as s:
        account = s.scalar(
            select(db.Account).where(db.Account.username == request.path_params["username"])
        )
        if account is None:
            raise BackofficeError(404, "no such account")
        return {
            "username": account.username,
            "locked": account.locked,
            "failed_logins": account.failed_logins,
        }


def bo_add_contract(request: Request, portal: Portal, body: dict[str, Any]) -> dict[str, Any]:
    """Create or update a contract of an account, with the document types it asks for."""
    doc_types = list(body.get("document_types") or ["invoice"])
    if len(doc_types) > LIMITS.max_files or len(set(doc_types)) != len(doc_types):
        raise BackofficeError(400, f"document_types: 1 to {LIMITS.max_files} distinct types")
    with portal.Session() as s, s.begin():
        account = s.scalar(select(db.Account).where(db.Account.username == body["username"]))
        if account is None:
            raise BackofficeError(404, f"no account {body['username']!r}")
        contract = s.scalar(select(db.Contract).where(db.Contract.number == body["number"]))
        if contract is None:
            contract = db.Contract(number=body["number"])
            s.add(contract)
        contract.account_id = account.id
        contract.title = body.get("title") or body["number"]
        contract.currency = body.get("currency", "EUR")
        contract.document_types = ",".join(doc_types)
    return {"number": body["number"], "document_types": doc_types}


def claim_json(claim: db.Claim) -> dict[str, Any]:
    """A claim as the back office shows it: status, files, history, comments, payments."""
    paid = [p for p in claim.payments]
    return {
        "reference": claim.reference,
        "contract_number": claim.contract.number,
        "invoice_number": claim.invoice_number,
        "status": claim.status,
        "status_at": db.aware(claim.status_at).isoformat(),  # type: ignore[union-attr]
        "total": claim.total,
        "currency": claim.currency,
        "files": [
            {"document_type": f.document_type, "filename": f.filename, "sha256": f.sha256}
            for f in claim.files
        ],
        "history": [{"status": e.status, "note": e.note} for e in claim.events],
        "comments": [c.text for c in claim.comments],
        "payments": [
            {"amount": p.amount, "date": str(p.paid_on), "reference": p.reference} for p in paid
        ],
    }


def bo_claim_for(s: Session, ref: str) -> db.Claim:
    """The claim with reference ``ref``; BackofficeError 404 if there is none."""
    claim = s.scalar(select(db.Claim).where(db.Claim.reference == ref))
    if claim is None:
        raise BackofficeError(404, f"no claim {ref}")
    return claim


def bo_claim(request: Request, portal: Portal, body: dict[str, Any]) -> dict[str, Any]:
    """One claim as JSON."""
    with portal.Session() as s:
        return claim_json(bo_claim_for(s, request.path_params["ref"]))


def bo_claims(request: Request, portal: Portal, body: dict[str, Any]) -> dict[str, Any]:
    """Every claim (optionally of one invoice number) as JSON."""
    with portal.Session() as s:
        query = select(db.Claim)
        inv = request.query_params.get("invoice")
        if inv:
            query = query.where(db.Claim.invoice_number == inv)
        return {"claims": [claim_json(c) for c in s.scalars(query.order_by(db.Claim.id))]}


def bo_move(request: Request, portal: Portal, body: dict[str, Any]) -> dict[str, Any]:
    """Move a claim to another status (returned needs reasons); returns the claim."""
    target = body["status"]
    now = db.utcnow()
    with portal.Session() as s, s.begin():
        claim = bo_claim_for(s, request.path_params["ref"])
        if target not in TRANSITIONS.get(claim.status, set()):
            raise BackofficeError(409, f"cannot move a {claim.status} claim to {target}")
        reasons = [str(r) for r in body.get("reasons") or []]
        if target == "returned" and not reasons:
            raise BackofficeError(400, "a returned claim needs at least one reason")
        claim.status, claim.status_at = target, now
        claim.events.append(db.StatusEvent(status=target, at=now, note="; ".join(reasons)))
        for reason in reasons:
            claim.comments.append(db.Comment(at=now, text=f"Returned: {reason}"))
        if body.get("comment"):
            claim.comments.append(db.Comment(at=now, text=str(body["comment"])))
        s.flush()
        return claim_json(claim)


def bo_comment(request: Request, portal: Portal, body: dict[str, Any]) -> dict[str, Any]:
    """Add a comment to a claim; returns the claim."""
    with portal.Session() as s, s.begin():
        claim = bo_claim_for(s, request.path_params["ref"])
        claim.comments.append(db.Comment(at=db.utcnow(), text=str(body["text"])))
        s.flush()
        return claim_json(claim)


def bo_pay(request: Request, portal: Portal, body: dict[str, Any]) -> dict[str, Any]:
    """Record a payment: paid in full makes the claim paid, else payment_ordered."""
    amount = Decimal(str(body["amount"]))
    if amount <= 0:
        raise BackofficeError(400, "amount must be positive")
    now = db.utcnow()
    with portal.Session() as s, s.begin():
        claim = bo_claim_for(s, request.path_params["ref"])
        if claim.status not in PAYABLE:
            raise BackofficeError(409, f"cannot pay a {claim.status} claim")
        claim.payments.append(
            db.Payment(
                amount=str(amount),
                paid_on=dt.date.fromisoformat(body["date"]),
                reference=str(body["reference"]),
            )
        )
        s.flush()
        paid = sum((Decimal(p.amount) for p in claim.payments), Decimal(0))
        claim.status = "paid" if paid >= Decimal(claim.total) else "payment_ordered"
        claim.status_at = now
        claim.events.append(
            db.StatusEvent(
                status=claim.status, at=now, note=f"payment {body['reference']}: {amount}"
            )
        )
        s.flush()
        return claim_json(claim)


def bo_seed_claims(request: Request, portal: Portal, body: dict[str, Any]) -> dict[str, Any]:
    """Bulk-create ``count`` submitted claims (no files) for load tests."""
    count = int(body["count"])
    prefix = str(body.get("prefix", "BULK-"))
    now = db.utcnow()
    with portal.Session() as s, s.begin():
        contract = s.scalar(select(db.Contract).where(db.Contract.number == body["contract"]))
        if contract is None:
            raise BackofficeError(404, "no such contract")
        start = (s.scalar(select(func.max(db.Claim.id))) or 0) + 1
        s.execute(
            insert(db.Claim),
            [
                {
                    "id": start + i,
                    "reference": f"CLM-{now.year}-{start + i:06d}",
                    "account_id": contract.account_id,
                    "contract_id": contract.id,
                    "invoice_number": f"{prefix}{i + 1:06d}",
                    "invoice_date": now.date(),
                    "period_start": now.date(),
                    "period_end": now.date(),
                    "currency": contract.currency,
                    "net": "100.00",
                    "vat": "20.00",
                    "total": "120.00",
                    "status": "submitted",
                    "submitted_at": now,
                    "status_at": now,
                }
                for i in range(count)
            ],
        )
    return {"created": count}


#: the back office's data endpoints, for :func:`portals.sandbox.app.create_app`
ROUTES = [
    Route("/backoffice/accounts", backoffice(bo_add_account), methods=["POST"]),
    Route("/backoffice/accounts/{username}", backoffice(bo_account), methods=["GET"]),
    Route("/backoffice/accounts/{username}/unlock", backoffice(bo_unlock), methods=["POST"]),
    Route("/backoffice/contracts", backoffice(bo_add_contract), methods=["POST"]),
    Route("/backoffice/claims", backoffice(bo_claims), methods=["GET"]),
    Route("/backoffice/claims/{ref}", backoffice(bo_claim), methods=["GET"]),
    Route("/backoffice/claims/{ref}/status", backoffice(bo_move), methods=["POST"]),
    Route("/backoffice/claims/{ref}/comments", backoffice(bo_comment), methods=["POST"]),
    Route("/backoffice/claims/{ref}/payments", backoffice(bo_pay), methods=["POST"]),
    Route("/backoffice/seed-claims", backoffice(bo_seed_claims), methods=["POST"]),
]
