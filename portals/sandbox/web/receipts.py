"""Receipts and payment advices: the receipt page and the PDFs the portal hands out."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from fpdf import FPDF
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portals.sandbox import db
from portals.sandbox.web.claim_pages import claim_gone, own_claim
from portals.sandbox.web.core import fmt_money, page, portal_of, render


@page("receipt")
async def receipt_page(request: Request) -> Response:
    """The receipt shown right after a claim is filed."""
    with portal_of(request).Session() as s:
        claim = own_claim(s, request)
        if claim is None:
            return claim_gone(request)
        return render(
            request,
            "receipt.html",
            title="Claim submitted",
            claim=claim,
            fmt_money=fmt_money,
            submitted_at=db.aware(claim.status_at),
        )


def receipt_pdf_bytes(claim: db.Claim) -> bytes:
    """The receipt as a PDF: the claim's details and every document's SHA-256."""

    def latin(text: str) -> str:
        """``text`` with what latin-1 cannot encode replaced (the core PDF fonts' limit)."""
        return text.encode("latin-1", "replace").decode("latin-1")

    pdf = FPDF()
    pdf.set_title(f"Receipt {claim.reference}")
    pdf.set_creation_date(claim.status_at.replace(tzinfo=dt.UTC))
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, "Agency e-Claims Portal - claim receipt", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=11)
    rows = [
        ("Reference", claim.reference or ""),
        ("Received (UTC)", db.aware(claim.status_at).isoformat()),  # type: ignore[union-attr]
        ("Contract", claim.contract.number),
        ("Invoice", f"{claim.invoice_number} of {claim.invoice_date}"),
        ("Period", f"{claim.period_start} to {claim.period_end}"),
        ("Net", f"{claim.currency} {fmt_money(claim.net)}"),
        ("VAT", f"{claim.currency} {fmt_money(claim.vat)}"),
        ("Total", f"{claim.currency} {fmt_money(claim.total)}"),
    ]
    for key, value in rows:
        pdf.cell(0, 7, latin(f"{key}: {value}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.cell(0, 7, "Documents received:", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Courier", size=8)
    for f in claim.files:
        pdf.multi_cell(
            0,
            5,
            latin(f"{f.document_type}: {f.filename} ({f.size} bytes) sha256 {f.sha256}"),
            new_x="LMARGIN",
            new_y="NEXT",
        )
    return bytes(pdf.output())


def payment_advice_bytes(claim: db.Claim) -> bytes:
    """The payment advice as a PDF: every payment and the total paid."""
    pdf = FPDF()
    pdf.set_title(f"Payment advice {claim.reference}")
    pdf.set_creation_date(claim.status_at.replace(tzinfo=dt.UTC))
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, "Agency e-Claims Portal - payment advice", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=11)
    pdf.cell(
        0,
        7,
        f"Claim {claim.reference}, invoice {claim.invoice_number}, contract "
        f"{claim.contract.number}",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    paid = Decimal(0)
    for p in claim.payments:
        paid += Decimal(p.amount)
        pdf.cell(
            0,
            7,
            f"{p.paid_on}  {claim.currency} {fmt_money(p.amount)}  ref {p.reference}",
            new_x="LMARGIN",
            new_y="NEXT",
        )
    pdf.cell(
        0,
        7,
        f"Paid {claim.currency} {fmt_money(paid)} of {fmt_money(claim.total)}",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    return bytes(pdf.output())


@page("claim")
async def payment_advice_pdf(request: Request) -> Response:
    """Download the payment advice of a claim with payments."""
    with portal_of(request).Session() as s:
        claim = own_claim(s, request)
        if claim is None or not claim.payments:
            return claim_gone(request)
        body = payment_advice_bytes(claim)
        name = f"payment-advice-{claim.reference}.pdf"
    return Response(
        body,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@page("receipt")
async def receipt_pdf(request: Request) -> Response:
    """Download the receipt PDF."""
    with portal_of(request).Session() as s:
        claim = own_claim(s, request)
        if claim is None:
            return claim_gone(request)
        body = receipt_pdf_bytes(claim)
        name = f"receipt-{claim.reference}.pdf"
    return Response(
        body,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


#: the receipt pages and PDFs, for :func:`portals.sandbox.app.create_app`
ROUTES = [
    Route("/claims/{ref}/receipt", receipt_page),
    Route("/claims/{ref}/receipt.pdf", receipt_pdf),
    Route("/claims/{ref}/payment-advice.pdf", payment_advice_pdf),
]
