"""What is due: the items with a reminder level reached and not sent, grouped into one
message per customer and level, with recipients and late interest.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from claims.collections.settings import CollectionsConfig, Level
from claims.collections.receivables import (
    Item, Sql, bind, item_from_row, items_cte, pause_ctes,
)
from claims.collections.due import ensure_due_dates
from claims.collections.interest import agency_interest
from claims.store.tables import ContactRow, CustomerRow
from claims.collections.contacts import available_languages
from claims.collections.records import EMAIL_ADDRESS, customer_row

if TYPE_CHECKING:  # only a type here: the workspace composes this slice
    from claims.workspace import Workspace


def config_of(ws: Workspace) -> CollectionsConfig:
    """The workspace's ``[followup]`` and ``[agencies]`` settings (defaults where claims.toml
    says nothing), as one value."""
    settings = ws.settings
    return CollectionsConfig.model_construct(followup=settings.followup,
                                             agencies=settings.agencies)


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
        """The open amount of the message's items per currency."""
        out: dict[str, Decimal] = defaultdict(Decimal)
        for item in self.items:
            out[item.currency] += item.open_amount
        return dict(sorted(out.items()))

    def to_json(self) -> dict[str, Any]:
        """The message as plain JSON data (amounts as strings)."""
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
    ensure_due_dates(ws.store.engine, config, as_of)
    with ws.store.engine.connect() as conn:
        sql = Sql(conn.dialect.name)
        cte, params = items_cte(sql, config, as_of)
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
  AND d.invoice_id NOT IN (SELECT invoice_id FROM promised)
  AND d.invoice_id NOT IN (SELECT invoice_id FROM planned)
  AND NOT EXISTS (SELECT 1 FROM collection_escalations x
                  WHERE x.invoice_id = d.invoice_id AND x.action = 'legal'
                    AND x.status = 'approved')
ORDER BY d.customer_id, d.due_rank, d.due_date, d.number, d.seq"""
        rows = conn.execute(bind(query, params))
        return [(item_from_row(r), int(r.due_rank)) for r in rows]


def plan_messages(ws: Workspace, as_of: date, *, customer: str | None = None) -> list[Message]:
    """The messages a run would send today, with recipients (or the problem that stops one)."""
    config = config_of(ws)
    levels = config.followup.levels
    customer_id = None
    if customer is not None:
        with ws.store.session() as s:
            customer_id = customer_row(s, customer).id
    groups: dict[tuple[int, int], list[Item]] = defaultdict(list)
    for item, rank in due_items(ws, as_of, customer_id=customer_id):
        groups[(item.customer_id, rank)].append(item)
    if not groups:
        return []
    ids = sorted({cid for cid, _ in groups})
    people = _recipients(ws, ids)
    languages = available_languages(config.followup.templates_dir, ws.root)
    messages = []
    for (cid, rank), items in groups.items():
        name, collector, recipients, language, problem = people[cid]
        level = levels[rank]
        language = language or config.followup.language
        if problem is None and language not in languages:  # caught before any is sent
            problem = (f"{name}: language {language!r} has no reminder templates "
                       f"(known: {', '.join(languages)}); claims contact edit")
        msg = Message(customer_id=cid, customer=name, level=level, rank=rank, items=items,
                      recipients=recipients, language=language,
                      collector=collector,
                      problem=problem if level.channel == "email" else None)
        for item in items:
            if item.agency:
                owed = agency_interest(config.agency(item.agency), item.open_amount,
                                       item.due_date, as_of, item.currency).amount
                msg.interest[(item.invoice_id, item.seq)] = owed or Decimal("0.00")
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
                bad = [a for a in addresses if not EMAIL_ADDRESS.match(a.strip())]
                if bad:
                    problem = f"malformed address {bad[0]!r} for {cust.name}"
            out[cid] = (cust.name, cust.collector or "", addresses, language, problem)
    return out
