"""Zoho Books against a server answering as Zoho's own published description says
(tests/sources/zoho_published.py names its sources): amounts as JSON numbers, five currencies,
every status, discounts before and after tax, shipping with VAT, adjustments, both payment-list
shapes, deletions and edits while a run reads."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from claims.sources.api import import_zoho
from claims.sources.settings import ZohoSettings
from claims.store.tables import InvoiceRow
from claims.store.tables.sources import InvoiceOriginRow

from .fake_zoho import CLIENT_SECRET, REFRESH_TOKEN, settings_toml
from .zoho_published import PublishedZoho, PublishedZohoServer, build_invoice

D = Decimal


@pytest.fixture
def secrets(monkeypatch) -> None:
    monkeypatch.setenv("TEST_ZOHO_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("TEST_ZOHO_REFRESH_TOKEN", REFRESH_TOKEN)


def configure(ws, server: PublishedZohoServer, **over) -> None:
    with ws.config_path.open("a", encoding="utf-8") as f:
        f.write(settings_toml(server.url, **over))
    ws.__dict__.pop("settings", None)


def origin(ws, number: str) -> InvoiceOriginRow:
    with ws.store.session() as s:
        row = s.scalar(select(InvoiceOriginRow).join(InvoiceRow).where(
            InvoiceRow.number == number))
        s.expunge(row)
        return row


def receivable(fake: PublishedZoho) -> list[str]:
    return sorted(i["invoice_number"] for i in fake.invoices
                  if i["status"] not in ("draft", "void"))


@pytest.mark.parametrize("key", ["customer_payments", "customerpayments"])
def test_a_full_import_in_either_published_shape(ws, secrets, key) -> None:
    fake = PublishedZoho.mixed(48, payments_key=key)
    with PublishedZohoServer(fake) as server:
        configure(ws, server)
        batch = import_zoho(ws, sleep=lambda s: None)
    assert sorted(batch.added) == receivable(fake) and len(batch.added) == 36
    assert sorted(batch.detail["skipped_drafts_and_voids"]) == sorted(
        i["invoice_number"] for i in fake.invoices if i["status"] in ("draft", "void"))
    for number in batch.added:                   # the totals the invoice states, every one
        inv, stated = ws.store.get_invoice(number), fake.find(number)
        assert (inv.total, inv.vat, inv.currency) == (
            stated["total"], stated["tax_total"], stated["currency_code"])
    # payments in either shape reach the invoice they were applied to
    paid = fake.find("INV-00006")                       # status paid
    assert origin(ws, "INV-00006").extra["payments"][0]["amount"] == str(paid["total"])
    assert origin(ws, "INV-00006").extra["zoho_status"] == "paid"
    # no detail and no PDF for drafts and voids; PDFs only for what has a balance due
    details = {p.rsplit("/", 1)[1] for m, p in fake.log if p.startswith("/books/v3/invoices/")}
    assert not details & {i["invoice_id"] for i in fake.invoices
                          if i["status"] in ("draft", "void")}
    open_ = [n for n in batch.added if fake.find(n)["balance"] > 0]
    assert batch.detail["pdfs"] == len(open_) < len(batch.added)
    assert batch.requests == batch.detail["minimum_requests"]


def test_line_vat_at_the_currency_minor_unit_and_discount_shipping_adjustment(ws,
                                                                              secrets) -> None:
    fake = PublishedZoho.mixed(0)
    fake.invoices = [
        build_invoice(1, currency="KWD", discount="10%", rates=(15, 5)),
        build_invoice(2, currency="JPY", discount="25", before_tax=False),
        build_invoice(3, currency="EUR", shipping=D("40"), shipping_rate=D(19),
                      adjustment=D("-0.05"), rates=(19,)),
    ]
    with PublishedZohoServer(fake) as server:
        configure(ws, server, fetch_pdf=False)
        batch = import_zoho(ws)
    assert sorted(batch.added) == ["INV-00001", "INV-00002", "INV-00003"]
    kwd = ws.store.get_invoice("INV-00001")
    assert all(ln.vat == ln.vat.quantize(D("0.001")) for ln in kwd.lines)
    assert kwd.lines[0].vat.as_tuple().exponent == -3           # 3 places, not 2
    discounts = [ln for ln in kwd.lines if ln.description.startswith("Discount")]
    assert [ln.vat_percent for ln in discounts] == [D(5), D(15)]   # one per VAT rate
    assert sum(ln.net for ln in discounts) == -fake.invoices[0]["discount_total"]
    assert all(ln.vat < 0 for ln in discounts)                   # before tax: lowers VAT
    jpy = ws.store.get_invoice("INV-00002")
    assert jpy.lines[0].vat == jpy.lines[0].vat.to_integral_value()   # no fraction of a yen
    assert [(ln.net, ln.vat) for ln in jpy.lines if "Discount" in ln.description] == \
        [(D(-25), D(0))]                                         # after tax: VAT untouched
    eur = ws.store.get_invoice("INV-00003")
    shipping = next(ln for ln in eur.lines if ln.description == "Shipping")
    assert (shipping.net, shipping.vat_percent, shipping.vat) == (D(40), D(19), D("7.60"))
    adjustment = next(ln for ln in eur.lines if "Adjustment" in ln.description)
    assert (adjustment.net, adjustment.vat) == (D("-0.05"), D(0))
    assert eur.total == fake.invoices[2]["total"]


def test_canada_authorises_at_accounts_zohocloud_ca() -> None:
    base = dict(organization_id="1", client_id="c", client_secret={"env": "X"},
                refresh_token={"env": "Y"})
    assert ZohoSettings(data_center="ca", **base).accounts() == "https://accounts.zohocloud.ca"
    assert ZohoSettings(data_center="eu", **base).accounts() == "https://accounts.zoho.eu"
    assert ZohoSettings(data_center="ca", **base).api(None) == "https://www.zohoapis.ca/books/v3"


def test_a_200_with_a_broken_body_is_read_again(ws, secrets) -> None:
    fake = PublishedZoho.mixed(10)
    fake.badjson = {"/books/v3/invoices/": 2, "/books/v3/customerpayments": 1}
    sleeps: list[float] = []
    with PublishedZohoServer(fake) as server:
        configure(ws, server, fetch_pdf=False)
        batch = import_zoho(ws, sleep=sleeps.append)
    assert sorted(batch.added) == receivable(fake) and batch.detail["retries"] == 3
    assert sleeps == [1.0, 2.0, 1.0]


def test_an_invoice_deleted_after_listing_is_skipped_with_a_finding(ws, secrets) -> None:
    fake = PublishedZoho.mixed(10)
    gone = fake.find("INV-00003")["invoice_id"]
    fake.delete_after_list = {gone}
    with PublishedZohoServer(fake) as server:
        configure(ws, server)
        batch = import_zoho(ws)
    assert "INV-00003" not in batch.added and len(batch.added) == len(receivable(fake))
    assert [(f.code, f.severity) for f in batch.findings] == [("W-ZOHO-DELETED", "warning")]
    assert "INV-00003 was deleted in Zoho Books while the import ran" in batch.findings[0].message


def test_an_invoice_saved_while_pages_are_read_is_counted_once_and_none_is_missed(
        ws, secrets) -> None:
    fake = PublishedZoho.mixed(40)
    fake.edit_during_list = {1: fake.find("INV-00002")["invoice_id"]}   # after page 1
    with PublishedZohoServer(fake) as server:
        configure(ws, server, per_page=10, fetch_pdf=False)
        batch = import_zoho(ws)
    assert sorted(batch.added) == receivable(fake)             # nothing twice, nothing missed
    assert [f.code for f in batch.findings] == ["W-ZOHO-RELISTED"]
    assert str(ws.store.get_invoice("INV-00002").due_date) == "2026-04-30"   # the newest
    assert batch.cursor == "2026-03-09T12:00:00+0300"


def test_status_and_balance_are_refreshed_for_unchanged_invoices(ws, secrets) -> None:
    fake = PublishedZoho.mixed(12)
    with PublishedZohoServer(fake) as server:
        configure(ws, server, fetch_pdf=False)
        import_zoho(ws)
        part = fake.find("INV-00005")                            # partially_paid
        assert origin(ws, "INV-00005").extra["zoho_status"] == "partially_paid"
        # paid in Zoho: its status, balance and modification time change, its content not
        fake.add_payment(part, part["balance"])
        fake.payments[-1]["last_modified_time"] = "2026-05-01T10:00:00+0300"
        part.update(status="paid", balance=0, last_modified_time="2026-05-01T10:00:00+0300")
        # and one seen again at the cursor with nothing new: refreshed from the list alone
        batch = import_zoho(ws)
    assert batch.unchanged == ["INV-00005"] and not batch.changed
    extra = origin(ws, "INV-00005").extra
    assert (extra["zoho_status"], extra["balance"]) == ("paid", "0")
    assert len(extra["payments"]) == 2                           # the first one kept


def test_requests_for_a_full_import_of_450_invoices(ws, secrets) -> None:
    fake = PublishedZoho.mixed(450)
    with PublishedZohoServer(fake) as server:
        configure(ws, server)
        batch = import_zoho(ws)
        again = import_zoho(ws)
    receivable_ = len(receivable(fake))
    open_ = sum(1 for i in fake.invoices if i["status"] not in ("draft", "void")
                and i["balance"] > 0)
    # token + 3 list pages + details of receivables + PDFs of open ones + 9 contacts + 1 page
    assert batch.requests == 1 + 3 + receivable_ + open_ + 9 + 1 == len(fake.log) - again.requests
    assert batch.requests == 634 < 700                # the old client: 2 × 450 + 14 = 914
    # the next run lists from the cursor and reads nothing again
    assert again.requests <= 3 and again.detail["details"] == 0
