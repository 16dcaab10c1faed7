"""Dunning: which reminder is due for which item, and sending each exactly once.

How "exactly once" works (and its one trade-off):

1. The items due, and the highest level due for each, come from one SQL statement. An item is
   due at a level when the level's day is reached, no higher-or-equal level was sent for it, and
   nothing pauses it (open dispute, unbroken promise, plan in good standing). After an outage
   only the highest level now due is sent, never every missed one.
2. Items are grouped per customer and level: one message (a statement) per group.
3. Before talking to the SMTP server, a ``dunning_sends`` row (state ``sending``) and its items
   are committed. ``dunning_send_items`` is unique per (invoice, instalment, level), so a second
   run — even a concurrent one on another machine — cannot reserve the same item and level.
4. After the server accepted the message the row becomes ``sent`` and the ``.eml`` is kept. If
   the server refused or dropped the connection, the row is deleted: the reminder stays due.
5. A crash between 3 and 4 leaves a ``sending`` row. We cannot know whether the server got the
   message, so it is NOT resent blindly (that could send twice); every run reports it as
   ``stuck`` until someone checks the mailbox and runs ``claims followup resolve ID --sent`` or
   ``--not-sent``. We prefer a reminder held back for a day over one sent twice.
"""

from __future__ import annotations

import hashlib
import threading
import re
import smtplib
import ssl
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from email.header import Header
from email.policy import compat32
from email.message import Message as Message_
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, getaddresses, make_msgid
from pathlib import Path
from typing import Any

import structlog
from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound
from pydantic import SecretStr
from sqlalchemy import delete, insert, select, update

from claims.collections.config import CollectionsConfig, Level, load_config
from claims.collections.receivables import (
    Item, Sql, as_datetime, bind, item_from_row, items_cte, pause_ctes,
)
from claims.store.tables.collections import DunningSendItemRow, DunningSendRow, InteractionRow
from claims.collections.terms import late_interest
from claims.errors import ClaimsError, ConflictError, InputError, NotFound, StoreError
from claims.core.money import fmt, minor_units
from claims.store.tables import ContactRow, CustomerRow, utcnow
from claims.workspace import Workspace

log = structlog.get_logger("claims.followup")

TEMPLATES = Path(__file__).resolve().parent / "templates"
#: CRLF line ends: smtplib sends bytes as they are, and SMTP (RFC 5321) wants CRLF
WIRE = compat32.clone(linesep="\r\n")
_ADDRESS = re.compile(r"^[A-Za-z0-9._%+\-']+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)+$")


class SendFailed(ClaimsError):
    """The SMTP server refused a message or the connection failed; nothing was recorded."""

    def __init__(self, message: str, *, customer: str, level: str,
                 connection: bool = False) -> None:
        self.customer, self.level, self.connection = customer, level, connection
        super().__init__(f"{customer} / {level}: {message}")


def check_address(address: str, *, field: str = "email") -> str:
    """``address`` if it is a plain e-mail address, else a clear :class:`InputError`."""
    if not _ADDRESS.match(address.strip()):
        raise InputError(f"{address!r} is not an e-mail address", field=field,
                         rule="email-address")
    return address.strip()


def config_of(ws: Workspace) -> CollectionsConfig:
    """The workspace's follow-up configuration (defaults where claims.toml says nothing)."""
    cached = ws.__dict__.get("_collections_config")
    if cached is None:
        cached = load_config(ws.settings.extra, str(ws.config_path))
        ws.__dict__["_collections_config"] = cached
    return cached


# -- what is due ------------------------------------------------------------------------------

