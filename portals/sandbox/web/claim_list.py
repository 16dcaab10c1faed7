"""The supplier's claims: the filtered, paginated list and its CSV export."""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portals.sandbox import db
from portals.sandbox.web.core import (
    STATUSES,
    account_id,
    contracts_of,
    error_page,
    fmt_money,
    page,
    portal_of,
    render,
)


def claim_filters(request: Request) -> tuple[Any, dict[str, str]]:
    """The query of the caller's claim ids matching the status/contract/invoice filters,
    and the filters as given."""
    params = {k: request.query_params.get(k, "").strip() for k in ("status", "contract", "invoice")}
    query = (
        select(db.Claim.id)
        .join(db.Contract, db.Claim.contract_id == db.Contract.id)
        .where(db.Claim.account_id == account_id(request))
    )
    if params["status"]:
        query = query.where(db.Claim.status == params["status"])
    if params["contract"]:
        query = query.where(db.Contract.number == params["contract"])
    if params["invoice"]:
        query = query.where(db.Claim.invoice_number == params["invoice"])
    return query, params


#: no supplier has this many pages; a larger number is a bad request, not an SQL overflow
MAX_PAGE = 1_000_000


def whole_number(request: Request, name: str, default: str, most: int) -> int | None:
    """The query parameter ``name`` as a whole number from 1 to ``most``, else None
    (``1e27``, ``-1``, ``abc`` and ``99999999999999999999`` are all None)."""
    text = request.query_params.get(name, default).strip()
    if not text.isascii() or not text.isdigit() or len(text) > len(str(most)):
        return None
    value = int(text)
    return value if 1 <= value <= most else None


@page("list")
async def claims_list(request: Request) -> Response:
    """The paginated, filtered list of the supplier's claims."""
    query, params = claim_filters(request)
    page_no = whole_number(request, "page", "1", MAX_PAGE)
    per_page = whole_number(request, "per_page", "25", 100)
    if page_no is None or per_page is None:
        return error_page(
            request, 400, "Bad request",
            f"page must be a whole number from 1 to {MAX_PAGE}, per_page from 1 to 100.",
        )  # fmt: skip
    with portal_of(request).Session() as s:
        total = s.scalar(select(func.count()).select_from(query.subquery())) or 0
        ids = query.order_by(db.Claim.id.desc()).limit(per_page).offset((page_no - 1) * per_page)
        rows = s.execute(
            select(
                db.Claim.reference,
                db.Contract.number,
                db.Claim.invoice_number,
                db.Claim.invoice_date,
                db.Claim.currency,
                db.Claim.total,
                db.Claim.status,
                db.Claim.status_at,
            )
            .join(db.Contract, db.Claim.contract_id == db.Contract.id)
            .where(db.Claim.id.in_(ids.scalar_subquery()))
            .order_by(db.Claim.id.desc())
        ).all()
        contracts = contracts_of(s, account_id(request))
    pages = max(1, math.ceil(total / per_page))
    qs = "&".join(f"{k}={v}" for k, v in params.items() if v)
    return render(
        request,
        "claims.html",
        title="My claims",
        rows=rows,
        total=total,
        page_no=page_no,
        pages=pages,
        per_page=per_page,
        params=params,
        qs=qs,
        statuses=STATUSES,
        contracts=contracts,
        fmt_money=fmt_money,
    )


CSV_COLUMNS = (
    "reference",
    "contract_number",
    "invoice_number",
    "invoice_date",
    "period_start",
    "period_end",
    "currency",
    "net",
    "vat",
    "total",
    "status",
    "status_at",
    "submitted_at",
    "paid_amount",
    "paid_date",
    "payment_reference",
    "comments",
)


#: a cell starting with one of these is a formula to a spreadsheet (CSV injection)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell_safe(value: object) -> object:
    """``value`` for a CSV cell: text a spreadsheet would run as a formula gets a leading
    ``'`` (OWASP's advice); readers strip it again (:func:`portals.sandbox.adapter.unescape`)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


@page("export")
async def claims_export(request: Request) -> Response:
    """Every matching claim as CSV, in a handful of queries whatever the number of claims."""
    query, _ = claim_filters(request)
    ids = query.scalar_subquery()
    with portal_of(request).Session() as s:
        rows = s.execute(
            select(
                db.Claim.id,
                db.Claim.reference,
                db.Contract.number,
                db.Claim.invoice_number,
                db.Claim.invoice_date,
                db.Claim.period_start,
                db.Claim.period_end,
                db.Claim.currency,
                db.Claim.net,
                db.Claim.vat,
                db.Claim.total,
                db.Claim.status,
                db.Claim.status_at,
                db.Claim.submitted_at,
            )
            .join(db.Contract, db.Claim.contract_id == db.Contract.id)
            .where(db.Claim.id.in_(ids))
            .order_by(db.Claim.id)
        ).all()
        comments: dict[int, list[str]] = {}
        for cid, text in s.execute(
            select(db.Comment.claim_id, db.Comment.text)
            .where(db.Comment.claim_id.in_(ids))
            .order_by(db.Comment.id)
        ):
            comments.setdefault(cid, []).append(text)
        payments: dict[int, list[tuple[str, dt.date, str]]] = {}
        for cid, amount, paid_on, ref in s.execute(
            select(db.Payment.claim_id, db.Payment.amount, db.Payment.paid_on, db.Payment.reference)
            .where(db.Payment.claim_id.in_(ids))
            .order_by(db.Payment.id)
        ):
            payments.setdefault(cid, []).append((amount, paid_on, ref))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        paid = payments.get(row[0], [])
        writer.writerow(
            cell_safe(c) for c in [
                *row[1:12],
                db.aware(row[12]).isoformat(),  # type: ignore[union-attr]
                db.aware(row[13]).isoformat(),  # type: ignore[union-attr]
                str(sum((Decimal(p[0]) for p in paid), Decimal(0))) if paid else "",
                str(paid[-1][1]) if paid else "",
                paid[-1][2] if paid else "",
                "\n".join(comments.get(row[0], [])),
            ]
        )
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="claims.csv"'},
    )


#: the list and its export, for :func:`portals.sandbox.app.create_app`
ROUTES = [
    Route("/claims", claims_list),
    Route("/claims/export.csv", claims_export),
]
