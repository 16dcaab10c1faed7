"""Sending each due reminder exactly once (see :mod:`claims.collections.dunning`): reserve,
send over SMTP, confirm; stuck sends are reported and settled by a person.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from email.policy import compat32
from email.utils import getaddresses
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from claims.collections.mailer import ConnectionFailed, Mailer, Refused
from claims.collections.receivables import as_datetime
from claims.store.tables.collections import DunningSendItemRow, DunningSendRow, InteractionRow
from claims.errors import ClaimsError, ConflictError, DuplicateKey, NotFound
from claims.store.tables import CustomerRow, utcnow
from claims.collections.dunning.plan import Message, config_of, plan_messages
from claims.collections.dunning.render import build_email

if TYPE_CHECKING:  # only a type here: the workspace composes this slice
    from claims.workspace import Workspace


log = structlog.get_logger("claims.followup")


#: CRLF line ends: smtplib sends bytes as they are, and SMTP (RFC 5321) wants CRLF
WIRE = compat32.clone(linesep="\r\n")


class SendFailed(ClaimsError):
    """The SMTP server refused a message or the connection failed; nothing was recorded."""

    def __init__(self, message: str, *, customer: str, level: str,
                 connection: bool = False) -> None:
        """A failure sending ``customer``'s ``level`` message (``connection``: the link died)."""
        self.customer, self.level, self.connection = customer, level, connection
        super().__init__(f"{customer} / {level}: {message}")


@dataclass
class RunResult:
    """What a run did: sent, tasks, failed, stuck, warnings, and groups another run took;
    ``in_flight``: sends a live concurrent run holds right now (not stuck, not to resolve)."""

    as_of: date
    dry_run: bool
    sent: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    stuck: list[dict[str, Any]] = field(default_factory=list)
    in_flight: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    taken: int = 0   # groups another concurrent run reserved first

    @property
    def ok(self) -> bool:
        """True when no message failed."""
        return not self.failed

    def to_json(self) -> dict[str, Any]:
        """The result as plain JSON data."""
        return {"as_of": self.as_of, "dry_run": self.dry_run, "sent": self.sent,
                "tasks": self.tasks, "failed": self.failed, "stuck": self.stuck,
                "warnings": self.warnings, "taken_by_other_run": self.taken,
                "in_flight_elsewhere": self.in_flight}


def run_owner() -> str:
    """This run's name on its reservations: ``host:pid:uuid`` (unique even across restarts)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def _sending(ws: Workspace, *, live: bool) -> list[dict[str, Any]]:
    """Sends in state ``sending`` whose run's lease is still running (``live``) or not."""
    now = utcnow()
    lease_ok = DunningSendRow.lease_expires_at >= now
    held = lease_ok if live else or_(DunningSendRow.lease_expires_at.is_(None), ~lease_ok)
    with ws.store.session() as s:
        rows = s.execute(select(DunningSendRow, CustomerRow.name)
                         .join(CustomerRow, CustomerRow.id == DunningSendRow.customer_id)
                         .where(DunningSendRow.state == "sending", held)
                         .order_by(DunningSendRow.id))
        return [{"send_id": r.id, "customer": name, "level": r.level,
                 "recipients": r.recipients, "reserved_at": r.created_at,
                 "run": r.run_owner, "lease_expires_at": r.lease_expires_at}
                for r, name in rows]


def stuck_sends(ws: Workspace) -> list[dict[str, Any]]:
    """Sends left in state ``sending`` by a run whose lease ran out (it crashed or was killed
    mid-send): to be resolved by a person. A live run's in-flight sends are not listed."""
    return _sending(ws, live=False)


def in_flight_sends(ws: Workspace) -> list[dict[str, Any]]:
    """Sends a live run holds in ``sending`` right now (its heartbeat keeps the lease)."""
    return _sending(ws, live=True)


