"""``claims status sync`` when every portal it visits fails (exit 3), through the real CLI.

The README: each portal's outcome is reported (``sandbox: FAILED: …`` in text, ``"error"`` per
portal in ``--json``), also when no portal could be synced; the message names the portal once.
The portal fails here for want of its password (the reference's variable is not set), so no
browser is started.
"""

from __future__ import annotations

import json

from claims import api
from tests.claims.helpers import load_samples, sample_claim


def _submitted_claim(workspace) -> None:
    claim = sample_claim(workspace, load_samples(workspace))
    workspace.store.record_event(claim.id, "submitted", status=api.ClaimStatus.SUBMITTED,
                                 portal_reference="CLM-1")


def test_every_portal_failed_still_names_each_portal(cli, workspace, monkeypatch) -> None:
    monkeypatch.delenv("CLAIMS_SANDBOX_PASSWORD", raising=False)
    _submitted_claim(workspace)

    result = cli("status", "sync", "--json")
    assert result.exit_code == 3, result.output
    data = json.loads(result.stdout)
    assert data["ok"] is False and data["exit_code"] == 3
    assert "CLAIMS_SANDBOX_PASSWORD" in data["portals"]["sandbox"]["error"]
    assert "sandbox: sandbox:" not in data["error"]

    text = cli("status", "sync")
    assert text.exit_code == 3
    assert "sandbox: FAILED: " in text.stdout
    assert "Traceback" not in text.output
