"""UBL 2.1 invoices and credit notes as in PEPPOL BIS Billing 3.0 (EN 16931).

Every total is recomputed from the lines, allowances and charges (BR-CO-10 … BR-CO-16, and the
VAT breakdown per category, BR-S-08/09 and friends); a disagreement is an error finding.

How the document maps onto the core :class:`~claims.core.models.Invoice` (which has only lines):

* ``net`` / ``vat`` / ``total`` are ``TaxExclusiveAmount`` / ``TaxAmount`` / ``TaxInclusiveAmount``
  (the core checks total = net + VAT; prepaid and rounding only change the *payable* amount,
  which is kept in the origin record with ``PayableAmount``).
* Document-level allowances and charges become extra lines (quantity 1, negative for an
  allowance) so that net = sum of lines holds for the core validation; the structured list
  (reason, code, category, rate) and the VAT breakdown stay in the origin's ``extra``.
* A CreditNote — or an ``Invoice`` whose ``InvoiceTypeCode`` is 381, as ZATCA writes its credit
  notes — is stored with every amount negated and ``kind = "credit-note"``: what is owed then
  sums correctly in SQL, and the claims validation refuses it as a claimable invoice. A debit
  note (383) is a receivable like an invoice; ``extra["document_kind"]`` says which it is.
* Third-party payments of the XRechnung extension (``cac:PrepaidPayment``, BR-DEX-09) count
  towards the payable amount.
* The seller (``extra["seller"]``: name and VAT number) is kept; party names have their runs of
  whitespace made one space.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

from claims.core.importers import read_file
from claims.core.models import InvoiceLine
from claims.errors import InputError
from claims.sources.common import (
    ContactRef, CustomerRef, SourceInvoice, check_currency, make_invoice, money2, parse_iso_date,
    plain,
)
from claims.sources.en16931 import (
    LINE_TOLERANCE, ZERO, AllowanceCharge, Draft, negate, normalise_name,
)
from claims.sources.xmlsafe import Reader, parse_xml

NS = {
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
    "ext": "urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2",
}
INVOICE_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
CREDIT_NOTE_NS = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
#: UNTDID 1001 codes of a credit note and of a debit note, when the root is an ``Invoice``.
CREDIT_NOTE_CODES = {"381", "396", "261", "262"}
DEBIT_NOTE_CODES = {"383", "384"}


def read_ubl(path: Path, *, source: str = "ubl") -> SourceInvoice:
    """Read one UBL Invoice or CreditNote file; see :func:`parse_ubl`."""
    return parse_ubl(read_file(path), file=str(path), source=source)


def parse_ubl(data: bytes, *, file: str, source: str = "ubl") -> SourceInvoice:
    """A :class:`SourceInvoice` from UBL bytes, with findings for every total that disagrees."""
    root = parse_xml(data, file=file)
    kind, line_tag, qty_tag = _document_kind(root, file)
    doc = Reader(root, NS, file)
    draft = Draft(file)
    number = doc.required("cbc:ID")
    currency = check_currency(doc.required("cbc:DocumentCurrencyCode"), file=file,
                              field="DocumentCurrencyCode")
    issue = parse_iso_date(doc.required("cbc:IssueDate"), file=file, field="IssueDate")
    due_text = doc.text("cbc:DueDate") or doc.text("cac:PaymentMeans/cbc:PaymentDueDate")
    due = parse_iso_date(due_text, file=file, field="DueDate") if due_text else None
    _check_currencies(root, currency, draft)
    _read_lines(doc, line_tag, qty_tag, draft)
    _read_adjustments(doc, draft)
    vat = _read_vat(doc, currency, draft)
    totals = _read_totals(doc, vat.tax_total, draft)
    customer = _customer(doc)
    invoice = make_invoice(dict(
        number=number, issue_date=issue, due_date=due, currency=currency,
        customer=customer.name if customer else "",
        contract_number=doc.text("cac:ContractDocumentReference/cbc:ID"),
        period_start=_opt_date(doc, "cac:InvoicePeriod/cbc:StartDate"),
        period_end=_opt_date(doc, "cac:InvoicePeriod/cbc:EndDate"),
        lines=draft.lines, net=totals["tax_exclusive"], vat=vat.tax_total,
        total=totals["tax_inclusive"], source=source), file=file)
    type_code = doc.text("cbc:InvoiceTypeCode") or ""
    if kind == "invoice" and type_code in CREDIT_NOTE_CODES:
        kind = "credit-note"
    if kind == "credit-note":
        invoice = negate(invoice)
    extra = _extra(doc, root, kind, draft, vat, totals)
    extra["document_kind"] = "debit-note" if type_code in DEBIT_NOTE_CODES else kind
    return SourceInvoice(invoice=invoice, origin=file, kind=kind,  # type: ignore[arg-type]
                         external_id=number, customer=customer, extra=extra,
                         findings=draft.findings)


def _document_kind(root: Element, file: str) -> tuple[str, str, str]:
    """(kind, line tag, quantity tag) of an Invoice or a CreditNote; InputError otherwise."""
    if root.tag == f"{{{INVOICE_NS}}}Invoice":
        return "invoice", "cac:InvoiceLine", "cbc:InvoicedQuantity"
    if root.tag == f"{{{CREDIT_NOTE_NS}}}CreditNote":
        return "credit-note", "cac:CreditNoteLine", "cbc:CreditedQuantity"
    raise InputError(f"root element {root.tag!r} is not a UBL 2.1 Invoice or CreditNote",
                     file=file, rule="ubl-root")


def _check_currencies(root: Element, currency: str, draft: Draft) -> None:
    """A finding for every amount (but tax amounts) in another currency than the document's."""
    for el in root.iter():
        cur = el.get("currencyID")
        if cur is not None and cur != currency and not el.tag.endswith("}TaxAmount"):
            draft.finding("E-UBL-CUR", f"amount in {cur}, the document is in {currency}",
                          el.tag.split("}")[-1])


