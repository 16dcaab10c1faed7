"""The evidence recorder's manifest: one JSON document after every step, written in place
(never renamed over), refusing a used directory; ``mark`` records a step without a picture."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from portals.errors import PortalError
from portals.recording import EvidenceRecorder


def recorder(folder: Path) -> EvidenceRecorder:
    return EvidenceRecorder(folder, adapter="x", operation="submit", base_url="http://portal",
                            claim_key="claim-1", sent={"invoice": "INV-1", "files": [{"n": "é"}]})


def test_the_manifest_is_whole_json_after_every_step_and_written_in_place(tmp_path: Path) -> None:
    rec = recorder(tmp_path / "ev")
    path = tmp_path / "ev" / "manifest.json"
    assert json.loads(path.read_text()) == rec.data  # before any step: no steps, no outcome
    inode = path.stat().st_ino
    for i in range(5):
        rec.note(f"step-{i}", detail={"i": i, "text": "a\nb"})
        assert json.loads(path.read_text()) == rec.data
        # the same text the whole document rendered at once gives (indent 2), byte for byte
        assert path.read_text() == json.dumps(rec.data, indent=2)
    rec.exchange("deposit", request={"password": "hunter2"}, response={"id": 7})
    rec.finish("accepted", reference="R-1")
    assert path.read_text() == json.dumps(rec.data, indent=2)
    assert json.loads(path.read_text())["outcome"]["reference"] == "R-1"
    assert "hunter2" not in path.read_text()
    assert path.stat().st_ino == inode  # written in place, never replaced by a rename
    assert sorted(p.name for p in (tmp_path / "ev").iterdir()) == ["manifest.json"]


def test_an_outcome_replaced_by_a_shorter_one_leaves_no_stale_bytes(tmp_path: Path) -> None:
    rec = recorder(tmp_path / "ev")
    rec.note("one")
    rec.finish("accepted", reference="R-1", message="a long message " * 5)
    rec.finish("error")
    assert json.loads((tmp_path / "ev" / "manifest.json").read_text()) == rec.data


def test_a_used_evidence_directory_is_refused_and_left_alone(tmp_path: Path) -> None:
    rec = recorder(tmp_path / "ev")
    rec.note("one")
    before = (tmp_path / "ev" / "manifest.json").read_bytes()
    with pytest.raises(PortalError, match="already used"):
        recorder(tmp_path / "ev")
    assert (tmp_path / "ev" / "manifest.json").read_bytes() == before
