"""A value of the wrong JSON type (or a cell of the wrong SQL type) where an attacker can write
it is data, never an exception: both verifiers of a bag, and the workspace's, report a problem
code and go on (exit 1, FAILED, no traceback)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, update

from evidence import EvidenceArchive, ledger
from evidence.canonical import canonical_json

from .tampering import edit_leaf, leaves, recompute_manifests, set_row
from .test_export_attacks import Export, both_fail, database_url, export, verify_py

__all__ = ["database_url", "export"]  # fixtures, used by name

ENTRIES = "data/ledger/entries.jsonl"
STATEMENT = "data/ledger/export.json"


def _edit_leaf_line(ex: Export, **changes: object) -> int:
    """Give the second entry of the bag's entries.jsonl a leaf with ``changes`` (as an
    attacker would, the JSON kept canonical); return its line number."""
    path = ex.bag / ENTRIES
    items = [json.loads(line) for line in path.read_text().splitlines()]
    leaf = json.loads(items[1]["leaf"])
    leaf.update(changes)
    items[1]["leaf"] = json.dumps(leaf, sort_keys=True, separators=(",", ":"))
    path.write_bytes(b"".join(canonical_json(i) + b"\n" for i in items))
    recompute_manifests(ex.bag)
    return 2


@pytest.mark.parametrize("changes,words", [
    ({"v": None}, "its v null"), ({"v": "2"}, "its v"), ({"claim": [1]}, "its claim [1]"),
    ({"claim": {"a": 1}}, "its claim"), ({"prev_claim_leaf": [1]}, "its prev_claim_leaf")])
def test_a_leaf_value_of_the_wrong_type_is_a_problem_not_a_traceback(
        export: Export, cli, changes: dict, words: str) -> None:
    line = _edit_leaf_line(export, **changes)
    both_fail(export, cli, f"{ENTRIES} line {line}", "entry-malformed", words)


def _edit_statement(ex: Export, old: bytes, new: bytes) -> None:
    path = ex.bag / STATEMENT
    data = path.read_bytes()
    assert old in data
    path.write_bytes(data.replace(old, new, 1))
    recompute_manifests(ex.bag)


@pytest.mark.parametrize("old,new", [(b'"since":null', b'"since":5'),
                                     (b'"until":null', b'"until":["x"]'),
                                     (b'"claim":"CLM-1"', b'"claim":{"a":1}')])
def test_a_scope_value_of_the_wrong_type_is_a_problem_not_a_traceback(
        export: Export, cli, old: bytes, new: bytes) -> None:
    _edit_statement(export, old, new)
    both_fail(export, cli, STATEMENT, "export-unreadable", "scope")
    both_fail(export, cli, "bag-info.txt", "bag-info", "scope is malformed")


@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"-Infinity"])
def test_nan_in_the_statement_fails_in_both_verifiers_alike(export: Export, cli,
                                                            number: bytes) -> None:
    data = json.loads((export.bag / STATEMENT).read_bytes())
    size = str(data["tree_size"]).encode()
    _edit_statement(export, b'"tree_size":' + size, b'"tree_size":' + number)
    both_fail(export, cli, STATEMENT, "ledger-canonical", "NaN or Infinity")
    both_fail(export, cli, STATEMENT, "export-signature")
    code, out = verify_py(export, "--trusted-key", str(export.key), "--json")
    result = cli("evidence", "verify-export", str(export.bag), "--trusted-key",
                 str(export.key), "--json", workspace=None)
    assert code == result.exit_code == 1
    assert {p["code"] for p in json.loads(out)["problems"]} == {
        p["code"] for p in json.loads(result.output)["problems"]}


@pytest.mark.parametrize("saved", ['{"note":5}', '{"note":null}', '{"type":5}', "[1]",
                                   '{"type":"claimwright-evidence-checkpoint/v2","note":[]}'])
def test_a_malformed_checkpoint_option_is_one_line_and_exit_2_in_both(
        export: Export, cli, tmp_path: Path, saved: str) -> None:
    path = tmp_path / "saved.json"
    path.write_text(saved)
    args = ("--trusted-key", str(export.key), "--checkpoint", str(path))
    code, out = verify_py(export, *args)
    result = cli("evidence", "verify-export", str(export.bag), *args, workspace=None)
    for status, text in ((code, out), (result.exit_code, result.output)):
        assert status == 2 and "Traceback" not in text, text
        assert "--checkpoint" in text and "not a signed checkpoint" in text, text
        assert len(text.strip().splitlines()) == 1, text


# --- the workspace's verifier: cells edited in the database ------------------------------------

@pytest.mark.parametrize("changes,words", [({"claim": [1]}, "its claim [1]"),
                                           ({"v": "2"}, 'its v "2"')])
def test_a_rehashed_leaf_value_of_the_wrong_type_is_reported_and_checking_goes_on(
        archive_with_history: EvidenceArchive, engine: Engine, changes: dict,
        words: str) -> None:
    archive = archive_with_history
    set_row(engine, 2, edit_leaf(leaves(engine)[2], **changes), rehash=True)
    report = archive.verify()
    malformed = [p for p in report.problems if p.code == "entry-malformed"]
    assert [p.where for p in malformed] == ["entry 2"] and words in malformed[0].message
    assert "checkpoint-root" in report.codes()  # and the checks went on
    claim = archive.verify(claim="CLM-1")
    assert not claim.ok


def test_an_index_cell_that_is_not_an_integer_is_reported_and_checking_goes_on(
        archive_with_history: EvidenceArchive, engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("only SQLite lets a text value into an integer column")
    with engine.begin() as conn:
        conn.exec_driver_sql("update evidence_entries set idx = 'abc' where idx = 3")
    report = archive_with_history.verify()
    assert {"entry-malformed", "entry-missing"} <= report.codes()
    assert any(p.where == "entry abc" for p in report.problems if p.code == "entry-malformed")
    assert not archive_with_history.verify(claim="CLM-1").ok


def test_a_negative_checkpoint_size_is_a_checkpoint_problem_and_checking_goes_on(
        archive_with_history: EvidenceArchive, engine: Engine) -> None:
    t = ledger.checkpoints_table
    with engine.begin() as conn:
        conn.execute(update(t).values(tree_size=-1))
    report = archive_with_history.verify()
    assert "checkpoint-malformed" in report.codes()
    assert "checkpoint-deleted" in report.codes()  # the checkpoint file still lists them
    assert not archive_with_history.verify(claim="CLM-1").ok


@pytest.mark.parametrize("value", [5, True, {"a": 1}, "x"])
def test_a_statement_checkpoints_not_a_list_is_a_problem_not_a_traceback(
        export: Export, cli, value: object) -> None:
    path = export.bag / STATEMENT
    data = json.loads(path.read_bytes())
    data["checkpoints"] = value
    path.write_bytes(canonical_json(data) + b"\n")
    recompute_manifests(export.bag)
    both_fail(export, cli, STATEMENT, "export-unreadable", "checkpoints")
