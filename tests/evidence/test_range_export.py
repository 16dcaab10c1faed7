"""What a range export (``--from/--to``) proves, said by both verifiers: its events are genuine
and in order, not that it holds every event of the range (the key holder could leave a claim's
events out and re-sign); a claim's export proves its claim complete."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path

from evidence import EvidenceArchive

from .test_export_attacks import Export, database_url, verify_py

__all__ = ["database_url"]  # a fixture, used by name


def _export(archive: EvidenceArchive, tmp_path: Path, **scope: object) -> Export:
    bag = archive.export(tmp_path / "bag", actor="auditor-request", **scope)  # type: ignore[arg-type]
    auditor = tmp_path / "auditor"
    auditor.mkdir()
    (auditor / "signing.pub").write_bytes(archive.public_key_pem())
    shutil.copy(bag / "verify.py", auditor / "verify.py")
    return Export(bag, auditor / "verify.py", auditor / "signing.pub")


def test_a_range_export_verifies_and_says_it_does_not_prove_completeness(
        archive: EvidenceArchive, history: Callable[[], None], tmp_path: Path, cli) -> None:
    history()
    ex = _export(archive, tmp_path, since=date(2000, 1, 1), until=date(2100, 1, 1))
    args = ("--trusted-key", str(ex.key))
    code, out = verify_py(ex, *args)
    assert code == 0 and "OK" in out and "WARNING export-range" in out, out
    assert "only a claim's export proves" in out
    result = cli("evidence", "verify-export", str(ex.bag), *args, workspace=None)
    assert result.exit_code == 0 and "export-range" in result.output, result.output
    code, out = verify_py(ex, *args, "--json")
    assert [w["code"] for w in json.loads(out)["warnings"]] == ["export-range"]


def test_a_claim_export_has_no_such_warning(archive: EvidenceArchive,
                                            history: Callable[[], None], tmp_path: Path) -> None:
    history()
    ex = _export(archive, tmp_path, claim="CLM-1")
    code, out = verify_py(ex, "--trusted-key", str(ex.key), "--json")
    assert code == 0 and json.loads(out)["warnings"] == [], out
