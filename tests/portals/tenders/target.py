"""The README's example adapter, exactly as printed (``## Writing an adapter``), and the
:class:`~portals.conformance.PortalUnderTest` of the fake "tenders" portal it is run against:
what a third party writes, following the README alone."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pyotp

from portals.base import BrowserOptions, PackageFile, PortalCredentials, SubmissionPackage
from portals.conformance import PortalUnderTest
from portals.sandbox.testing import make_pdf
from tests.portals.tenders.portal import State, serve

README = Path(__file__).resolve().parents[3] / "README.md"
OPTIONS = BrowserOptions(timeout_ms=15_000, max_attempts=3, backoff_s=0.2)
PERIOD = 5  # seconds a one-time code lives: the kit's TOTP scenario waits windows out


def readme_adapter_source() -> str:
    """The first Python block of the README's ``## Writing an adapter`` section."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Writing an adapter"):]
    found = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert found is not None, "README: no Python block under '## Writing an adapter'"
    return found.group(1)


_namespace: dict[str, Any] = {"__name__": "readme_adapter"}
exec(compile(readme_adapter_source(), str(README), "exec"), _namespace)  # noqa: S102
#: the README's adapter class, as printed
TendersAdapter = _namespace["TendersAdapter"]


class TendersUnderTest(PortalUnderTest):
    """The fake tenders portal with one account and one contract."""

    name = "tenders"

    def __init__(self, connection: dict[str, Any]):
        self.conn = connection
        self.http = httpx.Client(base_url=connection["url"], timeout=10)

    @classmethod
    @contextmanager
    def started(cls, workdir: Path) -> Iterator[TendersUnderTest]:
        state = State(username="ana", password="s3cret-Pw!", seed=pyotp.random_base32(),
                      period=PERIOD, document_types=["invoice", "timesheet"])
        server = serve(state)
        try:
            yield cls({"url": f"http://127.0.0.1:{server.server_address[1]}",
                       "username": state.username, "password": state.password,
                       "seed": state.seed, "contract": "T-2026-01",
                       "document_types": state.document_types})
        finally:
            server.shutdown()
            server.server_close()

    def connection(self) -> dict[str, Any]:
        return dict(self.conn)

    @classmethod
    def reconnect(cls, connection: dict[str, Any]) -> TendersUnderTest:
        return cls(connection)

    def _adapter(self, password: str, state_file: Path, evidence_dir: Path) -> Any:
        creds = PortalCredentials.model_validate({
            "username": self.conn["username"], "password": password,
            "totp_secret": self.conn["seed"], "totp": {"period": PERIOD}})
        return TendersAdapter(self.conn["url"], creds, browser=OPTIONS, state_file=state_file,
                              evidence_dir=evidence_dir)

    def adapter(self, state_file: Path, evidence_dir: Path) -> Any:
        return self._adapter(self.conn["password"], state_file, evidence_dir)

    def wrong_password_adapter(self, state_file: Path, evidence_dir: Path) -> Any:
        return self._adapter(self.conn["password"] + "x", state_file, evidence_dir)

    def package(self, invoice: str, folder: Path) -> SubmissionPackage:
        files = []
        for doc in self.conn["document_types"]:
            path = folder / "files" / f"{doc}-{invoice.lower()}.pdf"
            if not path.exists():
                make_pdf(path, f"{doc} for {invoice}")
            files.append(PackageFile(document_type=doc, path=path, filename=path.name,
                                     sha256=hashlib.sha256(path.read_bytes()).hexdigest()))
        return SubmissionPackage(
            claim_key=f"kit-{invoice}", contract_number=self.conn["contract"],
            invoice_number=invoice, invoice_date=dt.date(2026, 2, 1),
            period_start=dt.date(2026, 1, 1), period_end=dt.date(2026, 1, 31), currency="EUR",
            net=Decimal("1000.00"), vat=Decimal("200.00"), total=Decimal("1200.00"), files=files)

    def claims(self, invoice: str = "") -> list[dict[str, Any]]:
        """What the portal holds (for ``invoice``), from its back office."""
        return self.http.get("/backoffice/claims", params={"invoice": invoice}).json()

    def filed(self, invoice: str) -> list[str]:
        return [c["reference"] for c in self.claims(invoice)
                if c["contract"] == self.conn["contract"]]

    def fault(self, name: str) -> None:
        self.http.post("/backoffice/fault", json={"fault": name}).raise_for_status()

    def set_status(self, reference: str, word: str) -> None:
        self.http.post("/backoffice/status", json={"reference": reference, "status": word})

    def failed_sign_ins(self) -> int:
        return int(self.http.get("/backoffice/failures").json()["failures"])
