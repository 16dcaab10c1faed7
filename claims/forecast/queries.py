"""Loading the forecast's :class:`~claims.forecast.ledger.Ledger` from the store, a few scans.

Due dates come from collections: the ``collection_schedule`` rows made by the one due-date
rule (statutory, the invoice's own, or issue + default net days; instalments), read directly,
so the forecast and the dunning always agree on when an item falls due. Every fact is loaded
with the day it became known; filtering to an as-of date is the ledger's job (no look-ahead).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from itertools import compress, repeat
from operator import is_not
from types import SimpleNamespace
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, text

from claims.collections.due import RECEIVED_SQL, invoice_dues, stopped_clock_day
from claims.collections.receivables import as_date, as_datetime, money
from claims.collections.settings import CollectionsConfig
from claims.core.money import minor_units
from claims.forecast.ledger import (
    ClaimFacts, DisputeFacts, Item, Ledger, PlanFacts, PromiseFacts, Receipt,
)
from claims.store.tables import MONEY_SCALE

#: the schedule basis of a due date made by an agency's prompt-payment rule
#: (:func:`claims.core.due.due_dates`): such an item carries the agency of its invoice's claim
STATUTORY = "statutory"
#: the bases whose due date is made from the claim's life at the agency: read apart
#: (:func:`_statutory_items`), each with the due dates that stood before (basis ``returned``:
#: the agency has the claim back, the clock stopped)
AT_THE_AGENCY = f"('{STATUTORY}', 'returned')"
#: a claim that still stands (the agency of a statutory due date, its receipt by the agency)
LIVE_CLAIM = "c.status NOT IN ('REJECTED', 'REJECTED_BY_PORTAL')"
#: a named tuple of a class from a row of its fields, all of them: ``_new(Item, row)``
_new = tuple.__new__


def load_ledger(engine: Engine, config: CollectionsConfig, as_of: date | None = None
                ) -> Ledger:
    """Every receivable, receipt, claim status, promise, plan and dispute in the store.

    Bulk: one query per kind of fact, each fetched whole (``fetchall``) as plain columns and
    unpacked positionally; dates and amounts that repeat are converted once (:class:`_Conv`);
    a contract's payment days are read once per contract, not once per claim. ``as_of``: the
    day the due dates were made for (:func:`~claims.collections.due.ensure_due_dates`)."""
    conv = _Conv()
    with engine.connect() as conn:
        items = _items(conn, config, conv, as_of)
        cols = conv.convert(_read(conn, (
            "a.invoice_id", "COALESCE(p.value_date, a.applied_at)", "a.amount", "a.kind",
            "i.currency"), "FROM payment_applications a JOIN invoices i ON i.id = a.invoice_id "
            "LEFT JOIN payments p ON p.id = a.payment_id WHERE a.undone_at IS NULL ORDER BY a.id",
            ints=(0, 2), days=(1,)), days=(1,), money=((2, 4),), names=(3,))
        # (invoice, day, amount, kind) columns: a Receipt per row, made in C (no call per row)
        receipts = list(map(_new, repeat(Receipt), zip(*cols[:4], strict=True)))
        customers = {cid: (name, kind) for cid, name, kind in conn.execute(
            text("SELECT id, name, kind FROM customers")).all()}
        ledger = Ledger(items, receipts, customers, _claims(conn, conv), _promises(conn, conv),
                        _plans(conn), _disputes(conn))
    ledger.interest_rules = {
        name: (rule.interest_rate_percent, rule.compounding_days, rule.day_count)
        for name, rule in config.agencies.items()
        if rule.rule == "prompt-payment" and rule.interest_rate_percent > 0}
    return ledger


def _fetch(conn: Connection, sql: str) -> list[tuple[Any, ...]]:
    """Every row of ``sql`` (a statement without parameters) as the driver's own tuples,
    read on ``conn``'s connection (its transaction): no SQLAlchemy row per row. The
    statements here are plain text, so SQLAlchemy converted nothing anyway; making its rows,
    and unzipping them into columns, was a fifth of loading 250,000 items."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql)
        return cursor.fetchall()
    finally:
        cursor.close()