def _read_lines(doc: Reader, line_tag: str, qty_tag: str, draft: Draft) -> None:
    """The invoice (or credit note) lines, each net checked against quantity × price."""
    for i, ln in enumerate(doc.all(line_tag), start=1):
        where = f"{line_tag.split(':')[1]}[{i}]"
        net = ln.need_amount("cbc:LineExtensionAmount")
        qty = ln.amount(qty_tag, Decimal(1)) or ZERO
        price = ln.amount("cac:Price/cbc:PriceAmount", ZERO) or ZERO
        base = ln.amount("cac:Price/cbc:BaseQuantity", Decimal(1)) or Decimal(1)
        unit = price / base
        line_allow = sum((a.need_amount("cbc:Amount") for a in ln.all("cac:AllowanceCharge")
                          if a.text("cbc:ChargeIndicator") == "false"), ZERO)
        line_charge = sum((a.need_amount("cbc:Amount") for a in ln.all("cac:AllowanceCharge")
                           if a.text("cbc:ChargeIndicator") == "true"), ZERO)
        draft.check_line(f"{where}/LineExtensionAmount", net, qty, unit, line_allow, line_charge)
        cat = ln.text("cac:Item/cac:ClassifiedTaxCategory/cbc:ID", "S") or "S"
        pct = ln.amount("cac:Item/cac:ClassifiedTaxCategory/cbc:Percent", ZERO) or ZERO
        name = normalise_name(ln.text("cac:Item/cbc:Name") or ln.text("cac:Item/cbc:Description")
                              or f"line {i}")
        draft.add_line(InvoiceLine(description=name, quantity=qty, unit_price=unit, net=net,
                                   vat_percent=pct, vat=money2(net * pct / 100)), cat, pct)
    if not draft.lines:
        raise InputError(f"has no {line_tag.split(':')[1]}", file=draft.file, field=line_tag,
                         rule="ubl-lines")


def _read_adjustments(doc: Reader, draft: Draft) -> None:
    """The document-level allowances and charges (each becomes a line)."""
    for i, ac in enumerate(doc.all("cac:AllowanceCharge"), start=1):
        indicator = ac.required("cbc:ChargeIndicator")
        if indicator not in ("true", "false"):
            raise InputError(f"{indicator!r} is not true or false", file=draft.file,
                             field=f"AllowanceCharge[{i}]/ChargeIndicator", rule="boolean")
        amount = ac.need_amount("cbc:Amount")
        base_amount, factor = ac.amount("cbc:BaseAmount"), ac.amount("cbc:MultiplierFactorNumeric")
        if base_amount is not None and factor is not None and \
                abs(base_amount * factor / 100 - amount) > LINE_TOLERANCE:
            draft.finding("W-PEPPOL-EN16931-R040", f"amount {plain(amount)} is not "
                          f"{plain(factor)}% of {plain(base_amount)} (PEPPOL allows "
                          f"{LINE_TOLERANCE})", f"AllowanceCharge[{i}]/Amount", "warning")
        item = AllowanceCharge(
            charge=indicator == "true", amount=amount,
            reason=ac.text("cbc:AllowanceChargeReason") or "",
            code=ac.text("cbc:AllowanceChargeReasonCode"),
            category=ac.text("cac:TaxCategory/cbc:ID", "S") or "S",
            percent=ac.amount("cac:TaxCategory/cbc:Percent", ZERO) or ZERO)
        label = "Charge" if item.charge else "Allowance"
        draft.add_adjustment(item, f"{label}: {item.reason or item.code or ''}".strip())


