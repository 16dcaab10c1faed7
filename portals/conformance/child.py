"""One worker process of the kit (``python -m portals.conformance.child SPEC``): reconnects to
the running fake portal and files one invoice with :func:`~portals.conformance.scenarios.file_once`.
The kit kills some of these with ``kill -9`` at random moments; exit 0 when filed, else 1 with
one line on stderr.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

from portals.conformance.scenarios import Intent, file_once, fresh
from portals.errors import PortalError


def main(argv: list[str]) -> int:
    spec = json.loads(argv[0])
    module, _, attr = spec["target"].partition(":")
    cls = getattr(importlib.import_module(module), attr)
    target = cls.reconnect(spec["connection"])
    folder = Path(spec["folder"])
    adapter = target.adapter(folder / f"{spec['name']}.state.json", folder / "evidence")
    try:
        package = target.package(spec["invoice"], folder)
        ref = file_once(adapter, package, fresh(folder),
                        Intent(folder / f"{spec['name']}.intent"))
    except PortalError as err:
        print(f"{spec['name']}: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    finally:
        adapter.close()
    print(ref)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
