"""The SQLAlchemy tables. Domain models live in :mod:`claims.core.models`; the store maps between.

Money columns are :class:`MoneyColumn`: exact integers of 1/10,000 of the currency unit, so sums
in SQL are exact on SQLite (which has no decimal type) and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON, BigInteger, Date, DateTime, ForeignKey, Index, Integer, MetaData, String, Text,
    TypeDecorator, UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from claims.core.money import CURRENCIES, amount_limit, minor_units

MONEY_SCALE = 4

#: How many amounts at their currency's limit a SQL ``SUM`` of one 64-bit column must hold
#: (the largest, 9,999,999,999,999 JPY, is 10**17 raw: 92 of them fit).
SUM_HEADROOM = 64


def store_problem(currency: str) -> str | None:
    """Why a money column cannot hold every amount of ``currency`` (its minor unit finer than
    1/10,000, or :func:`claims.core.money.amount_limit` times :data:`SUM_HEADROOM` above a
    64-bit integer of 1/10,000), or None."""
    if minor_units(currency) > MONEY_SCALE:
        return f"{currency}'s minor unit is finer than 1/10**{MONEY_SCALE}"
    if amount_limit(currency).scaleb(MONEY_SCALE) * SUM_HEADROOM > 2**63 - 1:
        return f"{SUM_HEADROOM} amounts of {amount_limit(currency):,} {currency} overflow 64 bits"
    return None


if _unheld := [p for p in map(store_problem, CURRENCIES) if p]:  # a table edit, not input
    raise RuntimeError("money columns: " + "; ".join(_unheld))


class MoneyColumn(TypeDecorator[Decimal]):
    """A ``Decimal`` stored as an exact integer number of 1/10,000 units."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Any) -> int | None:
        if value is None:
            return None
        scaled = Decimal(value).scaleb(MONEY_SCALE)
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{value} has more than {MONEY_SCALE} decimal places")
        return int(scaled)

    def process_result_value(self, value: int | None, dialect: Any) -> Decimal | None:
        return None if value is None else Decimal(int(value)).scaleb(-MONEY_SCALE)


def money_from_sql(value: int | None) -> Decimal:
    """Convert a raw SQL aggregate of a money column (e.g. ``SUM``) back to ``Decimal``."""
    return Decimal(int(value or 0)).scaleb(-MONEY_SCALE)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both SQLite and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class CustomerRow(Base):
    __tablename__ = "customers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20), default="agency")  # agency | private
    email: Mapped[str | None] = mapped_column(String(320))
    collector: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ContractRow(Base):
    __tablename__ = "contracts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    agency: Mapped[str] = mapped_column(String(200))
    portal: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    ceiling: Mapped[Decimal] = mapped_column(MoneyColumn)
    period_start: Mapped[Any] = mapped_column(Date)
    period_end: Mapped[Any] = mapped_column(Date)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    source_file: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class InvoiceRow(Base):
    __tablename__ = "invoices"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    contract_number: Mapped[str | None] = mapped_column(String(64), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    issue_date: Mapped[Any] = mapped_column(Date)
    due_date: Mapped[Any | None] = mapped_column(Date)
    net: Mapped[Decimal] = mapped_column(MoneyColumn)
    vat: Mapped[Decimal] = mapped_column(MoneyColumn)
    total: Mapped[Decimal] = mapped_column(MoneyColumn)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(32), default="manual")
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DocumentRow(Base):
    """A stored file, content-addressed: the same bytes are stored once."""

    __tablename__ = "documents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(100))
    pages: Mapped[int | None] = mapped_column(Integer)
    stored_path: Mapped[str] = mapped_column(Text)
    #: what inspecting the file found (see claims.lifecycle.documents.stored), made once at intake
    inspection: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ClaimRow(Base):
    __tablename__ = "claims"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"))
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"))
    claim_type: Mapped[str] = mapped_column(String(64))
    period_start: Mapped[Any | None] = mapped_column(Date)
    period_end: Mapped[Any | None] = mapped_column(Date)
    milestone: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(32), index=True)
    portal_reference: Mapped[str | None] = mapped_column(String(64), index=True)
    bundle_path: Mapped[str | None] = mapped_column(Text)
    bundle_sha256: Mapped[str | None] = mapped_column(String(64))
    invoice_hash: Mapped[str | None] = mapped_column(String(64))
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: the fencing token: +1 at every take, so a worker that lost its lease cannot write as holder
    lease_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (Index("ix_claims_contract_invoice", "contract_id", "invoice_id"),
                      Index("ix_claims_invoice_id", "invoice_id"))


