"""The tables of invoice imports: what each import did, where each invoice came from, and how a
source's customers map to ours (migration ``imports_0001``), and the requests sent to an API source
per day (``imports_0002``)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON, Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from claims.store.tables import Base, UTCDateTime, utcnow


class InvoiceImportRow(Base):
    """One import run: its source, input, counts, who ran it and when (never a secret)."""

    __tablename__ = "invoice_imports"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(32), index=True)   # zoho | csv | xlsx | ubl | …
    target: Mapped[str] = mapped_column(Text)                     # file names or the endpoint
    input_sha256: Mapped[str] = mapped_column(String(64))         # of the bytes read
    actor: Mapped[str] = mapped_column(String(100), default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    invoices: Mapped[int] = mapped_column(Integer, default=0)
    added: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    changed: Mapped[int] = mapped_column(Integer, default=0)
    conflicts: Mapped[int] = mapped_column(Integer, default=0)
    customers_added: Mapped[int] = mapped_column(Integer, default=0)
    contacts_added: Mapped[int] = mapped_column(Integer, default=0)
    requests: Mapped[int] = mapped_column(Integer, default=0)     # HTTP requests (API sources)
    cursor: Mapped[str | None] = mapped_column(String(64))        # high-water mark (Zoho)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class InvoiceOriginRow(Base):
    """Where a stored invoice came from, with what the core Invoice model does not carry
    (document kind, allowances and charges, VAT breakdown, payable amount, its PDF)."""

    __tablename__ = "invoice_origins"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"),
                                            unique=True)
    source: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str | None] = mapped_column(String(100), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="invoice")  # invoice | credit-note
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    import_id: Mapped[int] = mapped_column(ForeignKey("invoice_imports.id"))
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CustomerLinkRow(Base):
    """A customer as a source knows it (its id, its tax id), so re-imports match, not duplicate."""

    __tablename__ = "customer_links"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"),
                                             index=True)
    source: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str | None] = mapped_column(String(100))
    tax_id: Mapped[str | None] = mapped_column(String(64), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    __table_args__ = (UniqueConstraint("source", "external_id"),)


class ApiRequestDayRow(Base):
    """Requests sent to an API source on one UTC day, per account (Zoho Books: the
    organisation), so a run keeps within the plan's daily budget across runs. Created by
    migration ``imports_0002``."""

    __tablename__ = "api_request_days"
    source: Mapped[str] = mapped_column(String(32), primary_key=True)     # zoho
    account: Mapped[str] = mapped_column(String(100), primary_key=True)   # organization_id
    day: Mapped[date] = mapped_column(Date, primary_key=True)             # UTC
    requests: Mapped[int] = mapped_column(Integer, default=0)
