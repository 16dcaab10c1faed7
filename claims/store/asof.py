"""What is known on an as-of date: the one rule every view "as of a date" counts by.

The open items of follow-up (:func:`claims.collections.receivables.items_cte`, read by
``claims followup receivables``, ``account show`` and the worklist) and the reconciliation
(``claims payments reconcile``) count, as of a date:

* an invoice once issued (``issue_date`` on or before the date): :data:`INVOICE_ISSUED`;
* a payment once received (its value date on or before the date): :data:`PAYMENT_RECEIVED`;
* an application (to an invoice, or on account) once its payment is received — an application
  without a payment from the day it was made: :data:`APPLICATION_KNOWN`.

The SQL is over the aliases ``i`` (invoices), ``p`` (payments, LEFT JOINed to the
applications) and ``a`` (payment_applications); :func:`as_of_params` gives its parameters and
:func:`clause` a bound SQLAlchemy clause of one of them. The KPI SQL (:mod:`claims.reports.sql`)
joins applications to their payments by value date the same way.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Date, bindparam, text
from sqlalchemy.sql.elements import TextClause

from claims.store.tables import UTCDateTime

INVOICE_ISSUED = "i.issue_date <= :as_of"
#: :data:`INVOICE_ISSUED` on a schedule row ``s``: its invoice's issue date as the database's
#: triggers copy it there (migrations kpis_0001, receivables_0001), so the open items need not
#: read the invoice
SCHEDULE_ISSUED = "s.issue_date <= :as_of"
PAYMENT_RECEIVED = "p.value_date <= :as_of"
APPLICATION_KNOWN = (f"({PAYMENT_RECEIVED} OR (a.payment_id IS NULL "
                     "AND a.applied_at < :as_of_end))")


def as_of_params(as_of: date) -> dict[str, Any]:
    """The parameters of the rules: ``as_of`` and ``as_of_end`` (midnight UTC after it)."""
    return {"as_of": as_of,
            "as_of_end": datetime.combine(as_of + timedelta(days=1), time(0), tzinfo=UTC)}


def clause(rule: str, as_of: date) -> TextClause:
    """``rule`` (one of the constants above) as a clause bound to ``as_of``, typed."""
    params = as_of_params(as_of)
    names = [n for n in params if f":{n}" in rule]
    return text(rule).bindparams(*(
        bindparam(n, params[n], type_=Date if n == "as_of" else UTCDateTime) for n in names))
