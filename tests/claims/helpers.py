"""Building blocks for claim tests: a sample workspace at a fixed date."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from claims import api
from claims.samples.workspace import write_samples
from claims.workspace import Workspace

TODAY = date(2026, 11, 23)


def sample_files(folder: Path, today: date = TODAY) -> dict[str, Any]:
    return write_samples(folder, today)


def load_samples(ws: Workspace, folder: Path | None = None, today: date = TODAY,
                 edit_invoices=None, edit_contract=None) -> dict[str, Any]:
    """Write the samples, optionally edit them, and add the contract and invoices to ``ws``."""
    files = sample_files(folder or ws.root / "samples", today)
    if edit_contract:
        import yaml

        data = yaml.safe_load(files["contract_file"].read_text())
        edit_contract(data)
        files["contract_file"].write_text(yaml.safe_dump(data))
    if edit_invoices:
        data = json.loads(files["invoices_file"].read_text())
        edit_invoices(data["invoices"])
        files["invoices_file"].write_text(json.dumps(data))
    api.add_contract(ws, files["contract_file"])
    api.add_invoices(ws, files["invoices_file"])
    return files


def sample_claim(ws: Workspace, files: dict[str, Any], index: int = 0, *, drop: str | None = None,
                 replace: dict[str, Path] | None = None, **kw: Any):
    c = files["claims"][index]
    docs = [(t, str((replace or {}).get(t, p))) for t, p in c["documents"] if t != drop]
    return api.new_claim(ws, c["contract"], c["invoice"], docs, milestone=c["milestone"], **kw)


def codes(findings) -> list[str]:
    return [f.code for f in findings]
