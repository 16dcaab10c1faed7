"""Statement parsers: real camt.053 / MT940 / CSV content, and every kind of bad input."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from claims.errors import InputError
from claims.payments.parsers import (
    csv_mapping, parse_camt053, parse_csv, parse_mt940, parse_statement, sniff_format,
)
from tests.payments.conftest import WORKS_IBAN as WORKS
from tests.payments.statements import GERMAN_MAPPING, OUR_IBAN, Tx, bank_csv, camt053, mt940


@pytest.mark.parametrize("version", ["02", "08"])
def test_camt053_credit_lines_with_payer_reference_and_batches(version: str) -> None:
    data = camt053([
        Tx("1500.00", payer="Ministry of Works", iban="DE02 1203 0000 0000 2020 51",
           reference="RF18INV2026001", e2e="E2E-77"),
        [Tx("200.00", text="INV-2026-002"), Tx("300.50", text="INV 2026 003")],
        Tx("80.00", credit=False, text="bank fee"),
    ], version=version)
    statement = parse_camt053(data, file="s.xml")
    assert statement.account == OUR_IBAN
    assert statement.debits_skipped == 1
    first, second, third = statement.lines
    assert first.amount == Decimal("1500.00") and first.currency == "EUR"
    assert first.payer_name == "Ministry of Works"
    assert first.payer_iban == "DE02120300000000202051"
    assert first.reference == "RF18INV2026001"
    assert first.value_date == date(2026, 11, 20)
    # a batch entry becomes one line per transaction, each with its own amount
    assert (second.amount, third.amount) == (Decimal("200.00"), Decimal("300.50"))
    assert second.remittance == "INV-2026-002"
    assert len({line.external_id for line in statement.lines}) == 3


def test_camt053_end_to_end_id_is_the_reference_without_a_structured_one() -> None:
    line = parse_camt053(camt053([Tx("10.00", e2e="INV-2026-009")])).lines[0]
    assert line.reference == "INV-2026-009"


def test_camt053_entity_bomb_is_refused() -> None:
    bomb = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
            b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
            b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">&lol3;</Document>')
    with pytest.raises(InputError) as err:
        parse_camt053(bomb, file="bomb.xml")
    assert err.value.rule == "xml-safe" and err.value.file == "bomb.xml"


def test_camt053_external_entity_is_refused() -> None:
    xxe = (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
           b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">&x;</Document>')
    with pytest.raises(InputError, match="unsafe XML") as err:
        parse_camt053(xxe)
    assert err.value.rule == "xml-safe"


def test_camt053_truncated_file() -> None:
    data = camt053([Tx("10.00", text="INV-2026-001")])
    with pytest.raises(InputError) as err:
        parse_camt053(data[: len(data) // 2], file="cut.xml")
    assert err.value.rule == "xml-syntax" and "truncated" in str(err.value)


def test_camt053_unknown_currency_names_the_entry() -> None:
    data = camt053([Tx("10.00"), Tx("5.00", currency="XYZ")])
    with pytest.raises(InputError) as err:
        parse_camt053(data, file="s.xml")
    assert err.value.rule == "currency-known"
    assert err.value.field == "Stmt[1]/Ntry[2]/Amt"


def test_camt053_missing_amount_and_wrong_document() -> None:
    data = camt053([Tx("10.00")]).replace(b'<Amt Ccy="EUR">10.00</Amt>', b"")
    with pytest.raises(InputError) as err:
        parse_camt053(data)
    assert err.value.rule == "currency-known"  # no Amt at all: neither currency nor amount
    pain = b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"/>'
    with pytest.raises(InputError, match="not a camt.053") as err:
        parse_camt053(pain)
    assert err.value.rule == "camt053-namespace"


def test_camt053_batch_that_does_not_add_up() -> None:
    data = camt053([[Tx("200.00"), Tx("300.00")]]).replace(b">500.00<", b">501.00<")
    with pytest.raises(InputError) as err:
        parse_camt053(data)
    assert err.value.rule == "camt053-batch-sum"


def test_mt940_credits_with_structured_details() -> None:
    data = mt940([Tx("1500.00", payer="MINISTRY OF WORKS", iban=WORKS,
                     text="INV-2026-001 payment for september services"),
                  Tx("20.00", credit=False, text="fee")])
    statement = parse_mt940(data, file="s.sta")
    assert statement.account == OUR_IBAN and statement.debits_skipped == 1
    (line,) = statement.lines
    assert line.amount == Decimal("1500.00") and line.currency == "EUR"
    assert line.payer_iban == WORKS and line.payer_name == "MINISTRY OF WORKS"
    assert line.remittance is not None and "INV-2026-001" in line.remittance
    # the same file parses to the same ids: re-imports are recognised
    assert parse_mt940(data).lines[0].external_id == line.external_id


def test_mt940_truncated_and_inconsistent() -> None:
    with pytest.raises(InputError) as err:
        parse_mt940(mt940([Tx("10.00")], truncate=True), file="cut.sta")
    assert err.value.rule == "mt940-closing-balance" and err.value.file == "cut.sta"
    with pytest.raises(InputError) as err:
        parse_mt940(mt940([Tx("10.00")], closing="999.99"))
    assert err.value.rule == "mt940-balance"
    with pytest.raises(InputError) as err:
        parse_mt940(b"hello, this is not a statement")
    assert err.value.rule == "mt940-structure"


def test_csv_with_a_bank_mapping() -> None:
    data = bank_csv([Tx("1.234,56".replace(".", "").replace(",", "."), payer="Health Agency",
                        iban="DE02500105170137075030", text="INV-2026-005"),
                     Tx("12.00", credit=False)])
    statement = parse_csv(data, csv_mapping(GERMAN_MAPPING), file="b.csv", bank="sparkasse")
    (line,) = statement.lines
    assert line.amount == Decimal("1234.56") and line.value_date == date(2026, 11, 20)
    assert line.payer_name == "Health Agency" and len(statement.reversals) == 1
    assert line.external_id.startswith("csv:sparkasse:")


def test_csv_wrong_columns_bad_date_and_currency() -> None:
    mapping = csv_mapping(GERMAN_MAPPING)
    wrong = bank_csv([Tx("1.00")], header=("Datum", "Betrag", "Waehrung", "Name", "IBAN", "Text"))
    with pytest.raises(InputError) as err:
        parse_csv(wrong, mapping, file="b.csv")
    assert err.value.rule == "csv-columns" and "Buchungstag" in str(err.value)
    bad_date = bank_csv([Tx("1.00")]).replace(b"20.11.2026", b"2026-11-20")
    with pytest.raises(InputError) as err:
        parse_csv(bad_date, mapping, file="b.csv")
    assert err.value.rule == "csv-date" and err.value.field == "row 2: Buchungstag"
    with pytest.raises(InputError) as err:
        parse_csv(bank_csv([Tx("1.00", currency="EURO")]), mapping)
    assert err.value.rule == "currency-known"


def test_csv_mapping_is_validated() -> None:
    with pytest.raises(InputError) as err:
        csv_mapping({"columns": {"amount": "Betrag"}, "currency": "EUR"})
    assert err.value.rule == "csv-mapping" and "date" in str(err.value)
    with pytest.raises(InputError) as err:
        csv_mapping({"columns": {"date": "D", "amount": "A", "colour": "C"}})
    assert err.value.rule == "csv-mapping"


def test_format_is_guessed_from_the_content(tmp_path) -> None:
    assert sniff_format(camt053([Tx("1.00")])) == "camt053"
    assert sniff_format(mt940([Tx("1.00")])) == "mt940"
    assert sniff_format(b"date,amount,currency\n") == "csv"
    missing = tmp_path / "none.xml"
    with pytest.raises(InputError) as err:
        parse_statement(missing)
    assert err.value.rule == "file-readable"


def test_mt940_garbage_is_one_finding_and_nothing_on_stderr(
        capfd: pytest.CaptureFixture[str]) -> None:
    """The mt-940 parser logs dozens of lines for a garbage file: they are folded into the one
    finding, never printed (issue 14 item 9)."""
    garbage = b":20:X\n:25:DE1\n:28C:1\n:60F:C\n:61:garbage\n:86:zz\n:62F:C\n"
    with pytest.raises(InputError) as err:
        parse_mt940(garbage, file="junk.sta")
    assert err.value.rule == "mt940-syntax" and err.value.file == "junk.sta"
    assert "\n" not in str(err.value) and "parser message(s) folded in" in str(err.value)
    # the tag and the value, never an object's repr (found by an independent tester)
    assert "cannot read tag :60F: from 'C'" in str(err.value)
    assert "object at 0x" not in str(err.value)
    out, errors = capfd.readouterr()
    assert out == "" and errors == ""


# -- pay28: amounts and dates refused at the door ----------------------------------------------

CSV_HEADER = "date,amount,currency,payer_name,payer_iban,reference,remittance,id"

@pytest.mark.parametrize("huge", ["9" * 59, "1" * 70])  # 1e400: no exponents (pay29)
def test_camt053_and_csv_huge_amounts_are_one_clean_finding(huge: str) -> None:
    """(pay28 item 7) ``decimal.InvalidOperation`` never escapes: the one reading of an amount
    refuses it, and the finding names the file, the entry or row and the rule."""
    data = camt053([Tx("10.00"), Tx("5.00")]).replace(b">5.00<", f">{huge}<".encode())
    with pytest.raises(InputError) as err:
        parse_camt053(data, file="s.xml")
    assert (err.value.rule, err.value.field) == ("amount-range", "Stmt[1]/Ntry[2]/Amt")
    assert "s.xml" in str(err.value) and "exceeds the largest amount" in str(err.value)
    csv_data = (f"{CSV_HEADER}\n2026-11-20,10.00,EUR,,,,,A\n2026-11-20,{huge},EUR,,,,,B\n"
                .encode())
    with pytest.raises(InputError) as err:
        parse_csv(csv_data, file="s.csv")
    assert (err.value.rule, err.value.field) == ("amount-range", "row 3: amount")


@pytest.mark.parametrize("indicator", ["CRDT", "DBIT"])
def test_camt053_negative_amount_is_refused(indicator: str) -> None:
    """(pay28 item 3) camt.053 amounts are unsigned (the sign is CdtDbtInd): ``-76360.00`` is
    refused naming the entry, never kept as a credit of minus that much."""
    data = camt053([Tx("10.00"), Tx("76360.00", credit=indicator == "CRDT")]).replace(
        b">76360.00<", b">-76360.00<")
    with pytest.raises(InputError) as err:
        parse_camt053(data, file="neg.xml")
    assert (err.value.rule, err.value.field) == ("amount-unsigned", "Stmt[1]/Ntry[2]/Amt")
    assert "neg.xml" in str(err.value) and "-76360.00 is negative" in str(err.value)
    batch = camt053([[Tx("100.00"), Tx("50.00")]]).replace(b">50.00<", b">-50.00<")
    with pytest.raises(InputError) as err:
        parse_camt053(batch, file="neg.xml")
    assert err.value.rule == "amount-unsigned"
    assert err.value.field == "Stmt[1]/Ntry[1]/NtryDtls/TxDtls[2]/AmtDtls/TxAmt/Amt"


@pytest.mark.parametrize(("date_field", "where"), [
    ("2602301130", "line 5: :61: value date"),    # 30 February
    ("2611310230", "line 5: :61: value date"),    # 31 November
    ("2611201332", "line 5: :61: entry date"),    # month 13
])
def test_mt940_impossible_date_is_refused(date_field: str, where: str) -> None:
    """(pay28 item 2) the parser library made 30 Feb the 28th; an impossible date is refused
    naming the file, the line and the rule."""
    data = mt940([Tx("20930.00", text="INV-2026-0103")]).replace(
        b":61:2611201120", f":61:{date_field}".encode())
    with pytest.raises(InputError) as err:
        parse_mt940(data, file="feb.sta")
    assert (err.value.rule, err.value.field) == ("mt940-date", where)
    assert str(err.value).startswith("feb.sta: line 5")
    balance = mt940([Tx("1.00")]).replace(b":60F:C261119", b":60F:C260229")
    with pytest.raises(InputError) as err:
        parse_mt940(balance, file="feb.sta")
    assert (err.value.rule, err.value.field) == ("mt940-date", "line 4: :60F: date")


def test_csv_and_camt053_impossible_dates_are_refused() -> None:
    """(pay28 item 2) CSV and camt.053 already refused 30 February; kept so."""
    with pytest.raises(InputError) as err:
        parse_csv(f"{CSV_HEADER}\n2026-02-30,1.00,EUR,,,,,A\n".encode(), file="s.csv")
    assert (err.value.rule, err.value.field) == ("csv-date", "row 2: date")
    data = camt053([Tx("10.00", value_date=date(2026, 2, 28))]).replace(
        b"2026-02-28", b"2026-02-30")
    with pytest.raises(InputError) as err:
        parse_camt053(data, file="s.xml")
    assert (err.value.rule, err.value.field) == ("date-iso", "Stmt[1]/Ntry[1]/ValDt")
