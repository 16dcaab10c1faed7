"""``claims invoice import …`` through the real CLI: output, --json shape, exit codes."""

from __future__ import annotations

import json

import pytest

from tests.payments.statements import Tx, camt053

from .conftest import build_claim_on
from .fake_zoho import CLIENT_SECRET, REFRESH_TOKEN, FakeZoho, FakeZohoServer


@pytest.fixture
def ws_cli(cli, workspace):
    """The CLI runner on the ``workspace`` fixture's folder (both are tmp_path/ws)."""
    assert cli.root == workspace.root
    return cli


def test_ubl_import_text_and_json(ws_cli, peppol_dir) -> None:
    result = ws_cli("invoice", "import", "ubl", str(peppol_dir / "base-example.xml"))
    assert result.exit_code == 0, result.output
    assert "ubl: imported 1 invoice(s): added 1, unchanged 0" in result.output
    result = ws_cli("invoice", "import", "ubl", str(peppol_dir / "base-example.xml"), "--json")
    data = json.loads(result.stdout)
    assert result.exit_code == 0 and data["unchanged"] == ["Snippet1"] and data["added"] == []
    assert set(data) >= {"source", "target", "input_sha256", "dry_run", "import_id", "invoices",
                         "added", "unchanged", "changed", "conflicts", "customers_added",
                         "contacts_added", "findings", "requests", "cursor"}
    history = json.loads(ws_cli("invoice", "import", "history", "--json").stdout)
    assert [h["added"] for h in history] == [0, 1]


def test_a_conflict_shows_old_and_new_and_exits_1(ws_cli, workspace, peppol_dir, tmp_path) -> None:
    src = peppol_dir / "base-example.xml"
    assert ws_cli("invoice", "import", "ubl", str(src)).exit_code == 0
    build_claim_on(workspace, "Snippet1")
    changed = tmp_path / "changed.xml"
    changed.write_bytes(src.read_bytes().replace(b"<cbc:DueDate>2017-12-01",
                                                 b"<cbc:DueDate>2018-01-15"))
    result = ws_cli("invoice", "import", "ubl", str(changed))
    assert result.exit_code == 1
    assert "CONFLICT Snippet1" in result.stderr
    assert "due_date: 2017-12-01 → 2018-01-15" in result.stderr
    data = json.loads(ws_cli("invoice", "import", "ubl", str(changed), "--json").stdout)
    assert data["conflicts"] == [{"number": "Snippet1", "conflict": True, "fields": {
        "due_date": {"old": "2017-12-01", "new": "2018-01-15"}},
        "reason": "changed at the source after its claim was built"}]


def test_a_paid_invoice_keeps_its_currency_customer_and_total(ws_cli, workspace, peppol_dir,
                                                               tmp_path) -> None:
    """Money applied to an invoice was applied against its currency, customer and total: a
    re-import changing one is a conflict (the EUR payment never becomes dollars); a change to
    anything else (the due date) still updates it."""
    src = peppol_dir / "base-example.xml"
    assert ws_cli("invoice", "import", "ubl", str(src)).exit_code == 0
    _pay(ws_cli, workspace, tmp_path, "1656.25", "Snippet1")
    changed = tmp_path / "usd.xml"
    changed.write_bytes(src.read_bytes().replace(b"EUR", b"USD"))
    result = ws_cli("invoice", "import", "ubl", str(changed), "--json")
    data = json.loads(result.stdout)
    assert result.exit_code == 1 and [c["number"] for c in data["conflicts"]] == ["Snippet1"]
    assert data["conflicts"][0]["fields"]["currency"] == {"old": "EUR", "new": "USD"}
    assert "after money was applied" in data["conflicts"][0]["reason"]
    shown = json.loads(ws_cli("invoice", "show", "Snippet1", "--json").stdout)
    assert shown["invoice"]["currency"] == "EUR" and shown["invoice"]["total"] == "1656.25"
    later = tmp_path / "due.xml"
    later.write_bytes(src.read_bytes().replace(b"<cbc:DueDate>2017-12-01",
                                               b"<cbc:DueDate>2018-01-15"))
    result = ws_cli("invoice", "import", "ubl", str(later))
    assert result.exit_code == 0 and "updated 1" in result.output, result.output


