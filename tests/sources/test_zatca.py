# ruff: noqa: E501  (invoice data: XML, CSV rows and expected tables read best unwrapped)
"""ZATCA simplified invoices: the TLV QR code is decoded and checked against the XML, the
invoice hash recomputed; a tampered amount or a broken QR is refused."""

from __future__ import annotations

import base64
from decimal import Decimal

import pytest

from claims.errors import InputError
from claims.sources.api import import_xml_files
from claims.sources.common import ImportRejected
from claims.sources.xmlsafe import parse_xml
from claims.sources.zatca import decode_tlv, encode_tlv, invoice_hash

ZATCA = """<?xml version="1.0" encoding="UTF-8"?>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
 xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
 xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
 xmlns:ext="urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2">
 <ext:UBLExtensions><ext:UBLExtension><ext:ExtensionURI>urn:oasis:names:specification:ubl:dsig:enveloped:xades</ext:ExtensionURI>
  <ext:ExtensionContent>signature-goes-here</ext:ExtensionContent></ext:UBLExtension></ext:UBLExtensions>
 <cbc:ProfileID>reporting:1.0</cbc:ProfileID>
 <cbc:ID>SME00062</cbc:ID>
 <cbc:UUID>6f4d20e0-6bfe-4a80-9389-7dabe6620f12</cbc:UUID>
 <cbc:IssueDate>2026-03-13</cbc:IssueDate>
 <cbc:IssueTime>14:40:40</cbc:IssueTime>
 <cbc:InvoiceTypeCode name="0200000">388</cbc:InvoiceTypeCode>
 <cbc:DocumentCurrencyCode>SAR</cbc:DocumentCurrencyCode>
 <cbc:TaxCurrencyCode>SAR</cbc:TaxCurrencyCode>
 <cac:AdditionalDocumentReference><cbc:ID>ICV</cbc:ID><cbc:UUID>62</cbc:UUID></cac:AdditionalDocumentReference>
 <cac:AdditionalDocumentReference><cbc:ID>PIH</cbc:ID><cac:Attachment>
  <cbc:EmbeddedDocumentBinaryObject mimeCode="text/plain">NWZlY2ViNjZmZmM4NmYzOGQ5NTI3ODZjNmQ2OTZjNzljMmRiYzIzOWRkNGU5MWI0NjcyOWQ3M2EyN2ZiNTdlOQ==</cbc:EmbeddedDocumentBinaryObject>
 </cac:Attachment></cac:AdditionalDocumentReference>
 <cac:AdditionalDocumentReference><cbc:ID>QR</cbc:ID><cac:Attachment>
  <cbc:EmbeddedDocumentBinaryObject mimeCode="text/plain">{qr}</cbc:EmbeddedDocumentBinaryObject>
 </cac:Attachment></cac:AdditionalDocumentReference>
 <cac:Signature><cbc:ID>urn:oasis:names:specification:ubl:signature:Invoice</cbc:ID>
  <cbc:SignatureMethod>urn:oasis:names:specification:ubl:dsig:enveloped:xades</cbc:SignatureMethod></cac:Signature>
 <cac:AccountingSupplierParty><cac:Party>
  <cac:PartyIdentification><cbc:ID schemeID="CRN">1010010000</cbc:ID></cac:PartyIdentification>
  <cac:PostalAddress><cbc:StreetName>King Fahd Road</cbc:StreetName><cbc:CityName>Riyadh</cbc:CityName>
   <cac:Country><cbc:IdentificationCode>SA</cbc:IdentificationCode></cac:Country></cac:PostalAddress>
  <cac:PartyTaxScheme><cbc:CompanyID>399999999900003</cbc:CompanyID><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme>
  <cac:PartyLegalEntity><cbc:RegistrationName>Maximum Speed Tech Supply LTD</cbc:RegistrationName></cac:PartyLegalEntity>
 </cac:Party></cac:AccountingSupplierParty>
 <cac:AccountingCustomerParty><cac:Party>
  <cac:PartyTaxScheme><cbc:CompanyID>311111111101113</cbc:CompanyID><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme>
  <cac:PartyLegalEntity><cbc:RegistrationName>Ministry of Municipal Affairs</cbc:RegistrationName></cac:PartyLegalEntity>
 </cac:Party></cac:AccountingCustomerParty>
 <cac:Delivery><cbc:ActualDeliveryDate>2026-03-13</cbc:ActualDeliveryDate></cac:Delivery>
 <cac:PaymentMeans><cbc:PaymentMeansCode>10</cbc:PaymentMeansCode></cac:PaymentMeans>
 <cac:AllowanceCharge><cbc:ChargeIndicator>false</cbc:ChargeIndicator>
  <cbc:AllowanceChargeReason>discount</cbc:AllowanceChargeReason><cbc:Amount currencyID="SAR">0.00</cbc:Amount>
  <cac:TaxCategory><cbc:ID>S</cbc:ID><cbc:Percent>15</cbc:Percent><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:TaxCategory>
 </cac:AllowanceCharge>
 <cac:TaxTotal><cbc:TaxAmount currencyID="SAR">{vat}</cbc:TaxAmount></cac:TaxTotal>
 <cac:TaxTotal><cbc:TaxAmount currencyID="SAR">{vat}</cbc:TaxAmount>
  <cac:TaxSubtotal><cbc:TaxableAmount currencyID="SAR">1000.00</cbc:TaxableAmount><cbc:TaxAmount currencyID="SAR">{vat}</cbc:TaxAmount>
   <cac:TaxCategory><cbc:ID>S</cbc:ID><cbc:Percent>15.00</cbc:Percent><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:TaxCategory>
  </cac:TaxSubtotal></cac:TaxTotal>
 <cac:LegalMonetaryTotal>
  <cbc:LineExtensionAmount currencyID="SAR">1000.00</cbc:LineExtensionAmount>
  <cbc:TaxExclusiveAmount currencyID="SAR">1000.00</cbc:TaxExclusiveAmount>
  <cbc:TaxInclusiveAmount currencyID="SAR">{total}</cbc:TaxInclusiveAmount>
  <cbc:AllowanceTotalAmount currencyID="SAR">0.00</cbc:AllowanceTotalAmount>
  <cbc:PrepaidAmount currencyID="SAR">0.00</cbc:PrepaidAmount>
  <cbc:PayableAmount currencyID="SAR">{total}</cbc:PayableAmount>
 </cac:LegalMonetaryTotal>
 <cac:InvoiceLine><cbc:ID>1</cbc:ID><cbc:InvoicedQuantity unitCode="PCE">4</cbc:InvoicedQuantity>
  <cbc:LineExtensionAmount currencyID="SAR">1000.00</cbc:LineExtensionAmount>
  <cac:TaxTotal><cbc:TaxAmount currencyID="SAR">150.00</cbc:TaxAmount><cbc:RoundingAmount currencyID="SAR">1150.00</cbc:RoundingAmount></cac:TaxTotal>
  <cac:Item><cbc:Name>Road maintenance kit</cbc:Name>
   <cac:ClassifiedTaxCategory><cbc:ID>S</cbc:ID><cbc:Percent>15.00</cbc:Percent><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:ClassifiedTaxCategory></cac:Item>
  <cac:Price><cbc:PriceAmount currencyID="SAR">250.00</cbc:PriceAmount></cac:Price>
 </cac:InvoiceLine>
</Invoice>
"""