@dataclass
class _Vat:
    """The VAT of a UBL document: total and breakdown in the document currency, and the total
    in the tax currency if there is one."""

    tax_total: Decimal
    breakdown: list[dict[str, Any]]
    tax_currency: str | None
    tax_in_tax_currency: Decimal | None


def _read_vat(doc: Reader, currency: str, draft: Draft) -> _Vat:
    """The VAT breakdown (in the document currency), each subtotal checked."""
    tax_totals = doc.all("cac:TaxTotal")
    main = [t for t in tax_totals if t.attr("cbc:TaxAmount", "currencyID") in (None, currency)]
    if not main:
        raise InputError("no TaxTotal in the document currency", file=draft.file,
                         field="TaxTotal", rule="ubl-taxtotal")
    # ZATCA repeats the total in the tax currency without subtotals: take the one that has them
    main.sort(key=lambda t: not t.all("cac:TaxSubtotal"))
    tax_total = main[0].need_amount("cbc:TaxAmount")
    breakdown = [_subtotal(j, sub, draft)
                 for j, sub in enumerate(main[0].all("cac:TaxSubtotal"), start=1)]
    draft.check_categories_present({(b["category"], Decimal(b["percent"])) for b in breakdown},
                                   "TaxTotal/TaxSubtotal")
    sub_sum = sum((Decimal(b["tax"]) for b in breakdown), ZERO)
    if sub_sum != tax_total:
        draft.finding("E-BR-CO-14", f"TaxAmount {plain(tax_total)} is not the sum of the "
                      f"subtotals {plain(sub_sum)}", "TaxTotal/TaxAmount")
    tax_currency = doc.text("cbc:TaxCurrencyCode")
    tax_in_tax_currency = None
    if tax_currency:
        check_currency(tax_currency, file=draft.file, field="TaxCurrencyCode")
        other = [t for t in tax_totals if t.attr("cbc:TaxAmount", "currencyID") == tax_currency]
        tax_in_tax_currency = other[0].amount("cbc:TaxAmount") if other else None
    return _Vat(tax_total, breakdown, tax_currency, tax_in_tax_currency)


def _subtotal(j: int, sub: Reader, draft: Draft) -> dict[str, Any]:
    """One TaxSubtotal, checked against the lines of its category; its breakdown entry."""
    cat = sub.required("cac:TaxCategory/cbc:ID")
    pct = sub.amount("cac:TaxCategory/cbc:Percent", ZERO) or ZERO
    taxable, tax = sub.need_amount("cbc:TaxableAmount"), sub.need_amount("cbc:TaxAmount")
    draft.check_category(f"TaxSubtotal[{j}]", cat, pct, taxable, tax)
    return {"category": cat, "percent": str(pct), "taxable": str(taxable), "tax": str(tax),
            "exemption_reason": sub.text("cac:TaxCategory/cbc:TaxExemptionReason")}


def _read_totals(doc: Reader, tax_total: Decimal, draft: Draft) -> dict[str, Decimal]:
    """The LegalMonetaryTotal amounts, checked (BR-CO-10 … BR-CO-16)."""
    totals_el = doc.find("cac:LegalMonetaryTotal")
    if totals_el is None:
        raise InputError("is missing", file=draft.file, field="LegalMonetaryTotal",
                         rule="required-element")
    mt = doc.at(totals_el)
    line_ext = mt.need_amount("cbc:LineExtensionAmount")
    tax_excl = mt.need_amount("cbc:TaxExclusiveAmount")
    tax_incl = mt.need_amount("cbc:TaxInclusiveAmount")
    allow_total = mt.amount("cbc:AllowanceTotalAmount", ZERO) or ZERO
    charge_total = mt.amount("cbc:ChargeTotalAmount", ZERO) or ZERO
    prepaid = mt.amount("cbc:PrepaidAmount", ZERO) or ZERO
    rounding = mt.amount("cbc:PayableRoundingAmount", ZERO) or ZERO
    payable = mt.need_amount("cbc:PayableAmount")
    third_party = sum((p.need_amount("cbc:PaidAmount") for p in doc.all("cac:PrepaidPayment")),
                      ZERO)
    payable_how = "tax inclusive − prepaid + rounding" + (
        f" + third-party payments {plain(third_party)} (BR-DEX-09)" if third_party else "")
    checks = [
        ("BR-CO-10", "LineExtensionAmount", line_ext, draft.line_sum,
         "the sum of the line nets"),
        ("BR-CO-11", "AllowanceTotalAmount", allow_total, draft.allowances,
         "the sum of allowances"),
        ("BR-CO-12", "ChargeTotalAmount", charge_total, draft.charges, "the sum of charges"),
        ("BR-CO-13", "TaxExclusiveAmount", tax_excl, line_ext - allow_total + charge_total,
         "lines − allowances + charges"),
        ("BR-CO-15", "TaxInclusiveAmount", tax_incl, tax_excl + tax_total,
         "tax exclusive + VAT"),
        ("BR-CO-16", "PayableAmount", payable, tax_incl - prepaid + rounding + third_party,
         payable_how),
    ]
    draft.check(((rule, name, printed, expected,
                  f"{name} {plain(printed)} is not {how} ({plain(expected)})")
                 for rule, name, printed, expected, how in checks), "LegalMonetaryTotal")
    return {"line_extension": line_ext, "tax_exclusive": tax_excl, "tax_inclusive": tax_incl,
            "prepaid": prepaid, "rounding": rounding, "payable": payable}