def _read(conn: Connection, exprs: Sequence[str], rest: str, *, ints: Sequence[int] = (),
          days: Sequence[int] = ()) -> list[Sequence[Any]]:
    """The columns of ``SELECT exprs rest`` (positions as the rows'), a sequence each.

    On SQLite each column comes as one JSON array (:func:`_json_columns`): no Python tuple
    per row, no transpose; the ``days`` columns come cut to their first 10 characters there
    (all :meth:`_Conv.day` reads of a text). ``ints``: columns of integers (and NULL), which
    the JSON must carry exactly. Elsewhere (PostgreSQL), and for what JSON cannot carry: the
    driver's rows, transposed."""
    if conn.dialect.name == "sqlite":
        cols = _json_columns(conn, exprs, rest, ints, days)
        if cols is not None:
            return cols
    rows = _fetch(conn, f"SELECT {', '.join(exprs)} {rest}")
    return list(zip(*rows, strict=True)) if rows else [[] for _ in exprs]


def _json_columns(conn: Connection, exprs: Sequence[str], rest: str, ints: Sequence[int],
                  days: Sequence[int]) -> list[Sequence[Any]] | None:
    """The columns read on SQLite, each aggregated into one JSON array in the rows' order
    (``json_group_array`` over the statement as a subquery: SQLite runs it in its own ORDER
    BY) and parsed by :func:`json.loads` in C; the values are the rows' (integers, text and
    NULL as such). At 250,000 items this is half the CPU of fetching the rows and unzipping
    them (a Python object per value, twice). ``None`` when JSON could not carry a column
    exactly: a REAL in an ``ints`` column (JSON rounds it to 15 digits), a BLOB (JSON refuses
    it), or a SQLite without JSON: then read the rows."""
    select = ", ".join(f"substr({e}, 1, 10) AS c{k}" if k in days else f"{e} AS c{k}"
                       for k, e in enumerate(exprs))
    arrays = ", ".join(f"json_group_array(c{k})" for k in range(len(exprs)))
    try:
        (texts,) = _fetch(conn, f"SELECT {arrays} FROM (SELECT {select} {rest})")
    except conn.dialect.loaded_dbapi.OperationalError:
        return None
    if any("." in texts[k] or "e" in texts[k] for k in ints):  # a REAL (or text): as rows
        return None
    return list(map(json.loads, texts))


