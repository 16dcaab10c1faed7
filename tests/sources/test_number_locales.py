# ruff: noqa: E501  (report rows read best unwrapped)
"""Numbers in exports by the declared locale (claims/sources/numbers.py): SAP FBL5N in English and
German notation, a wrong declaration refused naming the notation the value reads as, ambiguous
values under an undeclared (default) notation refused; QuickBooks Online's Invoice List."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from claims.errors import InputError
from claims.sources.api import import_tabular
from claims.sources.common import ImportRejected
from claims.sources.numbers import parse_amount
from claims.workspace import init_workspace

D = Decimal
FIXTURES = Path(__file__).parents[1] / "fixtures" / "exports"
SAP_DE = FIXTURES / "sap-fbl5n-gui-export.txt"
SAP_EN = FIXTURES / "sap-fbl5n-gui-export-en.txt"
QBO_LIST = FIXTURES / "qbo-invoice-list.csv"


@pytest.mark.parametrize(("text", "decimal", "thousands", "value"), [
    ("1,234.56", ".", ",", D("1234.56")), ("14,875.00-", ".", ",", D("-14875.00")),
    ("1.234,56-", ",", ".", D("-1234.56")), ("14.875", ",", ".", D("14875")),
    ("14.875", ".", ",", D("14.875")), ("$(250.00)", ".", ",", D("-250.00")),
    ("-$1,200.00", ".", ",", D("-1200.00")), ("1 234,56", ",", " ", D("1234.56")),
    ("1'234.50", ".", "'", D("1234.50")), ("12,00 €", ",", ".", D("12.00")), ("", ".", ",", None),
])
def test_the_declared_notation_decides(text, decimal, thousands, value) -> None:
    assert parse_amount(text, decimal, thousands) == value


@pytest.mark.parametrize(("text", "decimal", "thousands", "hint"), [
    ("1.234,56", ".", ",", "reads as locale 'de'"),      # used to become 1.23456
    ("1,234.56", ",", ".", "reads as locale 'en'"),      # used to become 1.23456
    ("14,875.00-", ",", ".", "reads as locale 'en'"),
    ("1,23.45", ".", ",", "refused, not guessed"),       # a group of two
    ("1.2.3", ",", ".", "refused, not guessed"),
    ("-", ".", ",", "refused, not guessed"),
])
def test_a_value_outside_the_declared_notation_is_refused_naming_it(text, decimal, thousands, hint) -> None:
    with pytest.raises(ValueError, match="not a number in the declared notation") as err:
        parse_amount(text, decimal, thousands)
    assert hint in str(err.value) and "number-locale" in str(err.value)


def test_an_undeclared_notation_refuses_what_another_locale_reads_otherwise() -> None:
    for text in ("1,234", "14.875", "1,234-"):
        with pytest.raises(ValueError, match="ambiguous"):
            parse_amount(text, ".", ",", declared=False)
    assert parse_amount("1,234.00", ".", ",", declared=False) == D("1234.00")   # only en reads it
    assert parse_amount("150", ".", ",", declared=False) == D("150")


def _totals(ws) -> dict[str, Decimal]:
    return {n: ws.store.get_invoice(n).total
            for n in ("2026/1800000123", "2025/1800000123", "2026/1800000124")}


def test_sap_english_and_german_notation_import_the_same_invoices(ws, tmp_path) -> None:
    en = import_tabular(ws, SAP_EN, "sap-en")
    assert sorted(en.added) == ["2025/1800000123", "2026/1800000123", "2026/1800000124"]
    assert _totals(ws) == {"2026/1800000123": D("14875.00"), "2025/1800000123": D("1190.00"),
                           "2026/1800000124": D("-1190.00")}
    assert ws.store.get_invoice("2026/1800000123").vat == D("2375.00")
    (skip,) = [f for f in en.findings if f.code == "W-ROW-SKIPPED"]    # DZ −14,875.00-: a payment
    assert "'DZ'" in skip.message
    other = init_workspace(tmp_path / "de")
    try:
        import_tabular(other, SAP_DE, "sap")
        assert _totals(other) == _totals(ws)
    finally:
        other.close()


@pytest.mark.parametrize(("path", "mapping", "locale"), [(SAP_DE, "sap-en", "de"), (SAP_EN, "sap", "en")])
def test_sap_through_the_other_locale_is_refused_not_misread(ws, path, mapping, locale) -> None:
    with pytest.raises(ImportRejected) as err:
        import_tabular(ws, path, mapping)
    amounts = [f for f in err.value.findings if "Amount in doc. curr." in f.field]
    assert amounts and all(f"reads as locale {locale!r}" in f.message for f in amounts)
    assert ws.store.list_invoices() == []


def test_a_user_mapping_declares_its_locale(ws, tmp_path) -> None:
    with ws.config_path.open("a", encoding="utf-8") as f:
        f.write('\n[invoice_import.mappings.de-erp]\nlocale = "de"\ncurrency = "EUR"\n'
                '[invoice_import.mappings.de-erp.columns]\nnumber = "No"\nissue_date = "Date"\n'
                'customer = "Customer"\ntotal = "Total"\n'
                '[invoice_import.mappings.plain]\ncurrency = "EUR"\n'
                '[invoice_import.mappings.plain.columns]\nnumber = "No"\nissue_date = "Date"\n'
                'customer = "Customer"\ntotal = "Total"\n')
    ws.__dict__.pop("settings", None)
    path = tmp_path / "x.csv"
    path.write_text('No,Date,Customer,Total\nA,2026-01-01,X,"1.500"\n', encoding="utf-8")
    assert import_tabular(ws, path, "de-erp", dry_run=True).invoices == 1
    with pytest.raises(ImportRejected, match="ambiguous: 1.500 with decimal '.' thousands ','"):
        import_tabular(ws, path, "plain")


def test_a_locale_and_a_contradicting_separator_is_a_settings_error(ws, tmp_path) -> None:
    with ws.config_path.open("a", encoding="utf-8") as f:
        f.write('\n[invoice_import.mappings.bad]\nlocale = "de"\ndecimal = "."\ncurrency = "EUR"\n'
                '[invoice_import.mappings.bad.columns]\nnumber = "No"\nissue_date = "Date"\n'
                'customer = "Customer"\ntotal = "Total"\n')
    ws.__dict__.pop("settings", None)
    with pytest.raises(InputError, match="contradicts locale 'de'"):
        import_tabular(ws, SAP_EN, "bad")


def test_quickbooks_online_invoice_list(ws) -> None:
    batch = import_tabular(ws, QBO_LIST, "quickbooks-invoice-list")
    assert sorted(batch.added) == ["1001", "1002", "1005"]       # TOTAL row and footer left out
    inv = ws.store.get_invoice("1001")
    assert (inv.customer, inv.currency, inv.total, str(inv.due_date)) == (
        "Ministry of Works", "USD", D("12350.50"), "2026-03-31")
    assert ws.store.get_invoice("1005").customer == "Total Quality Logistics"
    assert ws.store.get_invoice("1002").lines[0].description == "Design review"
    assert import_tabular(ws, QBO_LIST, "quickbooks-invoice-list").unchanged == batch.added


@pytest.mark.parametrize("text", ["١٢٣", "١٢٣,٤٥", "1,٢٣٤.00", "１２３", "12.٥", "۱۲۳", "१२३"])
@pytest.mark.parametrize(("decimal", "thousands"), [(".", ","), (",", "."), (".", "")])
def test_non_ascii_digits_are_refused_in_every_notation(text, decimal, thousands) -> None:
    """``\\d`` took Arabic-Indic and full-width digits, which Decimal reads: ١٢٣ was 123."""
    with pytest.raises(ValueError, match="digits are ASCII 0-9 only") as err:
        parse_amount(text, decimal, thousands)
    assert "number-locale" in str(err.value)
    with pytest.raises(ValueError):
        parse_amount(text, decimal, thousands, declared=False)


def test_an_export_with_arabic_indic_digits_is_refused_naming_the_row(ws, tmp_path) -> None:
    with ws.config_path.open("a", encoding="utf-8") as f:
        f.write('\n[invoice_import.mappings.ar-erp]\nlocale = "en"\ncurrency = "SAR"\n'
                '[invoice_import.mappings.ar-erp.columns]\nnumber = "No"\nissue_date = "Date"\n'
                'customer = "Customer"\ntotal = "Total"\n')
    ws.__dict__.pop("settings", None)
    path = tmp_path / "ar.csv"
    path.write_text('No,Date,Customer,Total\nA,2026-01-01,X,"1,500.00"\nB,2026-01-02,Y,١٢٣\n',
                    encoding="utf-8")
    with pytest.raises(ImportRejected) as err:
        import_tabular(ws, path, "ar-erp")
    (finding,) = [f for f in err.value.findings if "ASCII" in f.message]
    assert "Total" in finding.field and "'١٢٣'" in finding.message
    assert ws.store.list_invoices() == []
