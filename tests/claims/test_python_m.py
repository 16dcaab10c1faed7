"""``python -m claims`` works inside a workspace, whose ``evidence/`` folder must not shadow the
``evidence`` package (``python -m`` puts the current folder first on ``sys.path``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from claims.workspace import init_workspace


def test_python_m_claims_runs_inside_a_workspace(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "ws")
    ws.close()
    assert (tmp_path / "ws" / "evidence").is_dir()
    done = subprocess.run([sys.executable, "-m", "claims", "claim", "list", "--json"],
                          cwd=tmp_path / "ws", capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert "Traceback" not in done.stderr
