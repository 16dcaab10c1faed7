"""``claims payments mapping set``: a CSV mapping that could never read a statement — a column
named by a quote, a currency outside the currency table, a date format with an unknown
directive or without a whole date, one column for two fields — is refused when saved, in one
line naming the field and the rule; nothing is saved. Each mapping file is written by the test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from claims.store.tables.payments import BankCsvMappingRow
from claims.workspace import Workspace
from tests.payments.statements import GERMAN_MAPPING, Tx, bank_csv

COLUMNS = GERMAN_MAPPING["columns"]


@pytest.mark.parametrize(("change", "field", "rule", "words"), [
    ({"columns": COLUMNS | {"reference": '"'}}, "columns.reference", "csv-column-name",
     "printable text without quotes"),
    ({"columns": COLUMNS | {"reference": "   "}}, "columns.reference", "csv-column-name",
     "not blank"),
    ({"columns": COLUMNS | {"reference": "Ref\nNr"}}, "columns.reference", "csv-column-name",
     "printable text"),
    ({"currency": "XXX1"}, "currency", "currency-known", "ISO 4217 code of three letters"),
    ({"currency": "XXX"}, "currency", "currency-known", "known here (AED"),
    ({"date_format": "%Q"}, "date_format", "csv-date-format", "'%Q' uses %Q"),
    ({"date_format": "%d.%m.%Y %z"}, "date_format", "csv-date-format", "uses %z"),
    ({"date_format": "%d.%m"}, "date_format", "csv-date-format",
     "needs the day, the month and the year"),
    ({"date_format": "Buchung"}, "date_format", "csv-date-format", "does not read back"),
    ({"columns": COLUMNS | {"reference": "Verwendungszweck"}}, "columns.reference",
     "csv-column-once", "'Verwendungszweck' is already mapped to remittance"),
    ({"columns": {"date": "Betrag", "amount": "Betrag"}}, "columns.amount", "csv-column-once",
     "a column is used once"),
])
def test_a_mapping_breaking_a_rule_is_refused_in_one_line(pay_cli, tmp_path: Path,
                                                          change: dict, field: str, rule: str,
                                                          words: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(GERMAN_MAPPING | change))
    result = pay_cli("payments", "mapping", "set", "other", str(bad))
    assert result.exit_code == 1 and "Traceback" not in result.output
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1
    assert line.startswith(f"error: {bad}: {field}: ") and line.endswith(f"[rule: {rule}]")
    assert words in line
    assert pay_cli("payments", "mapping", "show", "other").exit_code == 1  # nothing saved


@pytest.mark.parametrize(("change", "saved"), [
    ({"currency": "sar"}, {"currency": "SAR"}),
    ({"date_format": "%d.%m.%y"}, {"date_format": "%d.%m.%y"}),
    ({"date_format": "%d %b %Y %H:%M"}, {"date_format": "%d %b %Y %H:%M"}),
    ({"date_format": "%Y%j"}, {"date_format": "%Y%j"}),
    ({"columns": COLUMNS | {"reference": "Kunden-Referenz (EREF)"}}, {}),
])
def test_a_mapping_within_the_rules_is_saved(pay_cli, tmp_path: Path, change: dict,
                                             saved: dict) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(GERMAN_MAPPING | change))
    assert pay_cli("payments", "mapping", "set", "other", str(good)).exit_code == 0
    shown = json.loads(pay_cli("payments", "mapping", "show", "other").stdout)
    assert shown.items() >= saved.items()


def test_a_mapping_saved_before_the_rules_is_refused_when_used(pay_cli, tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(GERMAN_MAPPING))
    assert pay_cli("payments", "mapping", "set", "old", str(good)).exit_code == 0
    ws = Workspace(pay_cli.root)   # as a release before the rules saved it
    with ws.store.session() as s:
        row = s.scalar(select(BankCsvMappingRow).where(BankCsvMappingRow.bank == "old"))
        row.mapping = row.mapping | {"date_format": "%Q"}
    ws.close()
    statement = tmp_path / "s.csv"
    statement.write_bytes(bank_csv([Tx("750.00", payer="Roads Authority")]))
    used = pay_cli("payments", "import", str(statement), "--bank", "old")
    assert used.exit_code == 1 and "Traceback" not in used.output
    assert "the saved CSV mapping of 'old'" in used.stderr
    assert "date_format: '%Q' uses %Q" in used.stderr and "[rule: csv-date-format]" in used.stderr
