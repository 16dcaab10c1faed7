"""Run every benchmark in this folder, one after another: ``python run_all.py [--quick]``.

Each ``bench_*.py`` prints its own table of figures beside a reference measured in the same
run; extra arguments (e.g. ``--quick``) are passed to each.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def main() -> int:
    failed = []
    for script in sorted(Path(__file__).parent.glob("bench_*.py")):
        print(f"\n=== {script.name} {' '.join(sys.argv[1:])}", flush=True)
        if subprocess.call([sys.executable, str(script), *sys.argv[1:]]) != 0:
            failed.append(script.name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
