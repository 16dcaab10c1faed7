"""A dispute on an ``--as-of`` date is the dispute as it stood then, in every command: one
opened later did not exist yet, one resolved later was still open (claims.core.disputes).

Found by an independent tester: `claims worklist --as-of` and `claims account show --as-of` on a
day before a dispute was opened counted it (and scored it) while `claims kpi` did not."""

from __future__ import annotations

from datetime import UTC, date as D, datetime

from claims import api
from claims.collections import records
from claims.core import disputes
from claims.reports.kpis import dispute_rows, sqlalchemy_runner
from claims.workspace import Workspace
from tests.collections.conftest import add_invoices, customer


def _setup(ws: Workspace) -> int:
    add_invoices(ws, "Acme Corp", [("X-1", D(2026, 1, 1), D(2026, 1, 31), "500.00")])
    opened = records.open_dispute(ws.store, invoice="X-1", reason="pricing", team="Sales",
                                  due_date=None, note="", actor="t",
                                  at=datetime(2026, 3, 10, 9, tzinfo=UTC))
    records.resolve_dispute(ws.store, opened["id"], resolution="credit-note", note="",
                            actor="t", at=datetime(2026, 3, 20, 15, tzinfo=UTC))
    return int(opened["id"])


def _worklist_disputes(ws: Workspace, day: D) -> int:
    accounts = api.worklist(ws, day)
    return sum(a.open_disputes for a in accounts)


def test_every_command_sees_the_dispute_as_it_stood(ws: Workspace) -> None:
    _setup(ws)
    runner = sqlalchemy_runner(ws.store.engine)
    tables = {"collection_disputes"}
    for day, is_open in ((D(2026, 3, 9), False), (D(2026, 3, 10), True),
                         (D(2026, 3, 19), True), (D(2026, 3, 20), False)):
        assert _worklist_disputes(ws, day) == int(is_open), day
        assert len(dispute_rows(runner, day, tables) or []) == int(is_open), day
        view = api.show_account(ws, "Acme Corp", day)
        shown = [d["status"] for d in view["disputes"]]
        assert shown == (["open"] if is_open else [] if day < D(2026, 3, 10)
                         else ["resolved"]), (day, shown)
        listed = records.list_disputes(ws.store, status="open", as_of=day)
        assert len(listed) == int(is_open), day


def test_a_dispute_pauses_reminders_only_while_it_was_open(ws: Workspace) -> None:
    """The dunning pause (pause_ctes) reads the same rule: X-1 (due 31 Jan) is reminded on a
    day before the dispute and after it was resolved, not while it was open."""
    _setup(ws)
    customer(ws, "Acme Corp", "ap@acme.test")

    def reminded(day: D) -> bool:
        return any("X-1" in str(m) for m in api.preview_followup(ws, day))

    assert reminded(D(2026, 3, 9))
    assert not reminded(D(2026, 3, 10)) and not reminded(D(2026, 3, 19))
    assert reminded(D(2026, 3, 21))


def test_the_rule_at_midnight_utc() -> None:
    opened = datetime(2026, 3, 10, 0, tzinfo=UTC)
    assert not disputes.open_on(opened, None, D(2026, 3, 9))
    assert disputes.open_on(opened, None, D(2026, 3, 10))
    assert disputes.open_on("2026-03-10 23:59:59", None, D(2026, 3, 10))  # SQLite's text
    assert disputes.open_on(opened, datetime(2026, 3, 11, 0, tzinfo=UTC), D(2026, 3, 10))
    assert not disputes.open_on(opened, datetime(2026, 3, 10, 23, tzinfo=UTC), D(2026, 3, 10))