class ClaimDocumentRow(Base):
    __tablename__ = "claim_documents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    doc_type: Mapped[str] = mapped_column(String(64))
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"))
    filename: Mapped[str] = mapped_column(Text)
    issue_date: Mapped[Any | None] = mapped_column(Date)
    expiry_date: Mapped[Any | None] = mapped_column(Date)
    __table_args__ = (UniqueConstraint("claim_id", "seq"),)


class ClaimEventRow(Base):
    __tablename__ = "claim_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(64))
    status: Mapped[str | None] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(100), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: the forecast reads each claim's statuses in this order (migration forecast_0001)
    __table_args__ = (Index("ix_claim_events_claim_order", "claim_id", "at", "id", "status"),)


class ContactRow(Base):
    """A person at a customer or agency: finance contacts get the reminders."""

    __tablename__ = "contacts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"),
                                             index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(32), default="finance")  # finance | other
    language: Mapped[str] = mapped_column(String(8), default="en")
    external_id: Mapped[str | None] = mapped_column(String(64))


#: the source of a payment row carrying what an e-invoice says was paid before it was issued
#: (EN 16931 BT-113; :mod:`claims.payments.prepaid`)
PREPAID_SOURCE = "prepaid"


class PaymentRow(Base):
    """Money received: a bank statement line or a portal payment advice."""

    __tablename__ = "payments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(32))          # camt053 | mt940 | csv | portal
    external_id: Mapped[str] = mapped_column(String(200), unique=True)  # dedupes re-imports
    value_date: Mapped[Any] = mapped_column(Date, index=True)
    amount: Mapped[Decimal] = mapped_column(MoneyColumn)
    currency: Mapped[str] = mapped_column(String(3))
    payer_name: Mapped[str | None] = mapped_column(String(200))
    payer_iban: Mapped[str | None] = mapped_column(String(64))
    reference: Mapped[str | None] = mapped_column(Text)      # structured ref / end-to-end id
    remittance: Mapped[str | None] = mapped_column(Text)     # free text
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PaymentApplicationRow(Base):
    """Part of a payment applied to an invoice (or written off / discounted / credited).

    An invoice's open balance is its total less its live (not undone) applications.
    """

    __tablename__ = "payment_applications"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"), index=True)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(MoneyColumn)
    # payment | writeoff | discount | credit
    kind: Mapped[str] = mapped_column(String(16), default="payment")
    confidence: Mapped[int] = mapped_column(Integer, default=100)     # 0-100
    reason: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(100), default="")
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # copies for the KPI scans, written only by the database's triggers (migration kpis_0001):
    # the payment's value date, the invoice's issue date and currency, the due date of the
    # invoice's single-due schedule row (seq 0; NULL with instalments). Never set them.
    value_date: Mapped[Any] = mapped_column(Date, nullable=True)
    issue_date: Mapped[Any] = mapped_column(Date, nullable=True)
    currency: Mapped[str | None] = mapped_column(String(3), nullable=True)
    due_date: Mapped[Any] = mapped_column(Date, nullable=True)


# Every slice's tables live beside these, on the one metadata, so that migrations and
# ``create_all`` always see the whole schema.
from claims.store.tables import collections, payments, sources, users  # noqa: E402,F401
