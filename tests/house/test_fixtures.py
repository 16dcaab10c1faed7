"""The test fixtures live in the repository: every sample folder names its origin and licence,
and no test reaches outside the repository for its files (``make test`` runs in a bare clone)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "tests" / "fixtures" / "samples"


def test_every_sample_folder_names_its_origin_and_licence() -> None:
    folders = [p for p in SAMPLES.iterdir() if p.is_dir()]
    assert folders, f"no sample folders under {SAMPLES}"
    for folder in folders:
        note = folder / "SOURCE.md"
        assert note.is_file(), f"{folder.name}: no SOURCE.md"
        text = note.read_text(encoding="utf-8")
        assert "Origin" in text or "origin" in text, f"{note}: names no origin"
        assert "Licence" in text or "licence" in text, f"{note}: names no licence"


def test_no_test_reads_the_shared_folder_beside_the_clone() -> None:
    outside = re.compile(r"""["'/]shared["'/]\s*[/,)]?\s*["']?samples|\.\./shared""")
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "tests").rglob("*.py")
                 if p.name != Path(__file__).name
                 and outside.search(p.read_text(encoding="utf-8"))]
    assert not offenders, f"tests read the shared samples beside the clone: {offenders}"
