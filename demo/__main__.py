"""``make demo``: the main job end to end on the embedded defaults.

A fresh workspace in ./demo-workspace (SQLite), sample contract, invoices and real PDFs; every
claim validated and bundled; then each later stage that is installed (portal submission on the
sandbox in headless Chromium, status sync, evidence verification) runs on it in turn.
Each step is printed as the command a specialist would type. The sandbox portal (a real web
application) runs on a free port for the submission and status steps; the agency's back office
moves the claims along between them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import tomli_w

from claims import api
from portals.sandbox.testing import running_sandbox, seed_supplier

ROOT = Path(os.environ.get("CLAIMS_DEMO_DIR", "demo-workspace")).resolve()


def claims(*args: str, check: bool = True,
           expect: int = 0) -> subprocess.CompletedProcess[str]:
    """Run the real ``claims`` command, echoing it first, as a person would; the demo stops
    unless it exits with ``expect``."""
    print(f"\n$ claims {' '.join(args)}", flush=True)
    # A person reads this: the JSON event lines meant for cron and CI stay out of it.
    env = {**os.environ, "CLAIMS_LOG_LEVEL": "warning"}
    result = subprocess.run([sys.executable, "-m", "claims", "--workspace", str(ROOT), *args],
                            text=True, capture_output=True, env=env)
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    if check and result.returncode != expect:
        raise SystemExit(f"demo step failed (exit {result.returncode}): claims {' '.join(args)}")
    return result


def main() -> int:
    if ROOT.exists():
        shutil.rmtree(ROOT)
    print(f"Claimwright demo in {ROOT}")
    claims("init", "--with-samples", str(ROOT))
    claims("contract", "list")
    claims("claim", "list")
    # claims 1 and 2 are valid; sample claim 3 is not (its tax certificate has expired)
    claims("claim", "validate", "--all", expect=1)
    print("\n(claim 3 fails validation: its tax certificate expired ten days ago, E-DOC-006 "
          "above;\n so `build --all` builds claims 1 and 2 only and exits 1, and only READY "
          "claims are submitted)")
    claims("claim", "build", "--all", expect=1)  # builds claims 1 and 2, refuses claim 3
    with _sandbox_portal() as server:
        claims("claim", "submit", "--all")
        claims("claim", "submit", "--all")  # a second run files nothing twice
        first, second = _store_refs()
        print(f"\n(the agency's back office approves {first} and returns {second})")
        server.backoffice.move(first, "under_review")
        server.backoffice.move(first, "approved")
        server.backoffice.move(second, "under_review")
        server.backoffice.move(second, "returned", reasons=["Completion certificate unsigned"])
        claims("status", "sync")
        claims("claim", "show", "1")
    claims("evidence", "verify")
    claims("evidence", "log", "--claim", "1")
    export = ROOT / "audit-export-claim-1"
    claims("evidence", "export", "--claim", "1", str(export))
    # an auditor pins the key they were given (here: the workspace's own public key)
    claims("evidence", "verify-export", str(export), "--trusted-key",
           str(ROOT / "evidence" / "keys" / "signing.pub"))
    print(f"\nopen {export / 'data' / 'index.html'} in a browser for the auditor's timeline")
    print("\ndemo finished: every step above ran for real.")
    return 0


def _store_refs() -> list[str]:
    """The portal references of the demo's submitted claims (the back office moves them)."""
    ws = api.find_workspace(ROOT)
    try:
        return [c.portal_reference for c in api.list_claims(ws) if c.portal_reference]
    finally:
        ws.close()


@contextmanager
def _sandbox_portal() -> Iterator[Any]:
    """The sandbox portal on a free port, a supplier account with the sample contract on it,
    and the workspace pointed at it (secrets passed by environment, as in production)."""
    print("\n(starting the sandbox portal: a real web app, in a subprocess)")
    with running_sandbox(ROOT / ".sandbox-portal") as server:
        supplier = seed_supplier(server, contract_number="C-2026-014", currency="SAR",
                                 document_types=("invoice", "completion-certificate",
                                                 "tax-certificate", "registration-certificate"))
        config = ROOT / "claims.toml"
        data = tomllib.loads(config.read_text())
        data["portals"]["sandbox"].update(url=server.url, username=supplier.username)
        config.write_text(tomli_w.dumps(data))
        os.environ["CLAIMS_SANDBOX_PASSWORD"] = supplier.password
        os.environ["CLAIMS_SANDBOX_TOTP"] = supplier.totp_secret
        print(f"(portal at {server.url}; supplier {supplier.username}; password and TOTP seed "
              "in the environment only)")
        yield server


if __name__ == "__main__":
    sys.exit(main())
