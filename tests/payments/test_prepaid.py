"""An e-invoice's paid amount (EN 16931 BT-113) and rounding (BT-114) are posted as applied
money (claims.payments.prepaid): what the customer is chased for is the amount due for payment
(BT-115), a bank payment of exactly that closes the invoice, and reconcile, KPIs and aging
agree. The invoice's total (VAT, claim) stays the total with VAT."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from claims.payments.prepaid import prepaid_amount
from claims.store.tables import InvoiceRow, PaymentApplicationRow, PaymentRow
from claims.workspace import Workspace
from tests.payments.statements import Tx, camt053

NS = ('xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2" '
      'xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2" '
      'xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"')
TAX = ("<cac:TaxCategory><cbc:ID>S</cbc:ID><cbc:Percent>19</cbc:Percent><cac:TaxScheme>"
       "<cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:TaxCategory>")


def ubl(prepaid: str = "0.00", rounding: str = "0.00", number: str = "UBL-1001") -> str:
    """A Peppol invoice of 1000.00 net + 19 % VAT = 1190.00, with a paid amount and rounding."""
    payable = Decimal("1190.00") - Decimal(prepaid) + Decimal(rounding)
    party = ("<cac:Party><cac:PostalAddress><cac:Country><cbc:IdentificationCode>DE"
             "</cbc:IdentificationCode></cac:Country></cac:PostalAddress><cac:PartyLegalEntity>"
             "<cbc:RegistrationName>{}</cbc:RegistrationName></cac:PartyLegalEntity></cac:Party>")
    return f"""<?xml version="1.0" encoding="UTF-8"?><Invoice {NS}>
