"""Amounts are shown at their currency's minor units (ISO 4217: JPY has none) by
``claims payments reconcile`` and ``claims invoice show``, as ``claims kpi`` shows them."""

from __future__ import annotations

from pathlib import Path

from tests.payments.test_prepaid import ubl


def test_yen_are_shown_without_decimals(pay_cli, tmp_path: Path) -> None:
    path = tmp_path / "jpy.xml"  # 1000 JPY net + 19 % VAT = 1190 JPY
    path.write_text(ubl().replace(".00", "").replace('"EUR"', '"JPY"')
                    .replace(">EUR<", ">JPY<"))
    assert pay_cli("invoice", "import", "ubl", str(path)).exit_code == 0
    shown = pay_cli("invoice", "show", "UBL-1001").output
    assert "net 1000, VAT 190\n" in shown
    assert "net 1000, VAT 190, total 1190 JPY" in shown
    reconciled = pay_cli("payments", "reconcile", "--as-of", "2026-12-03").output
    assert "JPY: invoiced 1,190, claimed 0, paid 0, written off 0, open 1,190, unapplied 0" \
        in reconciled
