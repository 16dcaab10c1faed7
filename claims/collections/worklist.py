"""The specialist's day: the worklist (accounts ranked by a score whose parts are shown),
and the receivables ledger with expected payment dates and interest.

The score of an account is the sum of its parts, each a count or amount times its weight
(``[followup.weights]``)::

    overdue amount / 1,000 × per_thousand_overdue      (in [followup] base_currency at the
                                                        as-of day's rates; without a base
                                                        currency, at face value)
  + days the oldest overdue item is late × per_day_overdue
  + broken promises × broken_promise
  + open disputes × dispute
  + claims stuck at one status longer than stuck_days × stuck_claim
  + plans with a missed instalment × defaulted_plan

An account with an item at legal (approved legal action, see :mod:`.escalation`) stays on the
list, marked "at legal", whatever its score.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, text

from claims.collections.settings import CollectionsConfig
from claims.collections.dunning.plan import config_of
from claims.collections.receivables import (
    WAITING_STATUSES, Sql, as_date, as_datetime, bind, day_start, items_cte, money, open_items,
    pause_ctes,
)
from claims.collections.rates import Rates
from claims.collections.records import customer_row
from claims.collections.due import ensure_due_dates
from claims.collections.interest import agency_interest
from claims.core import disputes
from claims.core.collector import collector_paused
from claims.errors import InputError
from claims.store.tables import money_from_sql

if TYPE_CHECKING:  # only a type here: the workspace composes this slice
    from claims.workspace import Workspace


@dataclass
class Account:
    """One line of the worklist."""

    customer: str
    collector: str
    overdue: dict[str, Decimal] = field(default_factory=dict)
    days_overdue: int = 0
    broken_promises: int = 0
    open_disputes: int = 0
    stuck_claims: int = 0
    defaulted_plans: int = 0
    at_legal: list[str] = field(default_factory=list)
    base_currency: str = ""
    overdue_base: Decimal | None = None
    #: currency → why its overdue amount could not be converted (left out of the score)
    unconverted: dict[str, str] = field(default_factory=dict)
    interest: dict[str, Decimal] = field(default_factory=dict)
    #: items whose interest was refused (no sourced rate): invoice number → the reason
    interest_unknown: dict[str, str] = field(default_factory=dict)
    parts: dict[str, Decimal] = field(default_factory=dict)

    @property
    def score(self) -> Decimal:
        return sum(self.parts.values(), Decimal(0))

    def to_json(self) -> dict[str, Any]:
        return {"customer": self.customer, "collector": self.collector,
                "score": str(self.score),
                "parts": {k: str(v) for k, v in self.parts.items()},
                "overdue": {c: str(a) for c, a in sorted(self.overdue.items())},
                "days_overdue": self.days_overdue, "broken_promises": self.broken_promises,
                "open_disputes": self.open_disputes, "stuck_claims": self.stuck_claims,
                "defaulted_plans": self.defaulted_plans, "at_legal": self.at_legal,
                "base_currency": self.base_currency or None,
                "overdue_base": None if self.overdue_base is None else str(self.overdue_base),
                "unconverted": self.unconverted,
                "interest_owed": {c: str(a) for c, a in sorted(self.interest.items())},
                "interest_unknown": dict(sorted(self.interest_unknown.items()))}


def _convert(account: Account, rates: Rates, as_of: date) -> None:
    """The account's overdue amount in the base currency at the rates of ``as_of``; what has
    no rate is listed in ``unconverted`` with the reason."""
    account.base_currency = rates.base
    total = Decimal(0)
    for currency, amount in sorted(account.overdue.items()):
        converted = rates.convert(amount, currency, as_of)
        if converted.amount is None:
            account.unconverted[currency] = converted.reason or "no rate"
        else:
            total += converted.amount
    account.overdue_base = total


_CENT = Decimal("0.01")
_NONE = Decimal("0.00")


def _part(count: int | Decimal, weight: Decimal) -> Decimal:
    """One part of a score: ``count × weight`` to the cent (most counts are 0)."""
    return (count * weight).quantize(_CENT) if count else _NONE


#: The parts of a score, in the order they are shown (``Account.parts`` keys).
SCORE_PARTS = ("amount_overdue", "days_overdue", "broken_promises", "disputes", "stuck_claims",
               "defaulted_plans")


def _score(account: Account, config: CollectionsConfig) -> None:
    w = config.followup.weights
    overdue = (account.overdue_base if account.base_currency and account.overdue_base is not None
               else sum(account.overdue.values(), Decimal(0)))
    account.parts = {
        "amount_overdue": (overdue / 1000 * w.per_thousand_overdue).quantize(_CENT),
        "days_overdue": _part(account.days_overdue, w.per_day_overdue),
        "broken_promises": _part(account.broken_promises, w.broken_promise),
        "disputes": _part(account.open_disputes, w.dispute),
        "stuck_claims": _part(account.stuck_claims, w.stuck_claim),
        "defaulted_plans": _part(account.defaulted_plans, w.defaulted_plan),
    }


def worklist(ws: Workspace, as_of: date | None = None, *, limit: int | None = None
             ) -> list[Account]:
    """Accounts needing attention on ``as_of``, highest score first (ties: by name).

    Every aggregate is computed in SQL; Python only adds up the parts per account.
    """
    return _ranked(ws, as_of or date.today(), 0, limit or None).accounts


@dataclass
class WorklistPage:
    """One page of the worklist: its accounts (complete, interest included), where it starts
    in the ranking, and the size of the whole ranking."""

    accounts: list[Account]
    start: int
    total: int
    page: int
    pages: int


def worklist_page(ws: Workspace, page: int = 1, *, per_page: int = 50,
                  as_of: date | None = None) -> WorklistPage:
    """Page ``page`` (from 1) of :func:`worklist`: the ranking is over every account (the same
    order as ``claims worklist``); the late-payment interest, which is not part of the score,
    is worked out for the accounts of this page only. A page past the last gives the last."""
    if page < 1 or per_page < 1:
        raise InputError(f"page {page} of {per_page} accounts: pages and their sizes start "
                         "at 1", field="page", rule="whole-number")
    as_of = as_of or date.today()
    # the total is only known after ranking: rank, then cut the page (interest for it alone)
    ranked = _ranked(ws, as_of, (page - 1) * per_page, per_page, clamp=True)
    pages = max(1, -(-ranked.total // per_page))
    return WorklistPage(ranked.accounts, ranked.start, ranked.total,
                        ranked.start // per_page + 1, pages)


@dataclass
class _Slice:
    accounts: list[Account]
    start: int
    total: int


def _ranked(ws: Workspace, as_of: date, start: int, count: int | None, *,
            clamp: bool = False) -> _Slice:
    """The ranking's accounts ``start`` … ``start + count`` (``count`` None: to the end), each
    complete; ``clamp`` moves a start past the end to the last whole page."""
    config = config_of(ws)
    rates = Rates.load(ws.store, config.followup.base_currency)

    def pick(accounts: dict[int, Account]) -> tuple[list[tuple[int, Account]], int, int]:
        keyed = []  # (-score, name, customer id, account) of each account on the list
        for cid, acc in accounts.items():
            if rates.base:
                _convert(acc, rates, as_of)
            _score(acc, config)
            score = acc.score  # a sum of the parts: worked out once per account
            if score > 0 or acc.at_legal:
                keyed.append((-score, acc.customer, cid, acc))
        keyed.sort(key=itemgetter(0, 1))  # stable: the order of ``accounts`` breaks full ties
        ranked = [(cid, acc) for _, _, cid, acc in keyed]
        first = start
        if clamp and count and first >= len(ranked):
            first = max(0, (len(ranked) - 1) // count * count)
        return ranked[first:None if count is None else first + count], first, len(ranked)

    # every account's rows, amounts and parts are made and (but for the slice) freed in here
    with collector_paused():
        return _compute(ws, config, as_of, pick)


def _queries(head: str) -> dict[str, str]:
    """The worklist's aggregate queries by name, each after ``head`` (the open-items and pause
    CTEs): overdue per currency, broken promises, open disputes, stuck claims, defaulted plans
    and legal escalations. The items that bear interest are :data:`_INTEREST`, read for the
    accounts shown only.

    Each reads the open items straight from their CTE: the sum per customer and currency walks
    the schedule's customer index in its order (no sort, no temporary table, see migration
    ``receivables_0001``); stuck claims and legal escalations ask for the items of their own
    invoice only (``EXISTS``: a few index lookups each, not every item)."""
    statuses = ", ".join(f"'{s}'" for s in WAITING_STATUSES)
    return {
        "overdue": f"""{head}
