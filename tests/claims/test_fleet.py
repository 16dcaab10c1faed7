"""Never twice across a fleet: six worker processes in six working folders on one PostgreSQL
schema, sharing evidence blobs and the signing key, against the real sandbox portal with its
duplicate check OFF, short leases, random ``kill -9`` of a worker (with its Chromium) and
``SIGSTOP``/``SIGCONT`` of a worker (a paused machine) — restarted until every claim is done.

Then: every invoice is on the portal exactly once (the portal's own records), every claim is
SUBMITTED with the portal's reference, and ``claims evidence verify`` passes in every folder.

Bounded for CI (24 claims, a handful of kills and pauses). ``CLAIMS_SOAK=1`` runs the long
version: ``CLAIMS_SOAK_CLAIMS`` (default 200) claims and ``CLAIMS_SOAK_KILLS`` (default 300)
kills; ``CLAIMS_FLEET_SEED`` replays a run.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import tomli_w

from sqlalchemy import select

from claims.store import Store
from claims.store.tables import ClaimRow
from claims.workspace import init_workspace
from portals.sandbox.testing import SandboxServer, running_sandbox
from tests.claims.portal_helpers import portal_claims, ready_claims

pytestmark = [pytest.mark.postgres, pytest.mark.browser]

SOAK = os.environ.get("CLAIMS_SOAK") == "1"
CLAIMS = int(os.environ.get("CLAIMS_SOAK_CLAIMS", "200")) if SOAK else 24
KILLS = int(os.environ.get("CLAIMS_SOAK_KILLS", "300")) if SOAK else 5
PAUSES = max(4, KILLS // 3)
MACHINES = 6
LEASE_SECONDS = 5
SETTLE_SECONDS = 6


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    # codes are single-use: each restarted process signs in anew, so short TOTP windows
    with running_sandbox(tmp_path_factory.mktemp("portal"), faults="no_duplicate",
                         totp_period=5) as server:
        yield server


def share_evidence(root: Path, shared: Path) -> None:
    """Point a working folder's evidence at the shared blob folder and signing key."""
    config = root / "claims.toml"
    data = tomllib.loads(config.read_text())
    data["evidence"] = {"blobs_dir": str(shared / "blobs"),
                        "key_file": str(shared / "keys" / "signing.key")}
    config.write_text(tomli_w.dumps(data))


@dataclass
class Machine:
    """One working folder and the worker process running in it (if any)."""

    root: Path
    env: dict[str, str]
    proc: subprocess.Popen[str] | None = None
    outputs: list[str] = field(default_factory=list)
    starts: int = 0

    def start(self) -> None:
        log = open(self.root / f"worker-{self.starts}.json", "w")  # noqa: SIM115 - kept open
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "claims", "--workspace", str(self.root), "claim", "submit",
             "--all", "--workers", "1", "--json"], stdout=log, stderr=subprocess.DEVNULL,
            env=self.env, start_new_session=True)  # its own group: the worker and its Chromium
        log.close()
        self.starts += 1

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass


def submitted(store: Store) -> int:
    return len(store.claim_ids(status="SUBMITTED"))


def run_fleet(machines: list[Machine], store: Store, rng: random.Random,
              budget_s: float) -> Counter[str]:
    """Run the workers, with kills and pauses at random moments, restarting killed and
    finished workers until every claim is done."""
    stats: Counter[str] = Counter()
    paused: dict[int, float] = {}   # machine index -> when to SIGCONT it
    now = time.monotonic()
    deadline, next_blow = now + budget_s, now + rng.uniform(1.0, 4.0)
    while (now := time.monotonic()) < deadline:
        for i, resume_at in list(paused.items()):
            if now >= resume_at:
                machines[i].signal(signal.SIGCONT)
                del paused[i]
        done = submitted(store) == CLAIMS
        for m in machines:
            if not m.running and not done:
                m.start()
                stats["starts"] += 1
        if done and not paused and not any(m.running for m in machines):
            return stats
        live = [i for i, m in enumerate(machines) if m.running and i not in paused]
        chaos = stats["kills"] < KILLS or stats["pauses"] < PAUSES
        if live and not done and chaos and now >= next_blow:
            victim = rng.choice(live)
            if stats["kills"] < KILLS and (stats["pauses"] >= PAUSES or rng.random() < 0.6):
                machines[victim].signal(signal.SIGKILL)   # the worker and its Chromium
                stats["kills"] += 1
            else:   # a paused machine: longer than its lease, so its claim is taken over
                machines[victim].signal(signal.SIGSTOP)
                paused[victim] = now + rng.uniform(LEASE_SECONDS + 2, LEASE_SECONDS + 8)
                stats["pauses"] += 1
            next_blow = now + rng.uniform(0.5, 3.0)
        time.sleep(0.2)  # ok: polling the workers
    raise AssertionError(f"the fleet did not finish in {budget_s:.0f} s: {stats}, "
                         f"{submitted(store)} of {CLAIMS} submitted")


