"""Due dates made once, stored, read by everyone: ``collection_schedule`` rows written through
:func:`claims.core.due.due_dates` (the one function that decides them).

Every invoice has rows: explicit terms (``set_terms``: basis net / eom / instalments) are kept
as given; the others (basis statutory / returned / invoice / default) are computed here when
the invoice has none yet, and again when its claim reaches the agency (the statutory rule
starts from the receipt) or the agency returns it (the clock stops; the resubmission starts it
again): the store drops the computed rows when either is recorded
(:mod:`claims.store.schedule`). The receivables SQL and the KPI SQL read only these rows, so
``claims kpi`` and ``claims followup receivables`` age an invoice on the same date.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, text

from claims.collections.receivables import as_date, as_datetime, bind, money
from claims.collections.settings import CollectionsConfig
from claims.core.due import (
    COMPUTED_BASES, Due, StatutoryRule, Terms, computed_due, due_dates,
)
from claims.core.money import minor_units
from claims.errors import InputError, NotFound
from claims.store import Store
from claims.store.tables import MONEY_SCALE, ContractRow, InvoiceRow
from claims.store.tables.collections import ScheduleRow

#: THE receipt of the proper invoice ``{invoice}`` (an invoice id expression) by the agency:
#: its live claim's first SUBMITTED event not followed by a RETURNED one (after a return the
#: clock runs from the resubmission); NULL when none (never submitted, or returned since).
RECEIVED_SQL = """(SELECT MIN(e.at) FROM claims c JOIN claim_events e ON e.claim_id = c.id
        WHERE c.invoice_id = {invoice} AND e.status = 'SUBMITTED'
          AND c.status NOT IN ('REJECTED', 'REJECTED_BY_PORTAL')
          AND NOT EXISTS (SELECT 1 FROM claim_events r WHERE r.claim_id = e.claim_id
                          AND r.status = 'RETURNED'
                          AND (r.at > e.at OR (r.at = e.at AND r.id > e.id))))"""
#: 1 when the invoice's live claim was ever RETURNED (with :data:`RECEIVED_SQL` NULL: the
#: agency has it back, the statutory clock is stopped), else 0
RETURNED_SQL = """CASE WHEN EXISTS (SELECT 1 FROM claims c JOIN claim_events e
                               ON e.claim_id = c.id
        WHERE c.invoice_id = {invoice} AND e.status = 'RETURNED'
          AND c.status NOT IN ('REJECTED', 'REJECTED_BY_PORTAL')) THEN 1 ELSE 0 END"""

_STALE = f"""
SELECT i.id, i.issue_date, i.due_date, i.total, i.currency,
       COALESCE((SELECT MAX(k.agency) FROM claims c JOIN contracts k ON k.id = c.contract_id
                 WHERE c.invoice_id = i.id
                   AND c.status NOT IN ('REJECTED', 'REJECTED_BY_PORTAL')),
                (SELECT MAX(k.agency) FROM contracts k WHERE k.number = i.contract_number))
         AS agency,
       {RECEIVED_SQL.format(invoice="i.id")} AS received,
       {RETURNED_SQL.format(invoice="i.id")} AS returned,
       (SELECT MIN(s.basis) FROM collection_schedule s WHERE s.invoice_id = i.id) AS basis
