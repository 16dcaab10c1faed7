"""ZATCA (Saudi e-invoicing, FATOORA phase 2): UBL 2.1 with a TLV QR code and an invoice hash.

The invoice itself is read as UBL (:mod:`claims.sources.ubl`, same totals checks). On top:

* the kind is ``cbc:InvoiceTypeCode`` (388 invoice, 381 credit note — stored negated, never a
  receivable — 383 debit note), read by :func:`claims.sources.ubl.parse_ubl`.
* the QR code (``AdditionalDocumentReference`` ``QR``, base64 of TLV records) is decoded and its
  fields checked against the XML as ZATCA's QR guideline defines them: 1 seller name, 2 seller
  VAT number, 3 time stamp, 4 the invoice total with VAT — which the SDK's advance-payment and
  payable-rounding samples fill with the payable amount, so either is accepted —, 5 VAT total
  (a disagreement is an error finding); 6 the invoice hash; 7-9 the signature, public key and
  certificate signature (kept, not verified here). Names are compared with their runs of
  whitespace made one space.
* the invoice hash is recomputed: SHA-256 over the canonical XML (lxml's C14N, which gives the
  bytes of ZATCA's C14N 1.1 for these documents) of the invoice without ``UBLExtensions``,
  ``cac:Signature`` and the QR reference, the whitespace around them kept, base64. For a signed
  file (an XML signature in its UBLExtensions: it claims to have been cleared or reported) a
  mismatch is an error; for an unsigned one a warning.
* a file without a QR code (or with an empty one) has not been signed yet: imported with a
  warning, the QR and hash checks skipped.
* the seller (name, VAT number) is kept, ICV (invoice counter) and PIH (previous invoice hash)
  are recorded.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from decimal import Decimal, InvalidOperation
from xml.etree.ElementTree import Element

from lxml import etree

from claims.errors import InputError
from claims.sources.common import ImportFinding, SourceInvoice, plain
from claims.sources.en16931 import normalise_name
from claims.sources.ubl import NS, parse_ubl
from claims.sources.xmlsafe import Reader, parse_xml

TLV_NAMES = {1: "seller_name", 2: "vat_number", 3: "timestamp", 4: "total_with_vat",
             5: "vat_total", 6: "invoice_hash", 7: "signature", 8: "public_key",
             9: "certificate_signature"}
_EXT = "{urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2}UBLExtensions"
_SIG = f"{{{NS['cac']}}}Signature"
_ADR = f"{{{NS['cac']}}}AdditionalDocumentReference"
_DSIG = "{http://www.w3.org/2000/09/xmldsig#}Signature"
#: lxml for canonicalisation only: the bytes were already parsed safely by ``parse_xml``.
_LXML = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                        huge_tree=False, remove_blank_text=False)


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


def invoice_hash(data: bytes) -> str:
    """Base64 SHA-256 of the canonical invoice (C14N) without UBLExtensions, Signature and the
    QR reference, keeping the whitespace that followed each removed element. ``data`` must
    have passed :func:`~claims.sources.xmlsafe.parse_xml` (no DTD, no entities)."""
    root = etree.fromstring(data, _LXML)
    for child in list(root):
        if child.tag in (_EXT, _SIG) or (
                child.tag == _ADR and (child.findtext("cbc:ID", "", NS) or "").strip() == "QR"):
            _remove_keeping_tail(child)
    canonical = etree.tostring(root, method="c14n")
    return base64.b64encode(hashlib.sha256(canonical).digest()).decode()


def _remove_keeping_tail(el: etree._Element) -> None:
    """Remove ``el`` from its parent, its tail (the whitespace after it) left in place."""
    parent = el.getparent()
    if el.tail:
        prev = el.getprevious()
        if prev is not None:
            prev.tail = (prev.tail or "") + el.tail
        else:
            parent.text = (parent.text or "") + el.tail
    parent.remove(el)


def is_signed(root: Element) -> bool:
    """True if the UBLExtensions carry an XML signature (the file was signed to be cleared or
    reported)."""
    ext = root.find(_EXT)
    return ext is not None and next(ext.iter(_DSIG), None) is not None


def parse_zatca(data: bytes, *, file: str) -> SourceInvoice:
    """A :class:`SourceInvoice` from a ZATCA UBL invoice, credit or debit note, with QR and
    hash findings (see the module's description)."""
    item = parse_ubl(data, file=file, source="zatca")
    root = parse_xml(data, file=file)
    doc = Reader(root, NS, file)
    refs = {r.text("cbc:ID"): r for r in doc.all("cac:AdditionalDocumentReference")}
    qr_ref = refs.get("QR")
    qr_text = qr_ref.text("cac:Attachment/cbc:EmbeddedDocumentBinaryObject") if qr_ref else None
    signed = is_signed(root)
    check = _QrCheck(file)
    computed = invoice_hash(data)
    if qr_text is None:
        severity = "error" if signed else "warning"
        check.finding(f"{severity[0].upper()}-ZATCA-QR-ABSENT",
                      "no QR code: the invoice was not signed, cleared or reported yet; the "
                      "QR and hash checks were skipped" if not signed else
                      "a signed invoice without its QR code", "AdditionalDocumentReference[QR]",
                      severity)
        qr: dict[int, bytes] = {}
    else:
        qr = _decode_qr(qr_text, file)
        check.against_xml(qr, doc)
        if 6 in qr and check.text(qr, 6) != computed:
            severity = "error" if signed else "warning"
            check.finding(f"{severity[0].upper()}-ZATCA-HASH",
                          f"QR invoice hash {check.text(qr, 6)} is not the recomputed {computed}"
                          + (": the signed invoice was changed after it was signed" if signed
                             else ""), "QR/invoice_hash", severity)
    type_name = doc.attr("cbc:InvoiceTypeCode", "name") or ""
    pih = refs.get("PIH")
    item.findings.extend(check.findings)
    item.extra.update({
        "zatca": {
            "uuid": doc.text("cbc:UUID"),
            "kind": "simplified" if type_name.startswith("02") else "standard"
            if type_name.startswith("01") else type_name,
            "signed": signed,
            "icv": refs["ICV"].text("cbc:UUID") if "ICV" in refs else None,
            "pih": pih.text("cac:Attachment/cbc:EmbeddedDocumentBinaryObject") if pih else None,
            "invoice_hash": computed,
            "qr": {TLV_NAMES.get(t, str(t)): (check.text(qr, t) if t <= 6 else
                                              base64.b64encode(v).decode())
                   for t, v in qr.items()}}})
    return item


def _decode_qr(text: str, file: str) -> dict[int, bytes]:
    """The TLV records of a base64 QR code; a clear error if it is not base64 or not TLV."""
    try:
        return decode_tlv(base64.b64decode(text, validate=True), file=file)
    except binascii.Error as err:
        raise InputError("the QR code is not base64", file=file, field="QR",
                         rule="zatca-qr-base64") from err


class _QrCheck:
    """The QR fields held against the XML; collects the findings."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.findings: list[ImportFinding] = []

    def finding(self, code: str, message: str, field: str, severity: str = "error") -> None:
        """Record a finding on ``field`` of this file."""
        self.findings.append(ImportFinding(code, severity, message,  # type: ignore[arg-type]
                                           self.file, field))

    def text(self, qr: dict[int, bytes], tag: int) -> str:
        """The QR field ``tag`` as text ("" if absent; a finding if it is not UTF-8)."""
        try:
            return qr.get(tag, b"").decode("utf-8")
        except UnicodeDecodeError:
            self.finding("E-ZATCA-QR", f"QR field {TLV_NAMES[tag]} is not UTF-8", "QR")
            return ""

    def against_xml(self, qr: dict[int, bytes], doc: Reader) -> None:
        """QR tags 1-5 against the seller, time stamp and totals of the XML."""
        missing = [TLV_NAMES[t] for t in (1, 2, 3, 4, 5) if t not in qr]
        if missing:
            self.finding("E-ZATCA-QR", f"the QR code lacks {', '.join(missing)}", "QR")
        party = "cac:AccountingSupplierParty/cac:Party/"
        seller = normalise_name(doc.text(party + "cac:PartyLegalEntity/cbc:RegistrationName"))
        vat_no = doc.text(party + "cac:PartyTaxScheme/cbc:CompanyID") or ""
        for tag, what, expected in ((1, "seller name", seller or ""), (2, "VAT number", vat_no)):
            got = normalise_name(self.text(qr, tag)) if tag == 1 else self.text(qr, tag)
            if tag in qr and got != expected:
                self.finding("E-ZATCA-QR", f"QR {what} {got!r} is not the XML's {expected!r}",
                             f"QR/{TLV_NAMES[tag]}")
        stamp = f"{doc.text('cbc:IssueDate') or ''}T{doc.text('cbc:IssueTime') or ''}"
        if 3 in qr and not self.text(qr, 3).rstrip("Z").startswith(stamp.rstrip("Z")):
            self.finding("E-ZATCA-QR", f"QR time stamp {self.text(qr, 3)!r} is not the XML's "
                         f"{stamp!r}", "QR/timestamp")
        sar_tax = [t for t in doc.all("cac:TaxTotal")
                   if t.attr("cbc:TaxAmount", "currencyID") == "SAR"]
        totals = [doc.amount("cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount"),
                  doc.amount("cac:LegalMonetaryTotal/cbc:PayableAmount")]
        self._amount(qr, 4, "total with VAT", [t for t in totals if t is not None])
        self._amount(qr, 5, "VAT total", [sar_tax[0].amount("cbc:TaxAmount")] if sar_tax else [])

    def _amount(self, qr: dict[int, bytes], tag: int, what: str,
                accepted: list[Decimal | None]) -> None:
        """A finding unless QR ``tag`` is a number equal to one of the ``accepted`` amounts."""
        if tag not in qr:
            return
        try:
            value = Decimal(self.text(qr, tag))
        except InvalidOperation:
            self.finding("E-ZATCA-QR", f"QR {what} {self.text(qr, tag)!r} is not a number",
                         f"QR/{TLV_NAMES[tag]}")
            return
        if value not in accepted:
            shown = " or ".join(dict.fromkeys(plain(a) for a in accepted if a is not None))
            self.finding("E-ZATCA-QR", f"QR {what} {plain(value)} is not the XML's "
                         f"{shown or 'nothing'}",
                         f"QR/{TLV_NAMES[tag]}")