SELECT customer_id, currency, SUM(open_amount) AS amount, MIN(due_date) AS oldest
FROM open_items WHERE due_date < :as_of GROUP BY customer_id, currency""",
        "broken": f"""{head}
SELECT pr.customer_id, COUNT(*) AS n FROM collection_promises pr
WHERE pr.cancelled_at IS NULL AND pr.promised_date < :broken_before
  AND pr.amount > (SELECT COALESCE(SUM(a.amount), 0) FROM payment_applications a
               JOIN invoices i ON i.id = a.invoice_id
               WHERE i.customer_id = pr.customer_id AND i.currency = pr.currency
                 AND a.undone_at IS NULL
                 AND a.kind = 'payment' AND a.applied_at >= pr.made_at)
GROUP BY pr.customer_id""",
        "disputes": f"""{head}
SELECT d.customer_id, COUNT(*) AS n FROM collection_disputes d WHERE {disputes.open_sql()}
GROUP BY d.customer_id""",
        "stuck": f"""{head}
SELECT i.customer_id, COUNT(*) AS n FROM claims c JOIN invoices i ON i.id = c.invoice_id
WHERE c.status IN ({statuses}) AND c.updated_at < :stuck_before
  AND i.customer_id IS NOT NULL
  AND EXISTS (SELECT 1 FROM open_items o WHERE o.invoice_id = i.id)