@dataclass
class Message:
    """One statement to one customer at one level (or one call task)."""

    customer_id: int
    customer: str
    level: Level
    rank: int
    items: list[Item]
    recipients: list[str] = field(default_factory=list)
    language: str = "en"
    collector: str = ""
    problem: str | None = None
    interest: dict[tuple[int, int], Decimal] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Same customer, level and items → same key (a unique column in the database)."""
        parts = [str(self.customer_id), self.level.name,
                 *sorted(f"{i.invoice_id}:{i.seq}" for i in self.items)]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()

    def totals(self) -> dict[str, Decimal]:
        out: dict[str, Decimal] = defaultdict(Decimal)
        for item in self.items:
            out[item.currency] += item.open_amount
        return dict(sorted(out.items()))

    def to_json(self) -> dict[str, Any]:
        return {"customer": self.customer, "level": self.level.name,
                "channel": self.level.channel, "recipients": self.recipients,
                "language": self.language,
                "items": [i.to_json() | {"interest": str(self.interest.get(
                    (i.invoice_id, i.seq), Decimal("0.00")))} for i in self.items],
                "totals": {c: str(a) for c, a in self.totals().items()},
                "problem": self.problem}


def due_items(ws: Workspace, as_of: date, *, customer_id: int | None = None
              ) -> list[tuple[Item, int]]:
    """Every item with a reminder level due today and not sent yet: (item, level rank)."""
    config = config_of(ws)
    levels = config.followup.levels
    with ws.store.engine.connect() as conn:
        sql = Sql(conn.dialect.name)
        cte, params = items_cte(sql, config)
        pauses, pause_params = pause_ctes(as_of, config)
        params |= pause_params
        cases = []
        for rank in range(len(levels) - 1, -1, -1):
            params[f"cut{rank}"] = date.fromordinal(as_of.toordinal() - levels[rank].days)
            cases.append(f"WHEN o.due_date <= :cut{rank} THEN {rank}")
        where_customer = ""
        if customer_id is not None:
            where_customer = "AND d.customer_id = :cid"
            params["cid"] = customer_id
        query = f"""{cte}{pauses},
sent AS (SELECT invoice_id, seq, MAX(level_rank) AS sent_rank FROM dunning_send_items
         GROUP BY invoice_id, seq),
ranked AS (SELECT o.*, CASE {' '.join(cases)} ELSE -1 END AS due_rank FROM open_items o)
SELECT d.* FROM ranked d
LEFT JOIN sent ON sent.invoice_id = d.invoice_id AND sent.seq = d.seq
WHERE d.due_rank >= 0 AND d.due_rank > COALESCE(sent.sent_rank, -1) {where_customer}
  AND d.invoice_id NOT IN (SELECT invoice_id FROM disputed)
  AND d.customer_id NOT IN (SELECT customer_id FROM promised)
  AND d.invoice_id NOT IN (SELECT invoice_id FROM planned)
  AND NOT EXISTS (SELECT 1 FROM collection_escalations x
                  WHERE x.invoice_id = d.invoice_id AND x.action = 'legal')
