# ruff: noqa: E501  (invoice data: XML, CSV rows and expected tables read best unwrapped)
"""UBL 2.1 / PEPPOL BIS 3: the published examples import with the right totals; bad XML and
totals that do not add up are refused with nothing stored."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from claims.errors import InputError
from claims.sources.api import import_xml_files
from claims.sources.common import ImportRejected
from claims.store.tables.sources import InvoiceImportRow, InvoiceOriginRow
from claims.sources.ubl import parse_ubl
from claims.store.tables import ContactRow, CustomerRow, InvoiceRow

from .conftest import build_claim_on

D = Decimal
# file: (kind, number, currency, net, vat, total, payable, allowances, charges,
#        VAT breakdown [(category, percent, taxable, tax)]) — as printed in OpenPEPPOL's examples
EXPECTED = {
    "Allowance-example.xml": ("invoice", "Snippet1", "EUR", "5900", "1225.00", "7125", "6125.00",
                              ["200"], ["200"], [("S", "25", "4900", "1225"), ("E", "0", "1000", "0")]),
    "Vat-category-S.xml": ("invoice", "Snippet1", "EUR", "7000", "1550.00", "8550", "8550",
                           ["100"], ["200"], [("S", "25", "5000", "1250"), ("S", "15", "2000", "300")]),
    "base-creditnote-correction.xml": ("credit-note", "Snippet1", "EUR", "-1325", "-331.25",
                                       "-1656.25", "1656.25", [], ["25"], [("S", "25", "1325", "331.25")]),
    "base-example.xml": ("invoice", "Snippet1", "EUR", "1325", "331.25", "1656.25", "1656.25",
                         [], ["25"], [("S", "25", "1325", "331.25")]),
    "base-negative-inv-correction.xml": ("invoice", "Correction1", "EUR", "-1325", "-331.25",
                                         "-1656.25", "-1656.25", [], ["-25"],
                                         [("S", "25", "-1325", "-331.25")]),
    "sales-order-example.xml": ("invoice", "Snippet1", "EUR", "1325", "331.25", "1656.25",
                                "1656.25", [], ["25"], [("S", "25", "1325", "331.25")]),
    "vat-category-E.xml": ("invoice", "Vat-Z", "GBP", "1200", "0", "1200", "1200", [], [],
                           [("E", "0", "1200", "0")]),
    "vat-category-O.xml": ("invoice", "Vat-O", "SEK", "3200", "0", "3200", "3200", [], [],
                           [("O", "0", "3200", "0")]),
    "vat-category-Z.xml": ("invoice", "Vat-Z", "GBP", "1200", "0", "1200", "1200", [], [],
                           [("Z", "0", "1200", "0")]),
}


def test_every_published_example_is_covered(peppol_dir: Path) -> None:
    assert sorted(p.name for p in peppol_dir.glob("*.xml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_published_example_imports_with_its_totals(peppol_dir: Path, ws, name: str) -> None:
    kind, number, cur, net, vat, total, payable, allow, charge, vat_rows = EXPECTED[name]
    batch = import_xml_files(ws, "ubl", [peppol_dir / name])
    assert batch.added == [number] and not batch.findings
    inv = ws.store.get_invoice(number)
    assert (inv.currency, inv.net, inv.vat, inv.total) == (cur, D(net), D(vat), D(total))
    # the core's arithmetic holds: net is the sum of the lines (allowances/charges included)
    assert sum((ln.net for ln in inv.lines), D(0)) == inv.net
    assert inv.total == inv.net + inv.vat
    with ws.store.session() as s:
        origin = s.scalar(select(InvoiceOriginRow))
        assert origin.kind == kind and origin.source == "ubl"
        extra = origin.extra
    assert D(extra["payable"]) == D(payable)
    assert [D(a["amount"]) for a in extra["allowances"]] == [D(a) for a in allow]
    assert [D(c["amount"]) for c in extra["charges"]] == [D(c) for c in charge]
    got = sorted((r["category"], D(r["percent"]), D(r["taxable"]), D(r["tax"]))
                 for r in extra["vat_breakdown"])
    assert got == sorted((c, D(p), D(t), D(x)) for c, p, t, x in vat_rows)
    # BT-83, the reference the buyer is asked to quote with the payment, is kept
    printed = (peppol_dir / name).read_text(encoding="utf-8")
    quoted = printed.split("<cbc:PaymentID>")[1].split("<")[0] if "PaymentID" in printed else None
    assert extra["payment_reference"] == quoted


def test_reimport_is_idempotent_and_a_change_after_the_bundle_is_a_conflict(peppol_dir, ws,
                                                                          tmp_path) -> None:
    src = peppol_dir / "base-example.xml"
    assert import_xml_files(ws, "ubl", [src]).added == ["Snippet1"]
    again = import_xml_files(ws, "ubl", [src])
    assert again.unchanged == ["Snippet1"] and not again.added and not again.changed
    build_claim_on(ws, "Snippet1")
    changed = tmp_path / "changed.xml"
    changed.write_bytes(src.read_bytes().replace(b"<cbc:IssueDate>2017-11-13",
                                                 b"<cbc:IssueDate>2017-11-14"))
    result = import_xml_files(ws, "ubl", [changed])
    assert [c.number for c in result.conflicts] == ["Snippet1"]
    assert result.conflicts[0].fields["issue_date"] == ("2017-11-13", "2017-11-14")
    assert str(ws.store.get_invoice("Snippet1").issue_date) == "2017-11-13"  # not overwritten
    with ws.store.session() as s:
        records = s.scalars(select(InvoiceImportRow).order_by(InvoiceImportRow.id)).all()
        assert [(r.added, r.unchanged, r.conflicts) for r in records] == [
            (1, 0, 0), (0, 1, 0), (0, 0, 1)]
        assert records[2].detail["conflicts"]["Snippet1"]["issue_date"] == [
            "2017-11-13", "2017-11-14"]
        assert len(records[0].input_sha256) == 64


def test_customers_and_contacts_are_matched_not_duplicated(peppol_dir, ws) -> None:
    import_xml_files(ws, "ubl", [peppol_dir / "base-example.xml"])
    import_xml_files(ws, "ubl", [peppol_dir / "vat-category-O.xml"])
    import_xml_files(ws, "ubl", [peppol_dir / "base-example.xml"])
    with ws.store.session() as s:
        names = s.scalars(select(CustomerRow.name).order_by(CustomerRow.name)).all()
        assert len(names) == len(set(names))
        contacts = s.scalars(select(ContactRow.email)).all()
        assert len(contacts) == len(set(contacts))


def test_a_total_that_does_not_add_up_is_a_finding_and_nothing_is_stored(peppol_dir, ws,
                                                                          tmp_path) -> None:
    good = tmp_path / "good.xml"
    good.write_bytes((peppol_dir / "vat-category-O.xml").read_bytes())
    bad = tmp_path / "bad.xml"
    bad.write_bytes((peppol_dir / "base-example.xml").read_bytes().replace(
        b'<cbc:PayableAmount currencyID="EUR">1656.25', b'<cbc:PayableAmount currencyID="EUR">1656.35'))
    with pytest.raises(ImportRejected) as err:
        import_xml_files(ws, "ubl", [good, bad])
    assert any(f.code == "E-BR-CO-16" and f.file == str(bad) for f in err.value.findings)
    assert "PayableAmount 1656.35" in str(err.value)
    with ws.store.session() as s:
        assert s.scalar(select(func.count()).select_from(InvoiceRow)) == 0
        assert s.scalar(select(func.count()).select_from(InvoiceImportRow)) == 0


def test_wrong_vat_breakdown_is_found(peppol_dir) -> None:
    data = (peppol_dir / "base-example.xml").read_bytes().replace(
        b'<cbc:TaxAmount currencyID="EUR">331.25</cbc:TaxAmount>\n            <cac:TaxCategory>',
        b'<cbc:TaxAmount currencyID="EUR">331.35</cbc:TaxAmount>\n            <cac:TaxCategory>')
    assert b"331.35" in data
    codes = {f.code for f in parse_ubl(data, file="x.xml").findings}
    # 0.10 off 25 % of the taxable amount: within BR-CO-17's one unit (a warning); the total
    # no longer being the sum of the subtotals is BR-CO-14 (an error)
    assert codes == {"W-BR-S-09", "E-BR-CO-14"}
    far = data.replace(b'331.35</cbc:TaxAmount>\n            <cac:TaxCategory>',
                       b'332.25</cbc:TaxAmount>\n            <cac:TaxCategory>')
    findings = parse_ubl(far, file="x.xml").findings
    assert {f.code for f in findings} == {"E-BR-S-09", "E-BR-CO-14"}
    assert any("332.25 is not 25.0% of 1325 (331.25" in f.message for f in findings)


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2">&lol3;</Invoice>"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2">&secret;</Invoice>"""


