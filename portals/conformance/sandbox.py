"""The sandbox portal and :class:`~portals.sandbox.adapter.SandboxAdapter` under the kit: the
example a third party copies for their own fake portal (registered as
``claims.conformance: sandbox``).

The portal runs with its duplicate check off (``no_duplicate``) unless a scenario asks for it,
and with 5-second TOTP windows (single-use codes, so several workers signing in wait for the
next window: the same logic as at 30 s, quicker).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

from portals.base import BrowserOptions, PackageFile, PortalCredentials, SubmissionPackage
from portals.conformance.target import PortalUnderTest
from portals.sandbox.adapter import SandboxAdapter
from portals.sandbox.cli import BackofficeClient
from portals.sandbox.testing import make_pdf, running_sandbox, seed_supplier

#: each kit fault as a sandbox fault spec (the duplicate check stays off unless asked for)
SPECS = {
    "": "no_duplicate",
    "lost_response": "no_duplicate;lost_response=final_submit*1",
    "http5xx_before_final": "no_duplicate;http500=upload*1",
    "expire_mid_wizard": "no_duplicate;expire_session=invoice*1",
    "maintenance": "no_duplicate;maintenance",
    "duplicate_check": "",
}

OPTIONS = BrowserOptions(timeout_ms=15_000, max_attempts=3, backoff_s=0.2)


class SandboxUnderTest(PortalUnderTest):
    """One sandbox account and contract, driven through the portal's back office."""

    name = "sandbox"
    #: the kit's faults as this portal's fault specs
    specs: ClassVar[dict[str, str]] = SPECS

    def __init__(self, connection: dict[str, Any]):
        self.conn = connection
        self.backoffice = BackofficeClient(connection["url"], connection["token"])

    @classmethod
    @contextmanager
    def started(cls, workdir: Path, totp_period: int = 5) -> Iterator[SandboxUnderTest]:
        """A sandbox portal in ``workdir`` with a fresh supplier; stopped on exit."""
        with running_sandbox(workdir, faults=SPECS[""], totp_period=totp_period) as server:
            supplier = seed_supplier(server)
            yield cls({
                "url": server.url, "token": server.token, "username": supplier.username,
                "password": supplier.password, "totp_secret": supplier.totp_secret,
                "totp_period": totp_period, "contract": supplier.contract_number,
                "document_types": list(supplier.document_types),
            })  # fmt: skip

    def connection(self) -> dict[str, Any]:
        return dict(self.conn)

    @classmethod
    def reconnect(cls, connection: dict[str, Any]) -> SandboxUnderTest:
        return cls(connection)

    def _credentials(self, password: str) -> PortalCredentials:
        return PortalCredentials.model_validate({
            "username": self.conn["username"], "password": password,
            "totp_secret": self.conn["totp_secret"], "totp": {"period": self.conn["totp_period"]},
        })  # fmt: skip

    def adapter(self, state_file: Path, evidence_dir: Path) -> SandboxAdapter:
        return SandboxAdapter(self.conn["url"], self._credentials(self.conn["password"]),
                              browser=OPTIONS, state_file=state_file, evidence_dir=evidence_dir)

    def wrong_password_adapter(self, state_file: Path, evidence_dir: Path) -> SandboxAdapter:
        return SandboxAdapter(self.conn["url"], self._credentials(self.conn["password"] + "x"),
                              browser=OPTIONS, state_file=state_file, evidence_dir=evidence_dir)

    def package(self, invoice: str, folder: Path) -> SubmissionPackage:
        files = []
        for doc in self.conn["document_types"]:
            path = folder / "files" / f"{doc}-{invoice.lower()}.pdf"
            if not path.exists():
                make_pdf(path, f"{doc} for {invoice}")
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            files.append(PackageFile(document_type=doc, path=path, filename=path.name,
                                     sha256=digest))  # fmt: skip
        return SubmissionPackage(
            claim_key=f"kit-{invoice}", contract_number=self.conn["contract"],
            invoice_number=invoice, invoice_date=dt.date(2026, 2, 1),
            period_start=dt.date(2026, 1, 1), period_end=dt.date(2026, 1, 31), currency="EUR",
            net=Decimal("1000.00"), vat=Decimal("200.00"), total=Decimal("1200.00"), files=files,
        )  # fmt: skip

    def filed(self, invoice: str) -> list[str]:
        return [c["reference"] for c in self.backoffice.claims(invoice=invoice)
                if c.get("contract_number") == self.conn["contract"]]  # fmt: skip

    def fault(self, name: str) -> None:
        self.backoffice.set_faults(self.specs[name])

    def failed_sign_ins(self) -> int:
        return int(self.backoffice.account(self.conn["username"])["failed_logins"])
