"""Issue #18 (b): `claims plan edit` replaces a plan in one transaction. A failure midway
(the database refusing the new instalments, or the process killed while writing them) leaves
the old plan live as it was, and no new plan."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from claims import api
from claims.errors import StoreError
from claims.store.tables.collections import InteractionRow
from claims.workspace import Workspace
from tests.collections.conftest import add_invoices, at, pay

AS_OF = date(2026, 6, 30)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def planned(ws: Workspace) -> tuple[Workspace, int]:
    """Acme owes USD 1,000 on A-1, 250 paid: a plan of 400 + 350 over the open 750."""
    add_invoices(ws, "Acme", [("A-1", date(2026, 4, 1), date(2026, 5, 1), "1000.00")])
    pay(ws, "A-1", "250.00", at(date(2026, 5, 20)))
    plan = api.add_plan(ws, "Acme", invoices=["A-1"], as_of=AS_OF,
                        instalments=[(date(2026, 7, 15), Decimal("400")),
                                     (date(2026, 8, 15), Decimal("350"))])
    return ws, plan["id"]


def _only_the_old_plan(ws: Workspace, plan_id: int) -> None:
    plans = api.list_plans(ws, AS_OF, include_cancelled=True)
    assert [(p["id"], p["standing"], p["next_due"], p["next_amount"]) for p in plans] == [
        (plan_id, "good", date(2026, 7, 15), Decimal("400.00"))]
    with ws.store.session() as s:
        notes = list(s.scalars(select(InteractionRow.summary)))
    assert notes and not any("replaced" in n for n in notes)  # the plan's own note only


def test_a_refused_write_midway_leaves_the_old_plan(planned: tuple[Workspace, int]) -> None:
    """The old plan is cancelled and the new plan row written before the instalments are;
    the database refusing an instalment undoes all of it."""
    ws, plan_id = planned
    with ws.store.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.execute(text("CREATE TRIGGER refuse BEFORE INSERT ON "
                              "collection_plan_instalments BEGIN "
                              "SELECT RAISE(ABORT, 'disk full'); END"))
        else:
            conn.execute(text("CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN "
                              "RAISE EXCEPTION 'disk full'; END $$ LANGUAGE plpgsql"))
            conn.execute(text("CREATE TRIGGER refuse BEFORE INSERT ON "
                              "collection_plan_instalments FOR EACH ROW "
                              "EXECUTE FUNCTION refuse()"))
    with pytest.raises(StoreError, match="disk full"):
        api.edit_plan(ws, plan_id, as_of=AS_OF,
                      instalments=[(date(2026, 7, 31), Decimal("750"))])
    _only_the_old_plan(ws, plan_id)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_process_killed_midway_leaves_the_old_plan(planned: tuple[Workspace, int]) -> None:
    """`claims plan edit` is killed while the database writes the new instalments (held by
    a trigger that sleeps): the old plan was never cancelled for anyone to see."""
    ws, plan_id = planned  # PostgreSQL only: SQLite has no trigger that can wait
    with ws.store.engine.begin() as conn:
        conn.execute(text("CREATE FUNCTION stall() RETURNS trigger AS $$ BEGIN "
                          "PERFORM pg_sleep(60); RETURN NEW; END $$ LANGUAGE plpgsql"))
        conn.execute(text("CREATE TRIGGER stall BEFORE INSERT ON collection_plan_instalments "
                          "FOR EACH ROW EXECUTE FUNCTION stall()"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "claims", "--workspace", str(ws.root), "plan", "edit",
         str(plan_id), "--instalment", "2026-07-31=750", "--as-of", AS_OF.isoformat()],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        pid = None
        deadline = time.monotonic() + 90
        while pid is None and time.monotonic() < deadline and proc.poll() is None:
            with ws.store.engine.connect() as conn:
                pid = conn.scalar(text(
                    "SELECT pid FROM pg_stat_activity WHERE wait_event = 'PgSleep' "
                    "AND query LIKE 'INSERT INTO collection_plan_instalments%'"))
            time.sleep(0.1)  # ok: waiting for the subprocess to reach the trigger
        assert pid is not None, "the edit never reached the instalments"
        os.kill(proc.pid, signal.SIGKILL)  # the process dies midway, nothing caught
        proc.wait(timeout=10)
        with ws.store.engine.connect() as conn:  # its server session ends too
            conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        if proc.poll() is None:
            proc.kill()
    _only_the_old_plan(ws, plan_id)