@dataclass
class Lease:
    """A run's hold on its reservations: its owner name and the lease length; a heartbeat
    thread extends ``lease_expires_at`` of the run's ``sending`` rows every quarter lease."""

    owner: str
    seconds: float
    stop: threading.Event = field(default_factory=threading.Event)

    def expires(self) -> Any:
        """When a lease taken or renewed now runs out."""
        return utcnow() + timedelta(seconds=self.seconds)

    def beat(self, ws: Workspace) -> None:
        """Renew the lease on this run's rows still in ``sending``."""
        with ws.store.session() as s:
            s.execute(update(DunningSendRow).where(DunningSendRow.run_owner == self.owner,
                                                   DunningSendRow.state == "sending")
                      .values(lease_expires_at=self.expires()))

    def keep(self, ws: Workspace) -> threading.Thread:
        """Start the heartbeat (a daemon thread, stopped by ``stop.set()``)."""
        def loop() -> None:
            while not self.stop.wait(self.seconds / 4):
                try:
                    self.beat(ws)
                except (ClaimsError, SQLAlchemyError) as err:
                    # a missed beat is harmless: three more come before the lease runs out
                    log.warning("followup.heartbeat_failed", owner=self.owner, error=str(err))
        thread = threading.Thread(target=loop, name="followup-lease", daemon=True)
        thread.start()
        return thread


def _reserve(ws: Workspace, msg: Message, as_of: date, state: str,
             lease: Lease | None = None) -> int | None:
    """Commit the send and its items before any external action; None if another run has.
    ``lease`` names the run holding the row (a row without one is stuck at once if left in
    ``sending``).

    Only a unique-key refusal means "another run has it"; every other store error (a locked
    or unreachable database, another constraint) fails the run."""
    try:
        with ws.store.session() as s:
            row = DunningSendRow(send_key=msg.key, customer_id=msg.customer_id,
                                 level=msg.level.name, level_rank=msg.rank,
                                 channel=msg.level.channel, state=state, as_of=as_of,
                                 language=msg.language, recipients=", ".join(msg.recipients),
                                 owner=msg.level.owner or msg.collector, actor=ws.actor,
                                 run_owner=lease.owner if lease else None,
                                 lease_expires_at=lease.expires() if lease else None)
            s.add(row)
            s.flush()
            # one executemany: a statement may list hundreds of items
            s.execute(insert(DunningSendItemRow), [
                {"send_id": row.id, "invoice_id": i.invoice_id, "seq": i.seq,
                 "level": msg.level.name, "level_rank": msg.rank,
                 "open_amount": i.open_amount, "due_date": i.due_date} for i in msg.items])
            return row.id
    except DuplicateKey:
        # the unique keys refused it: a concurrent run reserved the same items and level
        return None


def _release(ws: Workspace, send_id: int) -> None:
    """Delete a reservation and its items: the reminder is due again."""
    with ws.store.session() as s:
        s.execute(delete(DunningSendItemRow).where(DunningSendItemRow.send_id == send_id))
        s.execute(delete(DunningSendRow).where(DunningSendRow.id == send_id))


