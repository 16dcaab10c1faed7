"""``python -m claims``: the same command as ``claims``.

``python -m`` puts the current folder first on ``sys.path``. Run inside a workspace, its
``evidence/`` folder would then shadow the ``evidence`` package (an ImportError before any
command runs), so that entry is dropped unless it is the folder this package lives in.
"""

import os
import sys
from pathlib import Path

_PROJECT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0] or os.getcwd()).resolve() != _PROJECT:
    del sys.path[0]

from claims.cli import main  # noqa: E402

main()
