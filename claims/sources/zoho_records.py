"""Zoho Books records → Claimwright invoices: lines with VAT at the currency's minor unit,
the invoice-level discount, shipping and adjustment with their tax treatment, payments in
either published shape, customers with their contact persons.

Zoho's own sources disagree on some names, so every documented spelling is read:

- the customer-payments list key: ``customer_payments`` (OpenAPI description) or
  ``customerpayments`` (Java SDK) — see :data:`PAYMENT_LIST_KEYS`;
- a payment's invoices: ``invoice_numbers`` (comma-separated text), ``invoice_number`` (one),
  or an ``invoices`` list of ``{invoice_number, amount_applied}`` (the payment detail);
- the invoice discount: ``discount_total`` (what Zoho answers), else ``discount_amount``.

Tax treatment, as Zoho computes it: a discount *before tax* lowers the taxable amount of each
rate in proportion to that rate's lines (so it is split into one discount line per rate, each
with that rate's VAT); a discount *after tax* reduces what is payable, not the VAT (one line,
0 VAT); shipping carries ``shipping_charge_tax_percentage``; an adjustment is added after tax
(0 VAT). The invoice's VAT is Zoho's ``tax_total`` as printed, and ``net + VAT = total`` is
checked.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from claims.core.models import InvoiceLine
from claims.core.money import round_money
from claims.errors import InputError
from claims.sources.common import (
    ContactRef, CustomerRef, ImportFinding, SourceInvoice, check_currency, make_invoice,
    parse_iso_date, plain,
)

ZERO = Decimal(0)

#: the list key of GET /customerpayments: the OpenAPI description's, then the Java SDK's
PAYMENT_LIST_KEYS = ("customer_payments", "customerpayments")

#: statuses that are not receivables: skipped (a stored one that turns void is a warning)
NOT_RECEIVABLE = ("draft", "void")


def dec(value: Any, *, file: str, field: str) -> Decimal:
    """An amount from a Zoho JSON value (a number, or a numeric text); empty is 0."""
    if value is None or value == "":
        return ZERO
    if isinstance(value, (Decimal, int)) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, str):
        try:
            return Decimal(value.strip().rstrip("%"))
        except ArithmeticError:
            pass
    raise InputError(f"{value!r} is not an amount", file=file, field=field, rule="decimal")


def status_of(inv: dict[str, Any]) -> dict[str, Any]:
    """What changes without the invoice's content changing: status, balance, modification."""
    return {"invoice_number": inv.get("invoice_number"), "zoho_status": inv.get("status"),
            "balance": str(inv.get("balance", "")),
            "last_modified_time": inv.get("last_modified_time")}


def to_source_invoices(fetch: Any, *, endpoint: str) -> tuple[list[SourceInvoice], list[str]]:
    """Claimwright invoices from what was fetched (drafts and voids skipped, returned apart)."""
    by_invoice = payments_by_invoice(fetch.payments)
    items: list[SourceInvoice] = []
    skipped: list[str] = []
    for inv in fetch.invoices:
        iid = str(inv.get("invoice_id"))
        where = f"{endpoint} invoice {iid}"
        number = str(inv.get("invoice_number") or "")
        if not number:
            raise InputError("has no invoice_number", file=where, field="invoice_number",
                             rule="required-field")
        if inv.get("status") in NOT_RECEIVABLE:
            skipped.append(number)
            continue
        items.append(_item(inv, iid, number, where, fetch, by_invoice.get(number, [])))
    return items, skipped


def _item(inv: dict[str, Any], iid: str, number: str, where: str, fetch: Any,
          payments: list[dict[str, Any]]) -> SourceInvoice:
    currency = check_currency(str(inv.get("currency_code") or ""), file=where,
                              field="currency_code")
    lines = invoice_lines(inv, currency, where)
    net = sum((ln.net for ln in lines), ZERO)
    vat = dec(inv.get("tax_total"), file=where, field="tax_total")
    total = dec(inv.get("total"), file=where, field="total")
    findings = []
    if net + vat != total:
        findings.append(ImportFinding(
            "E-ZOHO-TOTAL", "error", f"invoice {number}: total {plain(total)} is not the "
            f"lines {plain(net)} + tax {plain(vat)}; not imported (the others are), read "
            "again by the next run", where, "total"))
    customer = customer_ref(inv, fetch.contacts)
    contract = next((str(cf.get("value")) for cf in inv.get("custom_fields") or []
                     if "contract" in str(cf.get("label", "")).lower() and cf.get("value")),
                    None)
    invoice = make_invoice(dict(
        number=number,
        issue_date=parse_iso_date(inv.get("date"), file=where, field="date"),
        due_date=parse_iso_date(inv.get("due_date"), file=where, field="due_date")
        if inv.get("due_date") else None,
        currency=currency, customer=customer.name, contract_number=contract,
        lines=lines, net=net, vat=vat, total=total, source="zoho"), file=where)
    return SourceInvoice(
        invoice=invoice, origin=where, external_id=iid, customer=customer,
        document=fetch.pdfs.get(iid), document_name=f"{number}.pdf", findings=findings,
        extra={**status_of(inv), "reference_number": inv.get("reference_number"),
               "payments": payments})


