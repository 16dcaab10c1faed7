"""What a submission commits, and when: the claim's writes and their evidence share one
transaction per step, and never-twice still holds (the intent is durable before the final
request; the outcome is written after it, even when its evidence fails). Real SQLite and a
real evidence archive; the portal is a fake adapter (no browser)."""

from __future__ import annotations


import pytest

from claims.lifecycle import submission
from claims.lifecycle.leases import holder
from claims.workspace import Workspace, find_workspace
from portals.base import PortalLimits, SubmissionPackage
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
