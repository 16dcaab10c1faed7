"""Cash application as user actions: statements in, matches reviewed, undone, reconciled."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from claims.errors import InputError
from claims.payments import reconcile, service
from claims.payments.parsers import FORMATS
from claims.workspace import Workspace

__all__ = ["STATEMENT_FORMATS", "import_statement", "review_queue", "accept_match",
           "change_match", "reject_match", "undo_payment", "payment_history",
           "reconciliation", "save_bank_mapping", "bank_mapping"]

#: The statement formats ``payments import --format`` knows.
STATEMENT_FORMATS = tuple(FORMATS)


def _match_settings(ws: Workspace) -> Any:
    return service.match_settings(ws.settings.extra, file=str(ws.config_path))


def import_statement(ws: Workspace, path: Path, *, fmt: str | None = None,
                     bank: str | None = None, dry_run: bool = False) -> Any:
    """Import a bank statement: new credits matched, applied when certain, else queued.
    The same statement imported again adds nothing."""
    if fmt is not None and fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}",
                         field="--format", rule="statement-format")
    return service.import_statement(ws.store, path, fmt=fmt, bank=bank,
                                    settings=_match_settings(ws), actor=ws.actor,
                                    dry_run=dry_run)


def review_queue(ws: Workspace) -> list[dict[str, Any]]:
    """Payments waiting for a decision, each with the proposed match and its reason."""
    return service.review_queue(ws.store)


def accept_match(ws: Workspace, payment_id: int) -> None:
    """Apply the proposed match of a payment."""
    service.accept(ws.store, payment_id, actor=ws.actor)


def change_match(ws: Workspace, payment_id: int,
                 invoices: Sequence[tuple[str, Decimal | None]], *, note: str = "") -> list[Any]:
    """Apply a payment to these invoices instead (amount None: what is open); the rest goes
    on account. Returns the allocations."""
    return service.change(ws.store, payment_id, invoices, actor=ws.actor, note=note)


def reject_match(ws: Workspace, payment_id: int, *, note: str = "") -> None:
    """Reject the proposal: the payment stays unapplied."""
    service.reject(ws.store, payment_id, actor=ws.actor, note=note)


def undo_payment(ws: Workspace, payment_id: int, *, note: str = "") -> int:
    """Undo every application of a payment (it goes back to review); returns how many."""
    return service.undo(ws.store, payment_id, actor=ws.actor, note=note)


def payment_history(ws: Workspace, payment_id: int) -> list[dict[str, Any]]:
    """Every recorded step of a payment."""
    return service.history(ws.store, payment_id)


def reconciliation(ws: Workspace, *, customer: str | None = None) -> list[dict[str, Any]]:
    """Per customer: invoiced, claimed, paid, open, and every unexplained difference."""
    return reconcile.reconciliation(ws.store, customer=customer)


def save_bank_mapping(ws: Workspace, bank: str, data: dict[str, Any], *,
                      file: str = "<mapping>") -> Any:
    """Save a bank's CSV column mapping (checked first)."""
    return service.save_mapping(ws.store, bank, data, file=file)


def bank_mapping(ws: Workspace, bank: str) -> Any:
    """A bank's saved CSV column mapping."""
    return service.get_mapping(ws.store, bank)
