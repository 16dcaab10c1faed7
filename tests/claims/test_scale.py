"""Scale past one machine: worker processes in their own working folders, one PostgreSQL
database, one Playwright browser server (``playwright run-server`` from the playwright package's
bundled driver, reached through ``CLAIMS_BROWSER_WS_ENDPOINT``), against the real sandbox portal
with its duplicate check OFF (so only our never-twice keeps an invoice from going twice) and
single-use TOTP codes (each process signs in on its own and must not replay another's code).

Each invoice must be on the portal's back office exactly once. CI files 8 claims with 3
processes (40 took over two minutes on a loaded 2-core machine); the ``soak`` test (``make
soak``) files 40 with 4 processes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from claims.store import Store
from claims.workspace import init_workspace
from portals.browser import launch_options
from portals.sandbox.testing import run_server, running_sandbox
from tests.claims.portal_helpers import portal_claims, ready_claims
from tests.claims.test_fleet import share_evidence

pytestmark = [pytest.mark.postgres, pytest.mark.browser]

#: short TOTP windows keep four separate sign-ins quick; the waiting logic is the same at 30 s
TOTP_PERIOD = 5


def test_processes_sharing_one_database_and_one_browser_server_file_each_claim_once(
        tmp_path: Path, pg_schema_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    run_scale(tmp_path, pg_schema_url, monkeypatch, claims=8, machines=3)


@pytest.mark.soak
def test_forty_claims_four_processes_one_database_one_browser_server(
        tmp_path: Path, pg_schema_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    run_scale(tmp_path, pg_schema_url, monkeypatch, claims=40, machines=4)


def run_scale(tmp_path: Path, pg_schema_url: str, monkeypatch: pytest.MonkeyPatch, *,
              claims: int, machines: int) -> None:
    """``machines`` worker processes file ``claims`` claims; each once on the portal."""
    began = time.monotonic()
    with running_sandbox(tmp_path / "portal", faults="no_duplicate",
                         totp_period=TOTP_PERIOD) as portal, \
            run_server(tmp_path / "browser-server") as endpoint:
        first = init_workspace(tmp_path / "machine-0", database_url=pg_schema_url)
        # one database, so one evidence log: one signing key and blob folder for the fleet
        shutil.copytree(first.evidence_dir / "keys", tmp_path / "shared" / "keys")
        share_evidence(first.root, tmp_path / "shared")
        supplier = ready_claims(first, portal, monkeypatch, n=claims)
        first.close()
        config = (first.root / "claims.toml").read_text()
        roots = [first.root]
        for i in range(1, machines):
            ws = init_workspace(tmp_path / f"machine-{i}", database_url=pg_schema_url)
            ws.close()
            (ws.root / "claims.toml").write_text(config)
            roots.append(ws.root)
        env = dict(os.environ, CLAIMS_BROWSER_WS_ENDPOINT=endpoint)
        chromium = launch_options().get("executable_path")
        if chromium:  # no bundled Chromium here: the server is told to run this machine's
            env["CLAIMS_CHROMIUM"] = str(chromium)
        started = time.monotonic()
        built = started - began
        procs = [subprocess.Popen(
            [sys.executable, "-m", "claims", "--workspace", str(root), "claim", "submit",
             "--all", "--workers", "1", "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
            for root in roots]
        outputs = []
        try:
            for p in procs:
                out, err = p.communicate(timeout=600)
                outputs.append((p.returncode, out, err))
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        elapsed = time.monotonic() - started
        on_portal = portal_claims(portal, supplier.contract_number)
    reports = [json.loads(out) for _, out, _ in outputs if out.strip()]
    per_process = [sum(c["status"] == "SUBMITTED" for c in r["claims"]) for r in reports]
    print(f"scale: {claims} claims, {machines} processes on one PostgreSQL and one browser "
          f"server: {elapsed:.1f} s filing ({built:.1f} s setting up); "
          f"submitted per process {per_process}")
    for code, out, err in outputs:
        assert code == 0, (code, out[-2000:], err[-2000:])
    per_invoice = Counter(c["invoice_number"] for c in on_portal)
    assert not {i: n for i, n in per_invoice.items() if n > 1}, "an invoice was filed twice"
    assert len(per_invoice) == claims
    assert sum(per_process) == claims
    assert sum(n > 0 for n in per_process) >= 2, "the work was not shared between processes"
    store = Store.open(pg_schema_url)
    try:
        ours = {c.invoice_number: c for c in store.list_claims()}
    finally:
        store.close()
    for c in on_portal:
        assert ours[c["invoice_number"]].status.value == "SUBMITTED"
        assert ours[c["invoice_number"]].portal_reference == c["reference"]