def _outbox(ws: Workspace, as_of: date) -> Path:
    """The folder the sent messages of ``as_of`` are kept in (created)."""
    folder = Path(config_of(ws).followup.outbox_dir)
    folder = folder if folder.is_absolute() else ws.root / folder
    folder = folder / as_of.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def run(ws: Workspace, as_of: date | None = None, *, dry_run: bool = False,
        customer: str | None = None) -> RunResult:
    """Send every reminder due on ``as_of`` (default today), each exactly once.

    Batch semantics: a message that fails is reported and stays due; the run goes on (a dead
    connection stops the remaining e-mails, which also stay due). ``dry_run`` reserves nothing
    and sends nothing.
    """
    as_of = as_of or date.today()
    result = RunResult(as_of=as_of, dry_run=dry_run)
    result.stuck = stuck_sends(ws)
    result.in_flight = in_flight_sends(ws)
    messages = plan_messages(ws, as_of, customer=customer)
    if dry_run:
        # the same shape as a real run's entries (items by label); `preview` shows the detail
        for msg in messages:
            entry = {"customer": msg.customer, "level": msg.level.name,
                     "items": [i.label for i in msg.items], "recipients": msg.recipients,
                     "totals": {c: str(a) for c, a in msg.totals().items()}}
            if msg.level.channel == "task":
                result.tasks.append(entry | {"owner": msg.level.owner or msg.collector})
            elif msg.problem:
                result.failed.append(entry | {"error": msg.problem})
            else:
                result.sent.append(entry)
        return result
    first = Mailer(config_of(ws).followup.smtp)
    if any(m.level.channel == "email" and not m.problem for m in messages):
        first.check_credentials()
    state = _RunState(lease=Lease(run_owner(), config_of(ws).followup.send_lease_seconds))
    local = threading.local()
    mailers: list[Mailer] = []

    def mailer() -> Mailer:
        # one SMTP connection per worker thread; the resolved password is shared in memory
        """This worker thread's mailer (one SMTP connection per thread)."""
        current: Mailer | None = getattr(local, "mailer", None)
        if current is None:
            current = local.mailer = Mailer(config_of(ws).followup.smtp)
            current._password = first._password
            with state.lock:
                mailers.append(current)
        return current

    workers = max(1, min(config_of(ws).followup.smtp.connections, len(messages)))
    heartbeat = state.lease.keep(ws)
    try:
        if workers == 1:
            for msg in messages:
                _send_one(ws, msg, as_of, mailer(), result, state)
        else:
            # SMTP round trips dominate a send: a few connections in parallel overlap them.
            # Each message is still reserved, sent and confirmed on its own.
            with ThreadPoolExecutor(workers, thread_name_prefix="followup") as pool:
                for _ in pool.map(lambda m: _send_one(ws, m, as_of, mailer(), result, state),
                                  messages):
                    pass
    finally:
        state.lease.stop.set()
        heartbeat.join()
        for m in mailers:
            m.close()
    for entries in (result.sent, result.tasks, result.failed):
        entries.sort(key=lambda e: (e["customer"], e["level"]))
    log.info("followup.run", as_of=as_of.isoformat(), sent=len(result.sent),
             tasks=len(result.tasks), failed=len(result.failed), stuck=len(result.stuck))
    return result


@dataclass
class _RunState:
    """What the workers of one run share: its lease, the first connection error, and a lock."""

    lease: Lease
    connection_error: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


def _send_one(ws: Workspace, msg: Message, as_of: date, mailer: Mailer, result: RunResult,
              state: _RunState) -> None:
    """Reserve, send and confirm one message (or record one call task); the outcome is
    added to ``result``."""
    summary = {"customer": msg.customer, "level": msg.level.name,
               "items": [i.label for i in msg.items]}
    if msg.level.channel == "task":
        send_id = _reserve(ws, msg, as_of, state="sent", lease=state.lease)
        if send_id is None:
            with state.lock:
                result.taken += 1
            return
        with ws.store.session() as s:
            s.execute(update(DunningSendRow).where(DunningSendRow.id == send_id)
                      .values(sent_at=utcnow()))
            s.add(InteractionRow(customer_id=msg.customer_id, author="followup", kind="task",
                                 summary=f"call task ({msg.level.name}) for "
                                         f"{msg.level.owner or msg.collector or 'collector'}: "
                                         + ", ".join(i.label for i in msg.items)))
        result.tasks.append(summary | {"send_id": send_id,
                                       "owner": msg.level.owner or msg.collector})
        return
    if msg.problem:
        result.failed.append(summary | {"error": msg.problem})
        return
    if state.connection_error:
        result.failed.append(summary | {"error": f"not attempted: {state.connection_error}"})
        return
    # rendered before the reservation: a template error must not leave a row in 'sending'
    email = build_email(ws, msg, as_of, send_key=msg.key)
    send_id = _reserve(ws, msg, as_of, state="sending", lease=state.lease)
    if send_id is None:
        with state.lock:
            result.taken += 1
        return
    eml = _outbox(ws, as_of) / f"{send_id:08d}-{msg.level.name}.eml"
    # serialised once: the bytes the server gets are the bytes kept as evidence
    raw = email.as_bytes(policy=WIRE)
    sender = getaddresses([config_of(ws).followup.smtp.sender])[0][1]
    try:
        mailer.send(sender, [getaddresses([r])[0][1] for r in msg.recipients], raw)
    except (Refused, ConnectionFailed) as err:
        _release(ws, send_id)
        log.warning("followup.send_failed", customer=msg.customer, level=msg.level.name,
                    error=str(err))
        if isinstance(err, ConnectionFailed):
            with state.lock:
                state.connection_error = state.connection_error or str(err)
        result.failed.append(summary | {"error": str(err),
                                        "connection": isinstance(err, ConnectionFailed)})
        return
    # write-once evidence of what went out; 'xb' refuses to overwrite an existing file
    with eml.open("xb") as fh:
        fh.write(raw)
    with ws.store.session() as s:
        s.execute(update(DunningSendRow).where(DunningSendRow.id == send_id).values(
            state="sent", sent_at=utcnow(), subject=str(email["Subject"]),
            message_id=str(email["Message-ID"]), eml_path=str(eml.relative_to(ws.root))
            if eml.is_relative_to(ws.root) else str(eml)))
        s.add(InteractionRow(customer_id=msg.customer_id, author="followup", kind="dunning",
                             summary=f"{msg.level.name} sent to {', '.join(msg.recipients)}: "
                                     + ", ".join(i.label for i in msg.items)))
    _evidence(ws, msg, as_of, send_id, str(email["Message-ID"]), raw, result, state)
    result.sent.append(summary | {"send_id": send_id, "recipients": msg.recipients,
                                  "eml": str(eml), "subject": str(email["Subject"])})


