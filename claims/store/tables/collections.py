"""Collections tables: schedules, dunning sends, promises, plans, disputes, interactions.

They sit beside the core tables (same ``Base``) and are created by the migration
``collections_0001``. Money columns are :class:`~claims.store.tables.MoneyColumn`.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from claims.store.tables import Base, MoneyColumn, UTCDateTime, utcnow


class ScheduleRow(Base):
    """An instalment of an invoice with its own due date (payment terms made explicit).

    An invoice without schedule rows falls due on its ``due_date`` (or issue date + the default
    net days). An invoice with rows falls due instalment by instalment; payments settle the
    earliest instalment first.
    """

    __tablename__ = "collection_schedule"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    due_date: Mapped[Any] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(MoneyColumn)
    basis: Mapped[str] = mapped_column(String(64), default="")
    # copies of the invoice's, for the KPI scans, written only by the database's triggers
    # (migration kpis_0001). Never set them.
    issue_date: Mapped[Any] = mapped_column(Date, nullable=True)
    currency: Mapped[str | None] = mapped_column(String(3), nullable=True)
    # the invoice's customer, for the receivables by customer: a copy written only by the
    # database's triggers (migration receivables_0001). Never set it.
    customer_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    __table_args__ = (UniqueConstraint("invoice_id", "seq"),
                      # the few instalment rows, for the KPI split (migration kpis_0001)
                      Index("ix_collection_schedule_instalments", "invoice_id",
                            postgresql_where=text("seq > 0"), sqlite_where=text("seq > 0")),
                      # every column the open-items rule reads, in customer order (migration
                      # receivables_0001): the worklist's sums per customer need no sort
                      Index("ix_collection_schedule_customer", "customer_id", "currency",
                            "due_date", "issue_date", "seq", "amount", "invoice_id", "basis",
                            postgresql_where=text("customer_id IS NOT NULL"),
                            sqlite_where=text("customer_id IS NOT NULL")))


class DunningSendRow(Base):
    """One message (or call task) to one customer at one level, listing its items.

    Written in state ``sending`` *before* the SMTP conversation, ``sent`` after the server
    accepted it; deleted again if the server refused, so the reminder stays due. A row left in
    ``sending`` (crash between the two) is reported by every run and never resent blindly,
    once the lease of the run that wrote it (``run_owner``, ``lease_expires_at``) ran out.
    """

    __tablename__ = "dunning_sends"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    send_key: Mapped[str] = mapped_column(String(64), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    level: Mapped[str] = mapped_column(String(64))
    level_rank: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(16))        # email | task
    state: Mapped[str] = mapped_column(String(16), index=True)  # sending | sent
    as_of: Mapped[Any] = mapped_column(Date)
    language: Mapped[str] = mapped_column(String(8), default="en")
    recipients: Mapped[str] = mapped_column(Text, default="")
    subject: Mapped[str] = mapped_column(Text, default="")
    message_id: Mapped[str | None] = mapped_column(String(255))
    eml_path: Mapped[str | None] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(100), default="")
    actor: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the run holding a 'sending' row (host:pid:uuid) and until when; its heartbeat extends
    # the lease, so only a row whose lease ran out (a dead run) is reported as stuck
    run_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DunningSendItemRow(Base):
    """An item (invoice instalment) in a send. Unique per level: never the same level twice."""

    __tablename__ = "dunning_send_items"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    send_id: Mapped[int] = mapped_column(ForeignKey("dunning_sends.id", ondelete="CASCADE"),
                                         index=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"))
    seq: Mapped[int] = mapped_column(Integer, default=0)
    level: Mapped[str] = mapped_column(String(64))
    level_rank: Mapped[int] = mapped_column(Integer)
    open_amount: Mapped[Decimal] = mapped_column(MoneyColumn)
    due_date: Mapped[Any] = mapped_column(Date)
    __table_args__ = (UniqueConstraint("invoice_id", "seq", "level"),
                      Index("ix_dunning_send_items_item_rank", "invoice_id", "seq", "level_rank"))


class PromiseRow(Base):
    """A promise to pay: who promised how much by when, through which channel."""

    __tablename__ = "collection_promises"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(MoneyColumn)
    currency: Mapped[str] = mapped_column(String(3))
    promised_date: Mapped[Any] = mapped_column(Date)
    promised_by: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(16))
    made_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(100), default="")


class PlanRow(Base):
    """A payment plan agreed for an overdue balance (the invoices in ``plan_invoices``)."""

    __tablename__ = "collection_plans"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[Decimal] = mapped_column(MoneyColumn)
    agreed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(100), default="")


class PlanInstalmentRow(Base):
    __tablename__ = "collection_plan_instalments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("collection_plans.id", ondelete="CASCADE"),
                                         index=True)
    seq: Mapped[int] = mapped_column(Integer)
    due_date: Mapped[Any] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(MoneyColumn)
    __table_args__ = (UniqueConstraint("plan_id", "seq"),)


class PlanInvoiceRow(Base):
    __tablename__ = "collection_plan_invoices"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("collection_plans.id", ondelete="CASCADE"),
                                         index=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    __table_args__ = (UniqueConstraint("plan_id", "invoice_id"),)


class DisputeRow(Base):
    """A dispute on an invoice (and its claim, if any); open ones pause dunning on the item."""

    __tablename__ = "collection_disputes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id"))
    reason: Mapped[str] = mapped_column(String(64))
    team: Mapped[str] = mapped_column(String(32))
    due_date: Mapped[Any | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    resolution: Mapped[str | None] = mapped_column(String(32))
    resolution_note: Mapped[str] = mapped_column(Text, default="")
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    opened_by: Mapped[str] = mapped_column(String(100), default="")
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(100))


class InteractionRow(Base):
    """The conversation with a client: calls, emails, notes, each with time and author, and
    (since ``interactions_0001``) its direction, the contact spoken to (the name as it was
    then), the outcome, and the next action agreed with its date (a callback)."""

    __tablename__ = "collection_interactions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    author: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))  # call | email | note | letter | meeting | system
    summary: Mapped[str] = mapped_column(Text)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    dispute_id: Mapped[int | None] = mapped_column(ForeignKey("collection_disputes.id"))
    direction: Mapped[str | None] = mapped_column(String(8))  # outbound | inbound
    contact: Mapped[str | None] = mapped_column(String(200))
    outcome: Mapped[str | None] = mapped_column(String(24))  # see collections.interactions
    next_action: Mapped[str | None] = mapped_column(Text)
    next_action_date: Mapped[Any | None] = mapped_column(Date, index=True)


class EscalationDecisionRow(Base):
    """A proposal of legal action or a write-off for an invoice, and its decision.

    ``status``: ``proposed`` (by ``proposed_by``), then ``approved`` (by another person),
    ``rejected``, or later ``revoked``. At most one live (proposed or approved) escalation per
    invoice. An approved write-off is posted as a ``writeoff`` payment application
    (``application_id``); ``override_reason`` is set when it was approved although the rules
    did not propose it. Every step is a :class:`EscalationEventRow` (the decision log).
    """

    __tablename__ = "collection_escalations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))  # legal | write-off
    amount: Mapped[Decimal] = mapped_column(MoneyColumn)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="proposed", index=True)
    proposed_by: Mapped[str] = mapped_column(String(100), default="")
    proposed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=utcnow)
    approved_by: Mapped[str | None] = mapped_column(String(100))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    override_reason: Mapped[str | None] = mapped_column(Text)
    application_id: Mapped[int | None] = mapped_column(
        ForeignKey("payment_applications.id"))


class EscalationEventRow(Base):
    """One line of the decision log: proposed, approved, rejected or revoked, by whom, why."""

    __tablename__ = "collection_escalation_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    escalation_id: Mapped[int] = mapped_column(ForeignKey("collection_escalations.id"),
                                               index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(16))  # proposed | approved | rejected | revoked
    actor: Mapped[str] = mapped_column(String(100))
    note: Mapped[str] = mapped_column(Text, default="")
    override: Mapped[bool] = mapped_column(default=False)
    evidence_index: Mapped[int | None] = mapped_column(Integer)


class ExchangeRateRow(Base):
    """A dated exchange rate: 1 unit of ``currency`` is worth ``rate`` units of the base
    currency from ``day`` until the next rate (``claims rates import``)."""

    __tablename__ = "collection_exchange_rates"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[Any] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    base: Mapped[str] = mapped_column(String(3))
    rate: Mapped[str] = mapped_column(String(40))  # the exact decimal text (not money)
    source: Mapped[str] = mapped_column(Text, default="")
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (UniqueConstraint("day", "currency", "base"),)