def _extra(doc: Reader, root: Element, kind: str, draft: Draft, vat: _Vat,
           totals: dict[str, Decimal]) -> dict[str, Any]:
    """What the origin record keeps beyond the core invoice (amounts as printed)."""
    return {"document_type": root.tag.split("}")[1],
            # the amounts below are as printed; the stored invoice of a credit note is negated
            "negated": kind == "credit-note",
            "customization_id": doc.text("cbc:CustomizationID"),
            "profile_id": doc.text("cbc:ProfileID"),
            "type_code": doc.text("cbc:InvoiceTypeCode") or doc.text("cbc:CreditNoteTypeCode"),
            "buyer_reference": doc.text("cbc:BuyerReference"),
            "order_reference": doc.text("cac:OrderReference/cbc:ID"),
            "billing_reference": doc.text(
                "cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID"),
            **draft.adjustments_json(),
            "vat_breakdown": vat.breakdown, "line_extension": str(totals["line_extension"]),
            "prepaid": str(totals["prepaid"]), "rounding": str(totals["rounding"]),
            "payable": str(totals["payable"]), "seller": _seller(doc),
            # BT-83 remittance information: what the buyer is asked to quote with the payment
            "payment_reference": doc.text("cac:PaymentMeans/cbc:PaymentID") or None,
            "tax_currency": vat.tax_currency,
            "tax_in_tax_currency": str(vat.tax_in_tax_currency)
            if vat.tax_in_tax_currency else None}


def _opt_date(doc: Reader, path: str) -> Any:
    text = doc.text(path)
    return parse_iso_date(text, file=doc.file, field=path.split(":")[-1]) if text else None


def _seller(doc: Reader) -> dict[str, str | None]:
    """The seller's name (legal, else trading) and VAT number, whitespace normalised."""
    party = "cac:AccountingSupplierParty/cac:Party/"
    return {"name": normalise_name(doc.text(party + "cac:PartyLegalEntity/cbc:RegistrationName")
                                   or doc.text(party + "cac:PartyName/cbc:Name")),
            "vat_number": doc.text(party + "cac:PartyTaxScheme/cbc:CompanyID")}


def _customer(doc: Reader) -> CustomerRef | None:
    el = doc.find("cac:AccountingCustomerParty/cac:Party")
    if el is None:
        return None
    party = doc.at(el)
    name = normalise_name(party.text("cac:PartyLegalEntity/cbc:RegistrationName")
                          or party.text("cac:PartyName/cbc:Name") or "") or ""
    if not name:
        raise InputError("the buyer has no name", file=doc.file,
                         field="AccountingCustomerParty/Party/PartyLegalEntity/RegistrationName",
                         rule="required-element")
    tax_id = (party.text("cac:PartyTaxScheme/cbc:CompanyID")
              or party.text("cac:PartyLegalEntity/cbc:CompanyID"))
    endpoint = party.text("cbc:EndpointID")
    scheme = party.attr("cbc:EndpointID", "schemeID")
    contacts = []
    c = party.find("cac:Contact")
    if c is not None:
        contact = party.at(c)
        if contact.text("cbc:Name") or contact.text("cbc:ElectronicMail"):
            contacts.append(ContactRef(name=normalise_name(contact.text("cbc:Name")) or "",
                                       email=contact.text("cbc:ElectronicMail"),
                                       phone=contact.text("cbc:Telephone")))
    return CustomerRef(name=name, external_id=f"{scheme}:{endpoint}" if endpoint else None,
                       tax_id=tax_id, contacts=tuple(contacts))
