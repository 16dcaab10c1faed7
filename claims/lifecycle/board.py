"""The pipeline board: claims by status, with count and amount per column, filtered by contract,
agency, portal and age. One grouped query for the totals, one small query per column for its
newest cards, so the board costs the same at ten claims and at ten thousand."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from claims.core.models import ClaimStatus
from claims.errors import InputError
from claims.store import Store
from claims.store.tables import ClaimRow, ContractRow, CustomerRow, InvoiceRow

#: The board's columns, in the order a claim travels.
BOARD_COLUMNS = (
    ClaimStatus.DRAFT, ClaimStatus.INVALID, ClaimStatus.VALID, ClaimStatus.READY,
    ClaimStatus.SUBMITTING, ClaimStatus.UNKNOWN, ClaimStatus.SUBMITTED, ClaimStatus.UNDER_REVIEW,
    ClaimStatus.RETURNED, ClaimStatus.NEEDS_ATTENTION, ClaimStatus.REJECTED_BY_PORTAL,
    ClaimStatus.APPROVED, ClaimStatus.PAYMENT_ORDERED, ClaimStatus.PAID, ClaimStatus.REJECTED,
    ClaimStatus.WITHDRAWN,
)
#: Columns shown even when empty (the main road); the others appear when they hold claims.
MAIN_ROAD = frozenset({ClaimStatus.DRAFT, ClaimStatus.VALID, ClaimStatus.READY,
                       ClaimStatus.SUBMITTED, ClaimStatus.UNDER_REVIEW, ClaimStatus.APPROVED,
                       ClaimStatus.PAID, ClaimStatus.RETURNED, ClaimStatus.NEEDS_ATTENTION,
                       ClaimStatus.REJECTED_BY_PORTAL})


@dataclass(frozen=True)
class BoardFilters:
    """What the board shows: only this contract / agency / portal, only claims at least
    ``min_age_days`` old (None: all)."""

    contract: str | None = None
    agency: str | None = None
    portal: str | None = None
    min_age_days: int | None = None
    status: str | None = None


@dataclass
class BoardColumn:
    """One status: how many claims, their amount per currency, and the newest cards."""

    status: str
    count: int = 0
    amounts: dict[str, Decimal] = field(default_factory=dict)
    cards: list[dict[str, Any]] = field(default_factory=list)


def _where(query: Any, filters: BoardFilters, now: datetime) -> Any:
    if filters.contract:
        query = query.where(ContractRow.number == filters.contract)
    if filters.agency:
        query = query.where(ContractRow.agency == filters.agency)
    if filters.portal:
        query = query.where(ContractRow.portal == filters.portal)
    if filters.min_age_days is not None:
        if filters.min_age_days < 0:
            raise InputError("must be 0 or more", field="age", rule="non-negative")
        query = query.where(ClaimRow.created_at <= now - timedelta(days=filters.min_age_days))
    if filters.status:
        words = {s.value for s in ClaimStatus}
        if filters.status not in words:
            raise InputError(f"{filters.status!r} is not a claim status", field="status",
                             rule="claim-status")
        query = query.where(ClaimRow.status == filters.status)
    return query


def _joined(query: Any) -> Any:
    return (query.join(ContractRow, ContractRow.id == ClaimRow.contract_id)
            .join(InvoiceRow, InvoiceRow.id == ClaimRow.invoice_id))


def board(store: Store, filters: BoardFilters, *, per_column: int = 25,
          now: datetime | None = None) -> dict[str, Any]:
    """The board: ``columns`` (a :class:`BoardColumn` per status shown), ``total`` claims and
    the ``choices`` the filters offer (contracts, agencies, portals)."""
    now = now or datetime.now(UTC)
    columns = {s.value: BoardColumn(s.value) for s in BOARD_COLUMNS}
    with store.session() as s:
        totals = s.execute(_where(_joined(
            select(ClaimRow.status, InvoiceRow.currency, func.count(ClaimRow.id),
                   func.sum(InvoiceRow.total))), filters, now)
            .group_by(ClaimRow.status, InvoiceRow.currency))
        for status, currency, count, amount in totals:
            column = columns[status]
            column.count += count
            # SUM keeps the column's type: SQLAlchemy already made it a Decimal
            column.amounts[currency] = Decimal(amount or 0)
        for column in columns.values():
            if column.count:
                column.cards = _cards(s, filters, now, column.status, per_column)
        choices = {
            "contracts": list(s.scalars(select(ContractRow.number).order_by(ContractRow.number))),
            "agencies": list(s.scalars(select(ContractRow.agency).distinct()
                                       .order_by(ContractRow.agency))),
            "portals": list(s.scalars(select(ContractRow.portal).distinct()
                                      .order_by(ContractRow.portal))),
        }
    shown = [c for c in columns.values()
             if c.count or (ClaimStatus(c.status) in MAIN_ROAD and not filters.status)]
    return {"columns": shown, "total": sum(c.count for c in shown), "choices": choices}


def _cards(s: Any, filters: BoardFilters, now: datetime, status: str,
           limit: int) -> list[dict[str, Any]]:
    rows = s.execute(_where(_joined(
        select(ClaimRow.id, ClaimRow.created_at, ClaimRow.portal_reference, ContractRow.number,
               ContractRow.agency, ContractRow.portal, InvoiceRow.number, InvoiceRow.total,
               InvoiceRow.currency, CustomerRow.name))
        .outerjoin(CustomerRow, CustomerRow.id == InvoiceRow.customer_id), filters, now)
        .where(ClaimRow.status == status).order_by(ClaimRow.id.desc()).limit(limit))
    return [{"id": cid, "age_days": max((now - created).days, 0), "reference": ref,
             "contract": contract, "agency": agency, "portal": portal, "invoice": invoice,
             "total": total, "currency": currency, "customer": customer or agency}
            for cid, created, ref, contract, agency, portal, invoice, total, currency, customer
            in rows]