FROM invoices i
WHERE {{where}}"""

#: an invoice without rows
_MISSING = "NOT EXISTS (SELECT 1 FROM collection_schedule s WHERE s.invoice_id = i.id)"
#: How many invoices have no rows, from two counts in one statement (one snapshot on SQLite
#: and PostgreSQL). Every row names an existing invoice (a foreign key, enforced on both), so
#: the difference is exactly the invoices :data:`_MISSING` finds: when it is 0 the anti-join
#: over every invoice is skipped. It reads no marker and takes no lock a writer takes.
_UNSCHEDULED = ("SELECT (SELECT COUNT(*) FROM invoices)"
                " - (SELECT COUNT(DISTINCT invoice_id) FROM collection_schedule)")
#: an invoice whose stopped clock (basis ``returned``) gave its due date: made again on every
#: run, since it is counted from today (few: the claims an agency has back for correction)
_RETURNED_ROWS = """i.id IN (SELECT s.invoice_id FROM collection_schedule s
                WHERE s.basis = 'returned')"""
#: an invoice whose claim reached an agency with a statutory rule while its rows still have a
#: non-statutory computed basis (the second half of :data:`_NEEDS` on its own, driven by the
#: claims: used when no invoice is without rows)
_STATUTORY = """i.id IN (SELECT c.invoice_id FROM claims c JOIN contracts k ON k.id = c.contract_id
                 JOIN claim_events e ON e.claim_id = c.id
                 WHERE e.status = 'SUBMITTED' AND k.agency IN ({agencies}))
AND EXISTS (SELECT 1 FROM collection_schedule s WHERE s.invoice_id = i.id
            AND s.basis IN ('invoice', 'default'))
OR """ + _RETURNED_ROWS
#: … or one whose claim reached an agency with a statutory rule while its rows still have a
#: non-statutory computed basis (the claim first: most invoices have none, one index probe)
_NEEDS = _MISSING + """
OR (EXISTS (SELECT 1 FROM claims c JOIN contracts k ON k.id = c.contract_id
            JOIN claim_events e ON e.claim_id = c.id
            WHERE c.invoice_id = i.id AND e.status = 'SUBMITTED'
              AND k.agency IN ({agencies}))
    AND EXISTS (SELECT 1 FROM collection_schedule s WHERE s.invoice_id = i.id
                AND s.basis IN ('invoice', 'default')))
