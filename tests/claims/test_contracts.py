"""Contract files are checked against schemas/contract.schema.json with clear errors."""

import json
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from claims.errors import InputError
from claims.lifecycle.intake import load_contract
from claims.store.tables import ContractRow
from claims.workspace import find_workspace

GOOD = {
    "number": "C-123", "agency": "Ministry of Health", "portal": "sandbox", "currency": "SAR",
    "ceiling": "1000000.00", "period": {"start": "2026-01-01", "end": "2026-12-31"},
    "vat_percent": "15", "retention_percent": "5", "claim_types": ["services-monthly"],
}


def write(tmp_path: Path, data: dict, name: str = "contract.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_good_contract_loads_with_exact_amounts(tmp_path: Path) -> None:
    contract = load_contract(write(tmp_path, GOOD))
    assert str(contract.ceiling) == "1000000.00" and contract.claim_types == ("services-monthly",)
    assert contract.rounding.mode == "half-up" and contract.rounding.places == 2


@pytest.mark.parametrize("change, field, words", [
    ({"ceiling": 1500.5}, "/ceiling", "binary float"),
    ({"ceiling": "-5"}, "/ceiling", "negative"),
    ({"vat_percent": 15.5}, "/vat_percent", "binary float"),
    ({"number": 123}, "/number", "not of type 'string'"),
    ({"currency": "riyal"}, "/currency", "does not match"),
    ({"period": {"start": "2026-01-01"}}, "/period", "'end' is a required property"),
    ({"colour": "blue"}, "/", "Additional properties"),
    # the store's columns: PostgreSQL refused them later, with no file or field
    ({"agency": "A" * 201}, "/agency", "is too long"),
    ({"portal": "p" * 65}, "/portal", "is too long"),
])
def test_a_wrong_contract_names_the_file_the_field_and_the_rule(tmp_path, change, field,
                                                                words) -> None:
    path = write(tmp_path, GOOD | change)
    with pytest.raises(InputError) as err:
        load_contract(path)
    text = str(err.value)
    assert str(path) in text and f"{field}:" in text and words in text
    assert "[schema:" in text  # the rule


TOO_LARGE = (' exceeds the largest amount accepted in SAR, 99,999,999,999.99 '
             '(docs/kpis.md, "Rounding")')


@pytest.mark.parametrize("ceiling, words, rule", [
    ("9" * 60, "9" * 60 + TOO_LARGE, "amount-range"),
    (10**60, "1" + "0" * 60 + TOO_LARGE, "amount-range"),
    ("1000.001", "1000.001 has more decimals than SAR allows", "amount-minor-units"),
])
def test_a_ceiling_beyond_the_money_door_names_the_file_and_the_field(tmp_path, ceiling, words,
                                                                       rule) -> None:
    """The one money door (claims.core.money.read_amount), as for a statement's amounts: one
    line, the file, /ceiling, the rule; never a ceiling rounded to fit."""
    path = write(tmp_path, GOOD | {"ceiling": ceiling})
    with pytest.raises(InputError) as err:
        load_contract(path)
    assert str(err.value) == f"{path}: /ceiling: {words} [rule: {rule}]"
    assert (err.value.file, err.value.field, err.value.rule) == (str(path), "/ceiling", rule)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="2 problem"):
        load_contract(write(tmp_path, GOOD | {"ceiling": 1.5, "vat_percent": "-1"}))


def test_an_unknown_claim_type_suggests_the_near_miss(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="did you mean services-monthly"):
        load_contract(write(tmp_path, GOOD | {"claim_types": ["services-montly"]}))


def test_a_period_that_ends_before_it_starts_is_refused(tmp_path: Path) -> None:
    bad = GOOD | {"period": {"start": "2026-12-31", "end": "2026-01-01"}}
    with pytest.raises(InputError, match="period-order"):
        load_contract(write(tmp_path, bad))


def test_json_contracts_and_syntax_errors(tmp_path: Path) -> None:
    (tmp_path / "c.json").write_text(json.dumps(GOOD))
    assert load_contract(tmp_path / "c.json").number == "C-123"
    (tmp_path / "broken.json").write_text("{\"number\": ")
    with pytest.raises(InputError, match="not valid JSON.*syntax"):
        load_contract(tmp_path / "broken.json")
    with pytest.raises(InputError, match="file not found"):
        load_contract(tmp_path / "missing.yaml")


