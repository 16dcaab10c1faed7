"""The API channel (:class:`~portals.api_channel.ChorusProAdapter`) under the kit, against the
sandbox's Chorus Pro-shaped JSON API (registered as ``claims.conformance: chorus``).

Each scenario is mapped to what it means for an API:

====================  ================================================================
maintenance           every API call answers 503 (``maintenance``)
session_expiry        the Bearer token is revoked in the middle of the flow (401 at the
                      first file upload); the adapter takes a new token and starts over
http5xx_before_final  one 500 at a file upload (``http500=api_upload``)
lost_response         the deposit is stored, its answer lost (502 after the commit)
wrong_password        a wrong technical-account password (``cpro-account``): 403, tried
                      once, counted on the account like a wrong password on the HTML page
totp_workers          not applicable: OAuth2 client credentials have no one-time code
====================  ================================================================

The PISTE client secret reaches worker processes in a file (``{file = ...}``), never in the
connection or the environment.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

from portals.api_channel import ChorusProAdapter, ChorusSettings
from portals.base import BrowserOptions, PortalCredentials
from portals.conformance.sandbox import SandboxUnderTest
from portals.sandbox.api_testing import seed_api_client
from portals.sandbox.testing import running_sandbox, seed_supplier

#: each kit fault as a sandbox fault spec for the API's steps
#: (with a little latency on the uploads and the deposit, so that ``kill -9`` at a random
#: moment lands in the middle of a filing as often as with a browser, not only after it)
SLOW = "latency=0.3@api_upload,api_submit"
SPECS = {
    "": f"no_duplicate;{SLOW}",
    "lost_response": f"no_duplicate;{SLOW};lost_response=api_submit*1",
    "http5xx_before_final": f"no_duplicate;{SLOW};http500=api_upload*1",
    "expire_mid_wizard": f"no_duplicate;{SLOW};expire_session=api_upload*1",
    "maintenance": f"no_duplicate;{SLOW};maintenance",
    "duplicate_check": SLOW,
}

OPTIONS = BrowserOptions(timeout_ms=15_000, max_attempts=3, backoff_s=0.2)


class ChorusUnderTest(SandboxUnderTest):
    """One sandbox account (the technical account) and one PISTE application, driven through
    the sandbox's back office."""

    name = "chorus"
    specs: ClassVar[dict[str, str]] = SPECS
    not_applicable: ClassVar[dict[str, str]] = {
        "totp_workers": "the API signs in with OAuth2 client credentials: there is no "
                        "one-time code to share between workers",
    }

    @classmethod
    @contextmanager
    def started(cls, workdir: Path, totp_period: int = 30) -> Iterator[ChorusUnderTest]:
        """A sandbox in ``workdir`` with a fresh supplier and PISTE application."""
        with running_sandbox(workdir, faults=SPECS[""], totp_period=totp_period) as server:
            supplier = seed_supplier(server)
            client = seed_api_client(server, set_env=False)
            secret = workdir / "piste-secret.txt"
            secret.write_text(client.client_secret, encoding="utf-8")
            secret.chmod(0o600)
            yield cls({
                "url": server.url, "token": server.token, "username": supplier.username,
                "password": supplier.password, "contract": supplier.contract_number,
                "document_types": list(supplier.document_types),
                "client_id": client.client_id, "secret_file": str(secret),
            })  # fmt: skip

    def _chorus(self, password: str, state_file: Path, evidence_dir: Path) -> ChorusProAdapter:
        creds = PortalCredentials.model_validate(
            {"username": self.conn["username"], "password": password})
        settings = ChorusSettings.model_validate({
            "client_id": self.conn["client_id"],
            "client_secret": {"file": self.conn["secret_file"]}})  # fmt: skip
        return ChorusProAdapter(self.conn["url"], creds, browser=OPTIONS, state_file=state_file,
                                evidence_dir=evidence_dir, settings=settings)

    def adapter(self, state_file: Path, evidence_dir: Path) -> ChorusProAdapter:
        return self._chorus(self.conn["password"], state_file, evidence_dir)

    def wrong_password_adapter(self, state_file: Path, evidence_dir: Path) -> ChorusProAdapter:
        return self._chorus(self.conn["password"] + "x", state_file, evidence_dir)