class _Conv:
    """Driver values to dates and amounts, each distinct value converted once (a history of a
    million invoices has a few thousand distinct days)."""

    def __init__(self) -> None:
        self._days: dict[Any, date] = {}
        self._money: dict[str, dict[Any, Decimal]] = {}
        self._names: dict[Any, Any] = {}

    def day(self, value: Any) -> date:
        found = self._days.get(value)
        if found is None:
            key = value[:10] if isinstance(value, str) else value
            found = self._days.get(key)
            if found is None:
                found = self._days[key] = as_date(key)
            self._days[value] = found  # the value as read, too: no cut the next time
        return found

    def money(self, raw: Any, currency: str) -> Decimal:
        known = self._money.setdefault(currency, {})
        found = known.get(raw)
        if found is None:
            found = known[raw] = money(raw, currency)
        return found

    def column_days(self, values: Sequence[Any]) -> list[date]:
        """:meth:`day` of every value: each distinct one converted once, then every value
        looked up in C (no Python step per value: a million rows, a few hundred days)."""
        known = self._days
        for value in set(values).difference(known):
            self.day(value)
        return list(map(known.__getitem__, values))

    def column_money(self, raws: Sequence[Any], currencies: Sequence[str]) -> list[Decimal]:
        """:meth:`money` of every (raw, currency), in one pass; an integer amount at its
        currency's minor unit (every stored one) made inline as :func:`money` makes it
        (nearly every amount of a history is a distinct value: no call per value)."""
        if len(raws) > 1 and len(kinds := set(currencies)) == 1 and \
                set(map(type, raws)) == {int}:
            fast = _whole_minor_units(raws, next(iter(kinds)))
            if fast is not None:
                return fast
        out: list[Decimal] = []
        append, convert = out.append, self.money
        last, known, step, places = None, {}, 0, 0
        for raw, currency in zip(raws, currencies, strict=True):
            if currency != last:
                last, known = currency, self._money.setdefault(currency, {})
                places = minor_units(currency)
                step = 10 ** (MONEY_SCALE - places) if places <= MONEY_SCALE else 0
            found = known.get(raw)
            if found is None:
                if raw.__class__ is int and step and raw % step == 0:
                    found = known[raw] = Decimal(raw // step).scaleb(-places)
                else:
                    found = convert(raw, currency)
            append(found)
        return out

    def columns(self, rows: Sequence[Sequence[Any]], *, days: tuple[int, ...] = (),
                money: tuple[tuple[int, int], ...] = (), names: tuple[int, ...] = ()
                ) -> list[Sequence[Any]]:
        """The rows as columns, converted (:meth:`convert`); ``[]`` for no rows."""
        cols: list[Sequence[Any]] = list(zip(*rows, strict=True)) if rows else []
        return self.convert(cols, days=days, money=money, names=names) if cols else []

    def convert(self, cols: list[Sequence[Any]], *, days: tuple[int, ...] = (),
                money: tuple[tuple[int, int], ...] = (), names: tuple[int, ...] = ()
                ) -> list[Sequence[Any]]:
        """The columns, the ``days`` ones as dates and each ``money`` (amount, currency)
        pair's amount column as amounts (in place)."""
        for k in days:
            cols[k] = self.column_days(cols[k])
        for k, c in money:
            cols[k] = self.column_money(cols[k], cols[c])
        for k in names:  # a few distinct texts (currencies, agencies, kinds): one object each
            cols[k] = list(map(self._names.setdefault, cols[k], cols[k]))
        return cols


def _whole_minor_units(raws: Sequence[int], currency: str) -> list[Decimal] | None:
    """:func:`money` of every raw amount of one currency when each is at its minor unit
    (every stored one), made as it makes them, without a Python step per amount; ``None``
    for any other column (then amount by amount)."""
    places = minor_units(currency)
    if places > MONEY_SCALE or max(map(abs, raws)) >= 2**62:
        return None
    values = np.fromiter(raws, np.int64, len(raws))
    step = 10 ** (MONEY_SCALE - places)
    if (values % step).any():
        return None
    return list(map(Decimal.scaleb, map(Decimal, (values // step).tolist()), repeat(-places)))


def _items(conn: Connection, config: CollectionsConfig, conv: _Conv,
           as_of: date | None = None) -> list[Item]:
    """The receivables; one whose due date is statutory also carries the day its claim
    reached the agency (from then on that due date was known) and the due date before it,
    made by the one due-date rule without the receipt (:func:`invoice_dues`). The statutory
    ones (few) are read apart with the columns only they need: the others' read has no
    column that would be NULL on every row (the Ledger sorts the items)."""
    frm = ("FROM collection_schedule s JOIN invoices i ON i.id = s.invoice_id "
           "LEFT JOIN contracts k ON k.number = i.contract_number "
           "WHERE i.customer_id IS NOT NULL AND s.basis ")  # basis is NOT NULL
    cols = conv.convert(_read(conn, (
        "s.invoice_id", "s.seq", "i.number", "i.customer_id", "i.currency", "i.issue_date",
        "s.due_date", "s.amount", "k.agency"), f"{frm}NOT IN {AT_THE_AGENCY}",
        ints=(0, 1, 3, 7), days=(5, 6)), days=(5, 6), money=((7, 4),), names=(4, 8))
    # one Item per row made in C (no Python call per row over 250,000 rows); the fields after
    # the agency (statutory only) are None, and no earlier due dates
    none = repeat(None)  # endless: zip stops with the columns (of one length, from the rows)
    out = list(map(_new, repeat(Item), zip(cols[0], map(int, cols[1]), *cols[2:], none, none,
                                            none, repeat(()), strict=False)))
    return out + _statutory_items(conn, config, conv, frm, as_of)


def _statutory_items(conn: Connection, config: CollectionsConfig, conv: _Conv, frm: str,
                     as_of: date | None) -> list[Item]:
    """The items whose due date is made at the agency (:data:`AT_THE_AGENCY`), each with the
    agency of its invoice's live claim and the day that due date was known from (the claim's
    receipt; with the claim back at the supplier, ``as_of`` or today: the day the stopped clock
    was counted from, :func:`~claims.collections.due.stopped_clock_day`), the due date before
    the claim reached the agency, and the ones that stood in between (:func:`_earlier`)."""
    rows = _fetch(conn, (
        "SELECT s.invoice_id, s.seq, i.number, i.customer_id, i.currency, s.due_date, s.amount, "
        "(SELECT MAX(k.agency) FROM claims c JOIN contracts k ON k.id = c.contract_id "
        f"WHERE c.invoice_id = s.invoice_id AND {LIVE_CLAIM}) AS agency, "
        "i.issue_date, k.agency AS contract_agency, i.due_date AS invoice_due, i.total, "
        # the receipt the statutory due date was made from (a resubmission after a return)
        f"{RECEIVED_SQL.format(invoice='s.invoice_id')} AS received {frm}IN {AT_THE_AGENCY}"))
    events: dict[int, list[tuple[Any, str]]] = defaultdict(list)
    if rows:
        for invoice_id, at, status in conn.execute(text(_RECEIPT_EVENTS)):
            events[invoice_id].append((at, status))
    out, calendars = [], {}
    for row, (invoice_id, seq, number, customer, currency, due, amount, agency, issued,
              contract_agency, _, _, received) in zip(rows, zip(*conv.columns(
                  rows, days=(5, 8), money=((6, 4),)), strict=True), strict=True):
        known_from = before = None
        earlier: tuple[tuple[date, date, bool], ...] = ()
        rule = config.agencies.get(agency) if agency is not None else None
        if agency is not None and (received is not None or rule is not None):
            # the receipt's day in the agency's time zone, as the due-date rule dates it; with
            # the claim back at the supplier, the day the stopped clock was counted from
            known_from = (stopped_clock_day(rule, as_of) if received is None
                          else rule.local_date(as_datetime(received)) if rule is not None
                          else as_date(received))
            facts = SimpleNamespace(issue_date=row[8], due_date=row[10], total=row[11],
                                    currency=currency, agency=agency, received=None,
                                    returned=0)
            before = invoice_dues(facts, config, calendars)[0].due_date
            if rule is not None:
                earlier = _earlier(facts, events[invoice_id], rule, config, known_from,
                                   calendars)
        out.append(Item(invoice_id, int(seq), number, customer, currency, issued, due, amount,
                        contract_agency, agency, known_from, before, earlier))
    return out


#: the SUBMITTED and RETURNED events of the live claims of the invoices whose due date is
#: made at the agency (few), in the order :data:`RECEIVED_SQL` reads them (time, then id)
_RECEIPT_EVENTS = f"""SELECT c.invoice_id, e.at, e.status FROM claims c
JOIN claim_events e ON e.claim_id = c.id
WHERE {LIVE_CLAIM} AND e.status IN ('SUBMITTED', 'RETURNED')
  AND c.invoice_id IN (SELECT invoice_id FROM collection_schedule WHERE basis IN {AT_THE_AGENCY})
ORDER BY c.invoice_id, e.at, e.id"""


def _earlier(facts: SimpleNamespace, events: list[tuple[Any, str]], rule: Any,
             config: CollectionsConfig, known_from: date,
             calendars: dict[tuple[str, int], Any]) -> tuple[tuple[date, date, bool], ...]:
    """The due dates that stood before ``known_from`` (the receipt the statutory due date is
    made from), each from its day, by the one due-date rule (:func:`invoice_dues`): from an
    earlier receipt (the first SUBMITTED event since the last RETURNED one, as
    :data:`RECEIVED_SQL` picks it) its statutory due date; from a return until the next
    receipt, each day the stopped clock's due date as of that day (a resubmission that day:
    never overdue)."""
    steps: list[tuple[date, date, bool]] = []
    received = returned = None
    for at, status in [*events, (None, "END")]:
        day = known_from if at is None else rule.local_date(as_datetime(at))
        if returned is not None and (status == "END" or status == "SUBMITTED"):
            stopped = vars(facts) | {"returned": 1}
            steps += [(d, invoice_dues(SimpleNamespace(**stopped), config, calendars,
                                       as_of=d)[0].due_date, False)
                      for d in (returned + timedelta(days=n)
                                for n in range((min(day, known_from) - returned).days))]
            returned = None
        if status == "END" or day >= known_from:
            break
        if status == "SUBMITTED" and received is None:
            received = day
            steps.append((day, invoice_dues(SimpleNamespace(**(vars(facts) | {"received": at})),
                                            config, calendars)[0].due_date, True))
        elif status == "RETURNED":
            received = None
            returned = day if returned is None else returned
    return tuple(steps)


def _claims(conn: Connection, conv: _Conv) -> list[ClaimFacts]:
    """Every claim of a known contract, with its (day, status) events in time order."""
    ids, days, statuses = conv.convert(_read(
        conn, ("claim_id", "at", "status"),
        "FROM claim_events WHERE status IS NOT NULL ORDER BY claim_id, at, id",
        ints=(0,), days=(1,)), days=(1,), names=(2,))
    pairs = list(zip(days, statuses, strict=True))
    # each claim's run of events cut out of them all where its claim id starts (no Python step
    # per claim or event)
    claim_of = np.fromiter(ids, np.int64, len(ids))
    if (claim_of[1:] < claim_of[:-1]).any():
        raise RuntimeError("claim events read out of claim order")
    first = np.flatnonzero(np.append(True, claim_of[1:] != claim_of[:-1])) if len(ids) \
        else claim_of
    bounds = [*first.tolist(), len(ids)]
    events = dict(zip(claim_of[first].tolist(), map(tuple, map(
        pairs.__getitem__, map(slice, bounds[:-1], bounds[1:]))), strict=True))
    contracts = {kid: (agency, portal, _payment_days(data)) for kid, agency, portal, data in
                 conn.execute(text("SELECT id, agency, portal, data FROM contracts")).all()}
    claim_ids, invoices, contract_ids = _read(
        conn, ("id", "invoice_id", "contract_id"), "FROM claims ORDER BY id", ints=(0, 1, 2))
    # only the claims of a known contract, as the inner join with contracts did
    facts = list(map(contracts.get, contract_ids))
    known = list(map(is_not, facts, repeat(None)))
    claim_ids = list(compress(claim_ids, known))
    return list(map(_new, repeat(ClaimFacts), zip(
        claim_ids, compress(invoices, known), *zip(*compress(facts, known), strict=True),
        map(events.get, claim_ids, repeat(())), strict=True)))


def _payment_days(data: Any) -> int:
    """The contract's payment days (``payment_terms.days``, 30 when it names none)."""
    if isinstance(data, str):  # some drivers hand JSON back as text
        data = json.loads(data)
    terms = (data or {}).get("payment_terms") or {}
    return int(terms.get("days", 30))


def _promises(conn: Connection, conv: _Conv) -> list[PromiseFacts]:
    """Every promise, read as columns (a forecast of 100,000 open invoices reads 16,000 of
    them: a SQLAlchemy row, a date parse and an amount per promise were a tenth of loading)."""
    cols = conv.convert(_read(conn, (
        "id", "customer_id", "currency", "amount", "promised_date", "made_at", "cancelled_at"),
        "FROM collection_promises ORDER BY id", ints=(0, 1, 3), days=(4, 5, 6)),
        days=(4, 5), money=((3, 2),), names=(2,))
    cols[6] = [conv.day(v) if v else None for v in cols[6]]
    return list(map(PromiseFacts, *cols))


def _plans(conn: Connection) -> list[PlanFacts]:
    invoices: dict[int, list[int]] = defaultdict(list)
    for r in conn.execute(text("SELECT plan_id, invoice_id FROM collection_plan_invoices")):
        invoices[r.plan_id].append(r.invoice_id)
    instalments: dict[int, list[tuple[date, Decimal]]] = defaultdict(list)
    plans = list(conn.execute(text("SELECT id, customer_id, currency, agreed_at, cancelled_at "
                                   "FROM collection_plans")))
    currency = {p.id: p.currency for p in plans}
    for r in conn.execute(text("SELECT plan_id, due_date, amount FROM "
                               "collection_plan_instalments ORDER BY plan_id, seq")):
        instalments[r.plan_id].append((as_date(r.due_date), money(r.amount, currency[r.plan_id])))
    return [PlanFacts(p.id, p.customer_id, p.currency, as_date(p.agreed_at),
                      tuple(invoices[p.id]), tuple(instalments[p.id]),
                      as_date(p.cancelled_at) if p.cancelled_at else None) for p in plans]


def _disputes(conn: Connection) -> list[DisputeFacts]:
    return [DisputeFacts(r.invoice_id, as_date(r.opened_at),
                         as_date(r.resolved_at) if r.resolved_at else None)
            for r in conn.execute(text(
                "SELECT invoice_id, opened_at, resolved_at FROM collection_disputes"))]