def _evidence(ws: Workspace, msg: Message, as_of: date, send_id: int, message_id: str,
              raw: bytes, result: RunResult, state: _RunState) -> None:
    """Keep the sent message in the evidence archive. The message went out and is recorded as
    sent whatever happens here; a failure to archive is reported, not hidden."""
    try:
        with state.lock:  # one appender at a time on the ledger
            ws.record_evidence(kind="followup.sent", claim=None, metadata={
                "send_id": send_id, "customer": msg.customer, "level": msg.level.name,
                "as_of": as_of.isoformat(), "recipients": msg.recipients,
                "message_id": message_id, "items": [i.label for i in msg.items]},
                files={"message.eml": raw})
    except Exception as err:  # noqa: BLE001 - any archive failure is reported per message
        log.error("followup.evidence_failed", send_id=send_id, error=str(err))
        result.warnings.append({"send_id": send_id, "customer": msg.customer,
                                "error": f"sent, but not archived as evidence: {err}"})


def resolve_stuck(ws: Workspace, send_id: int, *, was_sent: bool) -> dict[str, Any]:
    """Settle a send left in ``sending``: mark it sent, or release it so it is due again."""
    with ws.store.session() as s:
        row = s.get(DunningSendRow, send_id)
        if row is None:
            raise NotFound("dunning send", send_id)
        if row.state != "sending":
            raise ConflictError(f"send {send_id} is {row.state}, not stuck in sending")
        expires = row.lease_expires_at
        if expires is not None and as_datetime(expires) >= utcnow():
            raise ConflictError(f"send {send_id} is held by a live run ({row.run_owner}, "
                                f"lease until {as_datetime(expires):%Y-%m-%d %H:%M:%S} UTC): "
                                "in flight, not stuck; wait for that run")
        if was_sent:
            row.state, row.sent_at = "sent", utcnow()
    if not was_sent:
        _release(ws, send_id)
    return {"send_id": send_id, "resolution": "sent" if was_sent else "released"}


def sent_history(ws: Workspace, customer: str | None = None) -> list[dict[str, Any]]:
    """Every send on record (newest last), with its items."""
    with ws.store.session() as s:
        query = (select(DunningSendRow, CustomerRow.name)
                 .join(CustomerRow, CustomerRow.id == DunningSendRow.customer_id)
                 .order_by(DunningSendRow.id))
        if customer:
            query = query.where(CustomerRow.name == customer)
        out = []
        for r, name in s.execute(query):
            out.append({"send_id": r.id, "customer": name, "level": r.level,
                        "channel": r.channel, "state": r.state, "as_of": r.as_of,
                        "sent_at": as_datetime(r.sent_at) if r.sent_at else None,
                        "recipients": r.recipients, "subject": r.subject, "eml": r.eml_path})
        return out
