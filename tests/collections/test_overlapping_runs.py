"""Two overlapping ``claims followup run`` processes (issue 14, item 8): the second never calls
the first's in-flight send stuck nor lets ``resolve --not-sent`` release it while the first is
alive (its heartbeat renews the lease); once the first is killed and its lease runs out, the
send is stuck and can be resolved.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from datetime import date

from sqlalchemy import text

from claims.workspace import Workspace
from tests.collections.conftest import SmtpServer, add_invoices, customer, write_config

LEASE = 3  # seconds; the heartbeat renews it every 0.75 s
AS_OF = "2026-03-12"


def claims(ws: Workspace, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "claims", "--workspace", str(ws.root), *args],
                          capture_output=True, text=True, timeout=120)


def start_run(ws: Workspace) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "claims", "--workspace", str(ws.root),
                             "followup", "run", "--as-of", AS_OF, "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def held_send(ws: Workspace, proc: subprocess.Popen[str]) -> tuple[int, str]:
    """Wait until ``proc`` holds a send in 'sending' (its SMTP DATA is held by the gate)."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        with ws.store.engine.connect() as conn:
            row = conn.execute(text("SELECT id, run_owner FROM dunning_sends "
                                    "WHERE state = 'sending'")).first()
        if row is not None:
            return int(row[0]), str(row[1])
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.1)
    raise AssertionError("the first run never reserved its send")


def one_reminder_due(ws: Workspace, smtp_server: SmtpServer) -> threading.Event:
    # the SMTP timeout outlasts the held DATA: the first run must still be waiting, not failed
    write_config(ws, None, send_lease_seconds=LEASE, smtp={
        "host": smtp_server.host, "port": smtp_server.port, "timeout_seconds": 120.0,
        "sender": "Receivables <ar@supplier.test>", "connections": 1})
    add_invoices(ws, "Acme Corp", [("A-1", date(2026, 1, 30), date(2026, 3, 1), "1000.00")])
    customer(ws, "Acme Corp", "ap@acme.test")
    gate = smtp_server.handler.gate = threading.Event()
    return gate


def test_a_live_runs_send_is_in_flight_not_stuck(ws: Workspace,
                                                 smtp_server: SmtpServer) -> None:
    gate = one_reminder_due(ws, smtp_server)
    first = start_run(ws)
    try:
        send_id, owner = held_send(ws, first)
        assert owner.split(":")[1] == str(first.pid)  # host:pid:uuid
        time.sleep(LEASE + 1)  # longer than one lease: only the heartbeat keeps it live
        second = claims(ws, "followup", "run", "--as-of", AS_OF, "--json")
        assert second.returncode == 0, second.stderr
        report = json.loads(second.stdout)
        assert report["stuck"] == [] and report["sent"] == [] and report["failed"] == []
        assert [(s["send_id"], s["run"]) for s in report["in_flight_elsewhere"]] == [
            (send_id, owner)]
        refused = claims(ws, "followup", "resolve", str(send_id), "--not-sent")
        assert refused.returncode == 1
        assert f"send {send_id} is held by a live run ({owner}" in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1
    finally:
        gate.set()
        out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert [s["send_id"] for s in json.loads(out)["sent"]] == [send_id]
    assert [m["To"] for m in smtp_server.messages] == ["ap@acme.test"]  # once


def test_a_dead_runs_send_is_stuck_once_its_lease_ran_out(ws: Workspace,
                                                          smtp_server: SmtpServer) -> None:
    gate = one_reminder_due(ws, smtp_server)
    first = start_run(ws)
    send_id, owner = held_send(ws, first)
    first.kill()  # dies mid-send: no confirmation, no release, no more heartbeats
    first.communicate(timeout=60)
    time.sleep(LEASE + 0.5)
    second = claims(ws, "followup", "run", "--as-of", AS_OF, "--json")
    gate.set()
    assert second.returncode == 1
    report = json.loads(second.stdout)
    assert [(s["send_id"], s["run"]) for s in report["stuck"]] == [(send_id, owner)]
    assert report["in_flight_elsewhere"] == [] and report["sent"] == []
    released = claims(ws, "followup", "resolve", str(send_id), "--not-sent")
    assert released.returncode == 0, released.stderr
