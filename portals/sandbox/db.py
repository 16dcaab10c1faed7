"""The sandbox portal's own database (SQLite through SQLAlchemy): accounts, contracts, claims,
their files, status history, reviewer comments, payments and wizard drafts.

Money is stored as decimal *text* (exact, and the portal never sums it in SQL).
Times are stored as naive UTC and handed out timezone-aware.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
from pathlib import Path

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, sessionmaker


class Base(DeclarativeBase):
    pass


def utcnow() -> dt.datetime:
    """Now, naive UTC (what the columns hold)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def aware(value: dt.datetime | None) -> dt.datetime | None:
    return value.replace(tzinfo=dt.UTC) if value is not None else None


class Account(Base):
    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)


class Contract(Base):
    __tablename__ = "contracts"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(60), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    title: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    #: comma-separated document type ids, in form order
    document_types: Mapped[str] = mapped_column(String(500))

    @property
    def document_type_list(self) -> list[str]:
        return [t for t in self.document_types.split(",") if t]


class Claim(Base):
    __tablename__ = "claims"
    __table_args__ = (
        # not unique: the portal's duplicate check (app.duplicate_of) refuses a second claim for
        # an invoice, unless switched off (fault ``no_duplicate``), as on many real portals
        Index("ix_claims_contract_invoice", "contract_id", "invoice_number"),
        Index("ix_claims_account_status", "account_id", "status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str | None] = mapped_column(String(20), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"))
    invoice_number: Mapped[str] = mapped_column(String(60))
    invoice_date: Mapped[dt.date] = mapped_column(Date)
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    net: Mapped[str] = mapped_column(String(30))
    vat: Mapped[str] = mapped_column(String(30))
    total: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(30), default="submitted")
    submitted_at: Mapped[dt.datetime] = mapped_column(DateTime)
    status_at: Mapped[dt.datetime] = mapped_column(DateTime)
    contract: Mapped[Contract] = relationship()
    files: Mapped[list[ClaimFile]] = relationship(
        cascade="all, delete-orphan", order_by="ClaimFile.id"
    )
    events: Mapped[list[StatusEvent]] = relationship(
        cascade="all, delete-orphan", order_by="StatusEvent.id"
    )
    comments: Mapped[list[Comment]] = relationship(
        cascade="all, delete-orphan", order_by="Comment.id"
    )
    payments: Mapped[list[Payment]] = relationship(
        cascade="all, delete-orphan", order_by="Payment.id"
    )


class ClaimFile(Base):
    __tablename__ = "claim_files"
    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    document_type: Mapped[str] = mapped_column(String(60))
    filename: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)


class StatusEvent(Base):
    __tablename__ = "status_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    status: Mapped[str] = mapped_column(String(30))
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    note: Mapped[str] = mapped_column(Text, default="")


class Comment(Base):
    __tablename__ = "comments"
    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    text: Mapped[str] = mapped_column(Text)


class Payment(Base):
    __tablename__ = "payments"
    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    amount: Mapped[str] = mapped_column(String(30))
    paid_on: Mapped[dt.date] = mapped_column(Date)
    reference: Mapped[str] = mapped_column(String(60))


class Draft(Base):
    """A claim wizard in progress (or a correction of a returned claim: ``resubmit_of``)."""

    __tablename__ = "drafts"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"))
    resubmit_of: Mapped[int | None] = mapped_column(ForeignKey("claims.id"))
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)
    invoice_number: Mapped[str | None] = mapped_column(String(60))
    invoice_date: Mapped[dt.date | None] = mapped_column(Date)
    currency: Mapped[str | None] = mapped_column(String(3))
    net: Mapped[str | None] = mapped_column(String(30))
    vat: Mapped[str | None] = mapped_column(String(30))
    total: Mapped[str | None] = mapped_column(String(30))
    contract: Mapped[Contract] = relationship()
    files: Mapped[list[DraftFile]] = relationship(
        cascade="all, delete-orphan", order_by="DraftFile.id"
    )


class DraftFile(Base):
    __tablename__ = "draft_files"
    id: Mapped[int] = mapped_column(primary_key=True)
    draft_id: Mapped[str] = mapped_column(ForeignKey("drafts.id"), index=True)
    document_type: Mapped[str] = mapped_column(String(60))
    filename: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)


def make_engine(path: Path) -> Engine:
    """An engine on the SQLite file at ``path`` (WAL), with the tables created. A new file is
    made 0600 (its accounts and uploads are nobody else's; SQLite gives its WAL the same)."""
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    engine = create_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    Base.metadata.create_all(engine)
    return engine


def make_sessionmaker(engine: Engine) -> sessionmaker:  # type: ignore[type-arg]
    return sessionmaker(engine, expire_on_commit=False)


_ITERATIONS = 60_000


def hash_password(password: str) -> str:
    """PBKDF2-SHA256 with a random salt, as ``pbkdf2$iterations$salt$hash``."""
    salt = os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, _ITERATIONS)
    return f"pbkdf2${_ITERATIONS}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    _, iterations, salt, digest = stored.split("$")
    got = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt), int(iterations))
    return hmac.compare_digest(got.hex(), digest)
