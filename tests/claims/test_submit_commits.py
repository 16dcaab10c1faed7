"""What a submission commits, and when: the claim's writes and their evidence share one
transaction per step, and never-twice still holds (the intent is durable before the final
request; the outcome is written after it, even when its evidence fails). Real SQLite and a
real evidence archive; the portal is a fake adapter (no browser)."""

from __future__ import annotations


from datetime import timedelta

import pytest
from sqlalchemy import update

from claims.lifecycle import submission
from claims.lifecycle.leases import holder
from claims.workspace import Workspace, find_workspace
from claims.store.tables import ClaimRow, utcnow
from portals.base import PortalLimits, SubmissionPackage
from portals.errors import PortalRejected
from tests.portals.test_kit import LIMITS, Fake


class Roomy(Fake):
    """The fake portal, with room for the sample claim's documents."""

    @property
    def limits(self) -> PortalLimits:
        return LIMITS.model_copy(update={"max_files": 10, "max_file_bytes": 10**8})


@pytest.fixture
def ws(cli, monkeypatch) -> Workspace:
    """A sample workspace whose claim 1 is READY (validated and built)."""
    assert cli("init", "--with-samples", str(cli.root), workspace=None).exit_code == 0
    assert cli("claim", "validate", "1").exit_code == 0
    assert cli("claim", "build", "1").exit_code == 0
    workspace = find_workspace(cli.root)
    yield workspace
    workspace.close()


def _kinds(ws: Workspace) -> list[str]:
    return [e.kind for e in ws.evidence.entries(claim="1")]


def test_a_failed_finished_record_still_leaves_the_claim_submitted(ws, tmp_path) -> None:
    """The portal took the claim; its ``submission.finished`` evidence cannot be stored (the
    blob folder is unusable): the claim says SUBMITTED with the portal's reference all the
    same, the lease is given back, and the failure is reported, not swallowed."""

    class Broken(Roomy):
        def final_click(self, package: SubmissionPackage) -> None:
            super().final_click(package)
            tmp = ws.evidence.blobs_dir / ".tmp"
            for staged in tmp.iterdir() if tmp.is_dir() else []:
                staged.unlink()
            if tmp.is_dir():
                tmp.rmdir()
            tmp.write_text("not a folder")  # no blob can be staged from here on

    portal = Broken(tmp_path)
    summary = submission.submit_claims(ws, ids=[1], adapter_factory=lambda _w, _p: portal)
    [outcome] = summary.outcomes
    assert "evidence not recorded (submission.finished)" in outcome.message
    claim = ws.store.get_claim(1)
    assert (claim.status.value, claim.portal_reference) == ("SUBMITTED", "R-1")
    assert [e.kind for e in claim.events].count("submission.finished") == 1
    assert holder(ws.store.engine, 1) is None
    assert "submission.finished" not in _kinds(ws)
    # a second run finds nothing to file: never twice
    again = submission.submit_claims(ws, ids=[1], adapter_factory=lambda _w, _p: portal)
    assert portal.filed == {claim.invoice_number: "R-1"}
    assert [o.status for o in again.outcomes] == ["SUBMITTED"]


def test_filed_the_claim_and_its_finished_evidence_commit_together(ws, tmp_path) -> None:
    portal = Roomy(tmp_path)
    summary = submission.submit_claims(ws, ids=[1], adapter_factory=lambda _w, _p: portal)
    assert summary.ok, summary.to_json()
    claim = ws.store.get_claim(1)
    assert (claim.status.value, claim.portal_reference) == ("SUBMITTED", "R-1")
    assert _kinds(ws)[-1] == "submission.finished"
    finished = [e for e in ws.evidence.entries(claim="1") if e.kind == "submission.finished"]
    assert finished[0].metadata["reference"] == "R-1" and finished[0].blobs
    events = [e.kind for e in claim.events]
    assert events.index("submission.intent") < events.index("submission.finished")
    assert holder(ws.store.engine, 1) is None
    assert ws.evidence.verify().ok


def test_the_intent_and_its_started_evidence_are_durable_before_the_final_request(
        ws, tmp_path) -> None:
    """At the final click, another connection (another process, after a kill -9 here) already
    sees the claim SUBMITTING and its ``submission.started`` entry: both in one commit."""
    seen: list[tuple[str, list[str]]] = []

    class Watching(Roomy):
        def final_click(self, package: SubmissionPackage) -> None:
            other = find_workspace(ws.root)
            try:
                seen.append((other.store.get_claim(1).status.value,
                             [e.kind for e in other.evidence.entries(claim="1")]))
            finally:
                other.close()
            super().final_click(package)

    summary = submission.submit_claims(ws, ids=[1], adapter_factory=lambda _w, _p: Watching(
        tmp_path))
    assert summary.ok, summary.to_json()
    [(status, kinds)] = seen
    assert status == "SUBMITTING" and kinds[-1] == "submission.started"
    started = [e for e in ws.evidence.entries(claim="1") if e.kind == "submission.started"]
    assert len(started) == 1 and "final_request_sent" not in started[0].metadata
    assert started[0].metadata["attempt"] == 1


def test_an_attempt_stopped_before_the_final_request_records_it_started_but_unsent(
        ws, tmp_path) -> None:
    portal = Roomy(tmp_path, fill=PortalRejected(["the amount is refused"], portal="fake",
                                                 step="fill"))
    summary = submission.submit_claims(ws, ids=[1], adapter_factory=lambda _w, _p: portal)
    [outcome] = summary.outcomes
    assert outcome.status == "REJECTED_BY_PORTAL" and portal.filed == {}
    assert "submission.intent" not in [e.kind for e in ws.store.get_claim(1).events]
    kinds = _kinds(ws)
    assert kinds[-2:] == ["submission.started", "submission.rejected"]
    started = [e for e in ws.evidence.entries(claim="1") if e.kind == "submission.started"]
    assert started[-1].metadata["final_request_sent"] is False


def test_a_lease_lost_at_the_intent_writes_neither_and_clicks_nothing(ws, tmp_path) -> None:
    """Another worker took the claim over while this one uploaded: the fenced intent finds no
    row, so neither the intent nor a 'sent' started record is committed, and nothing is
    clicked."""

    class TakenOver(Roomy):
        def fill(self, package: SubmissionPackage, resubmit_of: str | None) -> None:
            super().fill(package, resubmit_of)
            with ws.store.engine.begin() as conn:
                conn.execute(update(ClaimRow).where(ClaimRow.id == 1).values(
                    lease_owner="someone-else", lease_version=ClaimRow.lease_version + 1,
                    lease_expires_at=utcnow() + timedelta(minutes=5)))

    portal = TakenOver(tmp_path)
    summary = submission.submit_claims(ws, ids=[1], adapter_factory=lambda _w, _p: portal)
    [outcome] = summary.outcomes
    assert "nothing was clicked" in outcome.message and outcome.status == "READY"
    assert "click" not in portal.calls and portal.filed == {}
    assert "submission.intent" not in [e.kind for e in ws.store.get_claim(1).events]
    started = [e for e in ws.evidence.entries(claim="1") if e.kind == "submission.started"]
    assert [e.metadata.get("final_request_sent") for e in started] == [False]
