"""``make demo``: the main job end to end on the embedded defaults.

A fresh workspace in ./demo-workspace (SQLite), sample contract, invoices and real PDFs; every
claim validated and bundled; then each later stage that is installed (portal submission on the
sandbox in headless Chromium, status sync, evidence verification) runs on it in turn.
Each step is printed as the command a specialist would type.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(os.environ.get("CLAIMS_DEMO_DIR", "demo-workspace")).resolve()


def claims(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the real ``claims`` command, echoing it first, as a person would."""
    print(f"\n$ claims {' '.join(args)}", flush=True)
    result = subprocess.run([sys.executable, "-m", "claims", "--workspace", str(ROOT), *args],
                            text=True, capture_output=True)
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    if check and result.returncode != 0:
        raise SystemExit(f"demo step failed (exit {result.returncode}): claims {' '.join(args)}")
    return result


def main() -> int:
    if ROOT.exists():
        shutil.rmtree(ROOT)
    print(f"Claimwright demo in {ROOT}")
    claims("init", "--with-samples", str(ROOT))
    claims("contract", "list")
    claims("claim", "list")
    claims("claim", "validate", "--all")
    claims("claim", "build", "--all")
    claims("claim", "show", "1")
    for step in _later_steps():
        step()
    print("\ndemo finished: every step above ran for real.")
    return 0


def _later_steps() -> list:
    """Stages that later parts of Claimwright add to the demo."""
    return []


if __name__ == "__main__":
    sys.exit(main())
