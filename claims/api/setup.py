"""The workspace as user actions: create one (optionally with the sample kit), find one."""

from __future__ import annotations

from datetime import date
from importlib import metadata
from pathlib import Path
from typing import Any

from claims.doctor import Check, run_checks
from claims.lifecycle.workflow import add_contract, add_invoices, new_claim
from claims.workspace import Workspace, find_workspace, init_workspace as _init_workspace

__all__ = ["Check", "Workspace", "add_samples", "doctor", "find_workspace", "init_workspace",
           "version"]


def version() -> str:
    """The installed Claimwright version (``claims --version``)."""
    try:
        return metadata.version("claimwright")
    except metadata.PackageNotFoundError:  # run from a source tree that is not installed
        return "unknown (not installed)"


def add_samples(ws: Workspace, today: date | None = None) -> dict[str, Any]:
    """Write the samples into ``ws/samples`` and add them: contract, invoices, one claim each.
    Returns the folder, the contract number and the new claims' ids."""
    # imported here: fpdf2 (for the sample PDFs) costs ~0.3 s, which no other command should pay
    from claims.samples.workspace import write_samples

    written = write_samples(ws.root / "samples", today)
    add_contract(ws, written["contract_file"])
    add_invoices(ws, written["invoices_file"])
    ids = []
    for c in written["claims"]:
        claim = new_claim(ws, c["contract"], c["invoice"], c["documents"],
                          milestone=c["milestone"])
        ids.append(claim.id)
    return {"folder": str(written["folder"]), "contract": written["contract"], "claims": ids}


def init_workspace(root: Path, *, database_url: str | None = None,
                   with_samples: bool = False) -> tuple[Workspace, dict[str, Any] | None]:
    """Create a workspace in ``root`` (refusing to overwrite one); with ``with_samples``, add
    the sample contract, invoices and PDFs. Returns the workspace and what was added."""
    ws = _init_workspace(root, database_url=database_url)
    return ws, (add_samples(ws) if with_samples else None)


def doctor(ws: Workspace, *, network: bool = True) -> list[Check]:
    """``claims doctor``: the workspace, its settings, database, templates, mail server,
    portals and browser checked, each with what to fix (:mod:`claims.doctor`). Reads only."""
    return run_checks(ws, network=network)
