"""Zoho Books' daily request budget, against the fake on a real port: a run stops cleanly before
the invoice it cannot afford, stores what it read, says how many requests were used and when to
resume; the count is kept in the store per UTC day across runs; the cursor never passes an
invoice not read, so runs on the following days read every invoice exactly once."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from claims import api
from claims.errors import ClaimsError
from claims.sources.api import import_zoho
from claims.sources.zoho import ZohoBudgetSpent
from claims.store.tables import InvoiceRow
from claims.store.tables.sources import ApiRequestDayRow

from .fake_zoho import CLIENT_SECRET, ORG, REFRESH_TOKEN, FakeZoho, FakeZohoServer

DAY = date(2026, 3, 10)


@pytest.fixture
def secrets(monkeypatch) -> None:
    monkeypatch.setenv("TEST_ZOHO_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("TEST_ZOHO_REFRESH_TOKEN", REFRESH_TOKEN)


def configure(ws, server: FakeZohoServer, **over) -> None:
    with ws.config_path.open("a", encoding="utf-8") as f:
        f.write(server.settings_toml(**over))
    ws.__dict__.pop("settings", None)


def counted(ws) -> dict[date, int]:
    with ws.store.session() as s:
        return {r.day: r.requests for r in s.scalars(
            select(ApiRequestDayRow).where(ApiRequestDayRow.source == "zoho",
                                           ApiRequestDayRow.account == ORG))}


def stored(ws) -> int:
    with ws.store.session() as s:
        return len(s.scalars(select(InvoiceRow.id)).all())


def details_read(fake: FakeZoho) -> Counter[str]:
    """Invoice details read, per invoice id (the list pages are /books/v3/invoices)."""
    return Counter(p.rsplit("/", 1)[1] for _, p in fake.log if p.startswith("/books/v3/invoices/"))


def test_a_run_stops_at_the_budget_and_the_next_days_resume_where_it_stopped(ws, secrets) -> None:
    fake = FakeZoho.with_invoices(30, customers=3, payments=2)
    with FakeZohoServer(fake) as server:
        configure(ws, server, fetch_pdf=False, daily_request_budget=20)
        first = import_zoho(ws, today=DAY)
        (stop,) = [f for f in first.findings if f.code == "W-ZOHO-BUDGET"]
        assert stop.severity == "warning"
        assert f"{len(fake.log)} of 20 requests used today (2026-03-10 UTC)" in stop.message
        assert "after 2026-03-11 00:00 UTC" in stop.message
        n = len(first.added)
        assert 0 < n < 30 and stored(ws) == n
        assert f"stopped before invoice INV-{n + 1:06d} ({30 - n} listed" in stop.message
        assert first.detail["stopped_before"] == f"INV-{n + 1:06d}"
        assert first.cursor < fake.invoices[n]["last_modified_time"]   # never past it
        assert len(fake.log) <= 20 and counted(ws) == {DAY: len(fake.log)}

        # the same day: what is left does not fit a run; nothing is sent, the message says so
        sent = len(fake.log)
        with pytest.raises(ZohoBudgetSpent) as err:
            import_zoho(ws, today=DAY)
        assert len(fake.log) == sent
        assert f"{sent} of 20 requests used today (2026-03-10 UTC)" in str(err.value)
        assert "nothing was imported; run again after 2026-03-11 00:00 UTC" in str(err.value)

        # the following days: each run within 20, resuming where the last one stopped
        day, runs = DAY, 0
        while stored(ws) < 30 and runs < 10:
            day, runs = day + timedelta(days=1), runs + 1
            import_zoho(ws, today=day)
        last = import_zoho(ws, today=day + timedelta(days=1))
    assert stored(ws) == 30 and not [f for f in last.findings if f.code == "W-ZOHO-BUDGET"]
    assert all(n == 1 for n in details_read(fake).values()) and len(details_read(fake)) == 30
    assert all(requests <= 20 for requests in counted(ws).values())
    assert sum(counted(ws).values()) == len(fake.log)     # every request counted, none twice


def test_the_budget_counts_every_run_of_the_day_including_dry_runs(ws, secrets) -> None:
    fake = FakeZoho.with_invoices(5, customers=1)
    with FakeZohoServer(fake) as server:
        configure(ws, server, fetch_pdf=False)          # the default budget: 1,000 a day
        dry = import_zoho(ws, dry_run=True, today=DAY)
        assert dry.detail["budget"] == 1000 and stored(ws) == 0
        import_zoho(ws, today=DAY)
        assert counted(ws) == {DAY: len(fake.log)}
        assert import_zoho(ws, today=DAY).detail["requests_today"] == len(fake.log)


def test_no_budget_is_no_limit_but_the_requests_are_still_counted(ws, secrets) -> None:
    fake = FakeZoho.with_invoices(12, customers=2)
    with FakeZohoServer(fake) as server:
        configure(ws, server, fetch_pdf=False, daily_request_budget=0)
        batch = import_zoho(ws, today=DAY)
    assert len(batch.added) == 12 and batch.detail["budget"] is None
    assert counted(ws) == {DAY: len(fake.log)}


def test_a_spent_budget_is_one_line_and_exit_3_through_the_api(ws, secrets) -> None:
    fake = FakeZoho.with_invoices(3, customers=1)
    with FakeZohoServer(fake) as server:
        configure(ws, server, daily_request_budget=3)   # less than a minimal run
        with pytest.raises(ClaimsError) as err:
            api.import_zoho(ws)
    assert err.value.exit_code == 3 and "\n" not in str(err.value)
    assert "daily request budget" in str(err.value) and fake.log == []