ORDER BY d.customer_id, d.due_rank, d.due_date, d.number, d.seq"""
        rows = conn.execute(bind(query, params))
        return [(item_from_row(r), int(r.due_rank)) for r in rows]


def plan_messages(ws: Workspace, as_of: date, *, customer: str | None = None) -> list[Message]:
    """The messages a run would send today, with recipients (or the problem that stops one)."""
    config = config_of(ws)
    levels = config.followup.levels
    customer_id = None
    if customer is not None:
        from claims.collections.records import customer_row

        with ws.store.session() as s:
            customer_id = customer_row(s, customer).id
    groups: dict[tuple[int, int], list[Item]] = defaultdict(list)
    for item, rank in due_items(ws, as_of, customer_id=customer_id):
        groups[(item.customer_id, rank)].append(item)
    if not groups:
        return []
    ids = sorted({cid for cid, _ in groups})
    people = _recipients(ws, ids)
    messages = []
    for (cid, rank), items in groups.items():
        name, collector, recipients, language, problem = people[cid]
        level = levels[rank]
        msg = Message(customer_id=cid, customer=name, level=level, rank=rank, items=items,
                      recipients=recipients, language=language or config.followup.language,
                      collector=collector,
                      problem=problem if level.channel == "email" else None)
        for item in items:
            if item.agency:
                rule = config.agency(item.agency)
                msg.interest[(item.invoice_id, item.seq)] = late_interest(
                    item.open_amount, item.due_date, as_of,
                    annual_rate_percent=rule.interest_rate_percent,
                    compounding_days=rule.compounding_days, day_count=rule.day_count)
        messages.append(msg)
    messages.sort(key=lambda m: (m.customer, m.rank))
    return messages


def _recipients(ws: Workspace, ids: list[int]
                ) -> dict[int, tuple[str, str, list[str], str, str | None]]:
    """Per customer: name, collector, finance addresses, language, problem (if no address)."""
    out: dict[int, tuple[str, str, list[str], str, str | None]] = {}
    with ws.store.session() as s:
        contacts: dict[int, list[ContactRow]] = defaultdict(list)
        customers: dict[int, CustomerRow] = {}
        for chunk in range(0, len(ids), 500):
            part = ids[chunk:chunk + 500]
            for c in s.scalars(select(ContactRow).where(ContactRow.customer_id.in_(part),
                                                        ContactRow.role == "finance")
                               .order_by(ContactRow.id)):
                contacts[c.customer_id].append(c)
            for row in s.scalars(select(CustomerRow).where(CustomerRow.id.in_(part))):
                customers[row.id] = row
        for cid in ids:
            cust = customers[cid]
            people = [c for c in contacts[cid] if c.email]
            addresses = [c.email for c in people if c.email]
            language = people[0].language if people else ""
            if not addresses and cust.email:
                addresses = [cust.email]
            problem = None
            if not addresses:
                problem = f"no finance contact with an e-mail address for {cust.name}"
            else:
                bad = [a for a in addresses if not _ADDRESS.match(a.strip())]
                if bad:
                    problem = f"malformed address {bad[0]!r} for {cust.name}"
            out[cid] = (cust.name, cust.collector or "", addresses, language, problem)
    return out


# -- rendering --------------------------------------------------------------------------------

def _environment(ws: Workspace) -> Environment:
    """The workspace's Jinja environment, made once: compiled templates are reused."""
    cached = ws.__dict__.get("_followup_templates")
    if cached is None:
        cached = ws.__dict__["_followup_templates"] = _make_environment(config_of(ws), ws.root)
    return cached


def _make_environment(config: CollectionsConfig, root: Path) -> Environment:
    paths = [TEMPLATES]
    if config.followup.templates_dir:
        own = Path(config.followup.templates_dir)
        paths.insert(0, own if own.is_absolute() else root / own)
    # HTML templates are escaped (customer names are data), text and subjects are not
    env = Environment(loader=FileSystemLoader([str(p) for p in paths]),
                      undefined=StrictUndefined, keep_trailing_newline=True,
                      autoescape=lambda name: bool(name and name.endswith(".html.j2")))

    def money(amount: Decimal, currency: str) -> str:
        return fmt(amount, minor_units(currency))

    env.filters["money"] = money
    return env


def render(ws: Workspace, msg: Message, as_of: date) -> tuple[str, str, str]:
    """(subject, plain text, HTML) of a statement in the customer's language."""
    config = config_of(ws)
    env = _environment(ws)
    items = [{"label": i.label, "invoice": i.number, "instalment": i.seq,
              "due_date": i.due_date.isoformat(), "days": (as_of - i.due_date).days,
              "currency": i.currency, "amount": i.amount, "open": i.open_amount,
              "interest": msg.interest.get((i.invoice_id, i.seq), Decimal("0.00")),
              "agency": i.agency} for i in msg.items]
    context = {"customer": msg.customer, "level": msg.level, "items": items,
               "totals": msg.totals(), "as_of": as_of.isoformat(),
               "collector": msg.collector, "sender": config.followup.smtp.sender,
               "interest_total": sum(msg.interest.values(), Decimal("0.00"))}
    base = f"{msg.language}/{msg.level.template}"
    try:
        subject = env.get_template(f"{base}.subject.j2").render(context).strip()
        body = env.get_template(f"{base}.txt.j2").render(context)
        html = env.get_template(f"{base}.html.j2").render(context)
    except TemplateNotFound as err:
        raise InputError(f"no template {err.name} (language {msg.language!r}, level "
                         f"{msg.level.name!r})", field="followup.levels.template",
                         rule="template-exists") from err
    return subject, body, html


