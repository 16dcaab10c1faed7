"""Factur-X / ZUGFeRD: the CII XML (UN/CEFACT Cross Industry Invoice) embedded in a PDF/A-3.

The XML is taken from the PDF's embedded files with pypdf (``factur-x.xml``, ``zugferd-invoice.xml``
or ``xrechnung.xml``), parsed safely, and its totals recomputed as for UBL (EN 16931: BR-CO-10
… BR-CO-16 and the VAT breakdown, at the tolerances of :mod:`claims.sources.en16931`). The
PDF itself becomes the invoice's document. The same mapping as UBL applies: allowances / charges
become lines, a credit note (type 381) is negated.

Profiles (the guideline ID, BT-24): MINIMUM and BASIC WL carry header totals and no lines, so
the invoice is stored with its header totals and no lines (the line rules are not checked);
BASIC, EN 16931 and EXTENDED have lines; EXTENDED's logistics service charges count as
charges (BR-CO-12). ZUGFeRD 1.0 (a ``CrossIndustryDocument``) is refused with a message that
says so.
"""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from typing import Any

from claims.core.models import InvoiceLine
from claims.errors import InputError
from claims.sources.common import (
    ContactRef, CustomerRef, SourceInvoice, check_currency, make_invoice, money2, plain,
)
from claims.sources.en16931 import ZERO, AllowanceCharge, Draft, negate, normalise_name
from claims.sources.xmlsafe import Reader, parse_xml

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}
XML_NAMES = ("factur-x.xml", "zugferd-invoice.xml", "ZUGFeRD-invoice.xml", "xrechnung.xml")
CREDIT_NOTE_TYPES = {"381", "396", "261", "262"}
ZUGFERD_1_NS = "urn:ferd:CrossIndustryDocument:invoice:1p0"
#: Guideline IDs (BT-24) of the profiles without lines: MINIMUM and BASIC WL.
HEADER_ONLY_PROFILES = ("minimum", "basicwl")


