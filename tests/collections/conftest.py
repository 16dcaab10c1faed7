"""Fixtures for collections: a real SMTP server (aiosmtpd) and workspaces with receivables.

The SMTP handler keeps every message it accepted; ``mode`` makes it refuse ("refuse": 554 at
DATA) or drop the connection in the middle of DATA ("drop"); ``gate`` holds DATA open.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from aiosmtpd.controller import Controller

from claims.collections import records
from claims.core.models import Invoice
from claims.store.tables import InvoiceRow, PaymentApplicationRow
from claims.workspace import Workspace, init_workspace


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Handler:
    mode: str = "accept"
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    gate: threading.Event | None = None  # set: DATA is answered only once the gate opens

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        while self.gate is not None and not self.gate.is_set():
            await asyncio.sleep(0.05)  # hold this message without blocking other sessions
        if self.mode == "refuse":
            return "554 5.7.1 Message rejected by policy"
        if self.mode == "drop":
            server.transport.close()  # hang up before answering: the client cannot know
            return "421 closing"
        parsed = email.message_from_bytes(envelope.original_content or envelope.content,
                                          policy=email.policy.default)
        with self.lock:
            self.messages.append(parsed)  # type: ignore[arg-type]
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


@dataclass
class SmtpServer:
    host: str
    port: int
    handler: Handler

    @property
    def messages(self) -> list[EmailMessage]:
        return self.handler.messages


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A real SMTP server on a free port, started and stopped around the test."""
    handler = Handler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()  # returns once the server answers its own probe connection
    yield SmtpServer("127.0.0.1", port, handler)
    controller.stop()


def write_config(ws: Workspace, server: SmtpServer | None, **followup: Any) -> None:
    """Add [followup] / [followup.smtp] / [agencies] to the workspace's claims.toml."""
    import tomllib

    data = tomllib.loads(ws.config_path.read_text(encoding="utf-8"))
    agencies = followup.pop("agencies", None)
    section = data.setdefault("followup", {})
    section.update(followup)
    if server is not None:
        section.setdefault("smtp", {}).update(
            {"host": server.host, "port": server.port, "timeout_seconds": 5.0,
             "sender": "Receivables <ar@supplier.test>"})
    if agencies:
        data["agencies"] = agencies
    ws.config_path.write_text(tomli_w.dumps(data), encoding="utf-8")
    ws.reload_settings()


@pytest.fixture
def ws(tmp_path: Path, database_url: str, smtp_server: SmtpServer) -> Iterator[Workspace]:
    """A workspace on SQLite or PostgreSQL whose follow-up sends to the test SMTP server."""
    workspace = init_workspace(tmp_path / "ws", database_url=database_url)
    write_config(workspace, smtp_server)
    yield workspace
    workspace.close()


def add_invoices(ws: Workspace, customer: str, specs: list[tuple[str, date, date | None, str]],
                 currency: str = "USD") -> None:
    """Invoices (number, issue date, due date, total) billed to ``customer``."""
    invoices = []
    for number, issued, due, total in specs:
        amount = Decimal(total)
        invoices.append(Invoice(number=number, issue_date=issued, due_date=due,
                                currency=currency, customer=customer, net=amount, vat=Decimal(0),
                                total=amount))
    ws.store.put_invoices(invoices)


def pay(ws: Workspace, number: str, amount: str, at: datetime | None = None) -> None:
    """Simulate the payments side applying money to an invoice."""
    with ws.store.session() as s:
        inv = s.query(InvoiceRow).filter(InvoiceRow.number == number).one()
        s.add(PaymentApplicationRow(invoice_id=inv.id, amount=Decimal(amount), kind="payment",
                                    actor="test", applied_at=at or datetime.now(UTC)))


def customer(ws: Workspace, name: str, email_address: str | None, language: str = "en") -> None:
    if email_address is not None:
        records.add_contact(ws.store, name, name=f"AP {name}", email=email_address,
                            language=language)


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def submitted_claim(ws: Workspace, number: str, agency: str, *, issued: date, submitted: date,
                    total: str, status: str = "SUBMITTED", status_at: date | None = None) -> int:
    """An invoice to ``agency`` with a claim submitted on ``submitted`` (and maybe moved on to
    ``status`` on ``status_at``); returns the claim id."""
    from sqlalchemy import text

    from claims.core.models import ClaimStatus, Contract

    contract = f"K-{number}"
    ws.store.put_contract(Contract(
        number=contract, agency=agency, currency="USD", ceiling=Decimal("1000000"),
        period_start=date(2026, 1, 1), period_end=date(2026, 12, 31), vat_percent=Decimal(0),
        claim_types=("services-milestone",)))
    amount = Decimal(total)
    ws.store.put_invoices([Invoice(number=number, issue_date=issued, currency="USD",
                                   customer=agency, contract_number=contract, net=amount,
                                   vat=Decimal(0), total=amount)])
    claim = ws.store.create_claim(contract_number=contract, invoice_number=number,
                                  claim_type="services-milestone", documents=[])
    ws.store.record_event(claim.id, "submitted", status=ClaimStatus.SUBMITTED)
    if status != "SUBMITTED":
        ws.store.record_event(claim.id, "status.changed", status=ClaimStatus(status))
    with ws.store.engine.begin() as conn:
        when = at(status_at or submitted)
        conn.execute(text("UPDATE claim_events SET at = :t WHERE claim_id = :c AND status = :s"),
                     {"t": at(submitted), "c": claim.id, "s": "SUBMITTED"})
        conn.execute(text("UPDATE claim_events SET at = :t WHERE claim_id = :c AND status = :s"),
                     {"t": when, "c": claim.id, "s": status})
        conn.execute(text("UPDATE claims SET updated_at = :t WHERE id = :c"),
                     {"t": when, "c": claim.id})
    return claim.id


@pytest.fixture(autouse=True)
def _reset_logging() -> Iterator[None]:
    """The CLI points structlog at the runner's stderr, which is closed after each invoke;
    put the defaults back so later library calls do not write to a closed stream."""
    yield
    import structlog

    structlog.reset_defaults()
