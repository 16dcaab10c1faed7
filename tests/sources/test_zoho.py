"""Zoho Books against a fake server on a real port: pagination, incremental runs, token expiry
and refresh, 429 back-off resuming at the same request, 5xx, malformed JSON, bad credentials."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select, text

from claims.errors import InputError
from claims.sources.api import import_zoho
from claims.store.tables.sources import InvoiceImportRow, InvoiceOriginRow
from claims.sources.zoho import ZohoAuthError, ZohoError
from claims.store.tables import ContactRow, CustomerRow, DocumentRow, InvoiceRow

from .conftest import build_claim_on
from .fake_zoho import CLIENT_SECRET, REFRESH_TOKEN, FakeZoho, FakeZohoServer


@pytest.fixture
def secrets(monkeypatch) -> None:
    monkeypatch.setenv("TEST_ZOHO_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("TEST_ZOHO_REFRESH_TOKEN", REFRESH_TOKEN)


def configure(ws, server: FakeZohoServer, **over) -> None:
    with ws.config_path.open("a", encoding="utf-8") as f:
        f.write(server.settings_toml(**over))
    ws.__dict__.pop("settings", None)


class Sleeps(list):
    """Records the back-off the client asked for instead of waiting it out."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def count(ws, table) -> int:
    with ws.store.session() as s:
        return s.scalar(select(func.count()).select_from(table))


def test_full_import_pages_details_pdfs_contacts_payments(ws, secrets) -> None:
    fake = FakeZoho.with_invoices(250, customers=7, payments=3)
    with FakeZohoServer(fake) as server:
        configure(ws, server)
        batch = import_zoho(ws)
    assert len(batch.added) == 250 and batch.customers_added == 7 and batch.contacts_added == 7
    assert fake.count("/books/v3/invoices") == 2 + 250 * 2       # 2 pages, details, PDFs
    assert batch.requests == len(fake.log) == batch.detail["minimum_requests"]
    inv = ws.store.get_invoice("INV-000003")
    assert inv.lines[0].quantity == Decimal(4) and inv.total == Decimal("577.30")
    assert inv.contract_number == "C-1" and inv.customer == "Agency 3"
    assert count(ws, DocumentRow) == 250
    with ws.store.session() as s:
        origin = s.scalar(select(InvoiceOriginRow).join(InvoiceRow).where(
            InvoiceRow.number == "INV-000001"))
        assert origin.external_id == "982000000000001" and origin.document_id is not None
        assert origin.extra["payments"][0]["payment_id"] == "77000000"
        emails = s.scalars(select(ContactRow.email).order_by(ContactRow.email)).all()
        assert emails[0] == "finance0@agency.gov" and len(emails) == 7


def test_incremental_run_fetches_only_what_changed_and_shows_old_and_new(ws, secrets) -> None:
    fake = FakeZoho.with_invoices(30, customers=3)
    with FakeZohoServer(fake) as server:
        configure(ws, server, per_page=10)
        first = import_zoho(ws)
        assert first.cursor == "2026-03-01T08:00:30+0000"      # the newest modification
        build_claim_on(ws, "INV-000002")
        fake.modify("INV-000001", "2026-03-05T08:00:00+0000", due_date="2026-04-15")
        fake.modify("INV-000002", "2026-03-05T08:00:01+0000", date="2026-03-02")
        fake.log.clear()
        second = import_zoho(ws)
    # the listing starts at the stored high-water mark: only the boundary and changed invoices
    assert [c.number for c in second.changed] == ["INV-000001"]
    assert second.changed[0].fields == {"due_date": ("2026-03-31", "2026-04-15")}
    assert [c.number for c in second.conflicts] == ["INV-000002"]
    assert second.conflicts[0].fields["issue_date"] == ("2026-03-01", "2026-03-02")
    assert str(ws.store.get_invoice("INV-000002").issue_date) == "2026-03-01"   # kept
    assert second.cursor == "2026-03-05T08:00:01+0000"
    # listed from the stored high-water mark; the boundary invoice is stored with the same
    # last_modified_time, so only the two changed ones are read again (detail and PDF)
    assert fake.count("/books/v3/invoices/") == 2 * 2 and second.detail["refreshed"] == 1
    with ws.store.session() as s:
        assert s.scalar(select(func.count()).select_from(CustomerRow)) == 3


