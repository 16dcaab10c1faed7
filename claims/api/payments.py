"""Cash application as user actions: statements in, matches reviewed, undone, reconciled."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from claims.core.importers import read_file
from claims.errors import InputError
from claims.payments import reconcile, reversals, service
from claims.payments.parsers import STATEMENT_FORMATS, statement_formats
from claims.workspace import Workspace

__all__ = ["read_mapping_file", "statement_formats", "import_statement", "review_queue",
           "accept_match", "change_match", "reject_match", "undo_payment", "payment_history",
           "reconciliation", "save_bank_mapping", "bank_mapping", "payment_reversals",
           "resolve_reversal"]

def import_statement(ws: Workspace, path: Path, *, fmt: str | None = None,
                     bank: str | None = None, dry_run: bool = False) -> Any:
    """Import a bank statement: new credits matched, applied when certain, else queued.
    The same statement imported again adds nothing."""
    if fmt is not None:
        STATEMENT_FORMATS.get(fmt)  # an unknown name: "did you mean …?", before any reading
    return service.import_statement(ws.store, path, fmt=fmt, bank=bank,
                                    settings=ws.settings.payments, actor=ws.actor,
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


def reconciliation(ws: Workspace, *, customer: str | None = None,
                   as_of: date | None = None) -> list[dict[str, Any]]:
    """Per customer: invoiced, claimed, paid, open, and every unexplained difference, as of
    ``as_of`` (default today) by the rule of the other as-of views (claims.store.asof)."""
    return reconcile.reconciliation(ws.store, customer=customer, as_of=as_of or date.today())


def read_mapping_file(path: Path) -> dict[str, Any]:
    """A bank mapping file (a JSON object); an :class:`InputError` naming it otherwise."""
    try:
        data = json.loads(read_file(path, rule="file-readable").decode("utf-8"))
    except UnicodeDecodeError as err:
        raise InputError(f"not UTF-8 text (byte {err.start})", file=str(path),
                         rule="json-syntax") from None
    except json.JSONDecodeError as err:
        raise InputError(f"not JSON: {err}", file=str(path), rule="json-syntax") from None
    except RecursionError:
        raise InputError("nested too deeply", file=str(path), rule="json-syntax") from None
    if not isinstance(data, dict):
        raise InputError("a mapping is a JSON object", file=str(path), rule="csv-mapping")
    return data


def save_bank_mapping(ws: Workspace, bank: str, data: dict[str, Any], *,
                      file: str = "<mapping>") -> Any:
    """Save a bank's CSV column mapping (checked first)."""
    return service.save_mapping(ws.store, bank, data, file=file)


def bank_mapping(ws: Workspace, bank: str) -> Any:
    """A bank's saved CSV column mapping."""
    return service.get_mapping(ws.store, bank)


def payment_reversals(ws: Workspace, *, status: str | None = None) -> list[dict[str, Any]]:
    """Returned credits: reversed (their payment's invoices reopened), in review (several
    payments fit), unmatched (no payment fits)."""
    return reversals.reversals(ws.store, status=status)


def resolve_reversal(ws: Workspace, reversal_id: int, payment_id: int) -> int:
    """Name the payment a reversal in review returned: its applications are undone (its
    invoices open again). Returns how many applications were undone."""
    return reversals.resolve(ws.store, reversal_id, payment_id, actor=ws.actor)
