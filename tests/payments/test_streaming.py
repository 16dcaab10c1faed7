"""Streaming statement import (issue 14, item 9 "Scale"): camt.053, CSV and MT940 are read as
they go — memory flat in the number of lines — and one oversized token is refused, not read
whole."""

from __future__ import annotations

import csv
import tracemalloc
from decimal import Decimal
from pathlib import Path

import pytest

from claims.errors import InputError
from claims.payments import service
from claims.payments import parsers_mt940
from claims.payments.parsers import (
    csv_mapping, parse_camt053, parse_csv, parse_mt940, parse_statement,
)
from claims.payments import statement as statement_module
from claims.payments.statement import MAX_TOKEN_BYTES, SpooledLines, StatementLine
from claims.store import Store
from claims.store.tables import PaymentRow
from claims.store.tables.payments import StatementImportRow
from tests.payments.statements import GERMAN_MAPPING, Tx, bank_csv, camt053, mt940


def _csv_statement(path: Path, n: int) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "date", "amount", "currency", "payer_name", "payer_iban",
                    "reference", "remittance"])
        for k in range(n):
            w.writerow([f"B{k}", "2026-10-15", f"{k % 900 + 1}.25", "EUR", f"Payer {k}", "",
                        "", f"transfer {k}"])


def _camt_statement(path: Path, n: int) -> None:
    one = camt053([Tx("10.00", text="x", bank_ref="R0")])
    head, rest = one.split(b"<Ntry>", 1)
    entry, tail = rest.rsplit(b"</Ntry>", 1)
    head = head.replace(b">10.00</Amt>", f">{10 * n}.00</Amt>".encode())  # the CLBD balance
    with path.open("wb") as f:
        f.write(head)
        for k in range(n):
            f.write(b"<Ntry>" + entry.replace(b">R0<", f">R{k}<".encode()) + b"</Ntry>")
        f.write(tail)


def _mt940_statement(path: Path, n: int) -> None:
    path.write_bytes(mt940([Tx(f"{k % 900 + 1}.25", text=f"INV-{k:06d} transfer",
                               payer=f"Payer {k}") for k in range(n)]))


def _peak_while_counting(path: Path, fmt: str) -> tuple[int, int]:
    tracemalloc.start()
    try:
        statement = parse_statement(path, fmt)
        count = sum(1 for _ in statement.lines)
        return count, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("fmt,write,n", [("csv", _csv_statement, 500),
                                         ("camt053", _camt_statement, 200),
                                         ("mt940", _mt940_statement, 500)])
def test_memory_is_flat_in_the_number_of_lines(tmp_path: Path, fmt: str, write, n: int) -> None:
    small, large = tmp_path / "small", tmp_path / "large"
    write(small, n)
    write(large, 10 * n)
    n_small, peak_small = _peak_while_counting(small, fmt)
    n_large, peak_large = _peak_while_counting(large, fmt)
    assert (n_small, n_large) == (n, 10 * n)
    # ten times the lines, not ten times the memory (a whole-file parse grows ~x10)
    assert peak_large < 2 * peak_small + 256 * 1024, (peak_small, peak_large)


def test_a_huge_camt053_attribute_is_refused_without_reading_it_whole(tmp_path: Path) -> None:
    data = camt053([Tx("10.00")]).replace(b'Ccy="EUR"', b'Ccy="' + b"E" * (3 * MAX_TOKEN_BYTES)
                                          + b'"', 1)
    path = tmp_path / "big.xml"
    path.write_bytes(data)
    statement = parse_statement(path, "camt053")
    with pytest.raises(InputError) as err:
        list(statement.lines)
    assert err.value.rule == "xml-size" and err.value.file == str(path)
    with pytest.raises(InputError, match="without a complete element"):
        parse_camt053(data)


def test_a_huge_camt053_entry_is_refused() -> None:
    many = b"<AddtlNtryInf>x</AddtlNtryInf>" * 100_001
    data = camt053([Tx("10.00")]).replace(b"</Ntry>", many + b"</Ntry>", 1)
    with pytest.raises(InputError) as err:
        parse_camt053(data, file="s.xml")
    assert err.value.rule == "xml-size" and err.value.field == "Stmt[1]/Ntry[1]"


def test_a_huge_csv_line_is_refused() -> None:
    data = (b"id,date,amount,currency,payer_name,payer_iban,reference,remittance\n"
            b"B1,2026-10-15,1.00,EUR,x,,," + b"y" * (MAX_TOKEN_BYTES + 10) + b"\n")
    with pytest.raises(InputError) as err:
        parse_csv(data, file="big.csv")
    assert err.value.rule == "csv-size" and err.value.field == "line 2"


def test_malformed_csv_is_one_finding() -> None:
    data = b"id,date,amount\n\"B1,2026-10-15,1.00\n"
    with pytest.raises(InputError) as err:
        parse_csv(data, file="bad.csv")
    assert err.value.rule in ("csv-syntax", "csv-columns", "csv-row-length")


def test_a_bad_line_late_in_a_streamed_file_keeps_nothing(store: Store, tmp_path: Path,
                                                          monkeypatch) -> None:
    monkeypatch.setattr(service, "IMPORT_BATCH", 10)  # the bad line comes after batches
    path = tmp_path / "late.csv"
    _csv_statement(path, 55)
    with path.open("a") as f:
        f.write("B999,2026-10-15,1.005,EUR,late,,,\n")
    with pytest.raises(InputError) as err:
        service.import_statement(store, path)
    assert err.value.rule == "amount-minor-units" and err.value.field.startswith("row 57")
    with store.session() as s:
        assert s.query(PaymentRow).count() == 0 and s.query(StatementImportRow).count() == 0