GROUP BY i.customer_id""",
        "plans": f"""{head}
SELECT customer_id, COUNT(*) AS n FROM plan_state WHERE good = 0 GROUP BY customer_id""",
        "legal": f"""{head}
SELECT x.customer_id, i.number FROM collection_escalations x
JOIN invoices i ON i.id = x.invoice_id
WHERE x.status = 'approved' AND x.action = 'legal'
  AND EXISTS (SELECT 1 FROM open_items o WHERE o.invoice_id = x.invoice_id)
ORDER BY i.number""",
    }


#: The open items that bear late-payment interest (a statutory agency, past due), of the
#: customers in ``{customers}`` (a condition on ``customer_id``), after the open-items CTE.
_INTEREST = """
SELECT customer_id, number, currency, agency, open_amount, due_date
FROM open_items WHERE agency IS NOT NULL AND due_date < :as_of{customers}"""

#: Above this many accounts on a page the interest query reads every customer's items.
_INTEREST_FILTER_MAX = 500


def _compute(ws: Workspace, config: CollectionsConfig, as_of: date,
             pick: Any) -> _Slice:
    """Run the worklist's queries on ``as_of``, build one :class:`Account` per customer they
    mention, let ``pick`` score, rank and cut them (returns the accounts kept with their
    customer ids, the start and the ranking's size), then add late interest to those kept.

    Every query reads the open items from the one rule (:func:`items_cte`), in one
    transaction. On PostgreSQL without JIT compilation (``SET LOCAL``: for this transaction
    only): the planner's cost of the sums over 100,000 items (their correlated instalment
    sums priced per row, though almost never run) made it compile them, ~0.7 s of a 0.9 s
    query, as :func:`claims.reports.kpis.sqlalchemy_runner` found for the KPIs."""
    fu = config.followup
    ensure_due_dates(ws.store.engine, config, as_of)
    with ws.store.engine.connect() as conn, conn.begin():
        sql = Sql(conn.dialect.name)
        if not sql.sqlite:
            conn.execute(text("SET LOCAL jit = off"))
        cte, params = items_cte(sql, config, as_of)
        pauses, pause_params = pause_ctes(as_of, config)
        params |= pause_params | {
            "as_of": as_of,
            "stuck_before": day_start(as_of - timedelta(days=fu.stuck_days)),
            "broken_before": as_of - timedelta(days=fu.promise_grace_days),
        }
        results = {}
        for name, query in _queries(cte + pauses).items():
            used = {k: v for k, v in params.items() if f":{k}" in query}
            results[name] = conn.execute(bind(query, used)).all()
        names = _names(conn, {r[0] for rows in results.values() for r in rows})
        accounts = _accounts(results, names, as_of)
        kept, first, total = pick(accounts)
        _add_interest(conn, config, as_of, kept, cte, params)
    return _Slice([acc for _, acc in kept], first, total)


def _names(conn: Connection, customer_ids: set[int]) -> dict[int, tuple[str, str]]:
    """Name and collector of each of ``customer_ids``."""
    names = {}
    if customer_ids:
        for cid, name, collector in conn.execute(
                bind("SELECT id, name, collector FROM customers", {})):
            if cid in customer_ids:
                names[cid] = (name, collector or "")
    return names


def _accounts(results: dict[str, list[Any]], names: dict[int, tuple[str, str]],
              as_of: date) -> dict[int, Account]:
    """One unscored :class:`Account` per customer in ``results``, with its counts and amounts
    (late interest comes later, for the accounts shown: :func:`_add_interest`)."""
    accounts: dict[int, Account] = {}

    def account(cid: int) -> Account:
        acc = accounts.get(cid)
        if acc is None:
            name, collector = names[cid]
            acc = accounts[cid] = Account(customer=name, collector=collector)
        return acc

    days: dict[Any, int] = {}  # the driver's value of an oldest due date → days overdue
    acc, last = None, None  # a customer's currencies come together (the index's order)
    for cid, currency, amount, oldest in results["overdue"]:
        if acc is None or cid != last:
            acc, last = account(cid), cid
        acc.overdue[currency] = money(amount, currency)
        late = days.get(oldest)
        if late is None:
            late = days[oldest] = (as_of - as_date(oldest)).days
        if late > acc.days_overdue:
            acc.days_overdue = late
    for cid, n in results["broken"]:
        account(cid).broken_promises = int(n)
    for cid, n in results["disputes"]:
        account(cid).open_disputes = int(n)
    for cid, n in results["stuck"]:
        account(cid).stuck_claims = int(n)
    for cid, n in results["plans"]:
        account(cid).defaulted_plans = int(n)
    for cid, number in results["legal"]:
        account(cid).at_legal.append(number)
    return accounts


def _add_interest(conn: Connection, config: CollectionsConfig, as_of: date,
                  kept: list[tuple[int, Account]], cte: str, cte_params: dict[str, Any]
                  ) -> None:
    """Late-payment interest owed to each account of ``kept`` (customer id, account), from
    their open items (``cte``: the open-items CTE with its parameters ``cte_params``)."""
    if not kept:
        return
    wanted = {cid: acc for cid, acc in kept}
    params: dict[str, Any] = {"as_of": as_of}
    customers = ""
    if len(wanted) <= _INTEREST_FILTER_MAX:
        params |= {f"c{n}": cid for n, cid in enumerate(sorted(wanted))}
        customers = f" AND customer_id IN ({', '.join(':' + k for k in params if k != 'as_of')})"
    query = cte + _INTEREST.format(customers=customers)
    params |= {k: v for k, v in cte_params.items() if f":{k}" in cte}
    interest: dict[int, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for r in conn.execute(bind(query, params)):
        acc = wanted.get(r.customer_id)
        if acc is None:
            continue
        owed = agency_interest(config.agency(r.agency), money_from_sql(r.open_amount),
                               as_date(r.due_date), as_of, r.currency)
        if owed.amount is None:  # refused, not zero: listed with its reason
            acc.interest_unknown[r.number] = owed.missing or ""
            continue
        interest[r.customer_id][r.currency] += owed.amount
    for cid, by_currency in interest.items():
        wanted[cid].interest = {c: a for c, a in by_currency.items() if a > 0}


def receivables(ws: Workspace, as_of: date | None = None, *, customer: str | None = None
                ) -> list[dict[str, Any]]:
    """The open items of one customer (or all), with due date, open balance, days overdue,
    statutory interest, and for claims the expected payment date its status implies
    (approval + the agency's payment days, or the statutory due date while under review)."""
    as_of = as_of or date.today()
    config = config_of(ws)
    cid = None
    if customer:
        with ws.store.session() as s:
            cid = customer_row(s, customer).id
    ensure_due_dates(ws.store.engine, config, as_of)
    with ws.store.engine.connect() as conn:
        items = open_items(conn, config, customer_id=cid, as_of=as_of)
        claims = {r.invoice_id: r for r in conn.execute(bind("""
SELECT c.invoice_id, c.id, c.status, k.agency, k.data AS contract,
       (SELECT MAX(e.at) FROM claim_events e WHERE e.claim_id = c.id AND e.status = 'APPROVED')
         AS approved_at
FROM claims c JOIN contracts k ON k.id = c.contract_id
WHERE c.status NOT IN ('REJECTED', 'REJECTED_BY_PORTAL')""", {}))}
        names = {r.id: r.name for r in conn.execute(bind("SELECT id, name FROM customers", {}))}
    out = []
    for item in items:
        entry = item.to_json() | {"customer": names.get(item.customer_id),
                                  "days_overdue": max(0, (as_of - item.due_date).days)}
        claim = claims.get(item.invoice_id)
        expected: date | None = None
        if claim is not None:
            rule = config.agencies.get(claim.agency)
            days = rule.payment_days if rule else _contract_days(claim.contract)
            if claim.approved_at is not None and claim.status in ("APPROVED", "PAYMENT_ORDERED"):
                expected = as_datetime(claim.approved_at).date() + timedelta(days=days)
            elif claim.status in WAITING_STATUSES:
                expected = item.due_date
            entry |= {"claim": claim.id, "claim_status": claim.status}
        entry["expected_payment_date"] = expected
        interest: Decimal | None = Decimal("0.00")
        if item.agency:
            owed = agency_interest(config.agency(item.agency), item.open_amount,
                                   item.due_date, as_of, item.currency)
            interest = owed.amount
            entry["interest_optional"] = owed.optional
            if owed.missing:
                entry["interest_missing"] = owed.missing
        entry["interest"] = None if interest is None else str(interest)
        out.append(entry)
    return out


def _contract_days(data: Any) -> int:
    if isinstance(data, str):
        data = json.loads(data)
    terms = (data or {}).get("payment_terms") or {}
    return int(terms.get("days", 30))