def test_an_empty_file_says_it_is_empty(tmp_path: Path) -> None:
    """An empty contract.yaml said "/: None is not of type 'object'"."""
    for name, text in (("c.yaml", ""), ("c2.yml", "\n  \n"), ("c.json", "")):
        (tmp_path / name).write_text(text)
        with pytest.raises(InputError) as err:
            load_contract(tmp_path / name)
        assert str(err.value) == f"{tmp_path / name}: is empty [rule: not-empty]"


def test_an_impossible_yaml_date_is_a_syntax_error_with_its_line(tmp_path: Path) -> None:
    """YAML reads 2026-02-30 as a date and fails (a bare ValueError: a traceback); now the
    file's error names the value, the line and the column."""
    path = tmp_path / "contract.yaml"
    path.write_text(yaml.safe_dump(GOOD).replace("start: '2026-01-01'", "start: 2026-02-30"))
    with pytest.raises(InputError) as err:
        load_contract(path)
    assert err.value.rule == "syntax" and err.value.file == str(path)
    assert "'2026-02-30' is not a date (day is out of range for month)" in str(err.value)
    assert "line 9, column 10" in str(err.value)


def test_a_yaml_alias_bomb_and_deep_nesting_are_refused_not_a_hang(tmp_path: Path) -> None:
    """Nine nested aliases expand to 9^9 values ("billion laughs"): refused past a million;
    thousands of nested brackets (YAML or JSON) are one line, never a RecursionError."""
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    bomb = tmp_path / "contract.yaml"
    bomb.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as err:
        load_contract(bomb)
    assert str(err.value) == (f"{bomb}: more than 1,000,000 values once its aliases (*name) "
                              "are expanded [rule: yaml-size]")
    for name in ("deep.yaml", "deep.json"):
        deep = tmp_path / name
        deep.write_text("[" * 100_000 + "]" * 100_000)
        with pytest.raises(InputError) as err:
            load_contract(deep)
        assert str(err.value) == f"{deep}: nested too deeply [rule: syntax]"


def test_contract_list_names_a_stored_ceiling_above_the_largest_amount_and_lists_the_rest(
        cli, tmp_path: Path) -> None:
    """A ceiling above the largest amount, written into the database directly (or by an older
    version): `contract list` was a pydantic traceback; now the others are listed and the one
    left out is one warning line on stderr naming the contract, /ceiling and the rule."""
    assert cli("init", str(cli.root), workspace=None).exit_code == 0
    for number in ("C-1", "C-2"):
        added = cli("contract", "add", str(write(tmp_path, GOOD | {"number": number}, number)))
        assert added.exit_code == 0, added.output
    engine = create_engine(f"sqlite:///{cli.root / 'claims.db'}")
    with Session(engine) as s, s.begin():
        row = s.scalars(select(ContractRow).where(ContractRow.number == "C-1")).one()
        row.ceiling = Decimal("100000000000000")
        row.data = row.data | {"ceiling": "100000000000000"}
    engine.dispose()
    warning = ("warning: not listed: contract C-1: /ceiling: 100000000000000 exceeds the largest "
               'amount accepted in SAR, 99,999,999,999.99 (docs/kpis.md, "Rounding") '
               "[rule: amount-range]\n")
    table = cli("contract", "list")
    assert table.exit_code == 0 and "Traceback" not in table.output
    assert "C-2" in table.stdout and "C-1" not in table.stdout
    assert table.stderr == warning
    as_json = cli("contract", "list", "--json")
    assert as_json.exit_code == 0 and as_json.stderr == warning
    assert [c["number"] for c in json.loads(as_json.stdout)] == ["C-2"]
    # a command that needs the contract itself: the same one line, never a traceback
    ws = find_workspace(cli.root)
    try:
        with pytest.raises(InputError) as err:
            ws.store.get_contract("C-1")
        assert f"warning: not listed: {err.value}\n" == warning
        assert err.value.rule == "amount-range" and err.value.field == "/ceiling"
        assert ws.store.get_contract("C-2").ceiling == Decimal("1000000.00")
    finally:
        ws.close()
