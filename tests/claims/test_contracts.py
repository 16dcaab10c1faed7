"""Contract files are checked against schemas/contract.schema.json with clear errors."""

from pathlib import Path

import pytest
import yaml

from claims.errors import InputError
from claims.lifecycle.intake import load_contract

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


TOO_LARGE = ' exceeds the largest amount accepted, 99,999,999,999.99 (docs/kpis.md, "Rounding")'


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
    import json

    (tmp_path / "c.json").write_text(json.dumps(GOOD))
    assert load_contract(tmp_path / "c.json").number == "C-123"
    (tmp_path / "broken.json").write_text("{\"number\": ")
    with pytest.raises(InputError, match="not valid JSON.*syntax"):
        load_contract(tmp_path / "broken.json")
    with pytest.raises(InputError, match="file not found"):
        load_contract(tmp_path / "missing.yaml")


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