<cbc:CustomizationID>urn:cen.eu:en16931:2017</cbc:CustomizationID>
<cbc:ID>{number}</cbc:ID><cbc:IssueDate>2026-11-10</cbc:IssueDate>
<cbc:DueDate>2026-12-10</cbc:DueDate><cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>
<cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>
<cac:AccountingSupplierParty>{party.format("Seller GmbH")}</cac:AccountingSupplierParty>
<cac:AccountingCustomerParty>{party.format("Buyer AG")}</cac:AccountingCustomerParty>
<cac:TaxTotal><cbc:TaxAmount currencyID="EUR">190.00</cbc:TaxAmount><cac:TaxSubtotal>
<cbc:TaxableAmount currencyID="EUR">1000.00</cbc:TaxableAmount>
<cbc:TaxAmount currencyID="EUR">190.00</cbc:TaxAmount>{TAX}</cac:TaxSubtotal></cac:TaxTotal>
<cac:LegalMonetaryTotal>
<cbc:LineExtensionAmount currencyID="EUR">1000.00</cbc:LineExtensionAmount>
<cbc:TaxExclusiveAmount currencyID="EUR">1000.00</cbc:TaxExclusiveAmount>
<cbc:TaxInclusiveAmount currencyID="EUR">1190.00</cbc:TaxInclusiveAmount>
<cbc:PrepaidAmount currencyID="EUR">{prepaid}</cbc:PrepaidAmount>
<cbc:PayableRoundingAmount currencyID="EUR">{rounding}</cbc:PayableRoundingAmount>
<cbc:PayableAmount currencyID="EUR">{payable}</cbc:PayableAmount></cac:LegalMonetaryTotal>
<cac:InvoiceLine><cbc:ID>1</cbc:ID><cbc:InvoicedQuantity unitCode="C62">1</cbc:InvoicedQuantity>
<cbc:LineExtensionAmount currencyID="EUR">1000.00</cbc:LineExtensionAmount><cac:Item>
<cbc:Name>Service</cbc:Name><cac:ClassifiedTaxCategory><cbc:ID>S</cbc:ID><cbc:Percent>19
</cbc:Percent><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:ClassifiedTaxCategory>
</cac:Item><cac:Price><cbc:PriceAmount currencyID="EUR">1000.00</cbc:PriceAmount></cac:Price>
</cac:InvoiceLine></Invoice>"""


def _json(pay_cli, *args: str):
    result = pay_cli(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _import(pay_cli, tmp_path: Path, text: str) -> None:
    path = tmp_path / "in.xml"
    path.write_text(text)
    result = pay_cli("invoice", "import", "ubl", str(path))
    assert result.exit_code == 0, result.output


def _open(pay_cli) -> list[tuple[str, str]]:
    rows = _json(pay_cli, "followup", "receivables", "--as-of", "2026-12-03")
    return [(r["invoice"], r["open"]) for r in rows.get("items", rows)] \
        if isinstance(rows, dict) else [(r["invoice"], r["open"]) for r in rows]


def _live(root: Path) -> list[tuple[str, Decimal]]:
    ws = Workspace(root)
    try:
        with ws.store.session() as s:
            return [(src, amount) for src, amount in s.execute(
                select(PaymentRow.source, PaymentApplicationRow.amount)
                .join(PaymentRow, PaymentRow.id == PaymentApplicationRow.payment_id)
                .where(PaymentApplicationRow.undone_at.is_(None))
                .order_by(PaymentApplicationRow.id))]
    finally:
        ws.close()


def test_prepaid_invoice_is_chased_for_the_payable_amount_and_closed_by_it(
        pay_cli, tmp_path: Path) -> None:
    _import(pay_cli, tmp_path, ubl(prepaid="190.00"))
    assert _open(pay_cli) == [("UBL-1001", "1000.00")]
    shown = _json(pay_cli, "invoice", "show", "UBL-1001")
    assert shown["totals"]["total"] == "1190.00"          # the invoice (VAT, claim) is unchanged
    kpi = _json(pay_cli, "kpi", "--currency", "EUR", "--as-of", "2026-12-03")
    assert Decimal(kpi["receivables"]) == Decimal("1000.00")
    assert sum(Decimal(b["amount"]) for b in kpi["aging"]["buckets"]) == Decimal("1000.00")
    [entry] = _json(pay_cli, "payments", "reconcile", "--as-of", "2026-12-03")
    assert (entry["invoiced"], entry["paid"], entry["open"], entry["unapplied"],
            entry["differences"]) == ("1190.00", "190.00", "1000.00", "0.00", [])

    _import(pay_cli, tmp_path, ubl(prepaid="190.00"))      # again: nothing posted twice
    assert _live(pay_cli.root) == [("prepaid", Decimal("190.00"))]

    statement = tmp_path / "s.xml"
    statement.write_bytes(camt053([Tx("1000.00", value_date=date(2026, 12, 2),
                                      payer="Buyer AG", text="Rechnung UBL-1001")]))
    assert pay_cli("payments", "import", str(statement)).exit_code == 0
    assert _open(pay_cli) == []
    [entry] = _json(pay_cli, "payments", "reconcile", "--as-of", "2026-12-03")
    assert (entry["paid"], entry["open"], entry["unapplied"], entry["on_account"],
            entry["differences"]) == ("1190.00", "0.00", "0.00", "0.00", [])
    kpi = _json(pay_cli, "kpi", "--currency", "EUR", "--as-of", "2026-12-03")
    assert Decimal(kpi["receivables"]) == 0
    assert all(Decimal(b["amount"]) == 0 for b in kpi["aging"]["buckets"])


def test_a_changed_paid_amount_undoes_the_old_posting(pay_cli, tmp_path: Path) -> None:
    _import(pay_cli, tmp_path, ubl(prepaid="190.00"))
    _import(pay_cli, tmp_path, ubl(prepaid="290.00"))
    assert _open(pay_cli) == [("UBL-1001", "900.00")]
    assert _live(pay_cli.root) == [("prepaid", Decimal("290.00"))]
    _import(pay_cli, tmp_path, ubl(rounding="-0.01"))      # nothing paid; rounded down a cent
    assert _open(pay_cli) == [("UBL-1001", "1189.99")]
    _import(pay_cli, tmp_path, ubl())
    assert _open(pay_cli) == [("UBL-1001", "1190.00")]
    assert _live(pay_cli.root) == []
    [entry] = _json(pay_cli, "payments", "reconcile", "--as-of", "2026-12-03")
    assert (entry["received"], entry["unapplied"], entry["differences"]) == ("0.00", "0.00", [])
    ws = Workspace(pay_cli.root)
    try:
        with ws.store.session() as s:
            assert s.scalar(select(InvoiceRow.total)) == Decimal("1190.00")
    finally:
        ws.close()


def test_only_money_received_makes_a_change_a_conflict(pay_cli, tmp_path: Path) -> None:
    """The prepaid posting follows its invoice: a corrected invoice with a paid amount is
    updated (and its posting with it); once a bank payment is applied, a change of currency,
    customer or total is a conflict (claims.store.Store.put_invoices)."""
    _import(pay_cli, tmp_path, ubl(prepaid="190.00"))
    _import(pay_cli, tmp_path, ubl(prepaid="190.00").replace("Buyer AG", "Buyer Holding AG"))
    assert _live(pay_cli.root) == [("prepaid", Decimal("190.00"))]
    statement = tmp_path / "s.xml"
    statement.write_bytes(camt053([Tx("1000.00", value_date=date(2026, 12, 2),
                                      payer="Buyer Holding AG", text="Rechnung UBL-1001")]))
    assert pay_cli("payments", "import", str(statement)).exit_code == 0
    path = tmp_path / "usd.xml"
    path.write_text(ubl(prepaid="190.00").replace("EUR", "USD"))
    result = pay_cli("invoice", "import", "ubl", str(path))
    assert result.exit_code == 1 and "CONFLICT UBL-1001" in result.stderr, result.output


@pytest.mark.parametrize(("extra", "total", "settled"), [
    ({"prepaid": "329.86", "rounding": "0", "payable": "1000.00"}, "1329.86", "329.86"),
    ({"prepaid": "0", "rounding": "-0.01", "payable": "99.99"}, "100.00", "0.01"),
    ({"prepaid": "10", "rounding": "0.01", "payable": "90.01"}, "100.00", "9.99"),
    ({"prepaid": "0", "rounding": "0.01", "payable": "100.01"}, "100.00", "0"),  # not raised
    ({"prepaid": "150", "rounding": "0", "payable": "-50"}, "100.00", "100.00"),  # at most all
    ({"prepaid": "10", "negated": True}, "-100.00", "0"),                         # credit note
    (None, "100.00", "0"),
])
def test_prepaid_amount(extra, total: str, settled: str) -> None:
    assert prepaid_amount(extra, Decimal(total)) == Decimal(settled)
