"""The lease fence: a lease holds while its worker lives, and a worker that lost it writes no
intent and clicks nothing (real SQLite / PostgreSQL; real processes, Chromium and sandbox)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from claims.core.models import ClaimStatus
from claims.errors import LeaseLost
from claims.lifecycle.leases import Heartbeat, holder, release, take_lease
from claims.lifecycle.submission import submit_claims
from claims.store import Store
from portals.sandbox.testing import SandboxServer, running_sandbox
from tests.claims.portal_helpers import portal_claims, ready_claims
from tests.claims.test_leases import ready_claims as ready_in_store

SHORT = timedelta(seconds=1)


def test_a_worker_whose_lease_was_taken_over_cannot_write_its_intent(database_url) -> None:
    store = Store.open(database_url)
    [claim_id] = ready_in_store(store, 1)
    first = take_lease(store.engine, "a", ["READY"], ttl=timedelta(seconds=-1))  # lapses at once
    second = take_lease(store.engine, "b", ["READY"], ttl=SHORT)
    assert first is not None and second is not None and second.version == first.version + 1
    with pytest.raises(LeaseLost):
        store.record_event(claim_id, "submission.intent", status=ClaimStatus.SUBMITTING,
                           fence=first.fence(), attempts=1)
    claim = store.get_claim(claim_id)
    assert claim.status is ClaimStatus.READY and store.get_claim_attempts(claim_id) == 0
    assert "submission.intent" not in [e.kind for e in claim.events]
    # the holder writes, and its write renews the lease
    store.record_event(claim_id, "submission.intent", status=ClaimStatus.SUBMITTING,
                       fence=second.fence(), attempts=1)
    assert store.get_claim(claim_id).status is ClaimStatus.SUBMITTING
    store.close()


def test_the_heartbeat_keeps_a_lease_alive_past_its_ttl(database_url) -> None:
    store = Store.open(database_url)
    [claim_id] = ready_in_store(store, 1)
    lease = take_lease(store.engine, "a", ["READY"], ttl=SHORT)
    assert lease is not None
    with Heartbeat(store.engine, lease) as beat:
        deadline = time.monotonic() + 3 * SHORT.total_seconds()
        while time.monotonic() < deadline:   # three ttls: a lease left alone would lapse
            assert take_lease(store.engine, "b", ["READY"], ttl=SHORT) is None
            beat.check()
            time.sleep(0.2)  # ok: polling while the heartbeat thread renews
    store.record_event(claim_id, "submission.intent", status=ClaimStatus.SUBMITTING,
                       fence=lease.fence())
    # without the heartbeat it lapses, is taken over, and the old holder learns it
    time.sleep(SHORT.total_seconds() * 1.2)  # ok: let the unrenewed lease run out
    taken = take_lease(store.engine, "b", ["SUBMITTING"], ttl=timedelta(minutes=5))
    assert taken is not None and taken.version == lease.version + 1
    with Heartbeat(store.engine, lease) as beat:
        for _ in range(50):
            if beat.lost.is_set():
                break
            time.sleep(0.1)  # ok: wait for the first renewal to find the lease gone
        with pytest.raises(LeaseLost):
            beat.check()
    store.close()


def test_one_worker_heartbeat_renews_each_lease_in_turn(database_url) -> None:
    """One thread per worker: each lease it watches outlives its ttl; a renewal that fails for
    a lease given back already does not mark the next lease lost."""
    store = Store.open(database_url)
    first_id, second_id = ready_in_store(store, 2)
    with Heartbeat(store.engine, ttl=SHORT) as beat:
        beat.check()  # no lease watched: nothing to lose
        for claim_id in (first_id, second_id):
            lease = take_lease(store.engine, "a", ["READY"], ttl=SHORT, only=[claim_id])
            assert lease is not None and lease.claim_id == claim_id
            beat.watch(lease)
            deadline = time.monotonic() + 3 * SHORT.total_seconds()
            while time.monotonic() < deadline:   # three ttls: a lease left alone would lapse
                assert take_lease(store.engine, "b", ["READY"], ttl=SHORT,
                                  only=[claim_id]) is None
                beat.check()
                time.sleep(0.2)  # ok: polling while the heartbeat thread renews
            # given back behind the heartbeat's back: its next renewal fails for this lease
            release(store.engine, claim_id, "a")
            for _ in range(50):
                if beat.lost.is_set():
                    break
                time.sleep(0.1)  # ok: wait for a renewal to find the lease gone
            with pytest.raises(LeaseLost):
                beat.check()
            beat.watch(None)
            beat.check()  # the loss was the old lease's, not the worker's
    store.close()


def test_submitting_a_claim_another_worker_holds_says_who_until_when(cli, workspace) -> None:
    [claim_id] = ready_in_store(workspace.store, 1)
    assert take_lease(workspace.store.engine, "host:1:other", ["READY"],
                      ttl=timedelta(minutes=5)) is not None
    result = cli("claim", "submit", str(claim_id), "--json")
    out = json.loads(result.stdout)
    assert result.exit_code == 1 and out["ok"] is False, result.output
    [claim] = out["claims"]
    assert claim["claim_id"] == claim_id and claim["status"] == "READY"
    assert "held by another worker (host:1:other) until" in claim["message"]


class _NeverAsked:
    """An adapter that must not be asked to file anything."""

    limits = None

    def __init__(self) -> None:
        self.asked: list[str] = []

    def submit(self, *args: object) -> None:
        self.asked.append("submit")
        raise AssertionError("the adapter was asked to file a claim whose lease was lost")

    def close(self) -> None:
        pass


def test_a_lease_lost_before_the_portal_says_nothing_was_clicked(workspace,
                                                                  monkeypatch) -> None:
    """Wherever the worker notices the loss (here the heartbeat's finding, at its first check,
    before the package is even read), the claim is reported as it is and nothing was sent."""
    [claim_id] = ready_in_store(workspace.store, 1)

    def found_taken(beat: Heartbeat) -> None:
        if beat.lease is not None:
            raise LeaseLost(beat.lease.claim_id, beat.lease.owner, "a renewal found it taken")

    monkeypatch.setattr(Heartbeat, "check", found_taken)
    adapter = _NeverAsked()
    summary = submit_claims(workspace, ids=[claim_id], adapter_factory=lambda ws, p: adapter)
    [outcome] = summary.outcomes
    assert outcome.status == "READY" and not summary.ok and adapter.asked == []
    assert "lost its lease" in outcome.message and "nothing was clicked" in outcome.message
    assert holder(workspace.store.engine, claim_id) is None  # given back, as after any claim


# -- with the real portal and real processes ---------------------------------------------------

@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    with running_sandbox(tmp_path_factory.mktemp("portal"), faults="no_duplicate") as server:
        yield server


def _submit(root: Path, *args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "claims", "--workspace", str(root), "claim",
                             "submit", *args, "--json"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=env)


@pytest.mark.browser
def test_a_paused_worker_that_lost_its_lease_does_not_click(portal, workspace,
                                                             monkeypatch) -> None:
    supplier = ready_claims(workspace, portal, monkeypatch, n=1)
    env = dict(os.environ, CLAIMS_LEASE_SECONDS="2")
    # the review page takes 4 s: from taking the lease to the final click is more than that
    portal.backoffice.set_faults("no_duplicate;latency=4@review")
    paused = _submit(workspace.root, "1", env=env)
    deadline = time.monotonic() + 120
    while holder(workspace.store.engine, 1) is None:   # wait until it holds the claim
        assert paused.poll() is None and time.monotonic() < deadline
        time.sleep(0.1)  # ok: polling the lease
    time.sleep(1)  # ok: into the browser work, well before the final click
    paused.send_signal(signal.SIGSTOP)
    try:
        time.sleep(3)  # ok: longer than its 2-second lease: the lease lapses
        other = _submit(workspace.root, "1", env=env)
        out, _ = other.communicate(timeout=180)
        assert other.returncode == 0, out
        [done] = json.loads(out)["claims"]
        assert done["status"] == "SUBMITTED"
    finally:
        paused.send_signal(signal.SIGCONT)
    out, _ = paused.communicate(timeout=180)
    [mine] = json.loads(out)["claims"]
    assert "lost its lease" in mine["message"] and "nothing was clicked" in mine["message"], out
    # it reports the claim as it now is: submitted, by the other worker
    assert mine["status"] == "SUBMITTED" and mine["reference"] == done["reference"]
    on_portal = portal_claims(portal, supplier.contract_number)
    assert len(on_portal) == 1 and on_portal[0]["reference"] == done["reference"]
    assert workspace.store.get_claim(1).portal_reference == done["reference"]


@pytest.mark.browser
def test_a_taken_over_claim_not_yet_on_the_portal_waits_until_its_intent_settles(
        portal, workspace, monkeypatch, cli) -> None:
    supplier = ready_claims(workspace, portal, monkeypatch, n=1)
    portal.backoffice.set_faults("no_duplicate")
    # a worker wrote its intent and died before (or while) clicking; the portal shows nothing
    workspace.store.record_event(1, "submission.intent", status=ClaimStatus.SUBMITTING,
                                 detail={"attempt": 1}, attempts=1)
    written = time.monotonic()
    monkeypatch.setenv("CLAIMS_LEASE_SETTLE_SECONDS", "20")
    early = cli("claim", "submit", "1", "--json")
    out = json.loads(early.stdout)
    assert early.exit_code == 1 and out["claims"][0]["status"] == "UNKNOWN", early.output
    assert "younger than the settle time" in out["claims"][0]["message"]
    assert portal_claims(portal, supplier.contract_number) == []
    time.sleep(max(0.0, written + 20 - time.monotonic()))  # ok: the settle time passes
    later = cli("claim", "submit", "1", "--json")
    assert later.exit_code == 0, later.output
    assert len(portal_claims(portal, supplier.contract_number)) == 1
    kinds = [e["kind"] for e in json.loads(cli("claim", "show", "1", "--json").stdout)["events"]]
    assert "submission.waiting" in kinds
