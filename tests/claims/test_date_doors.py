"""Dates at the doors: an invoice's dates, typed dates (``--as-of``), one range for all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

GOOD = {"number": "INV-D1", "issue_date": "2026-11-12", "currency": "SAR", "net": "10.00",
        "vat": "1.50", "total": "11.50"}


@pytest.fixture
def samples(cli):
    result = cli("init", "--with-samples", str(cli.root), workspace=None)
    assert result.exit_code == 0, result.output
    return cli.root / "samples"


def _add(cli, tmp_path: Path, *invoices: dict) -> object:
    path = tmp_path / "invoices.json"
    path.write_text(json.dumps(list(invoices)))
    return cli("invoice", "add", str(path))


def _stored(cli) -> list[str]:
    result = cli("invoice", "show", "INV-D1")
    return [] if result.exit_code else ["INV-D1"]


def test_a_due_date_before_the_issue_date_is_refused_at_the_door(cli, samples,
                                                                  tmp_path) -> None:
    result = _add(cli, tmp_path, GOOD | {"number": "INV-D0"},
                  GOOD | {"due_date": "2026-10-01"})
    assert result.exit_code == 1
    line = " ".join(result.stderr.split())
    assert f"{tmp_path / 'invoices.json'}: /1/due_date: due date 2026-10-01 is before the " \
           "issue date 2026-11-12 [rule: due-after-issue]" in line
    assert "Traceback" not in result.output and _stored(cli) == []
    csv_file = tmp_path / "inv.csv"
    csv_file.write_text(
        "number,issue_date,due_date,currency,customer,description,quantity,unit_price,line_net,"
        "line_vat\nINV-D1,2026-11-12,2026-11-11,SAR,Ministry,Design,1,10.00,10.00,1.50\n")
    result = cli("invoice", "add", str(csv_file))
    assert result.exit_code == 1 and "row 2/due_date" in result.stderr
    assert "due-after-issue" in result.stderr and _stored(cli) == []
    same_day = _add(cli, tmp_path, GOOD | {"due_date": "2026-11-12"})
    assert same_day.exit_code == 0 and _stored(cli) == ["INV-D1"]


def test_an_import_refuses_a_due_date_before_the_issue_date(cli, samples, tmp_path) -> None:
    export = tmp_path / "qb.csv"
    export.write_text(
        "Date,Num,Customer,Email,Due Date,Currency,Memo/Description,Qty,Sales Price,Amount,"
        "Tax Amount\n"
        "03/01/2026,1001,Ministry of Works,,02/01/2026,USD,Consulting,1,100.00,100.00,0\n")
    result = cli("invoice", "import", "csv", str(export), "--mapping", "quickbooks")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "row 2/due_date" in result.stderr and "due-after-issue" in result.stderr


@pytest.mark.parametrize("day", ["1900-01-01", "1969-12-31", "2200-01-01", "0001-01-01"])
def test_an_as_of_outside_the_plausible_range_is_refused(cli, samples, day) -> None:
    """One range of dates (claims.core.moments, 1970-01-01 … 2199-12-31) for every typed
    date: a claim is never VALID as of 1900. A bad value typed in an option is bad input
    (exit 1, one line naming the option and the rule), as a malformed --as-of is."""
    result = cli("claim", "validate", "1", "--as-of", day)
    assert result.exit_code == 1 and "VALID" not in result.stdout
    assert result.stderr.strip() == (f"error: --as-of: '{day}' is outside 1970-01-01 … "
                                      "2199-12-31 [rule: date-range]")
    for edge in ("1970-01-01", "2199-12-31"):
        taken = cli("claim", "validate", "1", "--as-of", edge)
        assert "date-range" not in taken.stderr and "claim 1:" in taken.stdout


@pytest.mark.parametrize(("field", "day"), [("issue_date", "0001-01-01"),
                                            ("issue_date", "1900-01-01"),
                                            ("due_date", "9999-12-31"),
                                            ("period_end", "2999-01-31")])
def test_an_implausible_invoice_date_is_refused_at_the_door(cli, samples, tmp_path, field,
                                                           day) -> None:
    result = _add(cli, tmp_path, GOOD | {field: day})
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert " ".join(result.stderr.split()) == (
        f"error: {tmp_path / 'invoices.json'}: /0/{field}: {day} is outside 1970-01-01 … "
        "2199-12-31 [rule: date-range]")
    assert _stored(cli) == []


def test_an_implausible_contract_period_is_refused(cli, samples, tmp_path) -> None:
    text = (samples / "contract.yaml").read_text()
    start = text.split("start:")[1].split()[0]
    bad = tmp_path / "contract.yaml"
    bad.write_text(text.replace(f"start: {start}", "start: 0001-01-01"))
    result = cli("contract", "add", str(bad), "--replace")
    assert result.exit_code == 1 and "/period/start" in result.stderr
    assert "date-range" in result.stderr and "Traceback" not in result.output