def test_a_fleet_of_six_with_kills_and_pauses_files_every_invoice_exactly_once(
        portal, tmp_path, pg_schema_url, monkeypatch) -> None:
    seed = int(os.environ.get("CLAIMS_FLEET_SEED", time.time()))
    rng = random.Random(seed)
    shared = tmp_path / "shared"
    first = init_workspace(tmp_path / "machine-0", database_url=pg_schema_url)
    # the first machine's key pair becomes the fleet's one signing key, on the shared folder
    shutil.copytree(first.evidence_dir / "keys", shared / "keys")
    share_evidence(first.root, shared)
    supplier = ready_claims(first, portal, monkeypatch, n=CLAIMS)
    first.close()
    env = dict(os.environ, CLAIMS_LEASE_SECONDS=str(LEASE_SECONDS),
               CLAIMS_LEASE_SETTLE_SECONDS=str(SETTLE_SECONDS))
    machines = [Machine(first.root, env)]
    for i in range(1, MACHINES):
        ws = init_workspace(tmp_path / f"machine-{i}", database_url=pg_schema_url)
        ws.close()
        shutil.copy(first.root / "claims.toml", ws.root / "claims.toml")
        machines.append(Machine(ws.root, env))
    store = Store.open(pg_schema_url)
    started = time.monotonic()
    try:
        stats = run_fleet(machines, store, rng, budget_s=3600 if SOAK else 420)
    finally:
        for m in machines:
            if m.running:
                m.signal(signal.SIGCONT)
                m.signal(signal.SIGKILL)
                m.proc.wait()  # type: ignore[union-attr]
    elapsed = time.monotonic() - started
    outputs = [json.loads(t) for m in machines for p in sorted(m.root.glob("worker-*.json"))
               if (t := p.read_text().strip())]   # a killed worker leaves an empty file
    lost = sum("lost its lease" in c["message"] for out in outputs for c in out["claims"])
    events = Counter(e.kind for c in store.list_claims() for e in c.events)
    with store.engine.connect() as conn:
        takes = Counter(conn.execute(select(ClaimRow.lease_version)).scalars())
    print(f"fleet seed {seed}: {CLAIMS} claims, {MACHINES} machines, {stats['kills']} kills, "
          f"{stats['pauses']} pauses, {stats['starts']} worker starts; "
          f"{events['submission.intent']} intents, {events['submission.reconciled']} reconciled, "
          f"{events['submission.waiting']} waits for the settle time, {lost} workers stopped by "
          f"a lost lease before the click; leases taken per claim {dict(sorted(takes.items()))};"
          f" {elapsed:.0f} s")
    assert stats["kills"] >= min(KILLS, 3), f"seed {seed}: {stats}: the test proved little"
    on_portal = portal_claims(portal, supplier.contract_number)
    per_invoice = Counter(c["invoice_number"] for c in on_portal)
    twice = {inv: n for inv, n in per_invoice.items() if n > 1}
    assert not twice, f"seed {seed}: filed more than once: {twice}"
    assert len(per_invoice) == CLAIMS, f"seed {seed}: {len(per_invoice)} on the portal"
    ours = {c.invoice_number: c for c in store.list_claims()}
    for c in on_portal:
        mine = ours[c["invoice_number"]]
        assert mine.status.value == "SUBMITTED", (seed, mine.id, mine.status)
        assert mine.portal_reference == c["reference"], (seed, mine.id)
    store.close()
    for m in machines:
        verified = subprocess.run([sys.executable, "-m", "claims", "--workspace", str(m.root),
                                   "evidence", "verify", "--json"], capture_output=True,
                                  text=True, env=env, timeout=300)
        report = json.loads(verified.stdout)
        problems = Counter(p["code"] for p in report["problems"])
        assert verified.returncode == 0 and report["ok"], (seed, m.root.name, problems,
                                                           report["problems"][:3])
    warnings = Counter(w["code"] for w in report["warnings"])
    print(f"evidence verified in {MACHINES} folders; warnings in the last: {dict(warnings)}")