def build_email(ws: Workspace, msg: Message, as_of: date, *, send_key: str) -> Message_:
    """The statement as a MIME message: text and HTML alternatives in the customer's language.

    Built with the compat32 MIME classes: about three times faster than ``EmailMessage``'s
    header folding, which matters when a run sends thousands of statements.
    """
    config = config_of(ws)
    subject, body, html = render(ws, msg, as_of)
    email = MIMEMultipart("alternative")
    email["Subject"] = Header(subject, "utf-8")
    email["From"] = config.followup.smtp.sender
    email["To"] = ", ".join(msg.recipients)
    if config.followup.smtp.reply_to:
        email["Reply-To"] = config.followup.smtp.reply_to
    email["Date"] = format_datetime(datetime.now(UTC))
    sender_domain = getaddresses([config.followup.smtp.sender])[0][1].rpartition("@")[2]
    email["Message-ID"] = make_msgid("dunning", domain=sender_domain or "localhost")
    email["Content-Language"] = msg.language
    email["Auto-Submitted"] = "auto-generated"
    email["X-Claimwright-Level"] = msg.level.name
    email["X-Claimwright-Send-Key"] = send_key
    email.attach(MIMEText(body, "plain", "utf-8"))
    email.attach(MIMEText(html, "html", "utf-8"))
    return email


# -- SMTP -------------------------------------------------------------------------------------

class Mailer:
    """One SMTP connection for a run, opened on first use; the password is resolved only here
    and never logged (smtplib's debug output stays off)."""

    def __init__(self, ws: Workspace) -> None:
        self.settings = config_of(ws).followup.smtp
        self._smtp: smtplib.SMTP | None = None
        self._password: SecretStr | None = None

    def check_credentials(self) -> None:
        """Resolve the password now, so a missing secret fails the run before anything is
        reserved (it stays in memory only, as a ``SecretStr``)."""
        cfg = self.settings
        if cfg.username and self._password is None:
            if cfg.password is None:
                raise InputError("a username is set but no password reference",
                                 field="followup.smtp.password", rule="smtp-login")
            self._password = cfg.password.resolve("followup.smtp.password")

    def _connect(self) -> smtplib.SMTP:
        cfg = self.settings
        try:
            smtp: smtplib.SMTP
            if cfg.ssl:
                smtp = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout_seconds,
                                        context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout_seconds)
                if cfg.starttls:
                    smtp.starttls(context=ssl.create_default_context())
            if cfg.username:
                self.check_credentials()
                assert self._password is not None  # check_credentials raised otherwise
                smtp.login(cfg.username, self._password.get_secret_value())
        except smtplib.SMTPAuthenticationError as err:
            raise _ConnectionFailed(f"SMTP login as {cfg.username} refused "
                                    f"({err.smtp_code})") from None
        except (smtplib.SMTPException, OSError) as err:
            raise _ConnectionFailed(f"cannot reach SMTP server {cfg.host}:{cfg.port}: "
                                    f"{type(err).__name__}: {err}") from err
        return smtp

    def send(self, sender: str, recipients: list[str], raw: bytes) -> None:
        """Hand the message to the server; raises :class:`_Refused` or
        :class:`_ConnectionFailed`."""
        if self._smtp is None:
            self._smtp = self._connect()
        try:
            refused = self._smtp.sendmail(sender, recipients, raw)
        except smtplib.SMTPRecipientsRefused as err:
            raise _Refused(f"all recipients refused: {sorted(err.recipients)}") from err
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as err:
            raise _Refused(f"server refused the message: {err.smtp_code} "
                           f"{err.smtp_error.decode(errors='replace')}") from err
        except (smtplib.SMTPException, OSError) as err:
            self._smtp = None  # the connection is gone; the next message reconnects
            raise _ConnectionFailed(f"connection lost while sending: {type(err).__name__}: "
                                    f"{err}") from err
        if refused:
            # some recipients took it: it was sent; the refused ones are reported in the log
            log.warning("followup.recipients_refused", refused=sorted(refused))

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass  # closing a connection the server already dropped
            self._smtp = None


class _Refused(Exception):
    pass


class _ConnectionFailed(Exception):
    pass


# -- the run ----------------------------------------------------------------------------------

