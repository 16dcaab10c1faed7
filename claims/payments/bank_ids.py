"""The one rule for a bank's transaction id met again (issue pay28, items 4 and 5).

A line's ``external_id`` names one transaction. Met again — in a later file, or twice in one
statement — it is:

* the **same transaction** when its facts agree (value date, amount, currency, payer name and
  IBAN): an idempotent re-import, counted ``already_known`` and added once. Two identical lines
  with one id in a single statement (a transaction listed in two overlapping ``Stmt`` blocks,
  or a CSV row repeated) are the same transaction too: the second is a duplicate of the first;
* a **conflict** when any of those facts differ: refused with an
  :class:`~claims.errors.InputError` naming the file, the line(s), the id and every differing
  fact (rules ``bank-id-conflict`` against a kept payment, ``bank-id-repeated`` within one
  batch of the statement). The import is one transaction, so nothing of the file is kept.

A reversal line's id met again is compared the same way, against the kept reversal
(:func:`claims.payments.reversals.known_reversal`).

The free texts (reference, remittance) are not compared: a bank may word them differently in a
later export; the payment keeps the first import's. Within one file, two lines more than an
import batch apart (:data:`claims.payments.service.IMPORT_BATCH`) are compared through the
kept payment, and the finding then names the later line and "an earlier line of this file".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from claims.errors import InputError
from claims.payments.matching import plain
from claims.payments.statement import StatementLine
from claims.store.tables import PaymentRow
from claims.store.tables.payments import PaymentMatchRow, StatementImportRow

#: the facts that make a transaction: its id met again with any of these different conflicts
FACTS = (("value_date", "value date"), ("amount", "amount"), ("currency", "currency"),
         ("payer_name", "payer name"), ("payer_iban", "payer IBAN"))


def differences(kept: Any, line: StatementLine) -> list[str]:
    """``"amount 113850.00 ≠ 500.00"`` for each fact of ``line`` that differs from ``kept``
    (a kept payment row or an earlier line)."""
    out = []
    for name, label in FACTS:
        old, new = getattr(kept, name), getattr(line, name)
        if old != new:
            out.append(f"{label} {_shown(old)} ≠ {_shown(new)}")
    return out


def _shown(value: Any) -> str:
    if value is None:
        return "(none)"
    return str(plain(value)) if hasattr(value, "quantize") else str(value)


def fresh_lines(s: Session, lines: Sequence[StatementLine], *, file: str,
                import_id: int | None) -> tuple[list[StatementLine], int]:
    """The lines of ``lines`` to add (first of each bank id, not kept yet) and how many are
    already known (kept, or repeated in ``lines``); an InputError for a conflict (module doc)."""
    first: dict[str, StatementLine] = {}
    repeats = 0
    for line in lines:
        seen = first.setdefault(line.external_id, line)
        if seen is line:
            continue
        diff = differences(seen, line)
        if diff:
            raise InputError(
                f"bank id {line.external_id} is also on {seen.where or 'an earlier line'} with "
                f"other content: {'; '.join(diff)} (one id names one transaction; nothing of "
                "this file is kept)", file=file, field=line.where, rule="bank-id-repeated")
        repeats += 1
    ids = list(first)
    known: set[str] = set()
    for start in range(0, len(ids), 500):
        for row in s.execute(
                select(PaymentRow.id, PaymentRow.external_id, PaymentRow.value_date,
                       PaymentRow.amount, PaymentRow.currency, PaymentRow.payer_name,
                       PaymentRow.payer_iban, PaymentMatchRow.import_id,
                       StatementImportRow.filename)
                .outerjoin(PaymentMatchRow, PaymentMatchRow.payment_id == PaymentRow.id)
                .outerjoin(StatementImportRow,
                           StatementImportRow.id == PaymentMatchRow.import_id)
                .where(PaymentRow.external_id.in_(ids[start:start + 500]))):
            line = first[row.external_id]
            known.add(row.external_id)
            diff = differences(row, line)
            if diff:
                source = ("an earlier line of this file" if row.import_id == import_id
                          and import_id is not None else row.filename or "an earlier import")
                raise InputError(
                    f"bank id {line.external_id} is already kept as payment #{row.id} (from "
                    f"{source}) with other content: {'; '.join(diff)} (one id names one "
                    "transaction; nothing of this file is kept)", file=file, field=line.where,
                    rule="bank-id-conflict")
    return [line for line in first.values() if line.external_id not in known], \
        len(known) + repeats