def test_a_paid_invoices_total_is_kept_on_invoice_add(ws_cli, workspace, tmp_path) -> None:
    invoice = {"number": "T-1", "issue_date": "2026-11-02", "due_date": "2026-12-02",
               "currency": "EUR", "customer": "Agency", "net": "100.00", "vat": "19.00",
               "total": "119.00", "lines": [{"description": "Work", "quantity": "1",
                                             "unit_price": "100.00", "net": "100.00",
                                             "vat": "19.00"}]}
    path = tmp_path / "invoices.json"
    path.write_text(json.dumps({"invoices": [invoice]}), encoding="utf-8")
    assert ws_cli("invoice", "add", str(path)).exit_code == 0
    _pay(ws_cli, workspace, tmp_path, "119.00", "T-1")
    line = invoice["lines"][0] | {"unit_price": "50.00", "net": "50.00", "vat": "9.50"}
    path.write_text(json.dumps({"invoices": [invoice | {
        "net": "50.00", "vat": "9.50", "total": "59.50", "lines": [line]}]}), encoding="utf-8")
    result = ws_cli("invoice", "add", str(path), "--json")
    data = json.loads(result.stdout)
    assert result.exit_code == 1 and data["conflicts"] == ["T-1"]
    assert data["differences"]["T-1"]["total"] == ["119.00", "59.50"]
    assert "after money was applied" in data["reasons"]["T-1"]
    result = ws_cli("invoice", "add", str(path))
    assert "conflict: T-1 changed its currency, customer or total" in result.stderr


def test_a_payment_quoting_the_invoices_payment_reference_pays_it(ws_cli, workspace, peppol_dir,
                                                                   tmp_path) -> None:
    """EN 16931 BT-83: the reference the invoice asked the buyer to quote names the invoice
    as its number does (a camt.053 structured creditor reference, nothing else to go on)."""
    src = tmp_path / "rf.xml"
    src.write_bytes((peppol_dir / "base-example.xml").read_bytes().replace(
        b"<cbc:PaymentID>Snippet1<", b"<cbc:PaymentID>RF18539007547034<"))
    assert ws_cli("invoice", "import", "ubl", str(src)).exit_code == 0
    statement = tmp_path / "rf-pay.xml"
    statement.write_bytes(camt053([Tx("1656.25", reference="RF18539007547034",
                                      payer="Somebody else", iban="DE02120300000000202051")]))
    result = ws_cli("payments", "import", str(statement), "--json")
    assert result.exit_code == 0, result.output
    with workspace.store.engine.connect() as conn:
        assert conn.exec_driver_sql(
            "SELECT count(*) FROM payment_applications a JOIN invoices i ON i.id = a.invoice_id "
            "WHERE i.number = 'Snippet1' AND a.undone_at IS NULL").scalar() == 1
    [match] = json.loads(result.stdout)["matches"]
    assert (match["method"], match["confidence"], match["status"]) == ("reference", 100, "applied")


def _pay(ws_cli, workspace, tmp_path, amount: str, number: str) -> None:
    """A bank statement paying invoice ``number`` in full, imported and applied."""
    statement = tmp_path / f"pay-{number}.xml"
    statement.write_bytes(camt053([Tx(amount, text=f"Invoice {number}", payer="Payer ltd",
                                      iban="DE75512108001245126199")]))
    paid = ws_cli("payments", "import", str(statement))
    assert paid.exit_code == 0, paid.output
    with workspace.store.engine.connect() as conn:
        assert conn.exec_driver_sql(
            "SELECT count(*) FROM payment_applications a JOIN invoices i ON i.id = a.invoice_id "
            f"WHERE i.number = '{number}' AND a.undone_at IS NULL").scalar() == 1