@dataclass
class RunResult:
    as_of: date
    dry_run: bool
    sent: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    stuck: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    taken: int = 0   # groups another concurrent run reserved first

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_json(self) -> dict[str, Any]:
        return {"as_of": self.as_of, "dry_run": self.dry_run, "sent": self.sent,
                "tasks": self.tasks, "failed": self.failed, "stuck": self.stuck,
                "warnings": self.warnings, "taken_by_other_run": self.taken}


def stuck_sends(ws: Workspace) -> list[dict[str, Any]]:
    """Sends left in state ``sending`` (a crash mid-send): to be resolved by a person."""
    with ws.store.session() as s:
        rows = s.execute(select(DunningSendRow, CustomerRow.name)
                         .join(CustomerRow, CustomerRow.id == DunningSendRow.customer_id)
                         .where(DunningSendRow.state == "sending").order_by(DunningSendRow.id))
        return [{"send_id": r.id, "customer": name, "level": r.level,
                 "recipients": r.recipients, "reserved_at": r.created_at} for r, name in rows]


def _reserve(ws: Workspace, msg: Message, as_of: date, state: str) -> int | None:
    """Commit the send and its items before any external action; None if another run has."""
    try:
        with ws.store.session() as s:
            row = DunningSendRow(send_key=msg.key, customer_id=msg.customer_id,
                                 level=msg.level.name, level_rank=msg.rank,
                                 channel=msg.level.channel, state=state, as_of=as_of,
                                 language=msg.language, recipients=", ".join(msg.recipients),
                                 owner=msg.level.owner or msg.collector, actor=ws.actor)
            s.add(row)
            s.flush()
            # one executemany: a statement may list hundreds of items
            s.execute(insert(DunningSendItemRow), [
                {"send_id": row.id, "invoice_id": i.invoice_id, "seq": i.seq,
                 "level": msg.level.name, "level_rank": msg.rank,
                 "open_amount": i.open_amount, "due_date": i.due_date} for i in msg.items])
            return row.id
    except StoreError:
        # the unique keys refused it: a concurrent run reserved the same items and level
        return None


def _release(ws: Workspace, send_id: int) -> None:
    with ws.store.session() as s:
        s.execute(delete(DunningSendItemRow).where(DunningSendItemRow.send_id == send_id))
        s.execute(delete(DunningSendRow).where(DunningSendRow.id == send_id))


def _outbox(ws: Workspace, as_of: date) -> Path:
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
    first = Mailer(ws)
    if any(m.level.channel == "email" and not m.problem for m in messages):
        first.check_credentials()
    state = _RunState()
    local = threading.local()
    mailers: list[Mailer] = []

    def mailer() -> Mailer:
        # one SMTP connection per worker thread; the resolved password is shared in memory
        current: Mailer | None = getattr(local, "mailer", None)
        if current is None:
            current = local.mailer = Mailer(ws)
            current._password = first._password
            with state.lock:
                mailers.append(current)
        return current

    workers = max(1, min(config_of(ws).followup.smtp.connections, len(messages)))
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
        for m in mailers:
            m.close()
    for entries in (result.sent, result.tasks, result.failed):
        entries.sort(key=lambda e: (e["customer"], e["level"]))
    log.info("followup.run", as_of=as_of.isoformat(), sent=len(result.sent),
             tasks=len(result.tasks), failed=len(result.failed), stuck=len(result.stuck))
    return result


@dataclass
class _RunState:
    """What the workers of one run share: the first connection error, and a lock."""

    connection_error: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


def _send_one(ws: Workspace, msg: Message, as_of: date, mailer: Mailer, result: RunResult,
              state: _RunState) -> None:
    summary = {"customer": msg.customer, "level": msg.level.name,
               "items": [i.label for i in msg.items]}
    if msg.level.channel == "task":
        send_id = _reserve(ws, msg, as_of, state="sent")
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
    send_id = _reserve(ws, msg, as_of, state="sending")
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
    except (_Refused, _ConnectionFailed) as err:
        _release(ws, send_id)
        log.warning("followup.send_failed", customer=msg.customer, level=msg.level.name,
                    error=str(err))
        if isinstance(err, _ConnectionFailed):
            with state.lock:
                state.connection_error = state.connection_error or str(err)
        result.failed.append(summary | {"error": str(err),
                                        "connection": isinstance(err, _ConnectionFailed)})
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
