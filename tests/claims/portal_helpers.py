"""A workspace wired to a running sandbox portal, with N claims built and READY."""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import tomli_w
import yaml

from claims import api
from claims.samples.pdfs import make_certificate_pdf, make_invoice_pdf
from claims.samples.workspace import AGENCY, SUPPLIER
from claims.workspace import Workspace
from portals.sandbox.api_testing import ApiClient, seed_api_client
from portals.sandbox.testing import SandboxServer, Supplier, seed_supplier
from tests.claims.helpers import TODAY

DOC_TYPES = ("invoice", "completion-certificate", "tax-certificate", "registration-certificate")


def point_at_portal(root: Path, server: SandboxServer, supplier: Supplier, monkeypatch,
                    *, password: str | None = None) -> None:
    """Write the portal's URL and the supplier's secret references into claims.toml."""
    config = root / "claims.toml"
    import tomllib

    data = tomllib.loads(config.read_text())
    data["portals"]["sandbox"].update(url=server.url, username=supplier.username,
                                      timeout_seconds=20.0, totp_period=server.totp_period)
    config.write_text(tomli_w.dumps(data))
    monkeypatch.setenv("CLAIMS_SANDBOX_PASSWORD", password or supplier.password)
    monkeypatch.setenv("CLAIMS_SANDBOX_TOTP", supplier.totp_secret)


def point_at_api_portal(root: Path, server: SandboxServer, supplier: Supplier,
                        client: ApiClient, monkeypatch) -> None:
    """Write a ``[portals.chorus]`` table (the API channel) for ``server`` into claims.toml."""
    config = root / "claims.toml"
    import tomllib

    data = tomllib.loads(config.read_text())
    data["portals"]["chorus"] = {
        "url": server.url, "username": supplier.username, "timeout_seconds": 20.0,
        "password": {"env": "CLAIMS_CHORUS_PASSWORD"},
        "client_id": client.client_id, "client_secret": {"env": client.env}}
    config.write_text(tomli_w.dumps(data))
    monkeypatch.setenv("CLAIMS_CHORUS_PASSWORD", supplier.password)
    monkeypatch.setenv(client.env, client.client_secret)


def ready_claims(ws: Workspace, server: SandboxServer, monkeypatch, n: int = 2, *,
                 portal_doc_types: tuple[str, ...] = DOC_TYPES,
                 portal_currency: str = "SAR", portal: str = "sandbox") -> Supplier:
    """A fresh supplier and contract on the portal, and ``n`` READY claims for it in ``ws``.

    ``portal="chorus"``: the contract goes through the API channel (a PISTE application is
    made on ``server`` and ``[portals.chorus]`` written); its inputs go to ``inputs-chorus``.
    """
    number = f"C-{secrets.token_hex(3).upper()}"
    supplier = seed_supplier(server, contract_number=number, document_types=portal_doc_types,
                             currency=portal_currency)
    if portal == "chorus":
        point_at_api_portal(ws.root, server, supplier, seed_api_client(server, set_env=False),
                            monkeypatch)
    else:
        point_at_portal(ws.root, server, supplier, monkeypatch)
    ws.__dict__.pop("settings", None)
    folder = ws.root / ("inputs" if portal == "sandbox" else f"inputs-{portal}")
    folder.mkdir()
    contract = {"number": number, "agency": AGENCY, "portal": portal, "supplier": SUPPLIER,
                "currency": "SAR", "ceiling": "100000000.00",
                "period": {"start": str(TODAY - timedelta(days=300)),
                           "end": str(TODAY + timedelta(days=300))},
                "vat_percent": "15", "claim_types": ["services-milestone"]}
    (folder / "contract.yaml").write_text(yaml.safe_dump(contract))
    api.add_contract(ws, folder / "contract.yaml")
    tax, reg = folder / "tax.pdf", folder / "registration.pdf"
    for path, kind in ((tax, "tax-certificate"), (reg, "registration-certificate")):
        make_certificate_pdf(path, kind=kind, title=kind.replace("-", " ").title(),
                             holder=SUPPLIER, issue_date=TODAY - timedelta(days=30),
                             expiry_date=TODAY + timedelta(days=330))
    invoices, claims = [], []
    for i in range(1, n + 1):
        inv_no = f"{number}-INV-{i:03d}"
        amount = Decimal(1000 + i)
        vat = (amount * Decimal("0.15")).quantize(Decimal("0.01"))
        invoices.append({"number": inv_no, "issue_date": str(TODAY - timedelta(days=10)),
                         "currency": "SAR", "customer": AGENCY, "contract_number": number,
                         "lines": [{"description": "Works", "quantity": "1",
                                    "unit_price": f"{amount}.00", "net": f"{amount}.00",
                                    "vat": str(vat)}],
                         "net": f"{amount}.00", "vat": str(vat), "total": str(amount + vat)})
        inv_pdf, cc = folder / f"{inv_no}.pdf", folder / f"{inv_no}-cc.pdf"
        make_invoice_pdf(inv_pdf, supplier=SUPPLIER, customer=AGENCY, number=inv_no,
                         issue_date=TODAY - timedelta(days=10), currency="SAR",
                         lines=[("Works", Decimal(1), amount)], vat_percent=Decimal(15))
        make_certificate_pdf(cc, kind="completion-certificate", title="Certificate of Completion",
                             holder=SUPPLIER, number_reference=inv_no,
                             issue_date=TODAY - timedelta(days=5))
        claims.append((inv_no, [("invoice", str(inv_pdf)), ("completion-certificate", str(cc)),
                                ("tax-certificate", str(tax)),
                                ("registration-certificate", str(reg))]))
    (folder / "invoices.json").write_text(json.dumps(invoices))
    api.add_invoices(ws, folder / "invoices.json")
    for inv_no, docs in claims:
        claim = api.new_claim(ws, number, inv_no, docs, milestone="M1")
        api.build_claim(ws, claim.id, as_of=TODAY)
    return supplier


def portal_claims(server: SandboxServer, contract: str) -> list[dict]:
    return [c for c in server.backoffice.claims() if c.get("contract_number") == contract]