def with_payments(refreshed: dict[str, dict[str, Any]],
                  payments: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The refreshed (unchanged, not re-read) invoices with the payments read this run."""
    by_invoice = payments_by_invoice(payments)
    return {iid: {**values, "payments": by_invoice.get(str(values.get("invoice_number")), [])}
            for iid, values in refreshed.items()}


def payments_by_invoice(payments: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Zoho payments by the invoice numbers they were applied to, in any published shape."""
    by_invoice: dict[str, list[dict[str, Any]]] = {}
    for pay in payments:
        base = {"payment_id": pay.get("payment_id"), "date": pay.get("date"),
                "reference": pay.get("reference_number")}
        applied = [(str(a.get("invoice_number") or ""), a.get("amount_applied"))
                   for a in pay.get("invoices") or [] if isinstance(a, dict)]
        if not applied:
            text = pay.get("invoice_numbers") or pay.get("invoice_number") or ""
            numbers = [n.strip() for n in str(text).split(",") if n.strip()]
            # one invoice: the whole payment; several: Zoho's list does not say how it was split
            applied = [(n, pay.get("amount") if len(numbers) == 1 else None) for n in numbers]
        for number, amount in applied:
            if number:
                by_invoice.setdefault(number, []).append(
                    {**base, "amount": None if amount is None else str(amount),
                     "payment_amount": str(pay.get("amount"))})
    return by_invoice


def invoice_lines(inv: dict[str, Any], currency: str, where: str) -> list[InvoiceLine]:
    """The line items of a Zoho invoice, then its discount, shipping and adjustment as lines,
    each line's VAT rounded at the currency's minor unit."""
    lines: list[InvoiceLine] = []
    for i, li in enumerate(inv.get("line_items") or [], start=1):
        net = dec(li.get("item_total"), file=where, field=f"line_items[{i}].item_total")
        pct = dec(li.get("tax_percentage"), file=where,
                  field=f"line_items[{i}].tax_percentage")
        lines.append(InvoiceLine(
            description=str(li.get("name") or li.get("description") or f"line {i}"),
            quantity=dec(li.get("quantity"), file=where, field=f"line_items[{i}].quantity"),
            unit_price=dec(li.get("rate"), file=where, field=f"line_items[{i}].rate"),
            net=net, vat_percent=pct, vat=round_money(net * pct / 100, currency)))
    lines += _discount_lines(inv, lines, currency, where)
    shipping = dec(inv.get("shipping_charge"), file=where, field="shipping_charge")
    if shipping:
        pct = dec(inv.get("shipping_charge_tax_percentage"), file=where,
                  field="shipping_charge_tax_percentage")
        tax = inv.get("shipping_charge_tax")
        vat = dec(tax, file=where, field="shipping_charge_tax") if tax not in (None, "") \
            else round_money(shipping * pct / 100, currency)
        lines.append(_charge("Shipping", shipping, pct, vat))
    adjustment = dec(inv.get("adjustment"), file=where, field="adjustment")
    if adjustment:
        label = str(inv.get("adjustment_description") or "Adjustment")
        lines.append(_charge(f"{label} (after tax)", adjustment, ZERO, ZERO))
    return lines


def _charge(label: str, amount: Decimal, pct: Decimal, vat: Decimal) -> InvoiceLine:
    return InvoiceLine(description=label, quantity=Decimal(1), unit_price=amount, net=amount,
                       vat_percent=pct, vat=vat)


def _discount_lines(inv: dict[str, Any], lines: list[InvoiceLine], currency: str,
                    where: str) -> list[InvoiceLine]:
    """The entity-level discount: before tax, one line per VAT rate (its share of the lines of
    that rate, the last taking the rounding rest); after tax, one line without VAT."""
    key = "discount_total" if inv.get("discount_total") not in (None, "") else "discount_amount"
    discount = dec(inv.get(key), file=where, field=key)
    if not discount:
        return []
    if not inv.get("is_discount_before_tax", True):
        return [_charge("Discount (after tax)", -discount, ZERO, ZERO)]
    by_rate: dict[Decimal, Decimal] = {}
    for ln in lines:
        rate = ln.vat_percent or ZERO
        by_rate[rate] = by_rate.get(rate, ZERO) + ln.net
    base = sum(by_rate.values(), ZERO)
    if not base:
        return [_charge("Discount", -discount, ZERO, ZERO)]
    out, rest = [], discount
    for n, (rate, amount) in enumerate(sorted(by_rate.items()), start=1):
        share = rest if n == len(by_rate) else round_money(discount * amount / base, currency)
        rest -= share
        out.append(_charge(f"Discount ({plain(rate)}% VAT)", -share, rate,
                           round_money(-share * rate / 100, currency)))
    return out


def customer_ref(inv: dict[str, Any], contacts: dict[str, Any]) -> CustomerRef:
    """The customer of a Zoho invoice, with its contact persons (when its contact was read)."""
    contact = contacts.get(str(inv.get("customer_id") or ""), {})
    persons = tuple(
        ContactRef(name=" ".join(p for p in (cp.get("first_name"), cp.get("last_name"))
                                 if p) or str(cp.get("email") or ""),
                   email=cp.get("email") or None, phone=cp.get("phone") or None,
                   external_id=str(cp.get("contact_person_id") or "") or None)
        for cp in contact.get("contact_persons") or [])
    return CustomerRef(
        name=str(contact.get("company_name") or contact.get("contact_name")
                 or inv.get("customer_name") or ""),
        external_id=str(inv.get("customer_id") or "") or None,
        tax_id=contact.get("tax_reg_no") or contact.get("vat_reg_no")
        or contact.get("gst_no") or None,
        email=contact.get("email") or None, contacts=persons)