def zatca_xml(*, vat="150.00", total="1150.00", qr_total=None, qr_seller=None, hash_of=True,
              raw_qr=None) -> bytes:
    """A realistic simplified invoice whose QR carries the XML's facts (unless told not to)."""
    draft = ZATCA.format(qr="", vat=vat, total=total).encode()
    digest = invoice_hash(parse_xml(draft, file="draft")) if hash_of else "AAAA"
    qr = raw_qr or base64.b64encode(encode_tlv({
        1: (qr_seller or "Maximum Speed Tech Supply LTD").encode(),
        2: b"399999999900003", 3: b"2026-03-13T14:40:40", 4: (qr_total or total).encode(),
        5: vat.encode(), 6: digest.encode(), 7: b"MEUCIQD-signature", 8: b"\x30\x56public-key",
    })).decode()
    return ZATCA.format(qr=qr, vat=vat, total=total).encode()


def write(tmp_path, data: bytes, name="zatca.xml"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_simplified_invoice_imports_with_qr_and_hash_checked(ws, tmp_path) -> None:
    batch = import_xml_files(ws, "zatca", [write(tmp_path, zatca_xml())])
    assert batch.added == ["SME00062"] and batch.findings == []
    inv = ws.store.get_invoice("SME00062")
    assert (inv.net, inv.vat, inv.total, inv.source) == (Decimal("1000.00"), Decimal("150.00"),
                                                         Decimal("1150.00"), "zatca")
    from sqlalchemy import select

    from claims.store.tables.sources import InvoiceOriginRow

    with ws.store.session() as s:
        z = s.scalar(select(InvoiceOriginRow)).extra["zatca"]
    assert z["kind"] == "simplified" and z["icv"] == "62"
    assert z["qr"]["total_with_vat"] == "1150.00" and z["qr"]["invoice_hash"] == z["invoice_hash"]


def test_hash_ignores_signature_and_qr_but_not_the_content() -> None:
    a = parse_xml(ZATCA.format(qr="AAAA", vat="150.00", total="1150.00").encode(), file="a")
    b = parse_xml(ZATCA.format(qr="BBBB", vat="150.00", total="1150.00").encode()
                  .replace(b"signature-goes-here", b"other"), file="b")
    c = parse_xml(ZATCA.format(qr="AAAA", vat="150.00", total="1150.01").encode(), file="c")
    assert invoice_hash(a) == invoice_hash(b) != invoice_hash(c)


def test_qr_that_disagrees_with_the_xml_is_refused(ws, tmp_path) -> None:
    path = write(tmp_path, zatca_xml(qr_total="1105.00", qr_seller="Someone Else"))
    with pytest.raises(ImportRejected) as err:
        import_xml_files(ws, "zatca", [path])
    messages = [f.message for f in err.value.findings if f.severity == "error"]
    assert "QR total with VAT 1105.00 is not the XML's 1150.00" in messages
    assert any("QR seller name 'Someone Else'" in m for m in messages)
    assert ws.store.list_invoices() == []


def test_a_tampered_xml_shows_a_hash_warning(ws, tmp_path) -> None:
    batch = import_xml_files(ws, "zatca", [write(tmp_path, zatca_xml(hash_of=False))])
    assert [f.code for f in batch.findings] == ["W-ZATCA-HASH"]


@pytest.mark.parametrize("qr, match", [("***", "not base64"),
                                       (base64.b64encode(b"\x01\x20short").decode(),
                                        "tag 1 says 32 bytes")])
def test_broken_qr_is_a_clear_error(ws, tmp_path, qr, match) -> None:
    with pytest.raises(InputError, match=match) as err:
        import_xml_files(ws, "zatca", [write(tmp_path, zatca_xml(raw_qr=qr))])
    assert err.value.field == "QR"


def test_tlv_round_trip() -> None:
    fields = {1: "مؤسسة".encode(), 4: b"10.00"}
    assert decode_tlv(encode_tlv(fields), file="x") == fields
