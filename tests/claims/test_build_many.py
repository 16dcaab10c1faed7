"""Building many claims at once (``claims claim build --all``): one flush per group, and
still nothing placed or READY before its zip and evidence blobs are durable."""

import errno
from pathlib import Path

import pytest

import evidence.batch
from claims import api
from claims.errors import BundleError, NotFound, ValidationFailed
from claims.lifecycle import workflow
from tests.claims.helpers import TODAY, load_samples, sample_claim


def claims_of(ws, n: int = 3) -> list[int]:
    """Samples 0 and 1 are valid; sample 2 fails validation (E-DOC-006)."""
    files = load_samples(ws)
    return [sample_claim(ws, files, i).id for i in range(n)]


def status(ws, claim_id: int) -> str:
    return ws.store.get_claim(claim_id).status.value


def zips(ws) -> list[Path]:
    """The bundles in place (not those in staging folders)."""
    return sorted(ws.bundles_dir.glob("*/*.zip"))


def bundle_built_entries(ws) -> list:
    return [e for e in api.evidence_log(ws) if e.kind == "bundle.built"]


@pytest.fixture
def flushes(monkeypatch):
    """Every flush_files call of the batch path: the files it was given, and what was READY,
    placed or recorded when it ran."""
    seen: list[dict] = []
    real = evidence.batch.flush_files

    def spy(paths):
        paths = list(paths)
        ws = spy.ws
        seen.append({"paths": paths,
                     "ready": [i for i in ws.store.claim_ids() if status(ws, i) == "READY"],
                     "placed": zips(ws), "entries": len(bundle_built_entries(ws))})
        return real(paths)

    monkeypatch.setattr(evidence.batch, "flush_files", spy)
    return spy, seen


def test_one_flush_for_the_group_and_nothing_ready_or_placed_before_it(workspace, flushes):
    spy, seen = flushes
    spy.ws = workspace
    a, b = claims_of(workspace, 2)
    done, failed = api.build_claims(workspace, [a, b], as_of=TODAY)
    assert failed == {} and list(done) == [a, b]
    assert len(seen) == 1
    assert seen[0]["ready"] == [] and seen[0]["placed"] == [] and seen[0]["entries"] == 0
    flushed = {p.name for p in seen[0]["paths"]}
    assert {b.zip_path.name for b in done.values()} <= flushed   # both zips, staged
    assert sum(n.startswith("blob-") for n in flushed) >= 2 * 4   # and the evidence blobs
    assert [status(workspace, i) for i in (a, b)] == ["READY", "READY"]
    assert len(bundle_built_entries(workspace)) == 2
    assert api.verify_evidence(workspace).ok


def test_groups_are_bounded_one_flush_each(workspace, flushes, monkeypatch):
    spy, seen = flushes
    spy.ws = workspace
    monkeypatch.setattr(workflow, "FLUSH_CLAIMS", 1)
    a, b = claims_of(workspace, 2)
    done, failed = api.build_claims(workspace, [a, b], as_of=TODAY)
    assert failed == {} and list(done) == [a, b]
    assert len(seen) == 2
    assert seen[1]["ready"] == [a]   # the first group was finished before the second staged


def test_a_failed_flush_fails_its_group_and_leaves_the_claims_as_they_were(workspace,
                                                                           monkeypatch):
    a, b = claims_of(workspace, 2)

    def full_disk(paths):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(evidence.batch, "flush_files", full_disk)
    done, failed = api.build_claims(workspace, [a, b], as_of=TODAY)
    assert done == {} and set(failed) == {a, b}
    assert all(isinstance(e, BundleError) and "No space left" in str(e)
               for e in failed.values())
    assert [status(workspace, i) for i in (a, b)] == ["DRAFT", "DRAFT"]
    assert zips(workspace) == [] and bundle_built_entries(workspace) == []
    folder = workspace.bundles_dir / "C-2026-014"
    assert not folder.exists() or list(folder.iterdir()) == []   # no staging left behind
    blobs_tmp = workspace.evidence_dir / "blobs" / ".tmp"
    assert not blobs_tmp.exists() or list(blobs_tmp.iterdir()) == []
    monkeypatch.undo()
    done, failed = api.build_claims(workspace, [a, b], as_of=TODAY)
    assert failed == {} and not any(b.reused for b in done.values())
    assert api.verify_evidence(workspace).ok


