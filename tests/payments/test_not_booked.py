"""camt.053 entries the bank has not booked (pending PDNG, INFO, FUTR, a proprietary status) are
never payments and never count in the balance check, but the import says how many it left out,
per statement and why. Each file is written by the test and read from disk."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from claims.errors import InputError
from claims.payments.parsers import parse_statement
from tests.payments.statements import Tx, camt053

NS = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"


def _entry(amount: str, status: str | None = "<Cd>BOOK</Cd>", indicator: str = "CRDT",
           currency: str = "SAR") -> str:
    sts = "" if status is None else f"<Sts>{status}</Sts>"
    return (f'<Ntry><Amt Ccy="{currency}">{amount}</Amt><CdtDbtInd>{indicator}</CdtDbtInd>{sts}'
            "<BookgDt><Dt>2026-11-20</Dt></BookgDt><ValDt><Dt>2026-11-20</Dt></ValDt>"
            "<NtryDtls><TxDtls><RmtInf><Ustrd>INV-1</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>")


def _bal(code: str, amount: str) -> str:
    return (f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp>"
            f'<Amt Ccy="SAR">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd>'
            "<Dt><Dt>2026-11-20</Dt></Dt></Bal>")


def _stmt(stmt_id: str, *entries: str, balances: str = "") -> str:
    return (f"<Stmt><Id>{stmt_id}</Id><Acct><Id><IBAN>SA0380000000608010167519</IBAN></Id>"
            f"<Ccy>SAR</Ccy></Acct>{balances}{''.join(entries)}</Stmt>")


def _camt(tmp_path: Path, *stmts: str) -> Path:
    path = tmp_path / "s.xml"
    path.write_text(f'<?xml version="1.0" encoding="UTF-8"?><Document xmlns="{NS}">'
                    f"<BkToCstmrStmt><GrpHdr><MsgId>M</MsgId></GrpHdr>{''.join(stmts)}"
                    "</BkToCstmrStmt></Document>")
    return path


PENDING = "<Cd>PDNG</Cd>"
TWO_STATEMENTS = (
    _stmt("S1", _entry("100.00"), _entry("7.00", PENDING), _entry("8.00", PENDING),
          _entry("9.00", PENDING, indicator="DBIT"), _entry("30.00", indicator="DBIT"),
          balances=_bal("OPBD", "1000.00") + _bal("CLBD", "1070.00")),
    _stmt("S2", _entry("5.00", "<Cd>INFO</Cd>"), _entry("6.00", "<Cd>FUTR</Cd>"),
          _entry("4.00", "<Prtry>HELD</Prtry>"), _entry("50.00")))


def test_not_booked_entries_are_counted_per_statement_and_status(tmp_path: Path) -> None:
    st = parse_statement(_camt(tmp_path, *TWO_STATEMENTS)).materialize()
    assert [line.amount for line in st.lines] == [Decimal("100.00"), Decimal("50.00")]
    assert st.debits_skipped == 1  # the pending debit is not a booked debit either
    assert [(n["statement"], n["id"], n["status"], n["entries"]) for n in st.not_booked] == [
        ("Stmt[1]", "S1", "PDNG", 3), ("Stmt[2]", "S2", "FUTR", 1),
        ("Stmt[2]", "S2", "HELD", 1), ("Stmt[2]", "S2", "INFO", 1)]
    # totalled per currency as booked ones are: S1's pending 7.00 + 8.00 in, 9.00 out
    assert [(n["status"], n["credits"], n["debits"]) for n in st.not_booked] == [
        ("PDNG", {"SAR": "15.00"}, {"SAR": "9.00"}), ("FUTR", {"SAR": "6.00"}, {}),
        ("HELD", {"SAR": "4.00"}, {}), ("INFO", {"SAR": "5.00"}, {})]
    reasons = {n["status"]: n["reason"] for n in st.not_booked}
    assert reasons["PDNG"].startswith("pending") and "information only" in reasons["INFO"]
    assert "HELD" in reasons["HELD"] and "BOOK" in reasons["HELD"]


def test_pending_entries_are_totalled_per_currency(tmp_path: Path) -> None:
    path = _camt(tmp_path, _stmt("S1", _entry("100.00"), _entry("7.00", PENDING),
                                 _entry("3.50", PENDING, currency="USD"),
                                 _entry("2.25", PENDING, currency="USD"),
                                 _entry("1.000", PENDING, indicator="DBIT", currency="KWD")))
    [pending] = parse_statement(path).materialize().not_booked
    assert (pending["entries"], pending["credits"], pending["debits"]) == (
        4, {"SAR": "7.00", "USD": "5.75"}, {"KWD": "1.000"})


def test_the_002_status_form_is_read_too(tmp_path: Path) -> None:
    data = camt053([Tx("10.00", payer="A"), Tx("20.00", payer="B")], version="02")
    data = data.replace(b"<Sts>BOOK</Sts>", b"<Sts>PDNG</Sts>", 1)
    data = data.replace(b">30.00</Amt>", b">20.00</Amt>")  # the CLBD: booked entries only
    path = tmp_path / "s02.xml"
    path.write_bytes(data)
    st = parse_statement(path).materialize()
    assert [line.payer_name for line in st.lines] == ["B"]
    assert [(n["status"], n["entries"]) for n in st.not_booked] == [("PDNG", 1)]


def test_the_balance_check_counts_booked_entries_only(tmp_path: Path) -> None:
    # the closing balance that counts the pending entries too does not add up: refused
    wrong = _stmt("S1", _entry("100.00"), _entry("7.00", PENDING),
                  balances=_bal("OPBD", "1000.00") + _bal("CLBD", "1107.00"))
    with pytest.raises(InputError) as err:
        parse_statement(_camt(tmp_path, wrong)).materialize()
    assert (err.value.rule, err.value.field) == ("camt053-balance", "Stmt[1]/Bal")


def test_an_entry_without_a_status_is_refused(tmp_path: Path) -> None:
    path = _camt(tmp_path, _stmt("S1", _entry("100.00"), _entry("7.00", None)))
    with pytest.raises(InputError) as err:
        parse_statement(path).materialize()
    assert (err.value.rule, err.value.field) == ("camt053-structure", "Stmt[1]/Ntry[2]/Sts")


def test_the_import_reports_what_it_left_out(pay_cli, tmp_path: Path) -> None:
    path = _camt(tmp_path, *TWO_STATEMENTS)
    result = pay_cli("payments", "import", str(path), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "2 credit line(s), 2 new" in result.output
    assert ("not imported: 3 PDNG entries of Stmt[1] (S1) (pending: not booked yet): "
            "credits SAR 15.00; debits SAR 9.00" in result.output)
    assert "not imported: 1 INFO entry of Stmt[2] (S2) (information only" in result.output
    data = json.loads(pay_cli("payments", "import", str(path), "--json").stdout)
    assert (data["lines"], data["added"]) == (2, 2)
    assert [(n["statement"], n["status"], n["entries"]) for n in data["not_booked"]] == [
        ("Stmt[1]", "PDNG", 3), ("Stmt[2]", "FUTR", 1), ("Stmt[2]", "HELD", 1),
        ("Stmt[2]", "INFO", 1)]
    assert (data["not_booked"][0]["credits"], data["not_booked"][0]["debits"]) == (
        {"SAR": "15.00"}, {"SAR": "9.00"})
    again = json.loads(pay_cli("payments", "import", str(path), "--json").stdout)
    assert again["duplicate"] and again["not_booked"] == data["not_booked"]