OR """ + _RETURNED_ROWS


def stopped_clock_day(rule: Any, as_of: date | None) -> date:
    """The day a stopped clock (the agency has the claim back) is counted from: a
    resubmission on the command's ``as_of``, else today, the agency's day."""
    return as_of if as_of is not None else rule.local_date(datetime.now(UTC))


def _row_due(row: Any, config: CollectionsConfig, calendars: dict[tuple[str, int], Any],
             as_of: date | None = None) -> tuple[date, str]:
    """The computed due date and basis of one invoice row (columns of ``_STALE``) through
    :func:`claims.core.due.computed_due`; ``calendars`` caches (agency, issue year) → calendar
    (building a calendar is the costly part). A stopped clock (``returned`` without a
    receipt since) is counted from a resubmission on ``as_of`` (the command's ``--as-of``),
    or today (the agency's day) when none is given: never overdue on the day a command looks
    at, and with ``--as-of`` independent of the machine's clock (these rows are made again
    on every run, so a row written for another day is never read for this one)."""
    issue = as_date(row.issue_date)
    rule = config.agencies.get(row.agency) if row.agency else None
    statutory = None
    received = returned_on = None
    if rule is not None and rule.rule == "prompt-payment":
        statutory = StatutoryRule(rule.acceptance_days, rule.payment_days)
        if row.received is not None:
            received = rule.local_date(as_datetime(row.received))
        elif row.returned:
            returned_on = stopped_clock_day(rule, as_of)
    calendar = None
    if rule is not None:
        key = (row.agency, issue.year)
        if key not in calendars:
            calendars[key] = rule.business_days(range(issue.year, issue.year + 3))
        calendar = calendars[key]
    return computed_due(issue, invoice_due=as_date(row.due_date) if row.due_date is not None
                        else None, default_net_days=config.followup.default_net_days,
                        rule=statutory, received=received, returned_on=returned_on,
                        business_days=calendar)


def invoice_dues(row: Any, config: CollectionsConfig,
                 calendars: dict[tuple[str, int], Any] | None = None,
                 as_of: date | None = None) -> list[Due]:
    """The due dates of one invoice row (columns of ``_STALE``) under ``config`` without
    explicit terms: :func:`claims.core.due.due_dates`'s one due, the invoice total rounded at
    its currency; ``calendars`` and ``as_of`` as in :func:`_row_due`."""
    day, basis = _row_due(row, config, {} if calendars is None else calendars, as_of)
    return [Due(0, day, money(row.total, row.currency), basis)]


def refresh_due_dates(conn: Connection, config: CollectionsConfig,
                      invoice_ids: Iterable[int] | None = None, *,
                      as_of: date | None = None) -> int:
    """Write the computed due dates of the invoices that need them (no rows yet, or a claim
    newly at a statutory agency), or of exactly ``invoice_ids``; explicit terms are kept.
    ``as_of``: the day the command looks at (a stopped clock is counted from it, see
    :func:`_row_due`).

    Returns the number of invoices whose rows were (re)written. Runs in ``conn``'s
    transaction (the caller commits).
    """
    params: dict[str, Any] = {}
    if invoice_ids is not None:
        ids = sorted(set(invoice_ids))
        if not ids:
            return 0
        params = {f"i{n}": v for n, v in enumerate(ids)}
        where = f"i.id IN ({', '.join(':' + k for k in params)})"
    else:
        statutory = sorted(n for n, r in config.agencies.items() if r.rule == "prompt-payment")
        params = {f"a{n}": name for n, name in enumerate(statutory)}
        agencies = ", ".join(":" + k for k in params)
        # two counts say whether any invoice is without rows (the usual answer: none)
        missing = conn.execute(text(_UNSCHEDULED)).scalar_one() > 0
        if missing:  # without a statutory agency only missing rows can need writing
            where = _NEEDS.format(agencies=agencies) if agencies else _MISSING
        elif agencies:
            where = _STATUTORY.format(agencies=agencies)
        else:
            return 0
    rows = [r for r in conn.execute(bind(_STALE.format(where=where), params))
            if r.basis is None or r.basis in COMPUTED_BASES]
    if not rows:
        return 0
    # an invoice without rows (basis NULL: no row at all) has nothing to delete
    ids = [r.id for r in rows if r.basis is not None]
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        conn.execute(delete(ScheduleRow).where(ScheduleRow.invoice_id.in_(chunk),
                                               ScheduleRow.basis.in_(COMPUTED_BASES)))
    _insert_many(conn, rows, config, as_of)
    return len(rows)


_COLUMNS = ("invoice_id", "seq", "due_date", "amount", "basis")


def _stored_values(rows: list[Any], config: CollectionsConfig, procs: list[Any],
                   as_of: date | None = None) -> list[tuple[Any, ...]]:
    """The schedule rows of ``rows`` (one due each: they have no explicit terms) as the driver
    takes them (``procs``: the columns' bind processors, in :data:`_COLUMNS` order).

    The due date depends only on the agency, the dates and the receipt, so it is computed
    (and converted for the driver) once per distinct combination; an amount already at its
    currency's minor unit is stored as read (rounding it changes nothing), any other goes
    through :func:`claims.collections.receivables.money` (the one rounding policy)."""
    calendars: dict[tuple[str, int], Any] = {}
    dates: dict[tuple[Any, ...], tuple[Any, str]] = {}
    steps: dict[str, int] = {}
    to_date, to_amount = procs[2] or (lambda v: v), procs[3] or (lambda v: v)
    out = []
    for r in rows:
        invoice_id, issue, due, raw, currency, agency, received, returned = r[:8]  # _STALE's
        key = (agency, issue, due, received, returned)
        hit = dates.get(key)
        if hit is None:
            day, basis = _row_due(r, config, calendars, as_of)
            hit = dates[key] = (to_date(day), basis)
        step = steps.get(currency)
        if step is None:  # raw amounts are integers of 1/10**MONEY_SCALE units
            step = steps[currency] = 10 ** max(MONEY_SCALE - minor_units(currency), 0)
        amount = raw if raw % step == 0 else to_amount(money(raw, currency))
        out.append((invoice_id, 0, hit[0], amount, hit[1]))
    return out


def _insert_many(conn: Connection, rows: list[Any], config: CollectionsConfig,
                 as_of: date | None = None) -> None:
    """Insert the computed schedule rows of ``rows`` straight through the driver, each value
    converted as SQLAlchemy would convert it (:func:`_stored_values`), without SQLAlchemy's
    per-row parameter processing — most of the time of a large fill."""
    if conn.dialect.driver not in ("pysqlite", "psycopg"):  # another driver: SQLAlchemy's way
        calendars: dict[tuple[str, int], Any] = {}
        conn.execute(insert(ScheduleRow), [
            dict(zip(_COLUMNS, (r.id, d.seq, d.due_date, d.amount, d.basis), strict=True))
            for r in rows for d in invoice_dues(r, config, calendars, as_of)])
        return
    table = ScheduleRow.__table__
    converted = _stored_values(rows, config, [
        table.c[name].type._cached_bind_processor(conn.dialect) for name in _COLUMNS], as_of)
    if conn.dialect.name == "sqlite":  # its executemany is a C loop, fast enough
        marks = ", ".join(["?"] * len(_COLUMNS))
        conn.exec_driver_sql(f"INSERT INTO collection_schedule ({', '.join(_COLUMNS)}) "
                             f"VALUES ({marks})", converted)
        return
    # PostgreSQL: executemany is a statement per row even pipelined; COPY on the same
    # connection (so in the same transaction) streams every row in one command
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(f"COPY collection_schedule ({', '.join(_COLUMNS)}) FROM STDIN") as copy:
            for row in converted:
                copy.write_row(row)
    finally:
        cursor.close()


def ensure_due_dates(engine: Engine, config: CollectionsConfig,
                     as_of: date | None = None) -> int:
    """:func:`refresh_due_dates` in its own transaction, before anything reads due dates
    (``as_of``: the day the command reads them for, its ``--as-of``); returns the number of
    invoices (re)written (0 when all are there: two counts, or with a statutory agency also a
    look at the claims that reached one)."""
    with engine.begin() as conn:
        return refresh_due_dates(conn, config, as_of=as_of)


def set_terms(store: Store, config: CollectionsConfig, invoice_number: str,
              terms: Terms) -> list[dict[str, Any]]:
    """Give an invoice explicit payment terms: its schedule replaces any other, through
    :func:`claims.core.due.due_dates` (so the agency's business-day rule applies too).

    Returns the schedule as stored. The instalment amounts add up to the invoice total.
    """
    with store.session() as s:
        inv = s.query(InvoiceRow).filter(InvoiceRow.number == invoice_number).one_or_none()
        if inv is None:
            raise NotFound("invoice", invoice_number)
        agency = s.scalar(select(ContractRow.agency).where(
            ContractRow.number == inv.contract_number)) if inv.contract_number else None
        rule = config.agencies.get(agency) if agency else None
        try:
            places = minor_units(inv.currency)
            total = inv.total.quantize(Decimal(1).scaleb(-places))
            years = range(inv.issue_date.year, inv.issue_date.year + 3)
            dues = due_dates(inv.issue_date, total, places=places, terms=terms,
                             business_days=rule.business_days(years) if rule else None)
        except ValueError as err:
            raise InputError(str(err), field="instalments", rule="instalments-sum") from err
        s.query(ScheduleRow).filter(ScheduleRow.invoice_id == inv.id).delete()
        for d in dues:
            s.add(ScheduleRow(invoice_id=inv.id, seq=d.seq, due_date=d.due_date, amount=d.amount,
                              basis=d.basis))
        return [{"seq": d.seq, "due_date": d.due_date, "amount": d.amount} for d in dues]
