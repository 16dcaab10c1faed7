"""Tables of cash application: statement imports, match outcomes (the review queue), payer
accounts learned from applied matches, and saved CSV column mappings per bank.

``payments`` and ``payment_applications`` live in :mod:`claims.store.tables` (the core); this
package is the only writer of both.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from claims.store.tables import Base, MoneyColumn, UTCDateTime, utcnow


class StatementImportRow(Base):
    """One imported statement file; the same bytes imported again are recognised and skipped."""

    __tablename__ = "statement_imports"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    filename: Mapped[str] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(16))            # camt053 | mt940 | csv
    account: Mapped[str | None] = mapped_column(String(64))    # our account (IBAN)
    statement_id: Mapped[str | None] = mapped_column(String(200))
    lines: Mapped[int] = mapped_column(Integer, default=0)     # credit lines in the file
    added: Mapped[int] = mapped_column(Integer, default=0)     # new payments from it
    actor: Mapped[str] = mapped_column(String(100), default="")
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PaymentMatchRow(Base):
    """How a payment was matched: applied automatically, or waiting in / decided from review.

    ``status``: ``applied`` (auto), ``review`` (waiting), ``accepted``, ``changed``,
    ``rejected`` (decided by a specialist), ``undone`` (applications reversed; back in review),
    ``reversed`` (the bank returned the payment: its applications are undone, it is no cash).
    """

    __tablename__ = "payment_matches"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), unique=True)
    import_id: Mapped[int | None] = mapped_column(ForeignKey("statement_imports.id"),
                                                  index=True)
    method: Mapped[str] = mapped_column(String(32))            # reference | text | payer | …
    confidence: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    proposal: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    auto: Mapped[bool] = mapped_column(default=False)          # applied without a person
    status: Mapped[str] = mapped_column(String(16), index=True)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PaymentEventRow(Base):
    """The audit trail of cash application: applied, accepted, changed, rejected, undone."""

    __tablename__ = "payment_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(100), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class PayerAccountRow(Base):
    """A payer's bank account known to belong to a customer (learned from applied matches)."""

    __tablename__ = "payer_accounts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    iban: Mapped[str] = mapped_column(String(64), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BankCsvMappingRow(Base):
    """A bank's CSV export layout: which column holds what, the date format, separators."""

    __tablename__ = "bank_csv_mappings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bank: Mapped[str] = mapped_column(String(100), unique=True)
    mapping: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PaymentReversalRow(Base):
    """A credit the bank returned (camt.053 ``RvslInd``, MT940 ``RC``, a negative CSV line that
    finds its payment): the original payment's applications are undone so its invoices open
    again. ``status``: ``reversed`` (done), ``review`` (several payments fit: a person picks
    one), ``unmatched`` (the bank marked it, no payment fits; nothing was changed).
    """

    __tablename__ = "payment_reversals"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(200), unique=True)  # dedupes re-imports
    import_id: Mapped[int | None] = mapped_column(ForeignKey("statement_imports.id"),
                                                  index=True)
    value_date: Mapped[Any] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(MoneyColumn)                # positive
    currency: Mapped[str] = mapped_column(String(3))
    payer_name: Mapped[str | None] = mapped_column(String(200))
    payer_iban: Mapped[str | None] = mapped_column(String(64))
    reference: Mapped[str | None] = mapped_column(Text)
    remittance: Mapped[str | None] = mapped_column(Text)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"), index=True)
    candidates: Mapped[list[int]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), index=True)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