def test_429_backs_off_and_resumes_at_the_same_page(ws, secrets) -> None:
    fake = FakeZoho.with_invoices(25, customers=2)
    sleeps = Sleeps()
    with FakeZohoServer(fake) as server:
        configure(ws, server, per_page=10, fetch_pdf=False)
        fake.fail("/books/v3/customerpayments", "429", times=2)
        batch = import_zoho(ws, sleep=sleeps)
    assert sleeps == [1.0, 1.0]                      # the server's Retry-After, twice
    assert len(batch.added) == 25 and batch.detail["retries"] == 2
    assert fake.count("/books/v3/customerpayments") == 3
    assert fake.count("/books/v3/invoices") == 3 + 25  # no page fetched twice


def test_5xx_is_retried_with_back_off(ws, secrets) -> None:
    fake = FakeZoho.with_invoices(3, customers=1)
    sleeps = Sleeps()
    with FakeZohoServer(fake) as server:
        configure(ws, server)
        fake.fail("/books/v3/invoices/982000000000002", "500", times=2)
        batch = import_zoho(ws, sleep=sleeps)
    assert sleeps == [1.0, 2.0] and len(batch.added) == 3


def test_an_expired_access_token_is_refreshed_once_mid_run(ws, secrets) -> None:
    fake = FakeZoho.with_invoices(5, customers=1)
    with FakeZohoServer(fake) as server:
        configure(ws, server, fetch_pdf=False)
        fake.fail("/books/v3/invoices/982000000000004", "expire", times=1)
        batch = import_zoho(ws)
    assert len(batch.added) == 5 and fake.count("/oauth/v2/token") == 2


def test_a_refused_refresh_token_is_a_clear_error_without_the_secret(ws, secrets) -> None:
    fake = FakeZoho.with_invoices(2)
    fake.refresh_token = "1000.another"
    with FakeZohoServer(fake) as server:
        configure(ws, server)
        with pytest.raises(ZohoAuthError, match="refresh token was refused \\(invalid_code\\)") \
                as err:
            import_zoho(ws)
    assert REFRESH_TOKEN not in str(err.value) and CLIENT_SECRET not in str(err.value)
    assert count(ws, InvoiceImportRow) == 0


def test_a_200_with_malformed_json_is_read_again(ws, secrets) -> None:
    fake = FakeZoho.with_invoices(12, customers=1)
    sleeps = Sleeps()
    with FakeZohoServer(fake) as server:
        configure(ws, server, per_page=5, fetch_pdf=False)
        fake.fail("/books/v3/invoices", "badjson", times=2)
        batch = import_zoho(ws, sleep=sleeps)
    assert len(batch.added) == 12 and batch.detail["retries"] == 2 and sleeps == [1.0, 2.0]


def test_malformed_json_that_persists_names_the_request_and_nothing_is_stored(ws,
                                                                               secrets) -> None:
    fake = FakeZoho.with_invoices(12, customers=1)
    with FakeZohoServer(fake) as server:
        configure(ws, server, per_page=5, max_retries=2)
        fake.fail("/books/v3/invoices", "badjson", times=3)
        with pytest.raises(ZohoError, match="GET /invoices \\(page 1\\).*not JSON"):
            import_zoho(ws, sleep=Sleeps())
    assert fake.count("/books/v3/invoices") == 3
    assert count(ws, InvoiceRow) == 0 and count(ws, InvoiceImportRow) == 0


