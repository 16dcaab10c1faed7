"""The daily request budget of an API source (Zoho Books: the plan's API calls per day, per
organisation), counted in the store per UTC day so that it holds across runs.

A run reads what is left for today before it starts (:func:`requests_today`), the client stops
cleanly before it would pass it, and every request the run sent — completed, stopped, failed or
a dry run — is added to today's count afterwards (:func:`add_requests`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from claims.sources.common import ImportFinding
from claims.sources.settings import ZohoSettings
from claims.sources.zoho import PAYMENT_RESERVE, ZohoBudgetSpent, ZohoFetch
from claims.store.tables.sources import ApiRequestDayRow

if TYPE_CHECKING:  # only a type here: the workspace composes this slice
    from claims.workspace import Workspace


def utc_today() -> date:
    """The budget's day: the UTC calendar day."""
    return datetime.now(UTC).date()


def resume_text(day: date) -> str:
    """When a spent budget is there again: the start of the next UTC day."""
    return f"after {(day + timedelta(days=1)).isoformat()} 00:00 UTC"


def requests_today(ws: Workspace, source: str, account: str, day: date) -> int:
    """The requests counted for ``source`` / ``account`` on ``day``."""
    with ws.store.session() as s:
        return s.scalar(select(ApiRequestDayRow.requests).where(
            ApiRequestDayRow.source == source, ApiRequestDayRow.account == account,
            ApiRequestDayRow.day == day)) or 0


def add_requests(ws: Workspace, source: str, account: str, day: date, requests: int) -> int:
    """Add ``requests`` to the day's count; returns the new count."""
    with ws.store.session() as s:
        row = s.get(ApiRequestDayRow, (source, account, day))
        if row is None:
            row = ApiRequestDayRow(source=source, account=account, day=day, requests=0)
            s.add(row)
        row.requests = (row.requests or 0) + requests
        return row.requests


#: the least a run needs: the token, one list page, the payment pages' reserve
MINIMUM_RUN = 2 + PAYMENT_RESERVE


class Budget:
    """Zoho Books' daily budget for one workspace and organisation (``daily_request_budget``;
    0: no limit, the requests are still counted)."""

    SOURCE = "zoho"

    def __init__(self, ws: Workspace, settings: ZohoSettings) -> None:
        self.ws, self.limit, self.account = ws, settings.daily_request_budget, \
            settings.organization_id
        self.used = 0

    def left(self, day: date) -> int | None:
        """The requests this run may send (None: no limit); :class:`ZohoBudgetSpent` when
        not even a minimal run fits."""
        self.used = requests_today(self.ws, self.SOURCE, self.account, day)
        if not self.limit:
            return None
        if self.limit - self.used < MINIMUM_RUN:
            raise self.spent(day, 0)
        return self.limit - self.used

    def spent(self, day: date, sent: int) -> ZohoBudgetSpent:
        """The error of a run that could read nothing within the budget."""
        return ZohoBudgetSpent(
            f"spent: {self.used + sent} of {self.limit} requests used today ({day} UTC); "
            f"nothing was imported; run again {resume_text(day)}: it starts from the last "
            "completed import", endpoint="daily request budget",
            where="invoice_import.zoho.daily_request_budget")

    def count(self, day: date, sent: int) -> None:
        """Add what the run sent (completed, stopped, failed or dry) to the day's count."""
        if sent:
            self.used = add_requests(self.ws, self.SOURCE, self.account, day, sent) - sent

    def findings(self, day: date, fetched: ZohoFetch) -> list[ImportFinding]:
        """``W-ZOHO-BUDGET`` when the run stopped before an invoice or before the payments."""
        out, used = [], self.used + fetched.requests
        stop = fetched.stopped_before
        if stop is not None:
            out.append(ImportFinding(
                "W-ZOHO-BUDGET", "warning", f"the daily request budget is reached: {used} of "
                f"{self.limit} requests used today ({day} UTC); stopped before invoice "
                f"{stop.get('invoice_number')} ({fetched.unread} listed invoice(s) not read "
                f"yet); what was read is stored, and the next run resumes at that invoice "
                f"{resume_text(day)}", f"Zoho invoice {stop.get('invoice_id')}",
                "daily_request_budget"))
        if not fetched.payments_complete:
            out.append(ImportFinding(
                "W-ZOHO-BUDGET", "warning", f"the daily request budget is reached: {used} of "
                f"{self.limit} requests used today ({day} UTC) before all customer payments "
                f"were read; the cursor stays where this run started; run again "
                f"{resume_text(day)}", "Zoho customer payments", "daily_request_budget"))
        return out

    def detail(self, day: date, fetched: ZohoFetch) -> dict[str, Any]:
        """The budget's part of the import record."""
        stop = fetched.stopped_before
        return {"budget": self.limit or None, "budget_day": day.isoformat(),
                "requests_today": self.used + fetched.requests,
                "stopped_before": stop.get("invoice_number") if stop else None,
                "unread": fetched.unread}