def test_a_streamed_import_counts_and_records_what_a_whole_one_did(store: Store,
                                                                    tmp_path: Path) -> None:
    path = tmp_path / "s.xml"
    path.write_bytes(camt053([Tx("10.00", bank_ref="A"), Tx("3.00", credit=False),
                              Tx("4.00", bank_ref="B")]))
    summary = service.import_statement(store, path)
    assert (summary.lines, summary.added, summary.debits_skipped) == (2, 2, 1)
    with store.session() as s:
        row = s.query(StatementImportRow).one()
        assert (row.lines, row.added, row.account) == (2, 2, parse_camt053(
            path.read_bytes()).account)
    again = service.import_statement(store, path)
    assert again.duplicate and again.already_known == 2 and again.debits_skipped == 1


def _two_statements() -> bytes:
    """Two MT940 statements in one file: credits, debits, a returned credit (RC) and a returned
    debit (RD) on both sides of every chunk boundary when a chunk is 3 transactions."""
    def txs(base: int) -> list[Tx]:
        return [Tx(f"{base + k}.10", text=f"INV-{base + k}", credit=k not in (1, 4, 5),
                   reversal=k in (4, 6), payer=f"P{k}") for k in range(8)]  # 4: RC, 6: RD
    return mt940(txs(10)).rstrip(b"-") + mt940(txs(30), opening="5.00")


def test_mt940_in_small_chunks_reads_what_a_whole_parse_reads(monkeypatch) -> None:
    data = _two_statements()
    whole = parse_mt940(data)
    monkeypatch.setattr(parsers_mt940, "MT940_CHUNK", 3)
    chunked = parse_mt940(data)
    assert chunked.lines == whole.lines and chunked.reversals == whole.reversals
    assert chunked.debits_skipped == whole.debits_skipped == 6
    assert (len(whole.lines), len(whole.reversals)) == (8, 2)
    assert [line.reference or line.remittance for line in whole.lines][:2] == ["INV-10",
                                                                               "INV-12"]


def test_mt940_balance_and_truncation_are_checked_across_chunks(monkeypatch) -> None:
    monkeypatch.setattr(parsers_mt940, "MT940_CHUNK", 3)
    txs = [Tx(f"{k}.00", text=f"T{k}") for k in range(1, 9)]
    with pytest.raises(InputError) as err:
        parse_mt940(mt940(txs, closing="1000.00"), file="b.sta")
    assert err.value.rule == "mt940-balance" and err.value.field == "statement 1"
    with pytest.raises(InputError) as err:
        parse_mt940(mt940(txs[:2]).rstrip(b"-") + mt940(txs, truncate=True))
    assert err.value.rule == "mt940-closing-balance" and err.value.field == "statement 2"


def test_mt940_is_streamed_from_the_file(tmp_path: Path) -> None:
    """The first lines come out before the file is read to its end."""
    path = tmp_path / "big.sta"
    _mt940_statement(path, 3000)
    with path.open("rb") as fh:
        lines = iter(parsers_mt940.stream_mt940(fh, file=str(path)).lines)
        assert next(lines).remittance == "INV-000000 transfer"
        assert fh.tell() < path.stat().st_size / 2
        assert sum(1 for _ in lines) == 2999


def test_a_bad_mt940_line_late_in_the_file_keeps_nothing(store: Store, tmp_path: Path,
                                                        monkeypatch) -> None:
    monkeypatch.setattr(service, "IMPORT_BATCH", 10)
    monkeypatch.setattr(parsers_mt940, "MT940_CHUNK", 7)
    txs = [Tx(f"{k}.00", text=f"T{k}") for k in range(1, 40)]
    path = tmp_path / "late.sta"
    path.write_bytes(mt940(txs, closing="1.00"))  # the balance fails only at the end
    with pytest.raises(InputError) as err:
        service.import_statement(store, path)
    assert err.value.rule == "mt940-balance"
    with store.session() as s:
        assert s.query(PaymentRow).count() == 0 and s.query(StatementImportRow).count() == 0


def test_reversal_lines_beyond_the_memory_limit_wait_in_a_file(monkeypatch) -> None:
    """A CSV's negative lines are held to the end of the import (they may return a credit
    further down): past REVERSALS_IN_MEMORY they wait in a temporary file, and read back the
    same, in order."""
    monkeypatch.setattr(statement_module, "REVERSALS_IN_MEMORY", 2)
    txs = [Tx(f"{k}.50", credit=False, payer=f"P{k}" if k % 2 else None, text=f"r {k}")
           for k in range(1, 8)]
    statement = parse_csv(bank_csv(txs), csv_mapping(GERMAN_MAPPING))
    assert len(statement.reversals) == 7 and len(statement.reversals._memory) == 2
    got = list(statement.reversals)
    assert [(line.amount, line.payer_name) for line in got] == [
        (Decimal(f"{k}.50"), f"P{k}" if k % 2 else None) for k in range(1, 8)]
    assert got == list(statement.reversals)  # read again: the same
    assert statement.reversals == SpooledLines(got, limit=100) == got
    one = StatementLine("x", got[0].value_date, Decimal("0.01"), "EUR")
    statement.reversals.append(one)  # appending after a read goes to the end
    assert list(statement.reversals)[-1] == one and len(statement.reversals) == 8