def test_an_invalid_claim_fails_alone_and_fail_fast_stops_there(workspace):
    a, b, bad = claims_of(workspace, 3)
    done, failed = api.build_claims(workspace, [bad, a], as_of=TODAY)
    assert list(done) == [a] and isinstance(failed[bad], ValidationFailed)
    assert status(workspace, a) == "READY"
    done, failed = api.build_claims(workspace, [bad, b], as_of=TODAY, fail_fast=True)
    assert done == {} and list(failed) == [bad]
    assert status(workspace, b) != "READY"


def test_build_claim_is_the_same_path_and_raises_its_failure(workspace):
    a, _, bad = claims_of(workspace, 3)
    with pytest.raises(ValidationFailed):
        api.build_claim(workspace, bad, as_of=TODAY)
    first = api.build_claim(workspace, a, as_of=TODAY)
    again = api.build_claims(workspace, [a], as_of=TODAY)[0][a]
    assert again.reused and again.bag_digest == first.bag_digest
    assert len(bundle_built_entries(workspace)) == 1



def test_a_group_is_read_together_as_each_claim_would_be_alone(workspace, monkeypatch):
    """``build --all`` reads a group's claims in one go (not claim by claim); what it reads is
    what each claim's own read gives, and an unknown id fails alone."""
    a, b, bad = claims_of(workspace, 3)
    workspace.store.withdraw_claim(b, reason="not needed", actor="test")
    together = workspace.store.claim_contexts([bad, a, b, 999])
    assert sorted(together) == [a, b, bad]
    for i in (a, b, bad):
        assert together[i] == workspace.store.claim_context(i)
    assert [e[0] for e in together[bad]["earlier"]] == [a]   # b is withdrawn: not counted
    assert together[a]["inspections"] and together[a]["earlier"] == []
    reads: list[list[int]] = []
    real = workspace.store.claim_contexts
    monkeypatch.setattr(workspace.store, "claim_contexts",
                        lambda ids: reads.append(list(ids)) or real(ids))
    monkeypatch.setattr(workspace.store, "claim_context", None)   # never claim by claim
    done, failed = api.build_claims(workspace, [a, 999, bad], as_of=TODAY)
    assert list(done) == [a] and isinstance(failed[999], NotFound)
    assert isinstance(failed[bad], ValidationFailed)
    assert reads == [[a, 999, bad]]


def test_a_group_s_evidence_is_one_transaction_and_a_failed_one_leaves_none_ready(
        workspace, monkeypatch):
    """The group's bundle.built entries go in together; when that write fails no claim of
    the group is READY, and the next build reuses the placed bundles and records them."""
    from evidence import LedgerError, ledger

    a, b = claims_of(workspace, 2)
    calls: list[int] = []
    real = ledger.append_many

    def refused(engine, leaves, after=None):
        calls.append(len(leaves))
        raise LedgerError("evidence ledger write failed: disk I/O error")

    monkeypatch.setattr(ledger, "append_many", refused)
    done, failed = api.build_claims(workspace, [a, b], as_of=TODAY)
    assert done == {} and set(failed) == {a, b} and calls == [2]
    assert all("evidence not recorded (bundle.built)" in str(e) for e in failed.values())
    assert [status(workspace, i) for i in (a, b)] == ["DRAFT", "DRAFT"]
    assert bundle_built_entries(workspace) == []
    monkeypatch.setattr(ledger, "append_many",
                        lambda engine, leaves, after=None: calls.append(len(leaves))
                        or real(engine, leaves, after))
    done, failed = api.build_claims(workspace, [a, b], as_of=TODAY)
    assert failed == {} and all(bundle.reused for bundle in done.values())
    assert calls == [2, 2] and [status(workspace, i) for i in (a, b)] == ["READY", "READY"]
    assert len(bundle_built_entries(workspace)) == 2
    assert api.verify_evidence(workspace).ok
