"""ZATCA (Saudi e-invoicing, FATOORA phase 2): UBL 2.1 with a TLV QR code and an invoice hash.

The invoice itself is read as UBL (:mod:`claims.sources.ubl`, same totals checks). On top:

* the QR code (``AdditionalDocumentReference`` ``QR``, base64 of TLV records) is decoded and its
  fields checked against the XML: 1 seller name, 2 seller VAT number, 3 time stamp, 4 total
  with VAT, 5 VAT total (a disagreement is an error finding); 6 the invoice hash; 7-9 the
  signature, public key and certificate signature (kept, not verified here).
* the invoice hash is recomputed: SHA-256 of the canonical XML without ``UBLExtensions``,
  ``cac:Signature`` and the QR reference, base64. ZATCA specifies C14N 1.1; Python's standard
  library offers C14N 2.0, which can differ on namespace declarations the document does not
  use, so a hash mismatch is a *warning* (the XML/QR field checks are the errors).
* ICV (invoice counter) and PIH (previous invoice hash) are recorded.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from decimal import Decimal, InvalidOperation
from typing import Any
from xml.etree.ElementTree import Element, canonicalize, tostring

from claims.errors import InputError
from claims.sources.common import ImportFinding, SourceInvoice
from claims.sources.ubl import NS, parse_ubl
from claims.sources.xmlsafe import Reader, parse_xml

TLV_NAMES = {1: "seller_name", 2: "vat_number", 3: "timestamp", 4: "total_with_vat",
             5: "vat_total", 6: "invoice_hash", 7: "signature", 8: "public_key",
             9: "certificate_signature"}
_EXT = "{urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2}UBLExtensions"
_SIG = f"{{{NS['cac']}}}Signature"
_ADR = f"{{{NS['cac']}}}AdditionalDocumentReference"


def decode_tlv(data: bytes, *, file: str) -> dict[int, bytes]:
    """TLV records (1-byte tag, 1-byte length, value) → {tag: value}; malformed is an error."""
    out: dict[int, bytes] = {}
    i = 0
    while i < len(data):
        if i + 2 > len(data):
            raise InputError(f"QR TLV is cut short at byte {i}", file=file, field="QR",
                             rule="zatca-qr-tlv")
        tag, length = data[i], data[i + 1]
        value = data[i + 2:i + 2 + length]
        if len(value) != length:
            raise InputError(f"QR TLV tag {tag} says {length} bytes, {len(value)} remain",
                             file=file, field="QR", rule="zatca-qr-tlv")
        out[tag] = value
        i += 2 + length
    return out


def encode_tlv(fields: dict[int, bytes]) -> bytes:
    """The inverse of :func:`decode_tlv` (used to build QR codes, e.g. in tests)."""
    out = b""
    for tag, value in fields.items():
        if len(value) > 255:
            raise ValueError(f"TLV tag {tag}: {len(value)} bytes is over 255")
        out += bytes([tag, len(value)]) + value
    return out


def invoice_hash(root: Element) -> str:
    """Base64 SHA-256 of the canonical invoice without UBLExtensions, Signature and the QR."""
    clone = parse_xml(tostring(root), file="(copy)")
    for parent in list(clone.iter()):
        for child in list(parent):
            if child.tag in (_EXT, _SIG) or (
                    child.tag == _ADR and (child.findtext("cbc:ID", "", NS) or "").strip() == "QR"):
                parent.remove(child)
    canonical = canonicalize(tostring(clone, encoding="unicode"), strip_text=False)
    return base64.b64encode(hashlib.sha256(canonical.encode()).digest()).decode()


def parse_zatca(data: bytes, *, file: str) -> SourceInvoice:
    """A :class:`SourceInvoice` from a ZATCA UBL invoice, with QR and hash findings."""
    item = parse_ubl(data, file=file, source="zatca")
    root = parse_xml(data, file=file)
    doc = Reader(root, NS, file)
    findings: list[ImportFinding] = []

    def finding(code: str, message: str, field: str, severity: str = "error") -> None:
        findings.append(ImportFinding(code, severity, message, file, field))  # type: ignore[arg-type]

    refs = {r.text("cbc:ID"): r for r in doc.all("cac:AdditionalDocumentReference")}
    qr_ref = refs.get("QR")
    if qr_ref is None:
        raise InputError("has no QR code (AdditionalDocumentReference with ID QR)", file=file,
                         field="AdditionalDocumentReference[QR]", rule="zatca-qr")
    qr_text = qr_ref.required("cac:Attachment/cbc:EmbeddedDocumentBinaryObject")
    try:
        qr = decode_tlv(base64.b64decode(qr_text, validate=True), file=file)
    except binascii.Error as err:
        raise InputError("the QR code is not base64", file=file, field="QR",
                         rule="zatca-qr-base64") from err
    missing = [TLV_NAMES[t] for t in (1, 2, 3, 4, 5) if t not in qr]
    if missing:
        finding("E-ZATCA-QR", f"the QR code lacks {', '.join(missing)}", "QR")

    def text(tag: int) -> str:
        try:
            return qr.get(tag, b"").decode("utf-8")
        except UnicodeDecodeError:
            finding("E-ZATCA-QR", f"QR field {TLV_NAMES[tag]} is not UTF-8", "QR")
            return ""

    seller = (doc.text("cac:AccountingSupplierParty/cac:Party/cac:PartyLegalEntity/"
                       "cbc:RegistrationName") or "")
    vat_no = doc.text("cac:AccountingSupplierParty/cac:Party/cac:PartyTaxScheme/"
                      "cbc:CompanyID") or ""
    stamp = f"{doc.text('cbc:IssueDate') or ''}T{doc.text('cbc:IssueTime') or ''}"
    sar_tax = [t for t in doc.all("cac:TaxTotal") if t.attr("cbc:TaxAmount", "currencyID") == "SAR"]
    xml_vat = sar_tax[0].amount("cbc:TaxAmount") if sar_tax else None
    xml_total = doc.amount("cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount")
    checks: list[tuple[int, str, Any]] = [(1, "seller name", seller), (2, "VAT number", vat_no)]
    for tag, what, expected in checks:
        if tag in qr and text(tag) != expected:
            finding("E-ZATCA-QR", f"QR {what} {text(tag)!r} is not the XML's {expected!r}",
                    f"QR/{TLV_NAMES[tag]}")
    if 3 in qr and not text(3).rstrip("Z").startswith(stamp.rstrip("Z")):
        finding("E-ZATCA-QR", f"QR time stamp {text(3)!r} is not the XML's {stamp!r}",
                "QR/timestamp")
    for tag, what, expected in ((4, "total with VAT", xml_total), (5, "VAT total", xml_vat)):
        if tag not in qr:
            continue
        try:
            value = Decimal(text(tag))
        except InvalidOperation:
            finding("E-ZATCA-QR", f"QR {what} {text(tag)!r} is not a number",
                    f"QR/{TLV_NAMES[tag]}")
            continue
        if expected is None or value != expected:
            finding("E-ZATCA-QR", f"QR {what} {value} is not the XML's {expected}",
                    f"QR/{TLV_NAMES[tag]}")
    computed = invoice_hash(root)
    if 6 in qr and text(6) != computed:
        finding("W-ZATCA-HASH", f"QR invoice hash {text(6)} is not the recomputed {computed} "
                "(C14N 2.0; ZATCA uses C14N 1.1)", "QR/invoice_hash", "warning")
    type_name = doc.attr("cbc:InvoiceTypeCode", "name") or ""
    pih = refs.get("PIH")
    item.findings.extend(findings)
    item.extra.update({
        "zatca": {
            "uuid": doc.text("cbc:UUID"),
            "kind": "simplified" if type_name.startswith("02") else "standard"
            if type_name.startswith("01") else type_name,
            "icv": refs["ICV"].text("cbc:UUID") if "ICV" in refs else None,
            "pih": pih.text("cac:Attachment/cbc:EmbeddedDocumentBinaryObject") if pih else None,
            "invoice_hash": computed,
            "qr": {TLV_NAMES.get(t, str(t)): (text(t) if t <= 6 else
                                              base64.b64encode(v).decode())
                   for t, v in qr.items()}}})
    return item