def extract_xml(pdf: bytes, *, file: str) -> tuple[str, bytes]:
    """(attachment name, XML bytes) of the Factur-X / ZUGFeRD invoice embedded in ``pdf``."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    if not pdf.startswith(b"%PDF"):
        raise InputError("is not a PDF (Factur-X is a PDF/A-3 with the invoice XML inside)",
                         file=file, rule="facturx-pdf")
    try:
        attachments = PdfReader(io.BytesIO(pdf)).attachments
        names = list(attachments)
        for name in XML_NAMES:
            if name in attachments:
                return name, attachments[name][0]
    except (PyPdfError, ValueError, KeyError, TypeError) as err:
        raise InputError(f"cannot read the PDF ({type(err).__name__}: {err})", file=file,
                         rule="facturx-pdf") from err
    raise InputError(f"has no embedded Factur-X / ZUGFeRD XML (looked for {', '.join(XML_NAMES)}"
                     f"; found {', '.join(names) or 'no attachments'})", file=file,
                     field="EmbeddedFiles", rule="facturx-attachment")


def _date(r: Reader, path: str) -> date | None:
    text = r.text(path)
    if text is None:
        return None
    try:
        return date(int(text[0:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        raise InputError(f"{text!r} is not a date in format 102 (YYYYMMDD)", file=r.file,
                         field=path.split(":")[-1], rule="date-format") from None


def parse_facturx(pdf: bytes, *, file: str) -> SourceInvoice:
    """A :class:`SourceInvoice` from a Factur-X PDF (the PDF kept as its document)."""
    name, xml = extract_xml(pdf, file=file)
    item = parse_cii(xml, file=f"{file}!{name}")
    item.document, item.document_name, item.origin = pdf, file.rsplit("/", 1)[-1], file
    item.invoice = item.invoice.model_copy(update={"source": "facturx"})
    item.extra["attachment"] = name
    return item


def parse_cii(data: bytes, *, file: str) -> SourceInvoice:
    """A :class:`SourceInvoice` from CII XML, with findings for totals that disagree."""
    root = parse_xml(data, file=file)
    if root.tag.startswith(f"{{{ZUGFERD_1_NS}}}"):
        raise InputError("is ZUGFeRD 1.0 (a CrossIndustryDocument), which is not supported: only "
                         "ZUGFeRD 2 / Factur-X (CII CrossIndustryInvoice D16B) can be imported; "
                         "ask the sender for a ZUGFeRD 2 or Factur-X invoice", file=file,
                         rule="zugferd-1-unsupported")
    if root.tag != f"{{{NS['rsm']}}}CrossIndustryInvoice":
        raise InputError(f"root element {root.tag!r} is not a CII CrossIndustryInvoice",
                         file=file, rule="cii-root")
    doc = Reader(root, NS, file)
    draft = Draft(file)
    number = doc.required("rsm:ExchangedDocument/ram:ID")
    type_code = doc.text("rsm:ExchangedDocument/ram:TypeCode", "380") or "380"
    issue = _date(doc, "rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString")
    if issue is None:
        raise InputError("is missing", file=file, field="ExchangedDocument/IssueDateTime",
                         rule="required-element")
    tx = _child(doc, "rsm:SupplyChainTradeTransaction")
    st = _child(tx, "ram:ApplicableHeaderTradeSettlement")
    currency = check_currency(st.required("ram:InvoiceCurrencyCode"), file=file,
                              field="InvoiceCurrencyCode")
    guideline = doc.text("rsm:ExchangedDocumentContext/"
                         "ram:GuidelineSpecifiedDocumentContextParameter/ram:ID") or ""
    header_only = guideline.lower().endswith(HEADER_ONLY_PROFILES) and \
        not tx.all("ram:IncludedSupplyChainTradeLineItem")
    if not header_only:
        _read_lines(tx, draft)
    _read_adjustments(st, draft)
    breakdown, tax_sum = _read_vat(st, draft, header_only)
    totals = _read_totals(st, currency, tax_sum, draft, header_only)
    if header_only:
        draft.lines.clear()
    contract, customer = _buyer(tx)
    invoice = make_invoice(dict(
        number=number, issue_date=issue,
        due_date=_date(st, "ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime/udt:DateTimeString"),
        currency=currency, customer=customer.name if customer else "", contract_number=contract,
        period_start=_date(st, "ram:BillingSpecifiedPeriod/ram:StartDateTime/udt:DateTimeString"),
        period_end=_date(st, "ram:BillingSpecifiedPeriod/ram:EndDateTime/udt:DateTimeString"),
        lines=draft.lines, net=totals["basis"], vat=totals["tax"], total=totals["grand"],
        source="cii"), file=file)
    kind = "credit-note" if type_code in CREDIT_NOTE_TYPES else "invoice"
    if kind == "credit-note":
        invoice = negate(invoice)
    extra: dict[str, Any] = {
        "document_type": f"CII {type_code}", "negated": kind == "credit-note",
        "guideline": guideline or None, "header_only": header_only,
        "seller": _seller(tx),
        **draft.adjustments_json(),
        "vat_breakdown": breakdown, "line_extension": str(totals["line"]),
        "prepaid": str(totals["prepaid"]), "rounding": str(totals["rounding"]),
        "payable": str(totals["due"]),
        # BT-83 remittance information: what the buyer is asked to quote with the payment
        "payment_reference": st.text("ram:PaymentReference") or None}
    return SourceInvoice(invoice=invoice, origin=file, kind=kind,  # type: ignore[arg-type]
                         external_id=number, customer=customer, extra=extra,
                         findings=draft.findings)


def _child(r: Reader, path: str) -> Reader:
    """The element at ``path`` as a reader; InputError naming it if it is missing."""
    el = r.find(path)
    if el is None:
        raise InputError("is missing", file=r.file, field=path.split(":")[-1],
                         rule="required-element")
    return r.at(el)


def _read_lines(tx: Reader, draft: Draft) -> None:
    """The trade line items, each total checked against quantity × net price."""
    for i, li in enumerate(tx.all("ram:IncludedSupplyChainTradeLineItem"), start=1):
        where = f"IncludedSupplyChainTradeLineItem[{i}]"
        net = li.need_amount("ram:SpecifiedLineTradeSettlement/"
                             "ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount")
        qty = li.amount("ram:SpecifiedLineTradeDelivery/ram:BilledQuantity", Decimal(1)) or ZERO
        price = li.amount("ram:SpecifiedLineTradeAgreement/ram:NetPriceProductTradePrice/"
                          "ram:ChargeAmount", ZERO) or ZERO
        base = li.amount("ram:SpecifiedLineTradeAgreement/ram:NetPriceProductTradePrice/"
                         "ram:BasisQuantity", Decimal(1)) or Decimal(1)
        unit = price / base
        adjust = li.all("ram:SpecifiedLineTradeSettlement/ram:SpecifiedTradeAllowanceCharge")
        charges = sum((a.need_amount("ram:ActualAmount") for a in adjust
                       if a.text("ram:ChargeIndicator/udt:Indicator") == "true"), ZERO)
        allowances = sum((a.need_amount("ram:ActualAmount") for a in adjust
                          if a.text("ram:ChargeIndicator/udt:Indicator") != "true"), ZERO)
        draft.check_line(f"{where}/LineTotalAmount", net, qty, unit, allowances, charges)
        tax = "ram:SpecifiedLineTradeSettlement/ram:ApplicableTradeTax/"
        cat = li.text(tax + "ram:CategoryCode", "S") or "S"
        pct = li.amount(tax + "ram:RateApplicablePercent", ZERO) or ZERO
        draft.add_line(InvoiceLine(
            description=normalise_name(li.text("ram:SpecifiedTradeProduct/ram:Name"))
            or f"line {i}",
            quantity=qty, unit_price=unit, net=net, vat_percent=pct,
            vat=money2(net * pct / 100)), cat, pct)
    if not draft.lines:
        raise InputError("has no IncludedSupplyChainTradeLineItem", file=draft.file,
                         field="IncludedSupplyChainTradeLineItem", rule="cii-lines")


def _read_adjustments(st: Reader, draft: Draft) -> None:
    """The header allowances and charges (each becomes a line)."""
    for ac in st.all("ram:SpecifiedTradeAllowanceCharge"):
        charge = ac.required("ram:ChargeIndicator/udt:Indicator") == "true"
        item = AllowanceCharge(
            charge=charge, amount=ac.need_amount("ram:ActualAmount"),
            reason=ac.text("ram:Reason") or "", code=ac.text("ram:ReasonCode"),
            category=ac.text("ram:CategoryTradeTax/ram:CategoryCode", "S") or "S",
            percent=ac.amount("ram:CategoryTradeTax/ram:RateApplicablePercent", ZERO) or ZERO)
        draft.add_adjustment(
            item, f"{'Charge' if charge else 'Allowance'}: {item.reason}".strip())
    for lc in st.all("ram:SpecifiedLogisticsServiceCharge"):  # EXTENDED: a charge (BR-CO-12)
        item = AllowanceCharge(
            charge=True, amount=lc.need_amount("ram:AppliedAmount"),
            reason=lc.text("ram:Description") or "logistics service", code=None,
            category=lc.text("ram:AppliedTradeTax/ram:CategoryCode", "S") or "S",
            percent=lc.amount("ram:AppliedTradeTax/ram:RateApplicablePercent", ZERO) or ZERO)
        draft.add_adjustment(item, f"Charge: {item.reason}")


def _read_vat(st: Reader, draft: Draft,
              header_only: bool = False) -> tuple[list[dict[str, Any]], Decimal]:
    """The VAT breakdown, each entry checked (against the lines unless the profile has none);
    returns (breakdown, sum of the VAT amounts)."""
    breakdown = []
    tax_sum = ZERO
    for j, t in enumerate(st.all("ram:ApplicableTradeTax"), start=1):
        cat = t.required("ram:CategoryCode")
        pct = t.amount("ram:RateApplicablePercent", ZERO) or ZERO
        basis, calc = t.need_amount("ram:BasisAmount"), t.need_amount("ram:CalculatedAmount")
        tax_sum += calc
        if header_only:  # no lines to hold the basis against: its own VAT only
            draft.by_category[(cat, pct)] = basis
        draft.check_category(f"ApplicableTradeTax[{j}]", cat, pct, basis, calc)
        breakdown.append({"category": cat, "percent": str(pct), "taxable": str(basis),
                          "tax": str(calc)})
    if not header_only:
        draft.check_categories_present({(b["category"], Decimal(b["percent"]))
                                        for b in breakdown}, "ApplicableTradeTax")
    return breakdown, tax_sum


def _read_totals(st: Reader, currency: str, tax_sum: Decimal, draft: Draft,
                 header_only: bool = False) -> dict[str, Decimal]:
    """The header monetary summation, checked (BR-CO-10 … BR-CO-16; without lines, a
    MINIMUM or BASIC WL invoice, from BR-CO-13 on). Without a LineTotalAmount (MINIMUM) the
    line total is basis + allowances − charges."""
    sm = _child(st, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")
    charge_total = sm.amount("ram:ChargeTotalAmount", ZERO) or ZERO
    allow_total = sm.amount("ram:AllowanceTotalAmount", ZERO) or ZERO
    basis_total = sm.need_amount("ram:TaxBasisTotalAmount")
    line_total = sm.need_amount("ram:LineTotalAmount") if not header_only else \
        sm.amount("ram:LineTotalAmount", basis_total + allow_total - charge_total) or ZERO
    tax_els = [e for e in sm.el.findall("ram:TaxTotalAmount", NS)
               if e.get("currencyID") in (None, currency)]
    tax_total = Decimal(tax_els[0].text.strip()) if tax_els and tax_els[0].text else tax_sum
    grand = sm.need_amount("ram:GrandTotalAmount")
    prepaid = sm.amount("ram:TotalPrepaidAmount", ZERO) or ZERO
    rounding = sm.amount("ram:RoundingAmount", ZERO) or ZERO
    due = sm.need_amount("ram:DuePayableAmount")
    checks = (
        ("BR-CO-10", "LineTotalAmount", line_total, line_total if header_only else draft.line_sum),
        ("BR-CO-11", "AllowanceTotalAmount", allow_total, draft.allowances),
        ("BR-CO-12", "ChargeTotalAmount", charge_total, draft.charges),
        ("BR-CO-13", "TaxBasisTotalAmount", basis_total,
         line_total - allow_total + charge_total),
        ("BR-CO-14", "TaxTotalAmount", tax_total,  # MINIMUM has no breakdown to sum
         tax_total if header_only and not st.all("ram:ApplicableTradeTax") else tax_sum),
        ("BR-CO-15", "GrandTotalAmount", grand, basis_total + tax_total),
        ("BR-CO-16", "DuePayableAmount", due, grand - prepaid + rounding))
    draft.check(((rule, name, printed, expected,
                  f"{name} {plain(printed)} is not {plain(expected)} as recomputed")
                 for rule, name, printed, expected in checks),
                "SpecifiedTradeSettlementHeaderMonetarySummation")
    return {"line": line_total, "basis": basis_total, "tax": tax_total, "grand": grand,
            "prepaid": prepaid, "rounding": rounding, "due": due}


def _buyer(tx: Reader) -> tuple[str | None, CustomerRef | None]:
    """(contract number, buyer) from the header trade agreement, each None if absent."""
    agreement = tx.find("ram:ApplicableHeaderTradeAgreement")
    if agreement is None:
        return None, None
    ag = tx.at(agreement)
    contract = ag.text("ram:ContractReferencedDocument/ram:IssuerAssignedID")
    buyer_el = ag.find("ram:BuyerTradeParty")
    if buyer_el is None:
        return contract, None
    buyer = ag.at(buyer_el)
    contacts = tuple(
        ContactRef(name=normalise_name(c.text("ram:PersonName")) or "",
                   email=c.text("ram:EmailURIUniversalCommunication/ram:URIID"),
                   phone=c.text("ram:TelephoneUniversalCommunication/ram:CompleteNumber"))
        for c in buyer.all("ram:DefinedTradeContact"))
    return contract, CustomerRef(
        name=normalise_name(buyer.required("ram:Name")) or "", external_id=buyer.text("ram:ID"),
        tax_id=buyer.text("ram:SpecifiedTaxRegistration/ram:ID"), contacts=contacts)


def _seller(tx: Reader) -> dict[str, str | None]:
    """The seller's name and VAT number (BT-27, BT-31), whitespace normalised."""
    el = tx.find("ram:ApplicableHeaderTradeAgreement/ram:SellerTradeParty")
    if el is None:
        return {"name": None, "vat_number": None}
    seller = tx.at(el)
    vat = [r.text("ram:ID") for r in seller.all("ram:SpecifiedTaxRegistration")
           if (r.attr("ram:ID", "schemeID") or "VA") == "VA"]
    return {"name": normalise_name(seller.text("ram:Name")), "vat_number": vat[0] if vat else None}
