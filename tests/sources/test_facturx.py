# ruff: noqa: E501  (invoice data: XML, CSV rows and expected tables read best unwrapped)
"""Factur-X / ZUGFeRD: a real PDF (fpdf2) with the CII XML embedded (pypdf), imported with the
PDF as the invoice's document; totals recomputed; bad PDFs and missing XML refused."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

import pytest
from fpdf import FPDF
from pypdf import PdfReader, PdfWriter
from sqlalchemy import select

from claims.errors import InputError
from claims.sources.api import import_xml_files
from claims.sources.common import ImportRejected
from claims.store.tables.sources import InvoiceOriginRow
from claims.store.tables import ContactRow, DocumentRow

CII = """<?xml version="1.0" encoding="UTF-8"?>
<rsm:CrossIndustryInvoice xmlns:rsm="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
 xmlns:ram="urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
 xmlns:udt="urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100">
 <rsm:ExchangedDocumentContext><ram:GuidelineSpecifiedDocumentContextParameter>
  <ram:ID>urn:cen.eu:en16931:2017</ram:ID></ram:GuidelineSpecifiedDocumentContextParameter>
 </rsm:ExchangedDocumentContext>
 <rsm:ExchangedDocument><ram:ID>{number}</ram:ID><ram:TypeCode>{type}</ram:TypeCode>
  <ram:IssueDateTime><udt:DateTimeString format="102">20260315</udt:DateTimeString></ram:IssueDateTime>
 </rsm:ExchangedDocument>
 <rsm:SupplyChainTradeTransaction>
  <ram:IncludedSupplyChainTradeLineItem>
   <ram:AssociatedDocumentLineDocument><ram:LineID>1</ram:LineID></ram:AssociatedDocumentLineDocument>
   <ram:SpecifiedTradeProduct><ram:Name>Wartung Heizungsanlage</ram:Name></ram:SpecifiedTradeProduct>
   <ram:SpecifiedLineTradeAgreement><ram:NetPriceProductTradePrice>
    <ram:ChargeAmount>95.00</ram:ChargeAmount></ram:NetPriceProductTradePrice></ram:SpecifiedLineTradeAgreement>
   <ram:SpecifiedLineTradeDelivery><ram:BilledQuantity unitCode="HUR">20</ram:BilledQuantity></ram:SpecifiedLineTradeDelivery>
   <ram:SpecifiedLineTradeSettlement>
    <ram:ApplicableTradeTax><ram:TypeCode>VAT</ram:TypeCode><ram:CategoryCode>S</ram:CategoryCode>
     <ram:RateApplicablePercent>19</ram:RateApplicablePercent></ram:ApplicableTradeTax>
    <ram:SpecifiedTradeSettlementLineMonetarySummation><ram:LineTotalAmount>1900.00</ram:LineTotalAmount>
    </ram:SpecifiedTradeSettlementLineMonetarySummation>
   </ram:SpecifiedLineTradeSettlement>
  </ram:IncludedSupplyChainTradeLineItem>
  <ram:IncludedSupplyChainTradeLineItem>
   <ram:AssociatedDocumentLineDocument><ram:LineID>2</ram:LineID></ram:AssociatedDocumentLineDocument>
   <ram:SpecifiedTradeProduct><ram:Name>Fachbuch</ram:Name></ram:SpecifiedTradeProduct>
   <ram:SpecifiedLineTradeAgreement><ram:NetPriceProductTradePrice>
    <ram:ChargeAmount>50.00</ram:ChargeAmount></ram:NetPriceProductTradePrice></ram:SpecifiedLineTradeAgreement>
   <ram:SpecifiedLineTradeDelivery><ram:BilledQuantity unitCode="C62">2</ram:BilledQuantity></ram:SpecifiedLineTradeDelivery>
   <ram:SpecifiedLineTradeSettlement>
    <ram:ApplicableTradeTax><ram:TypeCode>VAT</ram:TypeCode><ram:CategoryCode>S</ram:CategoryCode>
     <ram:RateApplicablePercent>7</ram:RateApplicablePercent></ram:ApplicableTradeTax>
    <ram:SpecifiedTradeSettlementLineMonetarySummation><ram:LineTotalAmount>100.00</ram:LineTotalAmount>
    </ram:SpecifiedTradeSettlementLineMonetarySummation>
   </ram:SpecifiedLineTradeSettlement>
  </ram:IncludedSupplyChainTradeLineItem>
  <ram:ApplicableHeaderTradeAgreement>
   <ram:SellerTradeParty><ram:Name>Heizung Müller GmbH</ram:Name></ram:SellerTradeParty>
   <ram:BuyerTradeParty><ram:ID>K-4711</ram:ID><ram:Name>Landesamt für Bau</ram:Name>
    <ram:DefinedTradeContact><ram:PersonName>Erika Kasse</ram:PersonName>
     <ram:EmailURIUniversalCommunication><ram:URIID>rechnung@landesamt.de</ram:URIID></ram:EmailURIUniversalCommunication>
    </ram:DefinedTradeContact>
    <ram:SpecifiedTaxRegistration><ram:ID schemeID="VA">DE987654321</ram:ID></ram:SpecifiedTaxRegistration>
   </ram:BuyerTradeParty>
   <ram:ContractReferencedDocument><ram:IssuerAssignedID>V-2026-12</ram:IssuerAssignedID></ram:ContractReferencedDocument>
  </ram:ApplicableHeaderTradeAgreement>
  <ram:ApplicableHeaderTradeDelivery/>
  <ram:ApplicableHeaderTradeSettlement>
   <ram:InvoiceCurrencyCode>{currency}</ram:InvoiceCurrencyCode>
   <ram:ApplicableTradeTax><ram:CalculatedAmount>342.00</ram:CalculatedAmount><ram:TypeCode>VAT</ram:TypeCode>
    <ram:BasisAmount>1800.00</ram:BasisAmount><ram:CategoryCode>S</ram:CategoryCode>
    <ram:RateApplicablePercent>19</ram:RateApplicablePercent></ram:ApplicableTradeTax>
   <ram:ApplicableTradeTax><ram:CalculatedAmount>7.00</ram:CalculatedAmount><ram:TypeCode>VAT</ram:TypeCode>
    <ram:BasisAmount>100.00</ram:BasisAmount><ram:CategoryCode>S</ram:CategoryCode>
    <ram:RateApplicablePercent>7</ram:RateApplicablePercent></ram:ApplicableTradeTax>
   <ram:SpecifiedTradeAllowanceCharge><ram:ChargeIndicator><udt:Indicator>false</udt:Indicator></ram:ChargeIndicator>
    <ram:ActualAmount>100.00</ram:ActualAmount><ram:Reason>Rabatt</ram:Reason>
    <ram:CategoryTradeTax><ram:TypeCode>VAT</ram:TypeCode><ram:CategoryCode>S</ram:CategoryCode>
     <ram:RateApplicablePercent>19</ram:RateApplicablePercent></ram:CategoryTradeTax>
   </ram:SpecifiedTradeAllowanceCharge>
   <ram:SpecifiedTradePaymentTerms><ram:DueDateDateTime><udt:DateTimeString format="102">20260414</udt:DateTimeString></ram:DueDateDateTime></ram:SpecifiedTradePaymentTerms>
   <ram:SpecifiedTradeSettlementHeaderMonetarySummation>
    <ram:LineTotalAmount>2000.00</ram:LineTotalAmount><ram:ChargeTotalAmount>0.00</ram:ChargeTotalAmount>
    <ram:AllowanceTotalAmount>100.00</ram:AllowanceTotalAmount><ram:TaxBasisTotalAmount>1900.00</ram:TaxBasisTotalAmount>
    <ram:TaxTotalAmount currencyID="EUR">{tax}</ram:TaxTotalAmount><ram:GrandTotalAmount>2249.00</ram:GrandTotalAmount>
    <ram:TotalPrepaidAmount>0.00</ram:TotalPrepaidAmount><ram:DuePayableAmount>2249.00</ram:DuePayableAmount>
   </ram:SpecifiedTradeSettlementHeaderMonetarySummation>
  </ram:ApplicableHeaderTradeSettlement>
 </rsm:SupplyChainTradeTransaction>
