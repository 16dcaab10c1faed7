"""What a statement must satisfy before a line of it is kept: amounts in the file's declared
notation, entries that agree with their transactions, one currency per account, balances
that add up. Each file is written by the test; the parser reads it from disk."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from claims.core.money import to_decimal
from claims.errors import InputError
from claims.payments.parsers import csv_mapping, parse_statement
from tests.payments.statements import GERMAN_MAPPING, Tx, mt940

DE_HEADER = "Buchungstag;Betrag;Waehrung;Auftraggeber;IBAN;Verwendungszweck\n"


def _de_csv(tmp_path: Path, *amounts: str) -> Path:
    path = tmp_path / "de.csv"
    path.write_text(DE_HEADER + "".join(f"01.11.2026;{a};EUR;Ministry;;INV-1\n" for a in amounts))
    return path


@pytest.mark.parametrize("amount", ["113.850,00", "1.234,5", "76,36", "1234,56", "0,01", "-5,00"])
def test_csv_decimal_comma_reads_amounts_as_written(tmp_path: Path, amount: str) -> None:
    st = parse_statement(_de_csv(tmp_path, amount), "csv", mapping=csv_mapping(GERMAN_MAPPING))
    lines = list(st.lines) + list(st.reversals)
    expected = Decimal(amount.replace(".", "").replace(",", "."))
    assert [line.amount for line in lines] == [abs(expected)]


@pytest.mark.parametrize(("amount", "rule"), [
    ("76.36", "amount-notation"), ("113,850.00", "amount-notation"),
    ("1.13.850,00", "amount-notation"), ("1,2,3", "amount-notation"),
    ("1.2345,00", "amount-notation"), ("12,345", "amount-minor-units"),
    ("1e5", "amount-notation"), ("76.360,00-", "amount-notation")])
def test_csv_amount_off_the_declared_notation_is_refused(tmp_path: Path, amount: str,
                                                         rule: str) -> None:
    path = _de_csv(tmp_path, "10,00", amount)
    with pytest.raises(InputError) as err:
        parse_statement(path, "csv", mapping=csv_mapping(GERMAN_MAPPING)).materialize()
    assert (err.value.rule, err.value.field) == (rule, "row 3: Betrag")
    assert str(err.value).count("row 3") == 1 and repr(amount) in str(err.value)


NS = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"


def _entry(amount: str, *txs: str, ccy: str = "SAR", status: str = "BOOK",
           indicator: str = "CRDT") -> str:
    details = f"<NtryDtls>{''.join(txs)}</NtryDtls>" if txs else ""
    return (f'<Ntry><Amt Ccy="{ccy}">{amount}</Amt><CdtDbtInd>{indicator}</CdtDbtInd>'
            f"<Sts><Cd>{status}</Cd></Sts><BookgDt><Dt>2026-11-20</Dt></BookgDt>"
            f"<ValDt><Dt>2026-11-20</Dt></ValDt>{details}</Ntry>")


def _tx(amount: str | None = None, ccy: str = "SAR", *, path: str = "Amt",
        extra: str = "") -> str:
    amt = f'<Amt Ccy="{ccy}">{amount}</Amt>' if amount is not None else ""
    if path == "TxAmt":
        amt = f"<AmtDtls><TxAmt>{amt}{extra}</TxAmt></AmtDtls>"
    return f"<TxDtls>{amt}<RmtInf><Ustrd>INV-1</Ustrd></RmtInf></TxDtls>"


def _camt(tmp_path: Path, *entries: str, acct_ccy: str = "", balances: str = "",
          encoding: str = "utf-8") -> Path:
    ccy = f"<Ccy>{acct_ccy}</Ccy>" if acct_ccy else ""
    text = (f'<?xml version="1.0" encoding="{encoding.upper()}"?><Document xmlns="{NS}">'
            "<BkToCstmrStmt><GrpHdr><MsgId>M</MsgId></GrpHdr><Stmt><Id>S1</Id>"
            f"<Acct><Id><IBAN>SA0380000000608010167519</IBAN></Id>{ccy}</Acct>{balances}"
            f"{''.join(entries)}</Stmt></BkToCstmrStmt></Document>")
    path = tmp_path / "s.xml"
    path.write_text(text, encoding=encoding)
    return path


def _refused(path: Path) -> InputError:
    with pytest.raises(InputError) as err:
        parse_statement(path).materialize()
    return err.value


def test_camt_single_transaction_is_sum_checked_like_a_batch(tmp_path: Path) -> None:
    err = _refused(_camt(tmp_path, _entry("113850.00", _tx("10.00"))))
    assert (err.rule, err.field) == ("camt053-batch-sum", "Stmt[1]/Ntry[1]/Amt")
    assert "10.00" in str(err) and "113850.00" in str(err)
    ok = parse_statement(_camt(tmp_path, _entry("10.00", _tx("10.00")), _entry("5.00", _tx())))
    assert [line.amount for line in ok.materialize().lines] == [Decimal("10.00"),
                                                                Decimal("5.00")]


XCHG = ("<CcyXchg><SrcCcy>EUR</SrcCcy><TrgtCcy>SAR</TrgtCcy><XchgRate>4.0</XchgRate>"
        "</CcyXchg>")


@pytest.mark.parametrize(("entries", "field"), [
    ([_entry("400.00", _tx("100.00", "EUR", path="TxAmt"))],
     "Stmt[1]/Ntry[1]/NtryDtls/TxDtls[1]/AmtDtls/TxAmt/Amt"),
    ([_entry("300.00", _tx("100.00"), _tx("200.00", "USD"))],
     "Stmt[1]/Ntry[1]/NtryDtls/TxDtls[2]/Amt"),
    ([_entry("100.00", _tx("100.00", "EUR"), ccy="EUR")], "Stmt[1]/Ntry[1]/Amt"),
])
def test_camt_currencies_are_never_mixed(tmp_path: Path, entries: list[str], field: str) -> None:
    err = _refused(_camt(tmp_path, *entries, acct_ccy="SAR"))
    assert (err.rule, err.field) == ("camt053-currency", field)


def test_camt_a_transaction_in_another_currency_with_an_exchange_is_the_entry(
        tmp_path: Path) -> None:
    path = _camt(tmp_path, _entry("400.00", _tx("100.00", "EUR", path="TxAmt", extra=XCHG)),
                 acct_ccy="SAR")
    (line,) = parse_statement(path).materialize().lines
    assert (line.amount, line.currency) == (Decimal("400.00"), "SAR")


def _bal(code: str, amount: str, indicator: str = "CRDT") -> str:
    return (f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp>"
            f'<Amt Ccy="SAR">{amount}</Amt><CdtDbtInd>{indicator}</CdtDbtInd>'
            "<Dt><Dt>2026-11-20</Dt></Dt></Bal>")


ENTRIES = (_entry("100.00"), _entry("30.00", indicator="DBIT"), _entry("7.00", status="PDNG"))


@pytest.mark.parametrize("opening", ["OPBD", "PRCD"])
def test_camt_balances_that_do_not_add_up_are_refused(tmp_path: Path, opening: str) -> None:
    err = _refused(_camt(tmp_path, *ENTRIES, balances=_bal(opening, "1000.00")
                         + _bal("CLBD", "1077.00")))
    assert (err.rule, err.field) == ("camt053-balance", "Stmt[1]/Bal")
    assert "1070.00" in str(err) and "1077.00" in str(err)


@pytest.mark.parametrize("balances", [_bal("OPBD", "1000.00") + _bal("CLBD", "1070.00"),
                                      _bal("OPBD", "50.00", "DBIT") + _bal("CLBD", "20.00"),
                                      _bal("CLBD", "5.00")])
def test_camt_balances_that_add_up_or_stand_alone_pass(tmp_path: Path, balances: str) -> None:
    st = parse_statement(_camt(tmp_path, *ENTRIES, balances=balances)).materialize()
    assert [line.amount for line in st.lines] == [Decimal("100.00")]


@pytest.mark.parametrize("amount", ["1E3", "1e5", "1,000.00", "١٢٣.٠٠", "1.000.00", "$100.00"])
def test_camt_amt_is_an_xs_decimal(tmp_path: Path, amount: str) -> None:
    err = _refused(_camt(tmp_path, _entry(amount)))
    assert (err.rule, err.field) == ("amount-notation", "Stmt[1]/Ntry[1]/Amt")
    assert str(err).count("Stmt[1]/Ntry[1]/Amt") == 1


@pytest.mark.parametrize("text", ["1e5", "1E3", "١٢٣", "١٢٣.٤٥", "1e400", "2.5E+2"])
def test_the_one_money_door_refuses_exponents_and_non_ascii_digits(text: str) -> None:
    with pytest.raises(ValueError, match=r"--amount: .*unexpected character"):
        to_decimal(text, field="--amount")


@pytest.mark.parametrize("day", ["20.11.٢٠٢٦", "٢٠.١١.٢٠٢٦", "20.11.２０２６", "20.11.۲۰۲۶"])
def test_csv_date_with_non_ascii_digits_is_refused(tmp_path: Path, day: str) -> None:
    """strptime's %Y is \\d\\d\\d\\d: 20.11.٢٠٢٦ was 2026-11-20."""
    path = tmp_path / "de.csv"
    path.write_text(DE_HEADER + f"01.11.2026;10,00;EUR;A;;INV-1\n{day};5,00;EUR;B;;INV-2\n")
    with pytest.raises(InputError) as err:
        parse_statement(path, "csv", mapping=csv_mapping(GERMAN_MAPPING)).materialize()
    assert (err.value.rule, err.value.field) == ("csv-date", "row 3: Buchungstag")
    assert "digits 0-9" in str(err.value)


@pytest.mark.parametrize(("old", "new", "line"), [
    (":61:2611201120C10,00", ":61:٢٦11201120C10,00", 5),     # the value date
    (":61:2611201120C10,00", ":61:2611201120C١٠,00", 5),     # the amount
    (":60F:C261119EUR1000,00", ":60F:C261119EUR１０00,00", 4),  # a balance
])
def test_mt940_fields_with_non_ascii_digits_are_refused(tmp_path: Path, old: str, new: str,
                                                        line: int) -> None:
    text = mt940([Tx("10.00", payer="X")]).decode()
    assert old in text
    path = tmp_path / "s.sta"
    path.write_text(text.replace(old, new), encoding="utf-8")
    err = _refused(path)
    assert err.rule == "mt940-syntax" and err.field.startswith(f"line {line}: :")
    assert "digits 0-9" in str(err)
