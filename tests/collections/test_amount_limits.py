"""The largest amount is a count of minor units, the same for every currency: 10^13 − 1
(claims.core.money.amount_limit). Worked by hand: JPY (0 decimals) 9,999,999,999,999; SAR (2)
99,999,999,999.99; KWD (3) 9,999,999,999.999. Each door (contract add, invoice add, statement
import) takes the limit and refuses the amount one minor unit above it (10^13 minor units) in
one line naming the field, the currency and the limit; nothing is kept. Before, the limit was
99,999,999,999.99 whatever the currency: 0.1 % of it for JPY, ten times it for KWD."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select

from claims.core.money import CURRENCIES, amount_limit
from claims.store.tables import ContractRow, InvoiceRow, PaymentRow, store_problem
from claims.workspace import Workspace

#: currency → (the limit, written out by hand; the amount just above it, as written)
LIMITS = {
    "JPY": ("9999999999999", "10000000000000", "9,999,999,999,999"),
    "SAR": ("99999999999.99", "100000000000.00", "99,999,999,999.99"),
    "KWD": ("9999999999.999", "10000000000.000", "9,999,999,999.999"),
}


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """The doors only parse: SQLite is enough (the SQL is tested on both elsewhere)."""
    return f"sqlite:///{tmp_path / 'claims.db'}"


def _refused(result: Any, *needles: str, lines: int = 1) -> None:
    """Exit 1, ``lines`` lines (invoice add lists its problems under one heading), no
    traceback, and every needle in it."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == lines, result.output
    for needle in needles:
        assert needle in result.output, result.output


def _count(ws: Workspace, table: type) -> int:
    with ws.store.session() as s:
        return s.scalar(select(func.count()).select_from(table)) or 0


def test_the_limit_is_ten_to_the_thirteen_minus_one_minor_units() -> None:
    for currency, (limit, _, _) in LIMITS.items():
        assert str(amount_limit(currency)) == limit
    assert all(store_problem(c) is None for c in CURRENCIES)


@pytest.mark.parametrize("currency", sorted(LIMITS))
def test_contract_add_takes_the_limit_and_refuses_above(cli: Any, ws: Workspace, tmp_path: Path,
                                                        currency: str) -> None:
    limit, over, shown = LIMITS[currency]
    for number, ceiling in (("C-AT", limit), ("C-OVER", over)):
        path = tmp_path / f"{number}.yaml"
        path.write_text(yaml.safe_dump({
            "number": number, "agency": "Ministry", "portal": "sandbox", "currency": currency,
            "ceiling": ceiling, "period": {"start": "2026-01-01", "end": "2026-12-31"},
            "vat_percent": "15", "claim_types": ["services-monthly"]}))
        result = cli("contract", "add", str(path))
        if number == "C-AT":
            assert result.exit_code == 0, result.output
        else:
            _refused(result, str(path), f"/ceiling: {over} exceeds the largest amount accepted "
                     f"in {currency}, {shown}", "[rule: amount-range]")
    with ws.store.session() as s:
        assert list(s.scalars(select(ContractRow.ceiling))) == [Decimal(limit)]


@pytest.mark.parametrize("currency", sorted(LIMITS))
def test_invoice_add_takes_the_limit_and_refuses_above(cli: Any, ws: Workspace, tmp_path: Path,
                                                       currency: str) -> None:
    limit, over, shown = LIMITS[currency]
    for number, total in (("I-AT", limit), ("I-OVER", over)):
        path = tmp_path / f"{number}.json"
        path.write_text(json.dumps([{
            "number": number, "issue_date": "2026-02-01", "currency": currency,
            "customer": "Acme Corp", "net": total, "vat": "0", "total": total}]))
        result = cli("invoice", "add", str(path))
        if number == "I-AT":
            assert result.exit_code == 0, result.output
        else:
            _refused(result, str(path), "1 problem(s)", f"net: {over} exceeds the largest "
                     f"amount accepted in {currency}, {shown}", lines=2)
    with ws.store.session() as s:
        assert list(s.scalars(select(InvoiceRow.total))) == [Decimal(limit)]


@pytest.mark.parametrize("currency", sorted(LIMITS))
def test_invoice_lines_are_checked_against_their_own_currency(cli: Any, ws: Workspace,
                                                              tmp_path: Path,
                                                              currency: str) -> None:
    """A line's net and VAT pass the same door as the invoice's: its currency's limit and
    minor unit (before, only the largest limit of any currency, JPY's 9,999,999,999,999, and
    no minor unit: a SAR line of 100,000,000,000.00 or a JPY line of 0.5 was kept)."""
    limit, over, shown = LIMITS[currency]
    finer = {"JPY": "0.5", "SAR": "0.005", "KWD": "0.0005"}[currency]

    def invoice(number: str, line_net: str, line_vat: str = "0") -> Path:
        path = tmp_path / f"{number}.json"
        path.write_text(json.dumps([{
            "number": number, "issue_date": "2026-02-01", "currency": currency,
            "customer": "Acme Corp", "net": "1", "vat": "0", "total": "1",
            "lines": [{"description": "Works", "quantity": "1", "unit_price": "1",
                       "net": line_net, "vat": line_vat}]}]))
        return path

    assert cli("invoice", "add", str(invoice("I-AT", limit))).exit_code == 0
    path = invoice("I-OVER", over)
    _refused(cli("invoice", "add", str(path)), str(path), f"lines/0/net: {over} exceeds the "
             f"largest amount accepted in {currency}, {shown}", lines=2)
    path = invoice("I-FINE", "1", line_vat=finer)
    _refused(cli("invoice", "add", str(path)), str(path), f"lines/0/vat: {finer} has a "
             f"fraction below the minor unit of {currency}", lines=2)
    with ws.store.session() as s:
        assert list(s.scalars(select(InvoiceRow.number))) == ["I-AT"]


@pytest.mark.parametrize("currency", sorted(LIMITS))
def test_statement_import_takes_the_limit_and_refuses_above(cli: Any, ws: Workspace,
                                                            tmp_path: Path, currency: str) -> None:
    limit, over, shown = LIMITS[currency]
    header = "date,amount,currency,payer_name,payer_iban,reference,remittance,id\n"
    at = tmp_path / "at.csv"
    at.write_text(header + f"2026-03-01,{limit},{currency},Nobody Known,,,,T1\n")
    result = cli("payments", "import", str(at))
    assert result.exit_code == 0, result.output
    above = tmp_path / "over.csv"
    above.write_text(header + f"2026-03-02,{over},{currency},Nobody Known,,,,T2\n")
    _refused(cli("payments", "import", str(above)), str(above), "row 2: amount",
             f"{over} exceeds the largest amount accepted in {currency}, {shown}",
             "[rule: amount-range]")
    with ws.store.session() as s:
        assert list(s.scalars(select(PaymentRow.amount))) == [Decimal(limit)]
