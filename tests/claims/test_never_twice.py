"""Never twice, under crashes and concurrency, against the real sandbox in real Chromium.

- ``kill -9`` of the submitting process at random moments, in 20 runs, then a clean run:
  the portal holds each claim exactly once and the database agrees.
- Four worker processes on one PostgreSQL database and 40 claims: each filed exactly once.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from claims.workspace import init_workspace
from portals.sandbox.testing import SandboxServer, running_sandbox
from tests.claims.portal_helpers import portal_claims, ready_claims

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    # codes are single-use: each restarted process signs in anew, so short TOTP windows
    with running_sandbox(tmp_path_factory.mktemp("portal"), totp_period=5) as server:
        yield server


def submit_process(root: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "claims", "--workspace", str(root), "claim",
                             "submit", "--all", "--json", *extra], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=dict(os.environ))


def database_agrees_with_portal(ws, server: SandboxServer, contract: str, n: int) -> None:
    on_portal = portal_claims(server, contract)
    per_invoice = Counter(c["invoice_number"] for c in on_portal)
    assert len(per_invoice) == n and set(per_invoice.values()) == {1}, per_invoice
    ours = {c.invoice_number: c for c in ws.store.list_claims()}
    for c in on_portal:
        mine = ours[c["invoice_number"]]
        assert mine.status.value == "SUBMITTED", (mine.id, mine.status)
        assert mine.portal_reference == c["reference"]


def test_kill_9_at_random_moments_never_files_a_claim_twice(portal, workspace,
                                                           monkeypatch) -> None:
    monkeypatch.setenv("CLAIMS_LEASE_SECONDS", "1")  # a killed worker's lease lapses fast
    # the sandbox lists a claim as soon as it is filed: a lost intent needs no settle time
    monkeypatch.setenv("CLAIMS_LEASE_SETTLE_SECONDS", "0")
    supplier = ready_claims(workspace, portal, monkeypatch, n=12)
    seed = int(os.environ.get("CLAIMS_CRASH_SEED", time.time()))
    rng = random.Random(seed)
    killed = 0
    for _run in range(20):
        proc = submit_process(workspace.root)
        try:
            proc.wait(timeout=rng.uniform(0.5, 7.0))
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            killed += 1
        proc.wait()
        proc.stdout.close()  # type: ignore[union-attr]
        time.sleep(1.1)  # ok: let the dead worker's 1-second lease lapse
    for _final in range(3):
        proc = submit_process(workspace.root)
        out, _ = proc.communicate(timeout=600)
        if proc.returncode == 0:
            break
    assert proc.returncode == 0, f"seed {seed}: {out}"
    assert killed >= 5, f"seed {seed}: only {killed} runs were killed; the test proved little"
    database_agrees_with_portal(workspace, portal, supplier.contract_number, 12)


def test_four_workers_on_postgresql_file_forty_claims_exactly_once(portal, tmp_path,
                                                                   pg_schema_url,
                                                                   monkeypatch) -> None:
    ws = init_workspace(tmp_path / "team", database_url=pg_schema_url)
    supplier = ready_claims(ws, portal, monkeypatch, n=40)
    workers = [submit_process(ws.root) for _ in range(4)]
    outputs = [json.loads(w.communicate(timeout=900)[0]) for w in workers]
    assert all(w.returncode == 0 for w in workers), outputs
    handled = Counter(c["claim_id"] for out in outputs for c in out["claims"])
    assert sorted(handled) == list(range(1, 41)) and set(handled.values()) == {1}
    assert sum(1 for out in outputs if out["claims"]) >= 2  # the work was really shared
    database_agrees_with_portal(ws, portal, supplier.contract_number, 40)
    ws.close()