</rsm:CrossIndustryInvoice>
"""


def cii(number="RE-2026-001", type="380", currency="EUR", tax="349.00") -> bytes:
    return CII.format(number=number, type=type, currency=currency, tax=tax).encode()


def facturx_pdf(path: Path, xml: bytes | None, name: str = "factur-x.xml") -> Path:
    """A real PDF with the invoice printed on it and, if given, the XML embedded."""
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(0, 10, "Rechnung RE-2026-001  -  Landesamt fuer Bau  -  2,249.00 EUR")
    writer = PdfWriter(clone_from=io.BytesIO(bytes(pdf.output())))
    if xml is not None:
        writer.add_attachment(name, xml)
    with path.open("wb") as f:
        writer.write(f)
    return path


def test_facturx_pdf_imports_with_its_pdf_as_document(ws, tmp_path) -> None:
    path = facturx_pdf(tmp_path / "RE-2026-001.pdf", cii())
    assert "factur-x.xml" in PdfReader(path).attachments
    batch = import_xml_files(ws, "facturx", [path])
    assert batch.added == ["RE-2026-001"] and not batch.findings
    inv = ws.store.get_invoice("RE-2026-001")
    assert (inv.net, inv.vat, inv.total) == (Decimal("1900.00"), Decimal("349.00"),
                                              Decimal("2249.00"))
    assert inv.contract_number == "V-2026-12" and inv.source == "facturx"
    assert sum((ln.net for ln in inv.lines), Decimal(0)) == inv.net   # the allowance is a line
    with ws.store.session() as s:
        origin = s.scalar(select(InvoiceOriginRow))
        doc = s.get(DocumentRow, origin.document_id)
        assert doc.media_type == "application/pdf"
        assert (ws.root / doc.stored_path).read_bytes() == path.read_bytes()
        assert origin.extra["allowances"][0]["reason"] == "Rabatt"
        assert s.scalar(select(ContactRow.email)) == "rechnung@landesamt.de"
    assert import_xml_files(ws, "facturx", [path]).unchanged == ["RE-2026-001"]


def test_zugferd_attachment_name_and_credit_note(ws, tmp_path) -> None:
    path = facturx_pdf(tmp_path / "gs.pdf", cii("GS-1", type="381"), name="zugferd-invoice.xml")
    import_xml_files(ws, "facturx", [path])
    assert ws.store.get_invoice("GS-1").total == Decimal("-2249.00")


def test_a_wrong_tax_total_is_a_finding_and_nothing_is_stored(ws, tmp_path) -> None:
    path = facturx_pdf(tmp_path / "bad.pdf", cii(tax="350.00"))
    with pytest.raises(ImportRejected) as err:
        import_xml_files(ws, "facturx", [path])
    codes = {f.code for f in err.value.findings}
    assert {"E-BR-CO-14", "E-BR-CO-15"} <= codes
    assert ws.store.list_invoices() == []
    assert not any((ws.root / "documents").rglob("*.pdf"))


@pytest.mark.parametrize("make, match", [
    (lambda p: facturx_pdf(p, None), "has no embedded Factur-X"),
    (lambda p: p.write_bytes(b"%PDF-1.7\n garbage") and p, "cannot read the PDF"),
    (lambda p: p.write_bytes(b"<xml/>") and p, "is not a PDF"),
    (lambda p: facturx_pdf(p, b"<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>"), "refused unsafe XML"),
])
def test_bad_facturx_files_are_refused_naming_the_file(ws, tmp_path, make, match) -> None:
    path = tmp_path / "in.pdf"
    make(path)
    with pytest.raises(InputError, match=match) as err:
        import_xml_files(ws, "facturx", [path])
    assert str(path) in str(err.value)


def test_unknown_currency(ws, tmp_path) -> None:
    with pytest.raises(InputError, match="InvoiceCurrencyCode: unknown currency 'EUX'"):
        import_xml_files(ws, "facturx", [facturx_pdf(tmp_path / "c.pdf", cii(currency="EUX"))])
