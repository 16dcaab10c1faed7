"""The sample files of ``claims init --with-samples``: a contract, invoices and real PDFs.

Dates are relative to today so the sample certificates are valid whenever it is run. Claims 1
and 2 are valid; claim 3 (invoice INV-2026-0103) is not: its tax certificate expired ten days
ago (``E-DOC-006``), so a newcomer sees what a finding looks like and how it blocks a build.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from claims.core.money import quantize
from claims.samples.pdfs import make_certificate_pdf, make_invoice_pdf

SUPPLIER = "Gulf Engineering Services LLC"
AGENCY = "Ministry of Public Works"
VAT = Decimal(15)
#: The sample claim that fails validation (an expired tax certificate).
FAILING_INVOICE = "INV-2026-0103"


def _invoice(number: str, issued: date, lines: list[tuple[str, Decimal, Decimal]],
             contract: str) -> dict[str, Any]:
    rows, net, vat = [], Decimal(0), Decimal(0)
    for description, qty, price in lines:
        line_net = quantize(qty * price)
        line_vat = quantize(line_net * VAT / 100)
        rows.append({"description": description, "quantity": str(qty), "unit_price": str(price),
                     "net": str(line_net), "vat": str(line_vat)})
        net, vat = net + line_net, vat + line_vat
    return {"number": number, "issue_date": issued.isoformat(),
            "due_date": (issued + timedelta(days=30)).isoformat(), "currency": "SAR",
            "customer": AGENCY, "contract_number": contract, "lines": rows,
            "net": str(net), "vat": str(vat), "total": str(net + vat)}


def write_samples(folder: Path, today: date | None = None) -> dict[str, Any]:
    """Write the sample files into ``folder``; returns what was written (no workspace needed)."""
    today = today or date.today()
    folder.mkdir(parents=True, exist_ok=True)
    contract = {
        "number": "C-2026-014", "title": "Road maintenance, northern district",
        "agency": AGENCY, "portal": "sandbox", "supplier": SUPPLIER, "currency": "SAR",
        "ceiling": "2500000.00",
        "period": {"start": (today - timedelta(days=300)).isoformat(),
                   "end": (today + timedelta(days=400)).isoformat()},
        "vat_percent": "15", "retention_percent": "5",
        "payment_terms": {"kind": "net", "days": 30},
        "rounding": {"mode": "half-up", "places": 2, "per": "line"},
        "claim_types": ["services-milestone"],
    }
    (folder / "contract.yaml").write_text(yaml.safe_dump(contract, sort_keys=False))
    invoices = [
        _invoice("INV-2026-0101", today - timedelta(days=20),
                 [("Milestone 3: resurfacing, 4.2 km", Decimal(1), Decimal("84000.00")),
                  ("Traffic management", Decimal(12), Decimal("1250.00"))], contract["number"]),
        _invoice("INV-2026-0102", today - timedelta(days=5),
                 [("Milestone 4: drainage works", Decimal(1), Decimal("56500.00")),
                  ("Site supervision (days)", Decimal(9), Decimal("1100.00"))],
                 contract["number"]),
        # the failing sample: claimed with a tax certificate that has expired (see below)
        _invoice(FAILING_INVOICE, today - timedelta(days=3),
                 [("Milestone 5: signage", Decimal(1), Decimal("18200.00"))],
                 contract["number"]),
    ]
    (folder / "invoices.json").write_text(json.dumps({"invoices": invoices}, indent=2))
    claims = []
    for i, inv in enumerate(invoices, start=1):
        number = inv["number"]
        issued = date.fromisoformat(inv["issue_date"])
        docs = {}
        docs["invoice"] = folder / f"{number}.pdf"
        make_invoice_pdf(docs["invoice"], supplier=SUPPLIER, customer=AGENCY, number=number,
                         issue_date=issued, currency="SAR",
                         lines=[(ln["description"], Decimal(ln["quantity"]),
                                 Decimal(ln["unit_price"])) for ln in inv["lines"]],
                         vat_percent=VAT)
        docs["completion-certificate"] = folder / f"{number}-completion.pdf"
        make_certificate_pdf(docs["completion-certificate"], kind="completion-certificate",
                             title="Certificate of Completion", holder=SUPPLIER,
                             number_reference=number, issue_date=issued - timedelta(days=2))
        docs["tax-certificate"] = folder / "tax-certificate.pdf"
        docs["registration-certificate"] = folder / "registration-certificate.pdf"
        if i == 1:
            make_certificate_pdf(docs["tax-certificate"], kind="tax-certificate",
                                 title="Zakat and Tax Certificate", holder=SUPPLIER,
                                 number_reference=None, issue_date=today - timedelta(days=100),
                                 expiry_date=today + timedelta(days=265))
            make_certificate_pdf(docs["registration-certificate"],
                                 kind="registration-certificate",
                                 title="Commercial Registration", holder=SUPPLIER,
                                 number_reference=None, issue_date=today - timedelta(days=700),
                                 expiry_date=today + timedelta(days=395))
        if number == FAILING_INVOICE:  # an expired tax certificate: E-DOC-006 on validate
            docs["tax-certificate"] = folder / "tax-certificate-expired.pdf"
            make_certificate_pdf(docs["tax-certificate"], kind="tax-certificate",
                                 title="Zakat and Tax Certificate", holder=SUPPLIER,
                                 number_reference=None, issue_date=today - timedelta(days=375),
                                 expiry_date=today - timedelta(days=10))
        claims.append({"contract": contract["number"], "invoice": number,
                       "milestone": inv["lines"][0]["description"].split(":")[0],
                       "documents": [(t, str(p)) for t, p in docs.items()]})
    return {"folder": folder, "contract_file": folder / "contract.yaml",
            "invoices_file": folder / "invoices.json", "contract": contract["number"],
            "claims": claims}

