"""What validating and building claims needs, read for many claims at once (``claim build
--all`` reads a group's claims in a few queries, not four per claim)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from claims.core.models import DEAD, Claim, Contract, Invoice, stored_contract
from claims.store.tables import ClaimRow, ContractRow, InvoiceRow

#: Statuses whose claims no longer count against the ceiling or block a new claim.
#: The dead statuses as stored (see :data:`claims.core.models.DEAD`).
DEAD_STATUSES = frozenset(s.value for s in DEAD)

ToClaims = Callable[[Session, Sequence[ClaimRow], dict[int, tuple[str, str]],
                     dict[str, dict[str, Any]]], list[Claim]]


def claim_contexts(s: Session, claim_ids: Sequence[int],
                   to_claims: ToClaims) -> dict[int, dict[str, Any]]:
    """For each of ``claim_ids`` that exists (by id): the claim with its documents and
    history, its contract and invoice, whether the invoice changed since the claim was made,
    the contract's earlier live claims and the documents' stored inspections. Four queries
    for all of them; each contract and invoice parsed once."""
    found = s.execute(
        select(ClaimRow, ContractRow.number, ContractRow.data, InvoiceRow.number,
               InvoiceRow.data, InvoiceRow.content_hash)
        .join(ContractRow, ContractRow.id == ClaimRow.contract_id)
        .join(InvoiceRow, InvoiceRow.id == ClaimRow.invoice_id)
        .where(ClaimRow.id.in_(list(claim_ids)))).all()
    if not found:
        return {}
    rows = [f[0] for f in found]
    inspections: dict[str, dict[str, Any]] = {}
    claims = to_claims(s, rows, {f[0].id: (f[1], f[3]) for f in found}, inspections)
    live = s.execute(
        select(ClaimRow.id, ClaimRow.contract_id, InvoiceRow.number, ClaimRow.status,
               InvoiceRow.total)
        .join(InvoiceRow, InvoiceRow.id == ClaimRow.invoice_id)
        .where(ClaimRow.contract_id.in_(sorted({r.contract_id for r in rows})),
               ClaimRow.id < max(r.id for r in rows), ClaimRow.status.not_in(DEAD_STATUSES))
        .order_by(ClaimRow.id)).all()
    contracts: dict[str, Contract] = {}
    invoices: dict[str, Invoice] = {}
    out: dict[int, dict[str, Any]] = {}
    for (row, contract_no, contract_data, invoice_no, invoice_data, invoice_hash), claim in zip(
            found, claims, strict=True):
        if contract_no not in contracts:
            contracts[contract_no] = stored_contract(contract_data)
        if invoice_no not in invoices:
            invoices[invoice_no] = Invoice.model_validate(invoice_data)
        out[row.id] = {
            "claim": claim, "contract": contracts[contract_no], "invoice": invoices[invoice_no],
            "invoice_changed": bool(row.invoice_hash and row.invoice_hash != invoice_hash),
            # only earlier live claims: a later claim never invalidates an earlier one
            "earlier": [(i, number, status, total) for i, contract_id, number, status, total
                        in live if contract_id == row.contract_id and i < row.id],
            "inspections": {d.sha256: inspections[d.sha256] for d in claim.documents
                            if d.sha256 in inspections}}
    return out