def test_bad_input_is_one_clean_error(ws_cli, tmp_path) -> None:
    bomb = tmp_path / "bomb.xml"
    bomb.write_bytes(b'<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>')
    result = ws_cli("invoice", "import", "ubl", str(bomb))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "error:" in result.stderr and "bomb.xml" in result.stderr
    assert "refused unsafe XML" in result.stderr


def test_csv_preview_and_dry_run(ws_cli, tmp_path) -> None:
    path = tmp_path / "qb.csv"
    path.write_text("Date,Num,Customer,Email,Due Date,Currency,Memo/Description,Qty,Sales Price,"
                    "Amount,Tax Amount\n"
                    "03/01/2026,77,Agency,,03/31/2026,USD,Work,1,100,100.00,15.00\n",
                    encoding="utf-8")
    result = ws_cli("invoice", "import", "csv", str(path), "--mapping", "quickbooks",
                    "--preview", "3")
    assert result.exit_code == 0 and "row 2: number=77" in result.output
    dry = json.loads(ws_cli("invoice", "import", "csv", str(path), "-m", "quickbooks",
                            "--dry-run", "--json").stdout)
    assert dry["dry_run"] is True and dry["added"] == ["77"] and dry["import_id"] is None
    assert json.loads(ws_cli("invoice", "import", "history", "--json").stdout) == []
    wrong = ws_cli("invoice", "import", "csv", str(path), "-m", "sapp")
    assert wrong.exit_code == 1 and "did you mean sap" in wrong.stderr


def test_zoho_through_the_cli(ws_cli, workspace, monkeypatch) -> None:
    monkeypatch.setenv("TEST_ZOHO_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("TEST_ZOHO_REFRESH_TOKEN", REFRESH_TOKEN)
    fake = FakeZoho.with_invoices(5, customers=2)
    with FakeZohoServer(fake) as server:
        with workspace.config_path.open("a", encoding="utf-8") as f:
            f.write(server.settings_toml())
        result = ws_cli("invoice", "import", "zoho", "--since", "2026-01-01", "--json")
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)
        assert len(data["added"]) == 5 and data["requests"] == len(fake.log)
        assert data["detail"]["minimum_requests"] == data["requests"]
        assert CLIENT_SECRET not in result.output and REFRESH_TOKEN not in result.output
        bad = ws_cli("invoice", "import", "zoho", "--since", "March")
        assert bad.exit_code == 1 and "--since" in bad.stderr
    # the server is gone: Zoho cannot be reached → exit 3, one line
    down = ws_cli("invoice", "import", "zoho")
    assert down.exit_code == 3 and "cannot connect" in down.stderr


def test_invoice_show_names_its_source_and_seller(ws_cli, peppol_dir) -> None:
    assert ws_cli("invoice", "import", "ubl", str(peppol_dir / "base-example.xml")).exit_code == 0
    data = json.loads(ws_cli("invoice", "show", "Snippet1", "--json").stdout)
    assert data["source"]["source"] == "ubl" and data["source"]["kind"] == "invoice"
    assert data["source"]["import_id"] == 1
    assert data["source"]["origin"].endswith("base-example.xml")
    assert set(data["seller"]) == {"name", "vat_number"} and data["seller"]["vat_number"]
    assert data["totals"]["currency"] == data["invoice"]["currency"]
    assert len(data["lines"]) == len(data["invoice"]["lines"]) > 0
    text = ws_cli("invoice", "show", "Snippet1")
    assert text.exit_code == 0 and f"seller: {data['seller']['name']}" in text.output
    assert "source: ubl invoice" in text.output
    missing = ws_cli("invoice", "show", "NOPE")
    assert missing.exit_code == 1 and "NOPE" in missing.output