@pytest.mark.parametrize("data, rule", [(BOMB, "xml-safe"), (XXE, "xml-safe"),
                                        (b"<Invoice><unclosed></Invoice>", "xml-syntax"),
                                        (b"<Order xmlns='urn:x'/>", "ubl-root")])
def test_unsafe_or_malformed_xml_is_refused_naming_the_file(ws, tmp_path, data, rule) -> None:
    path = tmp_path / "evil.xml"
    path.write_bytes(data)
    with pytest.raises(InputError) as err:
        import_xml_files(ws, "ubl", [path])
    assert err.value.rule == rule and err.value.file == str(path)
    assert "lollol" not in str(err.value) and "root:" not in str(err.value)


def test_unknown_currency_names_the_field(peppol_dir, tmp_path, ws) -> None:
    path = tmp_path / "xxx.xml"
    path.write_bytes((peppol_dir / "base-example.xml").read_bytes().replace(
        b"<cbc:DocumentCurrencyCode>EUR", b"<cbc:DocumentCurrencyCode>XXX"))
    with pytest.raises(InputError, match="unknown currency 'XXX'") as err:
        import_xml_files(ws, "ubl", [path])
    assert err.value.field == "DocumentCurrencyCode"


def test_a_credit_note_cannot_replace_the_invoice_of_the_same_number(peppol_dir, ws) -> None:
    import_xml_files(ws, "ubl", [peppol_dir / "base-example.xml"])
    with pytest.raises(InputError, match="credit-note Snippet1 has the number of a stored invoice"):
        import_xml_files(ws, "ubl", [peppol_dir / "base-creditnote-correction.xml"])
    assert ws.store.get_invoice("Snippet1").total == D("1656.25")


def test_the_same_number_twice_in_one_batch_is_refused(peppol_dir, ws) -> None:
    with pytest.raises(InputError, match="appears twice"):
        import_xml_files(ws, "ubl", [peppol_dir / "base-example.xml",
                                     peppol_dir / "sales-order-example.xml"])


def test_dry_run_counts_but_writes_nothing(peppol_dir, ws) -> None:
    batch = import_xml_files(ws, "ubl", [peppol_dir / "base-example.xml"], dry_run=True)
    assert batch.added == ["Snippet1"] and batch.dry_run and batch.import_id is None
    assert ws.store.list_invoices() == []


def test_on_both_databases(peppol_dir, any_ws) -> None:
    batch = import_xml_files(any_ws, "ubl", [peppol_dir / "Allowance-example.xml"])
    assert batch.added == ["Snippet1"]
    assert import_xml_files(any_ws, "ubl", [peppol_dir / "Allowance-example.xml"]).unchanged