def test_endless_429_gives_up_and_nothing_is_half_imported(ws, secrets) -> None:
    fake = FakeZoho.with_invoices(12, customers=1)
    with FakeZohoServer(fake) as server:
        configure(ws, server, per_page=5, max_retries=2)
        fake.fail("/books/v3/contacts", "429", times=99)
        with pytest.raises(ZohoError, match="HTTP 429 after 3 attempts") as err:
            import_zoho(ws, sleep=Sleeps())
    assert err.value.where.startswith("contact ")
    assert count(ws, InvoiceRow) == 0 and count(ws, CustomerRow) == 0


def test_unknown_currency_names_the_invoice(ws, secrets) -> None:
    fake = FakeZoho.with_invoices(3, customers=1)
    fake.invoices[1]["currency_code"] = "XYZ"
    with FakeZohoServer(fake) as server:
        configure(ws, server, fetch_pdf=False)
        with pytest.raises(InputError, match="invoice 982000000000002: currency_code: unknown "
                                             "currency 'XYZ'"):
            import_zoho(ws)
    assert count(ws, InvoiceRow) == 0


def test_missing_settings_and_secret_are_clear(ws, monkeypatch) -> None:
    with pytest.raises(InputError, match="no \\[invoice_import.zoho\\] table"):
        import_zoho(ws)
    with FakeZohoServer(FakeZoho()) as server:
        configure(ws, server)
        monkeypatch.delenv("TEST_ZOHO_CLIENT_SECRET", raising=False)
        with pytest.raises(InputError, match="TEST_ZOHO_CLIENT_SECRET is not set"):
            import_zoho(ws)


def test_secrets_never_reach_the_database(ws, secrets) -> None:
    fake = FakeZoho.with_invoices(4, customers=2)
    with FakeZohoServer(fake) as server:
        configure(ws, server)
        import_zoho(ws)
    with ws.store.engine.connect() as conn:
        dump = "\n".join(str(row) for table in ("invoice_imports", "invoice_origins", "invoices",
                                                "customers", "contacts", "customer_links")
                         for row in conn.execute(text(f"SELECT * FROM {table}")))
    for secret in (CLIENT_SECRET, REFRESH_TOKEN, "1000.access"):
        assert secret not in dump


def test_an_invoice_voided_in_zoho_after_import_is_a_warning(ws, secrets) -> None:
    fake = FakeZoho.with_invoices(4, customers=1)
    with FakeZohoServer(fake) as server:
        configure(ws, server, fetch_pdf=False)
        import_zoho(ws)
        fake.modify("INV-000002", "2026-03-09T00:00:00+0000", status="void")
        fake.modify("INV-000003", "2026-03-09T00:00:01+0000", due_date="2026-05-01")
        batch = import_zoho(ws)
    assert [(f.code, f.severity) for f in batch.findings] == [("W-ZOHO-VOID", "warning")]
    assert "INV-000002 was voided" in batch.findings[0].message
    assert batch.detail["skipped_drafts_and_voids"] == ["INV-000002"]
    assert ws.store.get_invoice("INV-000002").number == "INV-000002"   # kept on record


def test_one_bad_invoice_is_held_back_and_read_again_next_run(ws, secrets) -> None:
    fake = FakeZoho.with_invoices(4, customers=1)
    bad = fake.invoices[1]
    bad["total"] = round(float(bad["total"]) + 1, 2)     # total ≠ lines + tax
    with FakeZohoServer(fake) as server:
        configure(ws, server, fetch_pdf=False)
        batch = import_zoho(ws)
        assert sorted(batch.added) == ["INV-000001", "INV-000003", "INV-000004"]
        (err,) = [f for f in batch.findings if f.severity == "error"]
        assert err.code == "E-ZOHO-TOTAL" and "invoice INV-000002: total" in err.message
        assert err.file.endswith("invoice 982000000000002")
        assert batch.detail["held_back"] == ["INV-000002"]
        # the cursor stays before the held invoice: the next run lists it again
        assert batch.cursor < bad["last_modified_time"]
        bad["total"] = round(float(bad["total"]) - 1, 2)  # fixed in Zoho
        again = import_zoho(ws)
    assert again.added == ["INV-000002"]
    assert not [f for f in again.findings if f.severity == "error"]
    assert count(ws, InvoiceRow) == 4
