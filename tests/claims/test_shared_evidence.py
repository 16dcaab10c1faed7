"""Many working folders, one evidence archive: blobs in a shared folder and one signing key,
chosen by configuration (claims.toml [evidence] or CLAIMS_EVIDENCE_*), on one database."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import tomli_w

from claims.workspace import Workspace, init_workspace
from evidence import LogRewritten


def two_folders(tmp_path: Path) -> tuple[Workspace, Workspace]:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    return (init_workspace(tmp_path / "a", database_url=url),
            init_workspace(tmp_path / "b", database_url=url))


def record_and_close(ws: Workspace, name: str) -> None:
    ws.record_evidence(kind="test.recorded", claim="1", metadata={"by": name},
                       files={"note.txt": f"written in {name}".encode()})
    ws.close()


def test_folders_that_share_blobs_and_key_verify_everywhere(tmp_path, monkeypatch) -> None:
    a, b = two_folders(tmp_path)
    shared = tmp_path / "shared"
    shutil.copytree(a.evidence_dir / "keys", shared / "keys")
    # one folder by claims.toml, the other by the environment
    text = a.config_path.read_text() + tomli_w.dumps(
        {"evidence": {"blobs_dir": str(shared / "blobs"),
                      "key_file": str(shared / "keys" / "signing.key")}})
    a.config_path.write_text(text)
    a.reload_settings()
    record_and_close(a, "a")
    monkeypatch.setenv("CLAIMS_EVIDENCE_BLOBS_DIR", str(shared / "blobs"))
    monkeypatch.setenv("CLAIMS_EVIDENCE_KEY_FILE", str(shared / "keys" / "signing.key"))
    record_and_close(Workspace(b.root), "b")
    assert not list((b.evidence_dir / "blobs").rglob("*.*"))  # nothing in b's own folder
    for root in (a.root, b.root):
        ws = Workspace(root)
        report = ws.evidence.verify()
        assert report.ok, [str(p) for p in report.problems]
        ws.close()


def test_folders_that_do_not_share_their_key_refuse_to_sign(tmp_path) -> None:
    """A second machine with its own key does not sign over the first one's checkpoint: the
    log it sees was signed by another key, so it stops (never-sign-a-rewritten-log) rather than
    fork the archive; shared blobs and key are what a fleet needs."""
    a, b = two_folders(tmp_path)
    record_and_close(a, "a")
    with pytest.raises(LogRewritten, match="does not verify with key"):
        record_and_close(b, "b")
