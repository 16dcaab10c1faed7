"""The API channel against the sandbox, for tests and benchmarks.

    with running_sandbox(tmp_path) as server:
        supplier = seed_supplier(server)
        app = seed_api_client(server)          # a PISTE application, secret in an env var
        adapter = chorus_adapter(server, supplier, app, tmp_path)  # portals.api_channel
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from portals.api_channel import ChorusProAdapter, ChorusSettings
from portals.base import BrowserOptions
from portals.sandbox.testing import SandboxServer, Supplier


@dataclass(frozen=True)
class ApiClient:
    """A PISTE application made through the back office; its secret is in ``env``."""

    client_id: str
    client_secret: str
    env: str

    def settings(self, **extra: object) -> ChorusSettings:
        """The adapter's settings naming this application (secret by environment variable)."""
        return ChorusSettings.model_validate(
            {"client_id": self.client_id, "client_secret": {"env": self.env}, **extra}
        )


def seed_api_client(server: SandboxServer, *, set_env: bool = True) -> ApiClient:
    """A fresh PISTE application on ``server``; its secret put in a fresh environment variable."""
    client = ApiClient(
        client_id=f"app-{secrets.token_hex(4)}",
        client_secret=f"sec-{secrets.token_urlsafe(18)}",
        env=f"CLAIMS_TEST_PISTE_SECRET_{secrets.token_hex(4).upper()}",
    )
    server.backoffice.call(
        "POST", "/backoffice/api-clients",
        {"client_id": client.client_id, "client_secret": client.client_secret},
    )  # fmt: skip
    if set_env:
        os.environ[client.env] = client.client_secret
    return client


def chorus_adapter(
    server: SandboxServer, supplier: Supplier, client: ApiClient, workdir: Path, **extra: object
) -> ChorusProAdapter:
    """The API channel adapter on ``server`` as ``supplier`` (the technical account)."""
    return ChorusProAdapter(
        server.url,
        supplier.credentials,
        browser=BrowserOptions(max_attempts=3, backoff_s=0.05),
        state_file=workdir / "chorus-state.json",
        evidence_dir=workdir / "evidence",
        settings=client.settings(**extra),
    )
