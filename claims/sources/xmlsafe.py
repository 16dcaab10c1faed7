"""Safe XML for e-invoices: no DTDs, no entities, no external references (defusedxml).

An XML bomb ("billion laughs"), an external entity (XXE) or a malformed file becomes one
:class:`InputError` naming the file; nothing is expanded and nothing is fetched.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from claims.errors import InputError

#: An e-invoice is kilobytes; anything this large is refused before parsing.
MAX_XML_BYTES = 20 * 1024 * 1024


def parse_xml(data: bytes, *, file: str) -> Element:
    """The root element of ``data``; DTDs and entities are refused, not expanded."""
    if len(data) > MAX_XML_BYTES:
        raise InputError(f"{len(data):,} bytes is over the {MAX_XML_BYTES:,}-byte limit for an "
                         "e-invoice", file=file, rule="xml-size")
    if data.lstrip()[:5] == b"%PDF-":
        raise InputError("is a PDF, not XML; a Factur-X / ZUGFeRD PDF (the invoice XML inside a "
                         "PDF) is imported with: claims invoice import facturx FILE", file=file,
                         rule="xml-not-pdf")
    try:
        return fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as err:
        raise InputError(f"refused unsafe XML ({type(err).__name__}: a DTD, entity or external "
                         "reference; e-invoices never need one)", file=file,
                         rule="xml-safe") from err
    except ParseError as err:
        raise InputError(f"not well-formed XML: {err}", file=file, rule="xml-syntax") from err


class Reader:
    """Namespace-aware lookups on one element, with errors that name the file and field."""

    def __init__(self, el: Element, ns: dict[str, str], file: str) -> None:
        self.el, self.ns, self.file = el, ns, file

    def at(self, el: Element) -> Reader:
        return Reader(el, self.ns, self.file)

    def find(self, path: str) -> Element | None:
        return self.el.find(path, self.ns)

    def all(self, path: str) -> list[Reader]:
        return [self.at(e) for e in self.el.findall(path, self.ns)]

    def text(self, path: str, default: str | None = None) -> str | None:
        el = self.find(path)
        if el is None or el.text is None or not el.text.strip():
            return default
        return el.text.strip()

    def required(self, path: str) -> str:
        value = self.text(path)
        if value is None:
            raise InputError("is missing", file=self.file, field=_field(path),
                             rule="required-element")
        return value

    def amount(self, path: str, default: Decimal | None = None) -> Decimal | None:
        value = self.text(path)
        if value is None:
            return default
        try:
            result = Decimal(value)
        except InvalidOperation:
            raise InputError(f"{value!r} is not a number", file=self.file, field=_field(path),
                             rule="decimal") from None
        if not result.is_finite():
            raise InputError(f"{value!r} is not a finite number", file=self.file,
                             field=_field(path), rule="decimal")
        return result

    def need_amount(self, path: str) -> Decimal:
        value = self.amount(path)
        if value is None:
            raise InputError("is missing", file=self.file, field=_field(path),
                             rule="required-element")
        return value

    def attr(self, path: str, name: str) -> str | None:
        el = self.find(path)
        return None if el is None else el.get(name)


def _field(path: str) -> str:
    """``cac:LegalMonetaryTotal/cbc:PayableAmount`` → ``LegalMonetaryTotal/PayableAmount``."""
    return "/".join(part.split(":")[-1] for part in path.split("/") if part not in (".", ""))
